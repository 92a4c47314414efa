/*
 * `kiwi status [--json] [--cluster] [--control-socket PATH]`.
 */
#ifndef KIWI_STATUS_CLIENT_H
#define KIWI_STATUS_CLIENT_H

/*
 * argv[0] is "status".  Exit status: 0 printed, 1 a bad answer, 2 bad
 * usage, 3 kiwi is not running (no socket to connect to).
 */
int status_main(int argc, char **argv);

#endif
