/* Shared by the RMSNorm ISA files (not part of the API). */
#ifndef CF_NORM_PRIV_H
#define CF_NORM_PRIV_H
#include <stdint.h>

#include "kernels/cpu.h"

/* Streaming (non-temporal) stores for the output of a call whose input plus output fill 3/4 of
 * the L3 or more: the output would not survive in cache anyway, and ordinary stores first read
 * every output line (1.5x the traffic).  Out of place only.  With ordinary stores a 2048 x 4096
 * call (32 MiB in, 32 out, L3 32 MiB) read 49-72% of the DRAM bandwidth and 256 x 16384 (16 + 16)
 * 61%. */
static inline int cf_norm_stream_output(const float *y, const float *x, int64_t rows, int64_t n) {
    return y != x && 2.0 * (double)rows * (double)n * 4.0 >= 0.75 * (double)cf_cpu()->l3;
}

#endif
