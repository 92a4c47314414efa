/*
 * Watcher internals that its tests may adjust.
 */
#ifndef KIWI_WATCHER_INT_H
#define KIWI_WATCHER_INT_H

/* Services per list page (KUBE_PAGE_LIMIT unless changed). */
void watcher_set_page_limit(unsigned int limit);
/*
 * The range a watch's timeoutSeconds is picked from (by default 300 to
 * 600), so that a test can see watches end at their timeout.
 */
void watcher_set_watch_timeout(unsigned int min_s, unsigned int max_s);

#endif
