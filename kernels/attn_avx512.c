/* AVX-512 attention: the AVX2 path's task groups, fixed kv blocks and online softmax, with scores
 * computed 16 positions at a time (no horizontal sum per (row-head, position)): per chunk of 16
 * cached positions of one kv head, K is rearranged into 4x4 blocks of (4 positions x 4 dims)
 * vectors and each row-head FMAs them with its q (4 dims broadcast to the 4 lane groups), then two
 * unpack+add steps give the 16 scores.  Whole F16 chunks are transposed as halfs in 256-bit
 * registers before conversion.  p.V keeps up to 4 row-heads' accumulators in registers per load
 * of V (F16 converted on load).  Segments of <= 4 row-heads build the K blocks in registers;
 * larger ones share a float copy.  Every (row-head, position) gets the same operation sequence in
 * every grouping, so results do not depend on batch, task split or thread count.  head_dim tails
 * and partial chunks use masked loads (zeros). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/attn.h"
#include "kernels/quant.h"
#include "kernels/tuning.h"

#define AI static inline __attribute__((always_inline))
#define NOINL static __attribute__((noinline))

enum { HDM = CF_ATTN_MAX_HEAD_DIM, TILEM = CF_ATTN_MAX_TILE, RHM = CF_ATTN_MAX_RH, CH = 16 /* positions per chunk */ };

AI __mmask16 tail_mask(int64_t r) { return (__mmask16)((1u << r) - 1u); }

/* e^x for x <= 0 (scores minus a running max; -inf and x < -87.33 give 0): x = n ln2 + r with
 * |r| <= ln2/2 (ln2 split hi/lo), e^r by its degree-6 Taylor polynomial (truncation < 1.2e-7
 * relative), times 2^n by vscalefps (no exponent-field arithmetic). */
AI __m512 vexp(__m512 x) {
    __mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33f), _CMP_GE_OQ);
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.33f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 720), r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(ok, p, n);
}

#define FULL ((__mmask16)0xFFFF)

/* ---- q . k for 16 positions at once (no horizontal sums per pair) ----
 * A chunk of 16 cached positions of one kv head is laid out as 4x4 blocks: for 16-dim slice s,
 * group g (chunk rows g, g+4, g+8, g+12) and k = 0..3, one vector holds dims 16s+4k..16s+4k+3 of
 * those 4 rows (128-bit lane m = row g+4m).  A row-head multiplies it by q[16s+4k..+3] repeated 4
 * times, so lane (m, c) of its group-g accumulator sums the dims = c mod 4 of row g+4m in the fixed
 * order (s, k); two unpack+add steps then give all 16 scores in position order. */

/* f32 lanes of a K/V row at base + off (lanes off in m are zero) */
AI __m512 ld_slice(const void *base, int64_t off, __mmask16 m, int f16) {
    if (f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)base + off));
    return _mm512_maskz_loadu_ps(m, (const float *)base + off);
}

/* f32 16-dim slice d..d+15 of a K/V row (dims >= hd zero) */
AI __m512 row_slice(const void *base, int64_t off, int d, int hd, int f16) {
    return ld_slice(base, off + d, d + 16 <= hd ? FULL : tail_mask(hd - d), f16);
}

/* Rows r[m] = slice of position g + 4m -> o[k]: lanes (m, c) = dim 4k + c of position g + 4m
 * (a 4x4 transpose of 128-bit lane groups). */
AI void blocks4(const __m512 r[4], __m512 o[4]) {
    __m512 t0 = _mm512_shuffle_f32x4(r[0], r[1], 0x44), t1 = _mm512_shuffle_f32x4(r[0], r[1], 0xEE);
    __m512 t2 = _mm512_shuffle_f32x4(r[2], r[3], 0x44), t3 = _mm512_shuffle_f32x4(r[2], r[3], 0xEE);
    o[0] = _mm512_shuffle_f32x4(t0, t2, 0x88), o[1] = _mm512_shuffle_f32x4(t0, t2, 0xDD);
    o[2] = _mm512_shuffle_f32x4(t1, t3, 0x88), o[3] = _mm512_shuffle_f32x4(t1, t3, 0xDD);
}

