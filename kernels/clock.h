/* Monotonic clock for timing (ns). */
#ifndef CF_CLOCK_H
#define CF_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline int64_t cf_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}
static inline double cf_now_s(void) { return (double)cf_now_ns() * 1e-9; }
#endif
