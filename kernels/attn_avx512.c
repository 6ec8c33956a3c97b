/* AVX-512 attention: the AVX2 path's algorithm (same task groups, fixed kv blocks, online
 * softmax, per-element operation order independent of grouping) with 16-lane vectors; head_dim
 * tails use masked loads instead of scalar code. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/attn.h"
#include "kernels/quant.h"
#include "kernels/tuning.h"

#define AI static inline __attribute__((always_inline))

enum { HDM = CF_ATTN_MAX_HEAD_DIM, TILEM = CF_ATTN_MAX_TILE, RHM = CF_ATTN_MAX_RH };

AI __mmask16 tail_mask(int64_t r) { return (__mmask16)((1u << r) - 1u); }

AI __m512 vexp(__m512 x) {
    __mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33f), _CMP_GE_OQ);
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), _mm512_set1_ps(-87.33f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 5040), r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(ok, p, _mm512_castsi512_ps(e));
}

#define FULL ((__mmask16)0xFFFF)

/* ---- q . k over float rows ---- */

AI float dot1(const float *q, const float *k, int hd) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int d = 0;
    for (; d + 32 <= hd; d += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), _mm512_loadu_ps(k + d), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d + 16), _mm512_loadu_ps(k + d + 16), a1);
    }
    for (; d < hd; d += 16) {
        __mmask16 m = d + 16 <= hd ? FULL : tail_mask(hd - d);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), _mm512_maskz_loadu_ps(m, k + d), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

AI void dot4(const float *q, const float *k, int64_t ks, int hd, float *out) {
    const float *k1 = k + ks, *k2 = k + 2 * ks, *k3 = k + 3 * ks;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, e0 = a0, e1 = a0;
    int d = 0;
    for (; d + 32 <= hd; d += 32) {
        __m512 q0 = _mm512_loadu_ps(q + d), q1 = _mm512_loadu_ps(q + d + 16);
        a0 = _mm512_fmadd_ps(q0, _mm512_loadu_ps(k + d), a0);
        a1 = _mm512_fmadd_ps(q1, _mm512_loadu_ps(k + d + 16), a1);
        b0 = _mm512_fmadd_ps(q0, _mm512_loadu_ps(k1 + d), b0);
        b1 = _mm512_fmadd_ps(q1, _mm512_loadu_ps(k1 + d + 16), b1);
        c0 = _mm512_fmadd_ps(q0, _mm512_loadu_ps(k2 + d), c0);
        c1 = _mm512_fmadd_ps(q1, _mm512_loadu_ps(k2 + d + 16), c1);
        e0 = _mm512_fmadd_ps(q0, _mm512_loadu_ps(k3 + d), e0);
        e1 = _mm512_fmadd_ps(q1, _mm512_loadu_ps(k3 + d + 16), e1);
    }
    for (; d < hd; d += 16) {
        __mmask16 m = d + 16 <= hd ? FULL : tail_mask(hd - d);
        __m512 q0 = _mm512_maskz_loadu_ps(m, q + d);
        a0 = _mm512_fmadd_ps(q0, _mm512_maskz_loadu_ps(m, k + d), a0);
        b0 = _mm512_fmadd_ps(q0, _mm512_maskz_loadu_ps(m, k1 + d), b0);
        c0 = _mm512_fmadd_ps(q0, _mm512_maskz_loadu_ps(m, k2 + d), c0);
        e0 = _mm512_fmadd_ps(q0, _mm512_maskz_loadu_ps(m, k3 + d), e0);
    }
    out[0] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    out[1] = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
    out[2] = _mm512_reduce_add_ps(_mm512_add_ps(c0, c1));
    out[3] = _mm512_reduce_add_ps(_mm512_add_ps(e0, e1));
}

/* ---- p . V over float rows ---- */

