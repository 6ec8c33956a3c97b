/* AVX2+FMA RoPE.  Per token, a cos/sin table for the n_rot/2 frequencies is built with a
 * vectorised sincos: theta = pos * invf[i] and its reduction mod 2*pi in double (4 lanes), then
 * a quadrant reduction and Taylor polynomials in float (8 lanes) on [-pi/4, pi/4]; the table is
 * shared by all heads of the token.  Both layouts rotate a pair with the same two roundings
 * (y0 = fma(x0, c, -(x1*s)), y1 = fma(x1, c, x0*s)). */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/rope.h"
#include "kernels/tuning.h"

enum { STACK_ROT = 512 }; /* larger n_rot use a heap table */

static const int32_t k_mask_src[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static inline __m256i tail_mask(int64_t r) {
    return _mm256_loadu_si256((const __m256i *)(k_mask_src + 8 - r));
}

static inline float hsum8(__m256 v) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    t = _mm_add_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

/* ---- sincos ------------------------------------------------------------------------------ */

#define TWO_PI_HI 6.283185307179586      /* double(2*pi) */
#define TWO_PI_LO 2.4492935982947064e-16 /* 2*pi - TWO_PI_HI */
#define INV_TWO_PI 0.15915494309189535

/* pos * invf[0..4) reduced to [-pi, pi] (double), rounded to float. */
static inline __m128 reduce4(__m256d vpos, const double *invf) {
    __m256d th = _mm256_mul_pd(vpos, _mm256_loadu_pd(invf));
    __m256d k = _mm256_round_pd(_mm256_mul_pd(th, _mm256_set1_pd(INV_TWO_PI)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(TWO_PI_HI), th);
    r = _mm256_fnmadd_pd(k, _mm256_set1_pd(TWO_PI_LO), r);
    return _mm256_cvtpd_ps(r);
}

/* sin and cos of r in [-pi, pi] (float, 8 lanes). */
static inline void sincos8(__m256 r, __m256 *so, __m256 *co) {
    __m256 q = _mm256_round_ps(_mm256_mul_ps(r, _mm256_set1_ps(0.63661977236758134f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 y = _mm256_fnmadd_ps(q, _mm256_set1_ps(1.5707963705062866f), r);
    y = _mm256_fnmadd_ps(q, _mm256_set1_ps(-4.371139000186243e-08f), y);
    __m256 y2 = _mm256_mul_ps(y, y);
    /* sin y = y + y^3 (-1/6 + y^2 (1/120 + y^2 (-1/5040 + y^2/362880))) */
    __m256 ps = _mm256_fmadd_ps(y2, _mm256_set1_ps(2.7557319e-06f), _mm256_set1_ps(-1.9841270e-04f));
    ps = _mm256_fmadd_ps(ps, y2, _mm256_set1_ps(8.3333333e-03f));
    ps = _mm256_fmadd_ps(ps, y2, _mm256_set1_ps(-1.6666667e-01f));
    __m256 s = _mm256_fmadd_ps(_mm256_mul_ps(ps, y2), y, y);
    /* cos y = 1 + y^2 (-1/2 + y^2 (1/24 + y^2 (-1/720 + y^2 (1/40320 - y^2/3628800)))) */
    __m256 pc = _mm256_fmadd_ps(y2, _mm256_set1_ps(-2.7557319e-07f), _mm256_set1_ps(2.4801587e-05f));
    pc = _mm256_fmadd_ps(pc, y2, _mm256_set1_ps(-1.3888889e-03f));
    pc = _mm256_fmadd_ps(pc, y2, _mm256_set1_ps(4.1666667e-02f));
    pc = _mm256_fmadd_ps(pc, y2, _mm256_set1_ps(-0.5f));
    __m256 c = _mm256_fmadd_ps(pc, y2, _mm256_set1_ps(1.0f));
    /* quadrant q mod 4: swap on odd q; sin negated for q&2, cos negated for (q+1)&2 */
    __m256i qi = _mm256_cvtps_epi32(q);
    __m256 swap = _mm256_castsi256_ps(
        _mm256_cmpeq_epi32(_mm256_and_si256(qi, _mm256_set1_epi32(1)), _mm256_set1_epi32(1)));
    __m256 sv = _mm256_blendv_ps(s, c, swap), cv = _mm256_blendv_ps(c, s, swap);
    __m256 ssign = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(qi, _mm256_set1_epi32(2)), 30));
    __m256 csign = _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_and_si256(_mm256_add_epi32(qi, _mm256_set1_epi32(1)), _mm256_set1_epi32(2)), 30));
    *so = _mm256_xor_ps(sv, ssign);
    *co = _mm256_xor_ps(cv, csign);
}

/* ---- per-token table ---------------------------------------------------------------------- */

typedef struct {
    int n_rot, mode, nh, have;
    float base, scale;
    int32_t cur; /* position the c/s arrays hold (when have) */
    const double *invf;
    float *c, *s; /* NEOX: c[i], s[i], i < n_rot/2; NORM: c[2i]=c[2i+1]=cos, s = (-sin, +sin) */
    void *heap;
    double invf_st[STACK_ROT / 2 + 8];
    float c_st[STACK_ROT + 8], s_st[STACK_ROT + 8];
} table;

/* Each thread keeps its last table: decode calls RoPE for Q and K of every layer at the same
 * position, so the sin/cos are computed once per token instead of twice per layer. */
static __thread table t_tab;

/* invf[i] = freq_scale * base^(-2i/n_rot), zero-padded to nh + 8: a double recurrence
 * (relative error ~i*1e-16). */
static void fill_invf(double *invf, const cf_rope_cfg *cfg) {
    int nh = cfg->n_rot / 2;
    double ts = pow((double)cfg->freq_base, -2.0 / cfg->n_rot), f = cfg->freq_scale;
    for (int i = 0; i < nh + 8; i++, f *= ts) invf[i] = i < nh ? f : 0.0;
}

/* The table for cfg: the thread's cached one (n_rot <= STACK_ROT) or *local on the heap. */
static table *table_get(const cf_rope_cfg *cfg, table *local) {
    int nh = cfg->n_rot / 2;
    if (cfg->n_rot <= STACK_ROT) {
        table *t = &t_tab;
        if (t->n_rot != cfg->n_rot || t->mode != cfg->mode || t->base != cfg->freq_base ||
            t->scale != cfg->freq_scale) {
            fill_invf(t->invf_st, cfg);
            t->n_rot = cfg->n_rot, t->mode = cfg->mode, t->nh = nh, t->have = 0;
            t->base = cfg->freq_base, t->scale = cfg->freq_scale;
            t->invf = t->invf_st, t->c = t->c_st, t->s = t->s_st, t->heap = NULL;
        }
        return t;
    }
    size_t nd = (size_t)nh + 8, nf = (size_t)cfg->n_rot + 8;
    char *h = malloc(nd * sizeof(double) + 2 * nf * sizeof(float));
    if (!h) abort();
    fill_invf((double *)h, cfg);
    local->n_rot = cfg->n_rot, local->mode = cfg->mode, local->nh = nh, local->have = 0;
    local->heap = h;
    local->invf = (const double *)h;
    local->c = (float *)(h + nd * sizeof(double));
    local->s = local->c + nf;
    return local;
}

static void table_at(table *t, int32_t pos) {
    if (t->have && t->cur == pos) return;
    int nh = t->nh;
    __m256d vp = _mm256_set1_pd((double)pos);
    for (int i = 0; i < nh; i += 8) { /* invf is zero-padded to a multiple of 8 */
        __m256 r = _mm256_set_m128(reduce4(vp, t->invf + i + 4), reduce4(vp, t->invf + i));
        __m256 sv, cv;
        sincos8(r, &sv, &cv);
        if (t->mode == CF_ROPE_NEOX) {
            __m256i m = tail_mask(nh - i < 8 ? nh - i : 8);
            _mm256_maskstore_ps(t->c + i, m, cv);
            _mm256_maskstore_ps(t->s + i, m, sv);
        } else if (i + 8 <= nh) { /* interleave: c -> (c, c), s -> (-s, s) */
            __m256 ns = _mm256_sub_ps(_mm256_setzero_ps(), sv);
            __m256 clo = _mm256_unpacklo_ps(cv, cv), chi = _mm256_unpackhi_ps(cv, cv);
            __m256 slo = _mm256_unpacklo_ps(ns, sv), shi = _mm256_unpackhi_ps(ns, sv);
            _mm256_storeu_ps(t->c + 2 * i, _mm256_permute2f128_ps(clo, chi, 0x20));
            _mm256_storeu_ps(t->c + 2 * i + 8, _mm256_permute2f128_ps(clo, chi, 0x31));
            _mm256_storeu_ps(t->s + 2 * i, _mm256_permute2f128_ps(slo, shi, 0x20));
            _mm256_storeu_ps(t->s + 2 * i + 8, _mm256_permute2f128_ps(slo, shi, 0x31));
        } else {
            float cf[8], sf[8];
            _mm256_storeu_ps(cf, cv);
            _mm256_storeu_ps(sf, sv);
            for (int k = 0; k < nh - i; k++) {
                t->c[2 * (i + k)] = t->c[2 * (i + k) + 1] = cf[k];
                t->s[2 * (i + k)] = -sf[k];
                t->s[2 * (i + k) + 1] = sf[k];
            }
        }
    }
    t->cur = pos;
    t->have = 1;
}

static void table_release(table *t) {
    if (t->heap) free(t->heap), t->heap = NULL;
}

/* ---- rotation (optionally fused with the head norm: x -> (x * scale) * w first) ------------ */

#define AI static inline __attribute__((always_inline))

static inline __m256 rot_pairs(__m256 x, __m256 c, __m256 s) {
    return _mm256_fmadd_ps(x, c, _mm256_mul_ps(_mm256_permute_ps(x, 0xB1), s));
}

/* 8 (masked) elements at i, normalised when norm: (x * vs) * w (w NULL: x * vs) */
AI __m256 load_n(const float *v, const float *w, int64_t i, __m256 vs, __m256i m, int masked, int norm) {
    __m256 x = masked ? _mm256_maskload_ps(v + i, m) : _mm256_loadu_ps(v + i);
    if (!norm) return x;
    x = _mm256_mul_ps(x, vs);
    if (w) x = _mm256_mul_ps(x, masked ? _mm256_maskload_ps(w + i, m) : _mm256_loadu_ps(w + i));
    return x;
}

AI void store_m(float *v, int64_t i, __m256 y, __m256i m, int masked) {
    if (masked)
        _mm256_maskstore_ps(v + i, m, y);
    else
        _mm256_storeu_ps(v + i, y);
}

AI void rotate_norm(float *v, const float *w, __m256 vs, const float *c, const float *s, int n_rot,
                    int norm) {
    int i = 0;
    __m256i none = _mm256_setzero_si256();
    for (; i + 8 <= n_rot; i += 8)
        store_m(v, i,
                rot_pairs(load_n(v, w, i, vs, none, 0, norm), _mm256_loadu_ps(c + i), _mm256_loadu_ps(s + i)),
                none, 0);
    if (i < n_rot) {
        __m256i m = tail_mask(n_rot - i);
        store_m(v, i,
                rot_pairs(load_n(v, w, i, vs, m, 1, norm), _mm256_maskload_ps(c + i, m),
                          _mm256_maskload_ps(s + i, m)),
                m, 1);
    }
}

AI void rot_halves(float *v, const float *w, int64_t i, int nh, __m256 vs, __m256 c, __m256 s, __m256i m,
                   int masked, int norm) {
    __m256 x0 = load_n(v, w, i, vs, m, masked, norm), x1 = load_n(v, w, i + nh, vs, m, masked, norm);
    store_m(v, i, _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s)), m, masked);
    store_m(v, i + nh, _mm256_fmadd_ps(x1, c, _mm256_mul_ps(x0, s)), m, masked);
}

