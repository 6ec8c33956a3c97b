/* Scalar reference attention (the spec): per query row and head, all causal scores, max-
 * subtracted softmax, weighted sum of values; dot products and sums in double. */
#include <math.h>
#include <stdlib.h>

#include "kernels/attn.h"
#include "kernels/quant.h"
#include "kernels/tuning.h"

static inline float kv_at(const void *base, int type, int64_t i) {
    return type == CF_T_F16 ? cf_f16_to_f32(((const uint16_t *)base)[i]) : ((const float *)base)[i];
}

static void one_head(const cf_attn_shape *sh, const cf_attn_seq *q, int64_t t, int h, double *sc) {
    int hd = sh->head_dim, g = h / (sh->n_head / sh->n_kv_head);
    const float *qv = q->q + t * sh->ldq + (int64_t)h * hd;
    int64_t n = (int64_t)q->pos[t] + 1;
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < n; j++) {
        int64_t base = j * q->kv_stride + (int64_t)g * hd;
        double d = 0;
        for (int i = 0; i < hd; i++) d += (double)qv[i] * kv_at(q->k, q->kv_type, base + i);
        sc[j] = d * sh->scale;
        mx = sc[j] > mx ? sc[j] : mx;
    }
    for (int64_t j = 0; j < n; j++) {
        sc[j] = exp(sc[j] - mx);
        sum += sc[j];
    }
    float *o = q->out + t * sh->ldo + (int64_t)h * hd;
    for (int i = 0; i < hd; i++) {
        double a = 0;
        for (int64_t j = 0; j < n; j++)
            a += sc[j] * kv_at(q->v, q->kv_type, j * q->kv_stride + (int64_t)g * hd + i);
        o[i] = (float)(a / sum);
    }
}

static void attn_ref(const cf_par *p, const cf_attn_shape *sh, const cf_attn_seq *seqs, int n_seqs) {
    int64_t rows = 0, work = 0, max_kv = 1;
    for (int s = 0; s < n_seqs; s++) {
        rows += seqs[s].n_q;
        work += seqs[s].n_q * seqs[s].n_kv;
        if (seqs[s].n_kv > max_kv) max_kv = seqs[s].n_kv;
    }
    if (!rows) return;
    long lo, hi;
    cf_split(p, rows, 2 * sh->n_head * sh->head_dim * (work / rows + 1), cf_tuning_get()->thresh_attn, 1, &lo,
             &hi);
    if (lo >= hi) return;
    double *sc = malloc(sizeof(double) * max_kv);
    if (!sc) abort(); /* the reference is for tests */
    int64_t base = 0;
    for (int s = 0; s < n_seqs; s++) {
        for (int64_t t = 0; t < seqs[s].n_q; t++)
            if (base + t >= lo && base + t < hi)
                for (int h = 0; h < sh->n_head; h++) one_head(sh, &seqs[s], t, h, sc);
        base += seqs[s].n_q;
    }
    free(sc);
}

const cf_attn_ops cf_attn_ops_ref_tbl = {attn_ref};
