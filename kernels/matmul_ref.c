/* The scalar reference level of the matmul ops (ROW activation layout, the canonical order of
 * matmul.h written out plainly) and the dequantize-then-dot oracle cf_matmul_ref. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/mm_priv.h"
#include "kernels/tuning.h"

void cf_matmul_ref(const cf_wmat *W, const float *X, int64_t ldx, int64_t M, float *Y, int64_t ldy) {
    assert(cf_mm_type_ok(W->type) && W->row_bytes == cf_row_bytes(W->type, W->k));
    float *w = malloc((size_t)(W->k > 0 ? W->k : 1) * sizeof(float));
    assert(w);
    for (int64_t n = 0; n < W->n; n++) {
        cf_dequantize_row_ref(W->type, (const char *)W->data + n * W->row_bytes, w, W->k);
        for (int64_t m = 0; m < M; m++) {
            const float *x = X + m * ldx;
            float acc = 0;
            for (int64_t k = 0; k < W->k; k++) acc += x[k] * w[k];
            Y[m * ldy + n] = acc;
        }
    }
    free(w);
}

/* ---- activations ---- */

size_t cf_mm_act_bytes_ref(int wtype, int64_t M, int64_t K) {
    cf_act_hdr h;
    return cf_act_layout(&h, cf_act_kind_of(wtype), CF_LAYOUT_ROW, 0, M, K);
}

/* One Q8_0-kind block of 32 under convention conv (mm_priv.h); returns d.  Under F16 the quants
 * are those of cf_q8_block_ref. */
static float q8_0_block(const float *x, int8_t *q, int conv) {
    float amax = 0;
    for (int i = 0; i < 32; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    float id = 0, d = 0;
    if (amax > 0 && amax < INFINITY) {
        id = 127.0f / amax;
        d = cf_act_q8_0_scale(amax / 127.0f, conv, &id);
    }
    for (int i = 0; i < 32; i++) { /* as cf_q8_block_ref: a NaN element quantizes to 0 */
        float v = x[i] * id;          /* |v| <= 127.25 */
        q[i] = (int8_t)(id == 0 || v != v ? 0 : v < -127.0f ? -127 : v > 127.0f ? 127 : (int)nearbyintf(v));
    }
    return id == 0 ? 0.0f : d;
}

/* Rows [r0, r1), blocks [b0, b1) of the ROW layout h (F32: blocks of one element). */
static void ref_quant(const cf_act_hdr *h, void *act, const float *X, int64_t ldx, int64_t r0, int64_t r1, int64_t b0,
                      int64_t b1) {
    const int conv = cf_act_scale_get();
    const int64_t K = h->K;
    int8_t *q = (int8_t *)act + CF_ACT_HDR;
    float *d = (float *)((char *)act + h->off_b);
    for (int64_t m = r0; m < r1; m++) {
        const float *x = X + m * ldx;
        if (h->kind == CF_ACT_F32) {
            memcpy((float *)q + m * K + b0, x + b0, (size_t)(b1 - b0) * sizeof(float));
        } else if (h->kind == CF_ACT_Q8_0) {
            int32_t *s8 = (int32_t *)((char *)act + h->off_c);
            for (int64_t b = b0; b < b1; b++) {
                int8_t *qb = q + (m * h->nb + b) * 32;
                d[m * h->nb + b] = q8_0_block(x + b * 32, qb, conv);
                int s = 0;
                for (int j = 0; j < 32; j++) s += qb[j];
                s8[m * h->nb + b] = 8 * s;
            }
        } else {
            int16_t *bs = (int16_t *)((char *)act + h->off_c);
            for (int64_t b = b0; b < b1; b++) {
                int8_t *qb = q + (m * h->nb + b) * 256;
                d[m * h->nb + b] = cf_q8_block_ref(x + b * 256, 256, qb);
                for (int j = 0; j < 16; j++) {
                    int s = 0;
                    for (int l = 0; l < 16; l++) s += qb[16 * j + l];
                    bs[(m * h->nb + b) * 16 + j] = (int16_t)s;
                }
            }
        }
    }
}

void cf_mm_act_quantize_ref(const cf_par *p, int wtype, void *act, const float *X, int64_t ldx,
                            int64_t M, int64_t K) {
    assert(cf_mm_type_ok(wtype));
    cf_act_hdr h;
    cf_act_layout(&h, cf_act_kind_of(wtype), CF_LAYOUT_ROW, 0, M, K);
    if (p->ith == 0) memcpy(act, &h, sizeof h);
    long lo, hi;
    cf_split(p, (long)M, (long)K, cf_tuning_get()->thresh_quant_act, 1, &lo, &hi);
    ref_quant(&h, act, X, ldx, lo, hi, 0, h.nb);
}

void cf_mm_act_quantize_cols_ref(int wtype, void *act, const float *X, int64_t ldx, int64_t M, int64_t K,
                                 int64_t k0, int64_t k1) {
    assert(cf_mm_type_ok(wtype));
    cf_act_hdr h;
    cf_act_layout(&h, cf_act_kind_of(wtype), CF_LAYOUT_ROW, 0, M, K);
    assert(k0 % h.blk == 0 && (k1 % h.blk == 0 || k1 == K) && 0 <= k0 && k0 <= k1 && k1 <= K);
    if (k0 == 0) memcpy(act, &h, sizeof h);
    ref_quant(&h, act, X, ldx, 0, M, k0 / h.blk, (k1 + h.blk - 1) / h.blk);
}

/* ---- products (one output element each; the canonical order of matmul.h) ---- */

static float dot_f32(int type, const void *wrow, const float *x, int64_t K) {
    float acc = 0;
    for (int64_t k = 0; k < K; k++) {
        float w = type == CF_T_F32 ? ((const float *)wrow)[k]
                : type == CF_T_F16 ? cf_f16_to_f32(((const uint16_t *)wrow)[k])
                                   : cf_bf16_to_f32(((const uint16_t *)wrow)[k]);
        acc = acc + x[k] * w;
    }
    return acc;
}

static float dot_q8_0(const cf_blk_q8_0 *w, const int8_t *q, const float *d, int64_t nb) {
    float acc = 0;
    for (int64_t b = 0; b < nb; b++, q += 32) {
        int32_t s = 0;
        for (int j = 0; j < 32; j++) s += w[b].qs[j] * q[j];
        acc = fmaf(d[b] * cf_f16_to_f32(w[b].d), (float)s, acc);
    }
    return acc;
}

static float dot_q4_0(const cf_blk_q4_0 *w, const int8_t *q, const float *d, const int32_t *s8,
                      int64_t nb) {
    float acc = 0;
    for (int64_t b = 0; b < nb; b++, q += 32) {
        int32_t s = 0;
        for (int j = 0; j < 16; j++) s += (w[b].qs[j] & 15) * q[j] + (w[b].qs[j] >> 4) * q[j + 16];
        acc = fmaf(d[b] * cf_f16_to_f32(w[b].d), (float)(s - s8[b]), acc);
    }
    return acc;
}

static float dot_q4_k(const cf_blk_q4_k *w, const int8_t *q, const float *d, const int16_t *bs,
                      int64_t nb) {
    float acc = 0;
    for (int64_t b = 0; b < nb; b++, q += 256, bs += 16) {
        uint8_t sc[8], mn[8];
        cf_q4k_scales(w[b].scales, sc, mn);
        int32_t i1 = 0, i2 = 0;
        for (int j = 0; j < 8; j++) {
            const uint8_t *qs = w[b].qs + 32 * (j / 2);
            int32_t s = 0;
            for (int l = 0; l < 32; l++) s += ((j & 1) ? qs[l] >> 4 : qs[l] & 15) * q[32 * j + l];
            i1 += sc[j] * s;
            i2 += mn[j] * (bs[2 * j] + bs[2 * j + 1]);
        }
        acc = fmaf(d[b] * cf_f16_to_f32(w[b].d), (float)i1, acc);
        acc = fmaf(-(d[b] * cf_f16_to_f32(w[b].dmin)), (float)i2, acc);
    }
    return acc;
}

static float dot_q6_k(const cf_blk_q6_k *w, const int8_t *q, const float *d, const int16_t *bs,
                      int64_t nb) {
    float acc = 0;
    for (int64_t b = 0; b < nb; b++, q += 256, bs += 16) {
        int32_t sub[16] = {0};
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[b].ql + 64 * h, *qh = w[b].qh + 32 * h;
            const int8_t *qx = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                int q1 = (ql[l] & 15) | (((qh[l] >> 0) & 3) << 4);
                int q2 = (ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4);
                int q3 = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                int q4 = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                sub[8 * h + l / 16] += q1 * qx[l];
                sub[8 * h + 2 + l / 16] += q2 * qx[l + 32];
                sub[8 * h + 4 + l / 16] += q3 * qx[l + 64];
                sub[8 * h + 6 + l / 16] += q4 * qx[l + 96];
            }
        }
        int32_t s = 0;
        for (int j = 0; j < 16; j++) s += w[b].scales[j] * (sub[j] - 32 * bs[j]);
        acc = fmaf(d[b] * cf_f16_to_f32(w[b].d), (float)s, acc);
    }
    return acc;
}

