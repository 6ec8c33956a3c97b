/* The KV cache: one slot per sequence, each holding up to n_ctx positions per layer.
 *
 * Layout (elements of `type`, F16 or F32): K and V are each [n_layer][n_seq][n_ctx][kv_dim] with
 * kv_dim = n_head_kv * head_dim, so a sequence's keys for a layer are contiguous (kv_stride =
 * kv_dim) and the attention kernel reads them directly.  len[s] is how many positions of slot s
 * are filled; clearing a slot only resets len[s] (no memory traffic). */
#ifndef CF_KVCACHE_H
#define CF_KVCACHE_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"

typedef struct {
    int type;                /* CF_T_F16 or CF_T_F32 */
    int n_layer, n_seq, kv_dim;
    int64_t n_ctx;           /* positions per slot */
    size_t elt;              /* bytes per element */
    void *k, *v;
    int64_t *len;            /* n_seq: filled positions */
    size_t bytes;            /* K + V */
} cf_kvcache;

int cf_kv_init(cf_kvcache *kv, int type, int n_layer, int n_seq, int64_t n_ctx, int kv_dim, cf_err *err);
void cf_kv_free(cf_kvcache *kv);
/* Forgets the contents of slot s (or of every slot for s < 0). */
void cf_kv_clear(cf_kvcache *kv, int s);

/* Address of position pos of slot s, layer l (elements of kv->type). */
static inline void *cf_kv_k(const cf_kvcache *kv, int l, int s, int64_t pos) {
    return (char *)kv->k + ((((size_t)l * kv->n_seq + s) * kv->n_ctx + pos) * kv->kv_dim) * kv->elt;
}
static inline void *cf_kv_v(const cf_kvcache *kv, int l, int s, int64_t pos) {
    return (char *)kv->v + ((((size_t)l * kv->n_seq + s) * kv->n_ctx + pos) * kv->kv_dim) * kv->elt;
}
/* Stores rows of kv_dim f32 values into the cache at pos, converting to kv->type. */
void cf_kv_store(const cf_kvcache *kv, void *dst, const float *src);

#endif
