/*
 * The systemd service notification protocol: one datagram per state
 * change to $NOTIFY_SOCKET.  Without that variable every call is a
 * no-op, so kiwi runs the same in a terminal or a container.
 */
#ifndef KIWI_NOTIFY_H
#define KIWI_NOTIFY_H

/* Read the environment; returns the watchdog interval in ms, or 0. */
int notify_init(void);
/* Send one state, e.g. "READY=1"; failures are logged once. */
void notify_send(const char *state);

#endif