AI void acc_scale(float *acc, float corr, int hd) {
    __m512 vc = _mm512_set1_ps(corr);
    for (int d = 0; d < hd; d += 16) {
        __mmask16 m = d + 16 <= hd ? FULL : tail_mask(hd - d);
        _mm512_mask_storeu_ps(acc + d, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, acc + d), vc));
    }
}

AI void pv_chunk(float *acc, const float *p, const float *v, int64_t vs, int mrows, int hd) {
    int d = 0;
    for (; d + 128 <= hd; d += 128) {
        __m512 a[8];
        for (int k = 0; k < 8; k++) a[k] = _mm512_loadu_ps(acc + d + 16 * k);
        for (int j = 0; j < mrows; j++) {
            __m512 pj = _mm512_set1_ps(p[j]);
            const float *vj = v + j * vs + d;
            for (int k = 0; k < 8; k++) a[k] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vj + 16 * k), a[k]);
        }
        for (int k = 0; k < 8; k++) _mm512_storeu_ps(acc + d + 16 * k, a[k]);
    }
    for (; d + 64 <= hd; d += 64) {
        __m512 a[4];
        for (int k = 0; k < 4; k++) a[k] = _mm512_loadu_ps(acc + d + 16 * k);
        for (int j = 0; j < mrows; j++) {
            __m512 pj = _mm512_set1_ps(p[j]);
            const float *vj = v + j * vs + d;
            for (int k = 0; k < 4; k++) a[k] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vj + 16 * k), a[k]);
        }
        for (int k = 0; k < 4; k++) _mm512_storeu_ps(acc + d + 16 * k, a[k]);
    }
    for (; d < hd; d += 16) {
        __mmask16 m = d + 16 <= hd ? FULL : tail_mask(hd - d);
        __m512 a = _mm512_maskz_loadu_ps(m, acc + d);
        for (int j = 0; j < mrows; j++)
            a = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), _mm512_maskz_loadu_ps(m, v + j * vs + d), a);
        _mm512_mask_storeu_ps(acc + d, m, a);
    }
}

AI const float *kv_rows(const void *base, int64_t off, int64_t stride, int n, int hd, int f16, float *scr,
                        int64_t *rs) {
    if (!f16) {
        *rs = stride;
        return (const float *)base + off;
    }
    const uint16_t *src = (const uint16_t *)base + off;
    for (int r = 0; r < n; r++) {
        const uint16_t *s = src + r * stride;
        float *d = scr + (int64_t)r * hd;
        for (int i = 0; i < hd; i += 16) {
            __mmask16 m = i + 16 <= hd ? FULL : tail_mask(hd - i);
            _mm512_mask_storeu_ps(d + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, s + i)));
        }
    }
    *rs = hd;
    return scr;
}

AI float softmax_step(float *s, int nb, float scale, float *m, float *l) {
    __m512 vs = _mm512_set1_ps(scale), mx = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < nb; j += 16) {
        __mmask16 k = j + 16 <= nb ? FULL : tail_mask(nb - j);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, s + j), vs);
        _mm512_mask_storeu_ps(s + j, k, v);
        mx = _mm512_mask_max_ps(mx, k, mx, v);
    }
    float mnew = _mm512_reduce_max_ps(mx);
    if (*m > mnew) mnew = *m;
    __m512 vm = _mm512_set1_ps(mnew), sum = _mm512_setzero_ps();
    for (int j = 0; j < nb; j += 16) {
        __mmask16 k = j + 16 <= nb ? FULL : tail_mask(nb - j);
        __m512 e = _mm512_maskz_mov_ps(k, vexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), vm)));
        _mm512_mask_storeu_ps(s + j, k, e);
        sum = _mm512_add_ps(sum, e);
    }
    float corr = _mm512_cvtss_f32(vexp(_mm512_set1_ps(*m - mnew)));
    *l = *l * corr + _mm512_reduce_add_ps(sum);
    *m = mnew;
    return corr;
}

/* ---- a group of row-heads ---- */