void cf_mm_matmul_act_ref(const cf_par *p, const cf_wmat *W, const void *act, int64_t M, float *Y,
                          int64_t ldy) {
    const cf_act_hdr *h = act;
    assert(cf_mm_type_ok(W->type) && W->row_bytes == cf_row_bytes(W->type, W->k));
    assert(h->magic == CF_ACT_MAGIC && h->layout == CF_LAYOUT_ROW && h->K == W->k && M <= h->M);
    assert(h->kind == (int)cf_act_kind_of(W->type));
    int64_t m0, m1, n0, n1;
    cf_mm_split(p, M, W->n, W->k, 1, 1, &m0, &m1, &n0, &n1);
    const int8_t *q = (const int8_t *)act + CF_ACT_HDR;
    const float *d = (const float *)((const char *)act + h->off_b);
    const void *c = (const char *)act + h->off_c;
    int64_t nb = h->nb, K = h->K;
    for (int64_t n = n0; n < n1; n++) {
        const void *wr = (const char *)W->data + n * W->row_bytes;
        for (int64_t m = m0; m < m1; m++) {
            float y;
            switch (W->type) {
            case CF_T_Q8_0: y = dot_q8_0(wr, q + m * K, d + m * nb, nb); break;
            case CF_T_Q4_0: y = dot_q4_0(wr, q + m * K, d + m * nb, (const int32_t *)c + m * nb, nb); break;
            case CF_T_Q4_K: y = dot_q4_k(wr, q + m * K, d + m * nb, (const int16_t *)c + m * nb * 16, nb); break;
            case CF_T_Q6_K: y = dot_q6_k(wr, q + m * K, d + m * nb, (const int16_t *)c + m * nb * 16, nb); break;
            default: y = dot_f32(W->type, wr, (const float *)q + m * K, K); break;
            }
            Y[m * ldy + n] = y;
        }
    }
}
