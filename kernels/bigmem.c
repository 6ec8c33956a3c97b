#include "kernels/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#define CF_HUGE_PAGE ((size_t)2 << 20)

void *cf_alloc_big(size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes < CF_HUGE_PAGE) return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (bytes > SIZE_MAX - CF_HUGE_PAGE) return NULL;
    size_t alloc = (bytes + CF_HUGE_PAGE - 1) / CF_HUGE_PAGE * CF_HUGE_PAGE;
    void *p = aligned_alloc(CF_HUGE_PAGE, alloc);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p) madvise(p, alloc, MADV_HUGEPAGE);
#endif
    return p;
}

void *cf_alloc_sparse(size_t bytes) {
    const size_t page = 4096;
    if (bytes == 0) bytes = 1;
    if (bytes > SIZE_MAX - page) return NULL;
    size_t alloc = (bytes + page - 1) / page * page;
    void *p = aligned_alloc(page, alloc);
#if defined(__linux__) && defined(MADV_NOHUGEPAGE)
    if (p && alloc >= CF_HUGE_PAGE) madvise(p, alloc, MADV_NOHUGEPAGE);
#endif
    return p;
}
