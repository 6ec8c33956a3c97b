/* Large buffers that kernels stream through (KV cache, packed weights): 2 MiB-aligned and
 * advised for transparent huge pages where the kernel allows (MADV_HUGEPAGE; harmless where THP
 * is off).  With 4 KiB pages, a stream of rows that strides across pages (a KV head's rows,
 * kv_dim apart) costs a page walk every few rows and stops the hardware prefetchers at every
 * page boundary.  Small requests (< 2 MiB) get plain 64-byte-aligned memory.  Free with free(). */
#ifndef CF_BIGMEM_H
#define CF_BIGMEM_H
#include <stddef.h>

/* bytes (> 0) of uninitialised memory, or NULL when out of memory. */
void *cf_alloc_big(size_t bytes);

#endif
