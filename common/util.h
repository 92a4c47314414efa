/*
 * Small helpers every process uses.
 */
#ifndef KIWI_UTIL_H
#define KIWI_UTIL_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: for deadlines and intervals. */
int64_t now_ms(void);
/* The same in microseconds: for timing work that takes less. */
int64_t now_us(void);
/* 0, or a negative errno. */
int set_nonblock(int fd);

#define KIWI_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
