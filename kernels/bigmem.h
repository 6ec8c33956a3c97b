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

/* Large memory touched sparsely (the KV cache: each sequence's slot of n_ctx positions is written
 * from position 0 up, usually a small part of it): page-aligned, advised against huge pages, so
 * only the 4 KiB pages written get backed and zeroed.  With 2 MiB pages every (layer, sequence)
 * slot's first write zeroed a whole huge page: a --parallel 8 batch at 4096 positions zeroed all
 * 720 MiB (19% of its CPU time in the kernel's page clearing).  Free with free(). */
void *cf_alloc_sparse(size_t bytes);

#endif