AI void rotate_neox(float *v, const float *w, __m256 vs, const float *c, const float *s, int nh, int norm) {
    int i = 0;
    __m256i none = _mm256_setzero_si256();
    for (; i + 8 <= nh; i += 8)
        rot_halves(v, w, i, nh, vs, _mm256_loadu_ps(c + i), _mm256_loadu_ps(s + i), none, 0, norm);
    if (i < nh) {
        __m256i m = tail_mask(nh - i);
        rot_halves(v, w, i, nh, vs, _mm256_maskload_ps(c + i, m), _mm256_maskload_ps(s + i, m), m, 1, norm);
    }
}

/* The dims the rotation leaves alone still get the head norm. */
static void scale_rest(float *v, const float *w, __m256 vs, int from, int hd) {
    int i = from;
    __m256i none = _mm256_setzero_si256();
    for (; i + 8 <= hd; i += 8) store_m(v, i, load_n(v, w, i, vs, none, 0, 1), none, 0);
    if (i < hd) {
        __m256i m = tail_mask(hd - i);
        store_m(v, i, load_n(v, w, i, vs, m, 1, 1), m, 1);
    }
}

/* ---- per-head RMSNorm scale (same arithmetic as norm_avx2.c's headnorm) -------------------- */

static inline float sumsq(const float *x, int64_t n) {
    __m256 a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 8; k++) {
            __m256 v = _mm256_loadu_ps(x + i + 8 * k);
            a[k] = _mm256_fmadd_ps(v, v, a[k]);
        }
    for (int k = 0; i + 8 <= n; i += 8, k++) {
        __m256 v = _mm256_loadu_ps(x + i);
        a[k] = _mm256_fmadd_ps(v, v, a[k]);
    }
    if (i < n) {
        __m256 v = _mm256_maskload_ps(x + i, tail_mask(n - i));
        a[7] = _mm256_fmadd_ps(v, v, a[7]);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])),
                             _mm256_add_ps(_mm256_add_ps(a[4], a[5]), _mm256_add_ps(a[6], a[7])));
    return hsum8(s);
}