/* blocks4 for whole F16 slices (p[m]: 16 halfs of position g + 4m): the 4x4 transpose on 64-bit
 * groups of 4 halfs in 256-bit registers (128-bit loads + inserts + unpacks, cheaper than 512-bit
 * lane shuffles), then one conversion per output: the same values as blocks4 of the f32 rows. */
AI void blocks4_f16(const uint16_t *p0, const uint16_t *p1, const uint16_t *p2, const uint16_t *p3, __m512 o[4]) {
#define LD2(x, y) _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(x))), \
                                          _mm_loadu_si128((const __m128i *)(y)), 1)
    __m256i a = LD2(p0, p2), b = LD2(p1, p3), c = LD2(p0 + 8, p2 + 8), d = LD2(p1 + 8, p3 + 8);
#undef LD2
    o[0] = _mm512_cvtph_ps(_mm256_unpacklo_epi64(a, b));
    o[1] = _mm512_cvtph_ps(_mm256_unpackhi_epi64(a, b));
    o[2] = _mm512_cvtph_ps(_mm256_unpacklo_epi64(c, d));
    o[3] = _mm512_cvtph_ps(_mm256_unpackhi_epi64(c, d));
}

/* kb[((s*4 + g)*4 + k)*16 ..] for the chunk's rows [0, n) at base + off + r*stride; rows >= n are
 * zero.  Size: 16 x ceil(hd/16)*16 floats. */
AI void k_blocks(const void *base, int64_t off, int64_t stride, int n, int hd, int f16, float *kb) {
    const __m512 z = _mm512_setzero_ps();
    if (f16 && n == 16 && hd % 16 == 0) {
        for (int s = 0; s * 16 < hd; s++)
            for (int g = 0; g < 4; g++) {
                const uint16_t *p = (const uint16_t *)base + off + g * stride + 16 * s;
                __m512 o[4];
                blocks4_f16(p, p + 4 * stride, p + 8 * stride, p + 12 * stride, o);
                for (int k = 0; k < 4; k++) _mm512_store_ps(kb + (int64_t)(s * 4 + g) * 64 + 16 * k, o[k]);
            }
        return;
    }
    for (int s = 0; s * 16 < hd; s++)
        for (int g = 0; g < 4; g++) {
            __m512 r[4];
            for (int m = 0; m < 4; m++) {
                int row = g + 4 * m;
                r[m] = row < n ? row_slice(base, off + row * stride, 16 * s, hd, f16) : z;
            }
            __m512 o[4];
            blocks4(r, o);
            for (int k = 0; k < 4; k++) _mm512_store_ps(kb + (int64_t)(s * 4 + g) * 64 + 16 * k, o[k]);
        }
}

/* q[0..3] in each 128-bit lane group (p 16-byte aligned) */
AI __m512 qb4(const float *p) { return _mm512_broadcast_f32x4(_mm_load_ps(p)); }

/* acc[g] (g = 0..3, lanes (m, c)) -> the 16 scores, lane j = position j */
AI __m512 blocks_sum(__m512 x, __m512 y, __m512 z, __m512 w) {
    __m512 xy = _mm512_add_ps(_mm512_unpacklo_ps(x, y), _mm512_unpackhi_ps(x, y));
    __m512 zw = _mm512_add_ps(_mm512_unpacklo_ps(z, w), _mm512_unpackhi_ps(z, w));
    __m512d a = _mm512_castps_pd(xy), b = _mm512_castps_pd(zw);
    return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
}

/* scores of NB row-heads against a k_blocks chunk -> out[i][0..15]; q[i]: the row-head's q, ns*16
 * floats (zero past head_dim), 16-byte aligned; q[4a..4a+3] is broadcast to the 4 lane groups */
