#include "kernels/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#define CF_HUGE_PAGE ((size_t)2 << 20)

/* bytes rounded up to and aligned on `align`; `advice` (an madvise flag, 0: none) applied to
 * allocations of at least a huge page */
static void *alloc_aligned(size_t bytes, size_t align, int advice) {
    if (bytes == 0) bytes = 1;
    if (bytes > SIZE_MAX - align) return NULL;
    size_t alloc = (bytes + align - 1) / align * align;
    void *p = aligned_alloc(align, alloc);
#ifdef __linux__
    if (p && advice && alloc >= CF_HUGE_PAGE) madvise(p, alloc, advice);
#else
    (void)advice;
#endif
    return p;
}

#if defined(__linux__) && defined(MADV_HUGEPAGE)
#define ADV_HUGE MADV_HUGEPAGE
#else
#define ADV_HUGE 0
#endif
#if defined(__linux__) && defined(MADV_NOHUGEPAGE)
#define ADV_NOHUGE MADV_NOHUGEPAGE
#else
#define ADV_NOHUGE 0
#endif

void *cf_alloc_big(size_t bytes) {
    return bytes < CF_HUGE_PAGE ? alloc_aligned(bytes, 64, 0) : alloc_aligned(bytes, CF_HUGE_PAGE, ADV_HUGE);
}

void *cf_alloc_sparse(size_t bytes) { return alloc_aligned(bytes, 4096, ADV_NOHUGE); }
