/* AVX2+FMA attention: online softmax over fixed kv blocks.  A thread merges its consecutive
 * tasks that share (sequence, query rows) into one group of up to CF_ATTN_MAX_RH row-heads, so
 * each K/V block is read once for the whole GQA group, several query rows and adjacent kv heads;
 * F16 rows are converted to float once per chunk of positions and shared by the group.
 *
 * Per (row, head) and block: scores s_j = scale * q.k_j (each dot: two 8-lane FMA chains over
 * head_dim, a fixed horizontal sum, then a scalar FMA tail), block max, m' = max(m, max_j s_j),
 * p_j = exp(s_j - m'), l = l e^(m - m') + sum p_j, acc = acc e^(m - m') + sum_j p_j v_j (per
 * element: one multiply, then FMAs in ascending j).  Every (row, head) follows the same
 * operation sequence whatever group, batch or thread it lands in. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/attn.h"
#include "kernels/quant.h"
#include "kernels/tuning.h"

#define AI static inline __attribute__((always_inline))

enum { HDM = CF_ATTN_MAX_HEAD_DIM, TILEM = CF_ATTN_MAX_TILE, RHM = CF_ATTN_MAX_RH };

static const int32_t k_mask_src[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
AI __m256i tail_mask(int64_t r) { return _mm256_loadu_si256((const __m256i *)(k_mask_src + 8 - r)); }

AI float hsum8(__m256 v) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    t = _mm_add_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

AI float hmax8(__m256 v) {
    __m128 t = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_max_ps(t, _mm_movehl_ps(t, t));
    t = _mm_max_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

/* e^x as in ops_avx2.c: x < -87.33 (incl. -inf) gives 0. */
AI __m256 vexp(__m256 x) {
    __m256 ok = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33f), _CMP_GE_OQ);
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.33f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 5040), r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), ok);
}

/* ---- q . k over float rows ---- */

AI float dot_finish(__m256 a0, __m256 a1, const float *q, const float *k, int d, int hd) {
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; d < hd; d++) s = fmaf(q[d], k[d], s);
    return s;
}

AI float dot1(const float *q, const float *k, int hd) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int d = 0;
    for (; d + 16 <= hd; d += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), _mm256_loadu_ps(k + d + 8), a1);
    }
    if (d + 8 <= hd) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), a0);
        d += 8;
    }
    return dot_finish(a0, a1, q, k, d, hd);
}

/* Four keys at once (rows k, k + ks, ...), each with dot1's exact operation sequence. */
AI void dot4(const float *q, const float *k, int64_t ks, int hd, float *out) {
    const float *k1 = k + ks, *k2 = k + 2 * ks, *k3 = k + 3 * ks;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, e0 = a0, e1 = a0;
    int d = 0;
    for (; d + 16 <= hd; d += 16) {
        __m256 q0 = _mm256_loadu_ps(q + d), q1 = _mm256_loadu_ps(q + d + 8);
        a0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k + d), a0);
        a1 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(k + d + 8), a1);
        b0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k1 + d), b0);
        b1 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(k1 + d + 8), b1);
        c0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k2 + d), c0);
        c1 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(k2 + d + 8), c1);
        e0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k3 + d), e0);
        e1 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(k3 + d + 8), e1);
    }
    if (d + 8 <= hd) {
        __m256 q0 = _mm256_loadu_ps(q + d);
        a0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k + d), a0);
        b0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k1 + d), b0);
        c0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k2 + d), c0);
        e0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k3 + d), e0);
        d += 8;
    }
    out[0] = dot_finish(a0, a1, q, k, d, hd);
    out[1] = dot_finish(b0, b1, q, k1, d, hd);
    out[2] = dot_finish(c0, c1, q, k2, d, hd);
    out[3] = dot_finish(e0, e1, q, k3, d, hd);
}

/* ---- p . V over float rows ---- */

AI void acc_scale(float *acc, float corr, int hd) {
    __m256 vc = _mm256_set1_ps(corr);
    int d = 0;
    for (; d + 8 <= hd; d += 8) _mm256_storeu_ps(acc + d, _mm256_mul_ps(_mm256_loadu_ps(acc + d), vc));
    for (; d < hd; d++) acc[d] *= corr;
}