enum { PF_DIST = 16, CH = 8 }; /* prefetch distance (positions); positions per converted chunk */

AI void prefetch_range(const char *p, int64_t bytes) {
    for (int64_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

/* Consecutive tasks of one thread that share (sequence, rows) are merged into a group of up to
 * RHM row-heads in segments of one kv head each.  Per block, positions are taken in chunks of CH:
 * each segment's K (then V) rows of the chunk are converted once and used by all its row-heads,
 * and the rows of adjacent kv heads are read together. */
typedef struct {
    const cf_attn_shape *sh;
    const cf_attn_seq *seqs;
    int tile;
    int seq, n, nseg, gmin, gmax;
    int64_t t0;
    const float *qp[RHM];
    float *op[RHM];
    int64_t lim[RHM]; /* positions attended by row-head i */
    struct {
        int64_t go; /* kv head offset (elements) */
        int i0, i1; /* row-heads [i0, i1) */
    } seg[RHM];
} group_t;

AI void group_impl(group_t *g, int f16) {
    const cf_attn_shape *sh = g->sh;
    const cf_attn_seq *sq = &g->seqs[g->seq];
    const int hd = sh->head_dim, tile = g->tile, R = g->n;
    _Alignas(64) float acc[RHM][HDM];
    _Alignas(64) float S[RHM][TILEM + 16];
    _Alignas(64) float scr[CH * HDM];
    float m[RHM], l[RHM];
    int64_t maxlim = 0;
    for (int i = 0; i < R; i++) {
        if (g->lim[i] > maxlim) maxlim = g->lim[i];
        m[i] = -INFINITY;
        l[i] = 0;
        memset(acc[i], 0, sizeof(float) * hd);
    }
    const int64_t ks = sq->kv_stride, esz = f16 ? 2 : 4;
    const int64_t pf_bytes = (int64_t)(g->gmax - g->gmin + 1) * hd * esz,
                  pf_off = (int64_t)g->gmin * hd * esz;
    const char *kb = (const char *)sq->k + pf_off, *vb = (const char *)sq->v + pf_off;
    for (int64_t b0 = 0; b0 < maxlim; b0 += tile) {
        int nbmax = (int)((b0 + tile < maxlim ? b0 + tile : maxlim) - b0), nb[RHM];
        for (int i = 0; i < R; i++) {
            int64_t e = b0 + tile < g->lim[i] ? b0 + tile : g->lim[i];
            nb[i] = e > b0 ? (int)(e - b0) : 0;
        }
        /* scores */
        for (int j0 = 0; j0 < nbmax; j0 += CH) {
            int jn = nbmax - j0 < CH ? nbmax - j0 : CH;
            for (int u = 0; u < jn; u++) {
                int64_t jk = b0 + j0 + u + PF_DIST;
                if (jk < maxlim) prefetch_range(kb + jk * ks * esz, pf_bytes);
                prefetch_range(vb + (b0 + j0 + u) * ks * esz, pf_bytes);
            }
            for (int sg = 0; sg < g->nseg; sg++) {
                int need = 0;
                for (int i = g->seg[sg].i0; i < g->seg[sg].i1; i++)
                    if (nb[i] - j0 > need) need = nb[i] - j0 < jn ? nb[i] - j0 : jn;
                if (need <= 0) continue;
                int64_t rs;
                const float *kr = kv_rows(sq->k, (b0 + j0) * ks + g->seg[sg].go, ks, need, hd, f16, scr, &rs);
                for (int i = g->seg[sg].i0; i < g->seg[sg].i1; i++) {
                    int mi = nb[i] - j0 < jn ? nb[i] - j0 : jn, jj = 0;
                    for (; jj + 4 <= mi; jj += 4) dot4(g->qp[i], kr + jj * rs, rs, hd, S[i] + j0 + jj);
                    for (; jj < mi; jj++) S[i][j0 + jj] = dot1(g->qp[i], kr + jj * rs, hd);
                }
            }
        }
        /* online softmax: probabilities in S, rescale the accumulators */
        for (int i = 0; i < R; i++)
            if (nb[i] > 0) acc_scale(acc[i], softmax_step(S[i], nb[i], sh->scale, &m[i], &l[i]), hd);
        /* weighted values */
        for (int j0 = 0; j0 < nbmax; j0 += CH) {
            int jn = nbmax - j0 < CH ? nbmax - j0 : CH;
            for (int sg = 0; sg < g->nseg; sg++) {
                int need = 0;
                for (int i = g->seg[sg].i0; i < g->seg[sg].i1; i++)
                    if (nb[i] - j0 > need) need = nb[i] - j0 < jn ? nb[i] - j0 : jn;
                if (need <= 0) continue;
                int64_t rs;
                const float *vr = kv_rows(sq->v, (b0 + j0) * ks + g->seg[sg].go, ks, need, hd, f16, scr, &rs);
                for (int i = g->seg[sg].i0; i < g->seg[sg].i1; i++) {
                    int mi = nb[i] - j0 < jn ? nb[i] - j0 : jn;
                    if (mi > 0) pv_chunk(acc[i], S[i] + j0, vr, rs, mi, hd);
                }
            }
        }
    }
    for (int i = 0; i < R; i++) {
        float *o = g->op[i];
        __m512 inv = _mm512_set1_ps(1.0f / l[i]);
        for (int d = 0; d < hd; d += 16) {
            __mmask16 k = d + 16 <= hd ? FULL : tail_mask(hd - d);
            _mm512_mask_storeu_ps(o + d, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, acc[i] + d), inv));
        }
    }
}