AI void kb_scores(const float *kb, int ns, const float *const *q, float *const *out, float scale, int NB) {
    __m512 acc[4][4];
    for (int i = 0; i < NB; i++)
        for (int g = 0; g < 4; g++) acc[i][g] = _mm512_setzero_ps();
    for (int s = 0; s < ns; s++)
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m512 qv[4];
            for (int i = 0; i < NB; i++) qv[i] = qb4(q[i] + 16 * s + 4 * k);
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) {
                __m512 kv = _mm512_load_ps(kb + (int64_t)((s * 4 + g) * 4 + k) * 16);
                for (int i = 0; i < NB; i++) acc[i][g] = _mm512_fmadd_ps(qv[i], kv, acc[i][g]);
            }
        }
    const __m512 vs = _mm512_set1_ps(scale);
    for (int i = 0; i < NB; i++)
        _mm512_storeu_ps(out[i], _mm512_mul_ps(blocks_sum(acc[i][0], acc[i][1], acc[i][2], acc[i][3]), vs));
}

/* kb_scores with the 4x4 blocks built in registers from the K rows (for segments of <= 4 row-heads,
 * where a scratch copy would not be reused): the same FMAs per accumulator, in the same order
 * (s, k), but slice-major so all 4 x NB accumulator chains are in flight at once.  FULLC: n == 16
 * and head_dim a multiple of 16 (plain loads, no masks, no zero rows). */
AI void k_scores(const void *base, int64_t off, int64_t stride, int n, int hd, int f16, const float *const *q,
                 float *const *out, float scale, int NB, int FULLC) {
    const __m512 z = _mm512_setzero_ps();
    __m512 acc[4][4];
    for (int i = 0; i < NB; i++)
        for (int g = 0; g < 4; g++) acc[i][g] = z;
    for (int s = 0; s * 16 < hd; s++) {
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            __m512 o[4];
            if (FULLC && f16) {
                const uint16_t *p = (const uint16_t *)base + off + g * stride + 16 * s;
                blocks4_f16(p, p + 4 * stride, p + 8 * stride, p + 12 * stride, o);
            } else {
                __m512 r[4];
                for (int m = 0; m < 4; m++) {
                    int row = g + 4 * m;
                    if (FULLC)
                        r[m] = _mm512_loadu_ps((const float *)base + off + row * stride + 16 * s);
                    else
                        r[m] = row < n ? row_slice(base, off + row * stride, 16 * s, hd, f16) : z;
                }
                blocks4(r, o);
            }
            for (int k = 0; k < 4; k++)
                for (int i = 0; i < NB; i++)
                    acc[i][g] = _mm512_fmadd_ps(qb4(q[i] + 16 * s + 4 * k), o[k], acc[i][g]);
        }
    }
    const __m512 vs = _mm512_set1_ps(scale);
    for (int i = 0; i < NB; i++)
        _mm512_storeu_ps(out[i], _mm512_mul_ps(blocks_sum(acc[i][0], acc[i][1], acc[i][2], acc[i][3]), vs));
}

#define K_SCORES(NB, F16)                                                                                  \
    NOINL void k_scores##NB##_##F16(const void *b, int64_t off, int64_t st, int n, int hd, const float *const *q, \
                                    float *const *o, float sc) {                                           \
        if (n == CH && hd % 16 == 0)                                                                       \
            k_scores(b, off, st, n, hd, F16, q, o, sc, NB, 1);                                             \
        else                                                                                               \
            k_scores(b, off, st, n, hd, F16, q, o, sc, NB, 0);                                             \
    }
K_SCORES(1, 0)
K_SCORES(2, 0)
K_SCORES(3, 0)
K_SCORES(4, 0)
K_SCORES(1, 1)
K_SCORES(2, 1)
K_SCORES(3, 1)
K_SCORES(4, 1)

NOINL void kb_scores1(const float *kb, int ns, const float *const *q, float *const *o, float sc) {
    kb_scores(kb, ns, q, o, sc, 1);
}
NOINL void kb_scores2(const float *kb, int ns, const float *const *q, float *const *o, float sc) {
    kb_scores(kb, ns, q, o, sc, 2);
}
NOINL void kb_scores3(const float *kb, int ns, const float *const *q, float *const *o, float sc) {
    kb_scores(kb, ns, q, o, sc, 3);
}
NOINL void kb_scores4(const float *kb, int ns, const float *const *q, float *const *o, float sc) {
    kb_scores(kb, ns, q, o, sc, 4);
}