/* acc[d] += sum_{j < m} p[j] v_j[d] in ascending j, v_j = v + j*vs. */
AI void pv_chunk(float *acc, const float *p, const float *v, int64_t vs, int m, int hd) {
    int d = 0;
    for (; d + 64 <= hd; d += 64) {
        __m256 a[8];
        for (int k = 0; k < 8; k++) a[k] = _mm256_loadu_ps(acc + d + 8 * k);
        for (int j = 0; j < m; j++) {
            __m256 pj = _mm256_broadcast_ss(p + j);
            const float *vj = v + j * vs + d;
            for (int k = 0; k < 8; k++) a[k] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * k), a[k]);
        }
        for (int k = 0; k < 8; k++) _mm256_storeu_ps(acc + d + 8 * k, a[k]);
    }
    for (; d + 32 <= hd; d += 32) {
        __m256 a[4];
        for (int k = 0; k < 4; k++) a[k] = _mm256_loadu_ps(acc + d + 8 * k);
        for (int j = 0; j < m; j++) {
            __m256 pj = _mm256_broadcast_ss(p + j);
            const float *vj = v + j * vs + d;
            for (int k = 0; k < 4; k++) a[k] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * k), a[k]);
        }
        for (int k = 0; k < 4; k++) _mm256_storeu_ps(acc + d + 8 * k, a[k]);
    }
    for (; d + 8 <= hd; d += 8) {
        __m256 a = _mm256_loadu_ps(acc + d);
        for (int j = 0; j < m; j++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), _mm256_loadu_ps(v + j * vs + d), a);
        _mm256_storeu_ps(acc + d, a);
    }
    for (; d < hd; d++) {
        float a = acc[d];
        for (int j = 0; j < m; j++) a = fmaf(p[j], v[j * vs + d], a);
        acc[d] = a;
    }
}

/* n cache rows of head_dim values at element offset off (row stride `stride`) as float rows:
 * F32 rows are used in place; F16 rows are converted once into scr (row stride hd) so every
 * row-head of the group reuses the conversion.  *rs gets the row stride of the result. */
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
        int i = 0;
        for (; i + 8 <= hd; i += 8)
            _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
        for (; i < hd; i++) d[i] = _cvtsh_ss(s[i]);
    }
    *rs = hd;
    return scr;
}

/* Scales the nb raw dots in s by `scale`, turns them into p_j = exp(s_j - m'), updates m, l;
 * returns the correction factor e^(m - m') for the accumulator. */
AI float softmax_step(float *s, int nb, float scale, float *m, float *l) {
    __m256 vs = _mm256_set1_ps(scale), mx = _mm256_set1_ps(-INFINITY);
    int nv = nb & ~7;
    __m256i tm = tail_mask(nb - nv);
    for (int j = 0; j < nv; j += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(s + j), vs);
        _mm256_storeu_ps(s + j, v);
        mx = _mm256_max_ps(mx, v);
    }
    if (nv < nb) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(s + nv), vs); /* s has room for 8 */
        _mm256_storeu_ps(s + nv, v);
        mx = _mm256_max_ps(mx, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, _mm256_castsi256_ps(tm)));
    }
    float mnew = hmax8(mx);
    if (*m > mnew) mnew = *m;
    __m256 vm = _mm256_set1_ps(mnew), sum = _mm256_setzero_ps();
    for (int j = 0; j < nv; j += 8) {
        __m256 e = vexp(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
        _mm256_storeu_ps(s + j, e);
        sum = _mm256_add_ps(sum, e);
    }
    if (nv < nb) {
        __m256 e = _mm256_and_ps(vexp(_mm256_sub_ps(_mm256_loadu_ps(s + nv), vm)), _mm256_castsi256_ps(tm));
        _mm256_storeu_ps(s + nv, e);
        sum = _mm256_add_ps(sum, e);
    }
    float corr = _mm256_cvtss_f32(vexp(_mm256_set1_ps(*m - mnew))); /* m = -inf: 0 */
    *l = *l * corr + hsum8(sum);
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
    _Alignas(32) float acc[RHM][HDM];
    _Alignas(32) float S[RHM][TILEM + 8];
    _Alignas(32) float scr[CH * HDM];
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
        __m256 inv = _mm256_set1_ps(1.0f / l[i]);
        int d = 0;
        for (; d + 8 <= hd; d += 8) _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_loadu_ps(acc[i] + d), inv));
        for (; d < hd; d++) o[d] = acc[i][d] * _mm256_cvtss_f32(inv);
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
    /* a task of the same kv head (and rows) as the last one extends its segment */
    int sg = g->nseg;
    if (sg && g->seg[sg - 1].go == (int64_t)t->kvh * sh->head_dim)
        sg--;
    else
        g->nseg++, g->seg[sg].go = (int64_t)t->kvh * sh->head_dim, g->seg[sg].i0 = g->n;
    for (int64_t r = t->t0; r < t->t1; r++)
        for (int h = t->h0; h < t->h0 + t->nh; h++) {
            int i = g->n++;
            g->qp[i] = sq->q + r * sh->ldq + (int64_t)h * sh->head_dim;
            g->op[i] = sq->out + r * sh->ldo + (int64_t)h * sh->head_dim;
            g->lim[i] = (int64_t)sq->pos[r] + 1;
        }
    g->seg[sg].i1 = g->n;
}

static void attn_avx2(const cf_par *p, const cf_attn_shape *sh, const cf_attn_seq *seqs, int n_seqs) {
    group_t g;
    g.sh = sh, g.seqs = seqs, g.tile = cf_attn_tile(), g.n = 0;
    cf_attn_for_tasks(p, sh, seqs, n_seqs, cf_attn_rh(), add_task, &g);
    flush(&g);
}

const cf_attn_ops cf_attn_ops_avx2_tbl = {attn_avx2};