/* ---- entry points ------------------------------------------------------------------------- */

AI void run_impl(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim, int norm,
                 const float *w, float eps, const int32_t *pos, const cf_rope_cfg *cfg) {
    long lo, hi;
    long thresh = norm ? cf_tuning_get()->thresh_qknorm : cf_tuning_get()->thresh_rope;
    cf_split(p, n_tok * n_heads, head_dim, thresh, 1, &lo, &hi);
    if (lo >= hi) return;
    table local, *t = table_get(cfg, &local);
    int64_t tok = lo / n_heads;
    int h = (int)(lo % n_heads);
    __m256 vs = _mm256_set1_ps(1.0f);
    for (long it = lo; it < hi; it++) {
        float *v = x + tok * ld + (int64_t)h * head_dim;
        if (norm) vs = _mm256_set1_ps(1.0f / sqrtf(sumsq(v, head_dim) / (float)head_dim + eps));
        table_at(t, pos[tok]);
        if (cfg->mode == CF_ROPE_NEOX)
            rotate_neox(v, w, vs, t->c, t->s, t->nh, norm);
        else
            rotate_norm(v, w, vs, t->c, t->s, cfg->n_rot, norm);
        if (norm && cfg->n_rot < head_dim) scale_rest(v, w, vs, cfg->n_rot, head_dim);
        if (++h == n_heads) h = 0, tok++;
    }
    table_release(t);
}

static void run_plain(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
                      const int32_t *pos, const cf_rope_cfg *cfg) {
    run_impl(p, x, n_tok, ld, n_heads, head_dim, 0, NULL, 0, pos, cfg);
}

static void run_norm(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
                     const float *w, float eps, const int32_t *pos, const cf_rope_cfg *cfg) {
    run_impl(p, x, n_tok, ld, n_heads, head_dim, 1, w, eps, pos, cfg);
}

static void rope_avx2(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
                      const int32_t *pos, const cf_rope_cfg *cfg) {
    run_plain(p, x, n_tok, ld, n_heads, head_dim, pos, cfg);
}

static void headnorm_rope_avx2(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads,
                               int head_dim, const float *w, float eps, const int32_t *pos,
                               const cf_rope_cfg *cfg) {
    run_norm(p, x, n_tok, ld, n_heads, head_dim, w, eps, pos, cfg);
}

const cf_rope_ops cf_rope_ops_avx2_tbl = {rope_avx2, headnorm_rope_avx2};