/* ---- p . V over float rows ---- */

AI void acc_scale(float *acc, float corr, int hd) {
    __m512 vc = _mm512_set1_ps(corr);
    for (int d = 0; d < hd; d += 16) {
        __mmask16 m = d + 16 <= hd ? FULL : tail_mask(hd - d);
        _mm512_mask_storeu_ps(acc + d, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, acc + d), vc));
    }
}

/* acc[i][0..hd) += sum_{j < mrows} p[i][j] v_j for NB row-heads sharing the rows v_j (F32, or F16
 * converted here) at v + j*vs: per element one FMA per j in ascending j (the same for any NB).  64
 * dims per pass, so the NB x 4 accumulators stay in registers while one load of v serves all NB. */
AI void pv_rows(float *const *acc, const float *const *p, const void *v, int64_t vs, int mrows, int hd, int f16,
                int NB) {
    for (int d0 = 0; d0 < hd; d0 += 64) {
        __mmask16 mk[4];
        for (int k = 0; k < 4; k++) {
            int d = d0 + 16 * k;
            mk[k] = d + 16 <= hd ? FULL : d < hd ? tail_mask(hd - d) : 0;
        }
        __m512 a[4][4];
        if (d0 + 64 <= hd) { /* 4 whole slices: plain loads (F16 converted from memory) */
            for (int i = 0; i < NB; i++)
                for (int k = 0; k < 4; k++) a[i][k] = _mm512_loadu_ps(acc[i] + d0 + 16 * k);
            for (int j = 0; j < mrows; j++) {
                __m512 vv[4];
                for (int k = 0; k < 4; k++)
                    vv[k] = f16 ? _mm512_cvtph_ps(_mm256_loadu_si256(
                                      (const __m256i *)((const uint16_t *)v + j * vs + d0 + 16 * k)))
                                : _mm512_loadu_ps((const float *)v + j * vs + d0 + 16 * k);
                for (int i = 0; i < NB; i++) {
                    __m512 pj = _mm512_set1_ps(p[i][j]);
                    for (int k = 0; k < 4; k++) a[i][k] = _mm512_fmadd_ps(pj, vv[k], a[i][k]);
                }
            }
            for (int i = 0; i < NB; i++)
                for (int k = 0; k < 4; k++) _mm512_storeu_ps(acc[i] + d0 + 16 * k, a[i][k]);
            continue;
        }
        for (int i = 0; i < NB; i++)
            for (int k = 0; k < 4; k++) a[i][k] = _mm512_maskz_loadu_ps(mk[k], acc[i] + d0 + 16 * k);
        for (int j = 0; j < mrows; j++) {
            __m512 vv[4];
            for (int k = 0; k < 4; k++) vv[k] = ld_slice(v, j * vs + d0 + 16 * k, mk[k], f16);
            for (int i = 0; i < NB; i++) {
                __m512 pj = _mm512_set1_ps(p[i][j]);
                for (int k = 0; k < 4; k++) a[i][k] = _mm512_fmadd_ps(pj, vv[k], a[i][k]);
            }
        }
        for (int i = 0; i < NB; i++)
            for (int k = 0; k < 4; k++) _mm512_mask_storeu_ps(acc[i] + d0 + 16 * k, mk[k], a[i][k]);
    }
}

/* one out-of-line copy per batch size and source type (register allocation stays local) */
#define PV_ROWS(NB, F16)                                                                                   \
    NOINL void pv_rows##NB##_##F16(float *const *a, const float *const *p, const void *v, int64_t vs, int m, \
                                   int hd) {                                                               \
        pv_rows(a, p, v, vs, m, hd, F16, NB);                                                              \
    }
PV_ROWS(1, 0)
PV_ROWS(2, 0)
PV_ROWS(3, 0)
PV_ROWS(4, 0)
PV_ROWS(1, 1)
PV_ROWS(2, 1)
PV_ROWS(3, 1)
PV_ROWS(4, 1)

/* s[0..nb): scaled scores of one row-head for one block -> probabilities e^(s - m'); m, l: running max
 * and sum; returns e^(m - m'), the factor for the accumulator. */