static void group_f32(group_t *g) { group_impl(g, 0); }
static void group_f16(group_t *g) { group_impl(g, 1); }

static void flush(group_t *g) {
    if (!g->n) return;
    if (g->seqs[g->seq].kv_type == CF_T_F16)
        group_f16(g);
    else
        group_f32(g);
    g->n = 0;
}

static void add_task(const cf_attn_task *t, void *vg) {
    group_t *g = vg;
    const cf_attn_shape *sh = g->sh;
    const cf_attn_seq *sq = &g->seqs[t->seq];
    int add = (int)(t->t1 - t->t0) * t->nh;
    if (g->n && (t->seq != g->seq || t->t0 != g->t0 || g->n + add > RHM)) flush(g);
    if (!g->n) {
        g->seq = t->seq, g->t0 = t->t0, g->nseg = 0;
        g->gmin = g->gmax = t->kvh;
    }
    if (t->kvh < g->gmin) g->gmin = t->kvh;
    if (t->kvh > g->gmax) g->gmax = t->kvh;
    int sg = g->nseg++;
    g->seg[sg].go = (int64_t)t->kvh * sh->head_dim;
    g->seg[sg].i0 = g->n;
    for (int64_t r = t->t0; r < t->t1; r++)
        for (int h = t->h0; h < t->h0 + t->nh; h++) {
            int i = g->n++;
            g->qp[i] = sq->q + r * sh->ldq + (int64_t)h * sh->head_dim;
            g->op[i] = sq->out + r * sh->ldo + (int64_t)h * sh->head_dim;
            g->lim[i] = (int64_t)sq->pos[r] + 1;
        }
    g->seg[sg].i1 = g->n;
}

static void attn_avx512(const cf_par *p, const cf_attn_shape *sh, const cf_attn_seq *seqs, int n_seqs) {
    group_t g;
    g.sh = sh, g.seqs = seqs, g.tile = cf_attn_tile(), g.n = 0;
    cf_attn_for_tasks(p, sh, seqs, n_seqs, cf_attn_rh(), add_task, &g);
    flush(&g);
}

const cf_attn_ops cf_attn_ops_avx512_tbl = {attn_avx512};
