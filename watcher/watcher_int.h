/*
 * Watcher internals that its tests may adjust.
 */
#ifndef KIWI_WATCHER_INT_H
#define KIWI_WATCHER_INT_H

/* Services per list page (KUBE_PAGE_LIMIT unless changed). */
void watcher_set_page_limit(unsigned int limit);

#endif