AI float softmax_step(float *s, int nb, float *m, float *l) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < nb; j += 16) {
        __mmask16 k = j + 16 <= nb ? FULL : tail_mask(nb - j);
        mx = _mm512_mask_max_ps(mx, k, mx, _mm512_maskz_loadu_ps(k, s + j));
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

/* No software prefetch: prefetching each block's K/V lines (one instruction per 64 bytes, every
 * kv head of the group) cost ~10% at contexts that sit in L2/L3 and gained nothing measurable on
 * DRAM-resident caches (the hardware prefetchers follow the per-head row streams). */

/* Consecutive tasks of one thread that share (sequence, rows) are merged into a group of up to
 * RHM row-heads in segments of one kv head each.  Per block, positions are taken in chunks of CH:
 * each segment's K (then V) rows of the chunk are converted once and used by all its row-heads,
 * and the rows of adjacent kv heads are read together. */
typedef struct {
    const cf_attn_shape *sh;
    const cf_attn_seq *seqs;
    int tile;
    int seq, n, nseg;
    int64_t t0;
    const float *qp[RHM];
    float *op[RHM];
    int64_t lim[RHM]; /* positions attended by row-head i */
    struct {
        int64_t go; /* kv head offset (elements) */
        int i0, i1; /* row-heads [i0, i1) */
    } seg[RHM];
} group_t;

typedef void (*kd_fn)(const void *, int64_t, int64_t, int, int, const float *const *, float *const *, float);
typedef void (*kb_fn)(const float *, int, const float *const *, float *const *, float);
typedef void (*pv_fn)(float *const *, const float *const *, const void *, int64_t, int, int);
static const kd_fn k_direct[2][5] = {{0, k_scores1_0, k_scores2_0, k_scores3_0, k_scores4_0},
                                     {0, k_scores1_1, k_scores2_1, k_scores3_1, k_scores4_1}};
static const kb_fn kb_tab[5] = {0, kb_scores1, kb_scores2, kb_scores3, kb_scores4};
static const pv_fn pv_tab[2][5] = {{0, pv_rows1_0, pv_rows2_0, pv_rows3_0, pv_rows4_0},
                                   {0, pv_rows1_1, pv_rows2_1, pv_rows3_1, pv_rows4_1}};

/* Work buffers of a group (rows of RHM row-heads; strides in floats, multiples of 16): */
typedef struct {
    float *qz;  /* q, zero from head_dim to qs (qs = head_dim rounded up to 16) */
    float *acc; /* p.V accumulators, stride qs */
    float *S;   /* scores / probabilities of the current block, stride ss (tile + 16) */
    float *scr; /* k_blocks scratch: CH x qs */
    int qs, ss;
    float scale;
} bufs_t;

/* Scores of the listed row-heads (ids[0..n)) for one chunk of K rows [0, need) at k + off, times
 * scale, into S[.][j0..j0+16): up to 4 straight from the cache, more through the shared k_blocks
 * scratch (batches of 4). */
AI void chunk_scores(const void *k, int64_t off, int64_t ks, int need, int hd, int f16, const bufs_t *w,
                     const int *ids, int n, int j0) {
    const float *q[4];
    float *o[4];
    if (n <= 4) {
        for (int u = 0; u < n; u++) q[u] = w->qz + ids[u] * w->qs, o[u] = w->S + ids[u] * w->ss + j0;
        k_direct[f16][n](k, off, ks, need, hd, q, o, w->scale);
        return;
    }
    k_blocks(k, off, ks, need, hd, f16, w->scr);
    for (int b = 0; b < n; b += 4) {
        int nb = n - b < 4 ? n - b : 4;
        for (int u = 0; u < nb; u++) q[u] = w->qz + ids[b + u] * w->qs, o[u] = w->S + ids[b + u] * w->ss + j0;
        kb_tab[nb](w->scr, (hd + 15) / 16, q, o, w->scale);
    }
}

/* p.V of the listed row-heads (mi[u] rows each) for V rows at v + off, straight from
 * the cache (F16 converted per load: cheaper than a shared float copy).  Batches of up to 4 share
 * the rows all of them need, then each continues alone. */
AI void chunk_pv(const void *v, int64_t off, int64_t ks, int hd, int f16, const bufs_t *w, const int *ids,
                 const int *mi, int n, int j0) {
    const char *vr = (const char *)v + off * (f16 ? 2 : 4);
    const int64_t rbytes = ks * (f16 ? 2 : 4);
    for (int b = 0; b < n; b += 4) {
        int nb = n - b < 4 ? n - b : 4, m0 = mi[b];
        float *a[4];
        const float *p[4];
        for (int u = 0; u < nb; u++) {
            a[u] = w->acc + ids[b + u] * w->qs, p[u] = w->S + ids[b + u] * w->ss + j0;
            if (mi[b + u] < m0) m0 = mi[b + u];
        }
        pv_tab[f16][nb](a, p, vr, ks, m0, hd);
        for (int u = 0; u < nb; u++)
            if (mi[b + u] > m0) {
                float *a1[1] = {a[u]};
                const float *p1[1] = {p[u] + m0};
                pv_tab[f16][1](a1, p1, vr + m0 * rbytes, ks, mi[b + u] - m0, hd);
            }
    }
}

AI void group_impl(group_t *g, int f16) {
    const cf_attn_shape *sh = g->sh;
    const cf_attn_seq *sq = &g->seqs[g->seq];
    const int hd = sh->head_dim, tile = g->tile, R = g->n, ns = (hd + 15) / 16;
    _Alignas(64) float buf[2 * RHM * HDM + RHM * (TILEM + 16) + CH * HDM];
    bufs_t w = {buf, buf + R * ns * 16, buf + 2 * R * ns * 16, buf + 2 * R * ns * 16 + R * (tile + 16), ns * 16,
                tile + 16, sh->scale};
    float m[RHM], l[RHM];
    int64_t maxlim = 0;
    for (int i = 0; i < R; i++) {
        if (g->lim[i] > maxlim) maxlim = g->lim[i];
        m[i] = -INFINITY;
        l[i] = 0;
        for (int d = 0; d < ns * 16; d += 16) {
            __mmask16 k = d + 16 <= hd ? FULL : tail_mask(hd - d);
            _mm512_store_ps(w.qz + i * w.qs + d, _mm512_maskz_loadu_ps(k, g->qp[i] + d));
            _mm512_store_ps(w.acc + i * w.qs + d, _mm512_setzero_ps());
        }
    }
    const int64_t ks = sq->kv_stride;
    for (int64_t b0 = 0; b0 < maxlim; b0 += tile) {
        int nbmax = (int)((b0 + tile < maxlim ? b0 + tile : maxlim) - b0), nb[RHM];
        for (int i = 0; i < R; i++) {
            int64_t e = b0 + tile < g->lim[i] ? b0 + tile : g->lim[i];
            nb[i] = e > b0 ? (int)(e - b0) : 0;
        }
        /* scores */
        for (int j0 = 0; j0 < nbmax; j0 += CH) {
            int jn = nbmax - j0 < CH ? nbmax - j0 : CH;
            for (int sg = 0; sg < g->nseg; sg++) {
                int need = 0, ids[RHM], na = 0;
                for (int i = g->seg[sg].i0; i < g->seg[sg].i1; i++)
                    if (nb[i] > j0) {
                        ids[na++] = i;
                        if (nb[i] - j0 > need) need = nb[i] - j0 < jn ? nb[i] - j0 : jn;
                    }
                if (na)
                    chunk_scores(sq->k, (b0 + j0) * ks + g->seg[sg].go, ks, need, hd, f16, &w, ids, na, j0);
            }
        }
        /* online softmax: probabilities in S, rescale the accumulators */
        for (int i = 0; i < R; i++)
            if (nb[i] > 0) {
                float corr = softmax_step(w.S + i * w.ss, nb[i], &m[i], &l[i]);
                if (corr != 1.0f) acc_scale(w.acc + i * w.qs, corr, hd); /* x * 1 == x: skipping is exact */
            }
        /* weighted values: segments of <= 4 row-heads (one batch) take the whole block per call, so
         * the accumulators stay in registers; larger ones go by chunks of CH, so the batches share
         * each chunk of V in L1.  The FMAs per element are in ascending position either way. */
        for (int sg = 0; sg < g->nseg; sg++) {
            const int step = g->seg[sg].i1 - g->seg[sg].i0 <= 4 ? nbmax : CH;
            for (int j0 = 0; j0 < nbmax; j0 += step) {
                int jn = nbmax - j0 < step ? nbmax - j0 : step, ids[RHM], mi[RHM], na = 0;
                for (int i = g->seg[sg].i0; i < g->seg[sg].i1; i++)
                    if (nb[i] > j0) {
                        ids[na] = i, mi[na] = nb[i] - j0 < jn ? nb[i] - j0 : jn;
                        na++;
                    }
                if (na) chunk_pv(sq->v, (b0 + j0) * ks + g->seg[sg].go, ks, hd, f16, &w, ids, mi, na, j0);
            }
        }
    }
    for (int i = 0; i < R; i++) {
        float *o = g->op[i];
        __m512 inv = _mm512_set1_ps(1.0f / l[i]);
        for (int d = 0; d < hd; d += 16) {
            __mmask16 k = d + 16 <= hd ? FULL : tail_mask(hd - d);
            _mm512_mask_storeu_ps(o + d, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, w.acc + i * w.qs + d), inv));
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
    if (!g->n) g->seq = t->seq, g->t0 = t->t0, g->nseg = 0;
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

/* The prefetch pass: before computing, a thread asks for the K and V rows of all its tasks (in
 * task order) into L2, up to tile_attn_pf bytes.  A decode step's cache was evicted by the
 * weights streamed since the layer before, and the rows of one sequence are short streams the
 * hardware prefetchers hardly train on; requesting them all at once overlaps their misses.
 * Measured (8 sequences x 160 positions, 9/3 heads, hd 64, f16, cache evicted between steps,
 * paired alternation in one process): 0.95x the attention time at 1 thread, 0.97x at 2; one
 * sequence 0.94x / 0.79x.  Long contexts: only the first tile_attn_pf bytes are requested. */
typedef struct {
    const cf_attn_shape *sh;
    const cf_attn_seq *seqs;
    int64_t budget; /* bytes left */
} pf_t;

static void pf_task(const cf_attn_task *t, void *vp) {
    pf_t *c = vp;
    const cf_attn_seq *sq = &c->seqs[t->seq];
    const int64_t esz = sq->kv_type == CF_T_F16 ? 2 : 4, rowb = c->sh->head_dim * esz;
    int64_t lim = (int64_t)sq->pos[t->t1 - 1] + 1; /* rows ascend: the last attends the most */
    if (2 * lim * rowb > c->budget) lim = c->budget / (2 * rowb);
    c->budget -= 2 * lim * rowb;
    const int64_t go = (int64_t)t->kvh * c->sh->head_dim;
    for (int64_t j = 0; j < lim; j++) {
        const char *kr = (const char *)sq->k + (j * sq->kv_stride + go) * esz;
        const char *vr = (const char *)sq->v + (j * sq->kv_stride + go) * esz;
        for (int64_t l = 0; l < rowb; l += 64) _mm_prefetch(kr + l, _MM_HINT_T1), _mm_prefetch(vr + l, _MM_HINT_T1);
    }
}

static void attn_avx512(const cf_par *p, const cf_attn_shape *sh, const cf_attn_seq *seqs, int n_seqs) {
    group_t g;
    g.sh = sh, g.seqs = seqs, g.tile = cf_attn_tile(), g.n = 0;
    pf_t c = {sh, seqs, cf_tuning_get()->tile_attn_pf};
    if (c.budget > 0) cf_attn_for_tasks(p, sh, seqs, n_seqs, cf_attn_rh(), pf_task, &c);
    cf_attn_for_tasks(p, sh, seqs, n_seqs, cf_attn_rh(), add_task, &g);
    flush(&g);
}

const cf_attn_ops cf_attn_ops_avx512_tbl = {attn_avx512};
