/* Reference row dequantization (the spec every SIMD path matches bit for bit) and the reference
 * quantizers (round to nearest, with a small scale search for the K-quants).
 *
 * Dequantization formulas (GGUF / ggml block layouts), all in f32 with separate roundings:
 *   Q8_0: y = d * q                       Q4_0: y = d * (nibble - 8)
 *   Q4_K: per 32-element sub-block j: y = (d * sc_j) * nibble - (dmin * m_j)
 *   Q6_K: per 16-element sub-block j: y = (d * sc_j) * (q6 - 32)
 *   Q8_K: y = d * q */
#include <math.h>
#include <string.h>

#include "kernels/mm_priv.h"
#include "kernels/quant.h"

static void deq_q8_0(const cf_blk_q8_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = cf_f16_to_f32(b[i].d);
        for (int j = 0; j < 32; j++) y[j] = d * (float)b[i].qs[j];
    }
}

static void deq_q4_0(const cf_blk_q4_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = cf_f16_to_f32(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)((b[i].qs[j] & 15) - 8);
            y[j + 16] = d * (float)((b[i].qs[j] >> 4) - 8);
        }
    }
}

static void deq_q4_k(const cf_blk_q4_k *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        float d = cf_f16_to_f32(b[i].d), dmin = cf_f16_to_f32(b[i].dmin);
        uint8_t sc[8], mn[8];
        cf_q4k_scales(b[i].scales, sc, mn);
        const uint8_t *q = b[i].qs;
        for (int p = 0; p < 4; p++, q += 32) {
            float d1 = d * (float)sc[2 * p], m1 = dmin * (float)mn[2 * p];
            float d2 = d * (float)sc[2 * p + 1], m2 = dmin * (float)mn[2 * p + 1];
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 15) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

static void deq_q6_k(const cf_blk_q6_k *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        float d = cf_f16_to_f32(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        for (int h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

static void deq_q8_k(const cf_blk_q8_k *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 256)
        for (int j = 0; j < 256; j++) y[j] = b[i].d * (float)b[i].qs[j];
}

void cf_dequantize_row_ref(int type, const void *src, float *dst, int64_t n) {
    switch (type) {
    case CF_T_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return;
    case CF_T_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = cf_f16_to_f32(((const uint16_t *)src)[i]);
        return;
    case CF_T_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = cf_bf16_to_f32(((const uint16_t *)src)[i]);
        return;
    case CF_T_Q8_0: deq_q8_0(src, dst, n / 32); return;
    case CF_T_Q4_0: deq_q4_0(src, dst, n / 32); return;
    case CF_T_Q4_K: deq_q4_k(src, dst, n / 256); return;
    case CF_T_Q6_K: deq_q6_k(src, dst, n / 256); return;
    case CF_T_Q8_K: deq_q8_k(src, dst, n / 256); return;
    default:
        /* Unsupported types have compute == 0 in the type table; callers check it first. */
        memset(dst, 0, (size_t)n * sizeof(float));
        return;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Quantizers */

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
/* Round to nearest (ties to even) with NaN/overflow mapped into [lo, hi]: no UB on bad input. */
static inline int qround(float v, int lo, int hi) {
    if (!(v >= (float)lo)) return v != v ? 0 : lo;
    if (v > (float)hi) return hi;
    return clampi((int)nearbyintf(v), lo, hi);
}

float cf_q8_block_ref(const float *x, int n, int8_t *q) {
    float amax = 0;
    for (int i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        amax = a > amax ? a : amax;
    }
    if (!(amax > 0) || !(amax < INFINITY)) {  /* zeros (or non-finite input): all-zero block */
        memset(q, 0, (size_t)n);
        return 0.0f;
    }
    float id = 127.0f / amax;
    for (int i = 0; i < n; i++) q[i] = (int8_t)qround(x[i] * id, -127, 127);
    return amax / 127.0f;
}

static void quant_q8_0(const float *x, cf_blk_q8_0 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float d = cf_q8_block_ref(x, 32, b[i].qs);
        b[i].d = cf_f32_to_f16(d);
    }
}

static void quant_q4_0(const float *x, cf_blk_q4_0 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        /* the value of largest magnitude maps to -8 (the one level without a +8 twin) */
        float vmax = 0, amax = 0;
        for (int j = 0; j < 32; j++)
            if (fabsf(x[j]) > amax) amax = fabsf(x[j]), vmax = x[j];
        float d = vmax / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = cf_f32_to_f16(d);
        for (int j = 0; j < 16; j++) {
            int lo = qround(x[j] * id, -8, 7) + 8, hi = qround(x[j + 16] * id, -8, 7) + 8;
            b[i].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

/* Fits x ~= a * q + b (q in 0..nmax, b <= 0) for one sub-block of n values by trying a few
 * grid scales around (max - min) / nmax and refining each by least squares. */
static void fit_affine(const float *x, int n, int nmax, float *scale, float *min) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
    if (lo > 0) lo = 0;
    if (!(hi > lo)) {
        *scale = 0;
        *min = -lo;
        return;
    }
    float best_a = (hi - lo) / (float)nmax, best_b = lo, best_err = INFINITY;
    for (int t = -8; t <= 8; t++) {
        float is = ((float)nmax + 0.1f * (float)t) / (hi - lo);
        double sq = 0, sqq = 0, sx = 0, sqx = 0;
        int L[256];
        for (int i = 0; i < n; i++) {
            L[i] = qround((x[i] - lo) * is, 0, nmax);
            sq += L[i], sqq += (double)L[i] * L[i], sx += x[i], sqx += (double)L[i] * x[i];
        }
        double det = n * sqq - sq * sq;
        double a, b;
        if (det > 0) {
            a = (n * sqx - sq * sx) / det;
            b = (sx - a * sq) / n;
        } else {
            a = 1.0 / is, b = lo;
        }
        if (b > 0) {  /* the format subtracts a non-negative min */
            b = 0;
            a = sqq > 0 ? sqx / sqq : 0;
        }
        if (a < 0) continue;
        double err = 0;
        for (int i = 0; i < n; i++) {
            double e = a * L[i] + b - x[i];
            err += e * e;
        }
        if (err < best_err) best_err = (float)err, best_a = (float)a, best_b = (float)b;
    }
    *scale = best_a;
    *min = -best_b;
}

static void quant_q4_k(const float *x, cf_blk_q4_k *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 256) {
        float sc[8], mn[8], msc = 0, mmn = 0;
        for (int j = 0; j < 8; j++) {
            fit_affine(x + 32 * j, 32, 15, &sc[j], &mn[j]);
            msc = sc[j] > msc ? sc[j] : msc;
            mmn = mn[j] > mmn ? mn[j] : mmn;
        }
        float d = msc / 63.0f, dmin = mmn / 63.0f;
        uint16_t dh = cf_f32_to_f16(d), dmh = cf_f32_to_f16(dmin);
        float dq = cf_f16_to_f32(dh), dmq = cf_f16_to_f32(dmh);
        uint8_t isc[8], imn[8];
        for (int j = 0; j < 8; j++) {
            isc[j] = (uint8_t)(dq > 0 ? qround(sc[j] / dq, 0, 63) : 0);
            imn[j] = (uint8_t)(dmq > 0 ? qround(mn[j] / dmq, 0, 63) : 0);
        }
        b[i].d = dh;
        b[i].dmin = dmh;
        for (int j = 0; j < 4; j++) {
            b[i].scales[j] = (uint8_t)(isc[j] | ((isc[j + 4] >> 4) << 6));
            b[i].scales[j + 4] = (uint8_t)(imn[j] | ((imn[j + 4] >> 4) << 6));
            b[i].scales[j + 8] = (uint8_t)((isc[j + 4] & 15) | ((imn[j + 4] & 15) << 4));
        }
        uint8_t L[256];
        for (int j = 0; j < 8; j++) {
            float s = dq * (float)isc[j], m = dmq * (float)imn[j];
            for (int l = 0; l < 32; l++)
                L[32 * j + l] = (uint8_t)(s > 0 ? qround((x[32 * j + l] + m) / s, 0, 15) : 0);
        }
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++)
                b[i].qs[32 * p + l] = (uint8_t)(L[64 * p + l] | (L[64 * p + 32 + l] << 4));
    }
}

/* Fits x ~= a * q (q in -nmax..nmax-1) for one sub-block: grid of scales that map the value of
 * largest magnitude near -nmax, each refined by least squares. */
static float fit_symmetric(const float *x, int n, int nmax) {
    float vmax = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), vmax = x[i];
    if (!(amax > 0)) return 0;
    float best_a = vmax / (float)-nmax, best_err = INFINITY;
    for (int t = -8; t <= 8; t++) {
        float is = -((float)nmax + 0.1f * (float)t) / vmax;
        double sqq = 0, sqx = 0;
        int L[256];
        for (int i = 0; i < n; i++) {
            L[i] = qround(x[i] * is, -nmax, nmax - 1);
            sqq += (double)L[i] * L[i], sqx += (double)L[i] * x[i];
        }
        if (sqq <= 0) continue;
        double a = sqx / sqq, err = 0;
        for (int i = 0; i < n; i++) {
            double e = a * L[i] - x[i];
            err += e * e;
        }
        if (err < best_err) best_err = (float)err, best_a = (float)a;
    }
    return best_a;
}

static void quant_q6_k(const float *x, cf_blk_q6_k *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 256) {
        float sc[16], vmax = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            sc[j] = fit_symmetric(x + 16 * j, 16, 32);
            if (fabsf(sc[j]) > amax) amax = fabsf(sc[j]), vmax = sc[j];
        }
        memset(&b[i], 0, sizeof b[i]);
        if (!(amax > 0)) {
            /* all zero: q = 32 encodes 0 */
            for (int l = 0; l < 128; l++) b[i].ql[l] = 0;
            for (int l = 0; l < 64; l++) b[i].qh[l] = 0xAA;  /* high bits 2 -> 32 */
            b[i].d = 0;
            continue;
        }
        float d = vmax / -128.0f;
        uint16_t dh = cf_f32_to_f16(d);
        float dq = cf_f16_to_f32(dh);
        b[i].d = dh;
        uint8_t L[256];
        for (int j = 0; j < 16; j++) {
            int s = dq != 0 ? qround(sc[j] / dq, -128, 127) : 0;
            b[i].scales[j] = (int8_t)s;
            float f = dq * (float)s;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (uint8_t)((f != 0 ? qround(x[16 * j + l] / f, -32, 31) : 0) + 32);
        }
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *q = L + 128 * h;
                uint8_t q1 = q[l], q2 = q[l + 32], q3 = q[l + 64], q4 = q[l + 96];
                b[i].ql[64 * h + l] = (uint8_t)((q1 & 15) | ((q3 & 15) << 4));
                b[i].ql[64 * h + l + 32] = (uint8_t)((q2 & 15) | ((q4 & 15) << 4));
                b[i].qh[32 * h + l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
    }
}

static void quant_q8_k(const float *x, cf_blk_q8_k *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 256) {
        b[i].d = cf_q8_block_ref(x, 256, b[i].qs);
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += b[i].qs[16 * j + l];
            b[i].bsums[j] = (int16_t)s;
        }
    }
}

int cf_quantize_row(int type, const float *src, void *dst, int64_t n) {
    const cf_dtype_info *t = cf_dtype_get(type);
    if (!t || n < 0 || n % t->block) return -1;
    int64_t nb = n / t->block;
    switch (type) {
    case CF_T_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return 0;
    case CF_T_F16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = cf_f32_to_f16(src[i]);
        return 0;
    case CF_T_BF16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = cf_f32_to_bf16(src[i]);
        return 0;
    case CF_T_Q8_0: quant_q8_0(src, dst, nb); return 0;
    case CF_T_Q4_0: quant_q4_0(src, dst, nb); return 0;
    case CF_T_Q4_K: quant_q4_k(src, dst, nb); return 0;
    case CF_T_Q6_K: quant_q6_k(src, dst, nb); return 0;
    case CF_T_Q8_K: quant_q8_k(src, dst, nb); return 0;
    default: return -1;
    }
}
