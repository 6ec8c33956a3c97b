#include "model/kvcache.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/bigmem.h"
#include "kernels/cpu.h"
#include "kernels/quant.h"

/* model/kvcache_avx2.c (F16C) */
void cf_kv_f32_to_f16_avx2(uint16_t *dst, const float *src, int n);

int cf_kv_init(cf_kvcache *kv, int type, int n_layer, int n_seq, int64_t n_ctx, int kv_dim, cf_err *err) {
    memset(kv, 0, sizeof *kv);
    if (type != CF_T_F16 && type != CF_T_F32)
        return cf_errf(err, CF_EUNSUPPORTED, "KV cache type must be f16 or f32");
    if (n_layer < 1 || n_seq < 1 || n_ctx < 1 || kv_dim < 1)
        return cf_errf(err, CF_EINVAL, "KV cache: bad size (layers %d, sequences %d, ctx %lld, kv_dim %d)",
                       n_layer, n_seq, (long long)n_ctx, kv_dim);
    size_t elt = type == CF_T_F16 ? 2 : 4;
    /* overflow-safe total: n_layer * n_seq * n_ctx * kv_dim * elt */
    size_t n = (size_t)n_layer * (size_t)n_seq;
    if ((size_t)n_ctx > SIZE_MAX / 8 / n || (size_t)kv_dim > SIZE_MAX / 8 / n / (size_t)n_ctx / elt)
        return cf_errf(err, CF_ELIMIT, "KV cache size overflows");
    size_t bytes = n * (size_t)n_ctx * (size_t)kv_dim * elt;
    kv->type = type;
    kv->n_layer = n_layer;
    kv->n_seq = n_seq;
    kv->n_ctx = n_ctx;
    kv->kv_dim = kv_dim;
    kv->elt = elt;
    kv->k = cf_alloc_sparse(bytes); /* only the positions written get pages (see bigmem.h) */
    kv->v = cf_alloc_sparse(bytes);
    kv->len = calloc((size_t)n_seq, sizeof *kv->len);
    if (!kv->k || !kv->v || !kv->len) {
        cf_kv_free(kv);
        return cf_errf(err, CF_ENOMEM, "out of memory for a %.1f MiB KV cache", 2.0 * (double)bytes / 1048576.0);
    }
    kv->bytes = 2 * bytes;
    return 0;
}

void cf_kv_free(cf_kvcache *kv) {
    free(kv->k);
    free(kv->v);
    free(kv->len);
    memset(kv, 0, sizeof *kv);
}

void cf_kv_clear(cf_kvcache *kv, int s) {
    if (s < 0) {
        for (int i = 0; i < kv->n_seq; i++) kv->len[i] = 0;
    } else if (s < kv->n_seq) {
        kv->len[s] = 0;
    }
}

void cf_kv_store(const cf_kvcache *kv, void *dst, const float *src) {
    if (kv->type == CF_T_F32) {
        memcpy(dst, src, (size_t)kv->kv_dim * sizeof(float));
        return;
    }
    uint16_t *d = dst;
    if (cf_isa_active() >= CF_ISA_AVX2) {
        cf_kv_f32_to_f16_avx2(d, src, kv->kv_dim);
        return;
    }
    for (int i = 0; i < kv->kv_dim; i++) d[i] = cf_f32_to_f16(src[i]);
}
