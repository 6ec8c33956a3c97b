/* AVX-512 RoPE: the AVX2 path's algorithm (double-precision angle reduction, float sincos on
 * [-pi/4, pi/4], shared per-token table, identical pair arithmetic) with 16-lane vectors and
 * mask-register tails. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/rope.h"
#include "kernels/tuning.h"

enum { STACK_ROT = 512 };

static inline __mmask16 tail_mask(int64_t r) { return (__mmask16)((1u << r) - 1u); }
#define FULL ((__mmask16)0xFFFF)

#define TWO_PI_HI 6.283185307179586
#define TWO_PI_LO 2.4492935982947064e-16
#define INV_TWO_PI 0.15915494309189535

static inline __m256 reduce8(__m512d vpos, const double *invf) {
    __m512d th = _mm512_mul_pd(vpos, _mm512_loadu_pd(invf));
    __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(th, _mm512_set1_pd(INV_TWO_PI)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(TWO_PI_HI), th);
    r = _mm512_fnmadd_pd(k, _mm512_set1_pd(TWO_PI_LO), r);
    return _mm512_cvtpd_ps(r);
}

static inline void sincos16(__m512 r, __m512 *so, __m512 *co) {
    __m512 q = _mm512_roundscale_ps(_mm512_mul_ps(r, _mm512_set1_ps(0.63661977236758134f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 y = _mm512_fnmadd_ps(q, _mm512_set1_ps(1.5707963705062866f), r);
    y = _mm512_fnmadd_ps(q, _mm512_set1_ps(-4.371139000186243e-08f), y);
    __m512 y2 = _mm512_mul_ps(y, y);
    __m512 ps = _mm512_fmadd_ps(y2, _mm512_set1_ps(2.7557319e-06f), _mm512_set1_ps(-1.9841270e-04f));
    ps = _mm512_fmadd_ps(ps, y2, _mm512_set1_ps(8.3333333e-03f));
    ps = _mm512_fmadd_ps(ps, y2, _mm512_set1_ps(-1.6666667e-01f));
    __m512 s = _mm512_fmadd_ps(_mm512_mul_ps(ps, y2), y, y);
    __m512 pc = _mm512_fmadd_ps(y2, _mm512_set1_ps(-2.7557319e-07f), _mm512_set1_ps(2.4801587e-05f));
    pc = _mm512_fmadd_ps(pc, y2, _mm512_set1_ps(-1.3888889e-03f));
    pc = _mm512_fmadd_ps(pc, y2, _mm512_set1_ps(4.1666667e-02f));
    pc = _mm512_fmadd_ps(pc, y2, _mm512_set1_ps(-0.5f));
    __m512 c = _mm512_fmadd_ps(pc, y2, _mm512_set1_ps(1.0f));
    __m512i qi = _mm512_cvtps_epi32(q);
    __mmask16 swap = _mm512_test_epi32_mask(qi, _mm512_set1_epi32(1));
    __m512 sv = _mm512_mask_blend_ps(swap, s, c), cv = _mm512_mask_blend_ps(swap, c, s);
    __m512i ssign = _mm512_slli_epi32(_mm512_and_si512(qi, _mm512_set1_epi32(2)), 30);
    __m512i csign = _mm512_slli_epi32(
        _mm512_and_si512(_mm512_add_epi32(qi, _mm512_set1_epi32(1)), _mm512_set1_epi32(2)), 30);
    *so = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(sv), ssign));
    *co = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(cv), csign));
}

typedef struct {
    int n_rot, mode, nh, have;
    float base, scale;
    int32_t cur;
    const double *invf;
    float *c, *s;
    void *heap;
    double invf_st[STACK_ROT / 2 + 16];
    float c_st[STACK_ROT + 16], s_st[STACK_ROT + 16];
} table;

static __thread table t_tab; /* per-thread last table, as in the AVX2 path */

static void fill_invf(double *invf, const cf_rope_cfg *cfg) {
    int nh = cfg->n_rot / 2;
    double ts = pow((double)cfg->freq_base, -2.0 / cfg->n_rot), f = cfg->freq_scale;
    for (int i = 0; i < nh + 16; i++, f *= ts) invf[i] = i < nh ? f : 0.0;
}

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
    size_t nd = (size_t)nh + 16, nf = (size_t)cfg->n_rot + 16;
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
    __m512d vp = _mm512_set1_pd((double)pos);
    for (int i = 0; i < nh; i += 16) {
        __m512 r = _mm512_insertf32x8(_mm512_castps256_ps512(reduce8(vp, t->invf + i)),
                                      reduce8(vp, t->invf + i + 8), 1);
        __m512 sv, cv;
        sincos16(r, &sv, &cv);
        if (t->mode == CF_ROPE_NEOX) {
            __mmask16 m = i + 16 <= nh ? FULL : tail_mask(nh - i);
            _mm512_mask_storeu_ps(t->c + i, m, cv);
            _mm512_mask_storeu_ps(t->s + i, m, sv);
        } else {
            float cf[16], sf[16];
            _mm512_storeu_ps(cf, cv);
            _mm512_storeu_ps(sf, sv);
            for (int k = 0; k < 16 && i + k < nh; k++) {
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

#define AI static inline __attribute__((always_inline))

static inline __m512 rot_pairs(__m512 x, __m512 c, __m512 s) {
    return _mm512_fmadd_ps(x, c, _mm512_mul_ps(_mm512_permute_ps(x, 0xB1), s));
}

AI __m512 load_n(const float *v, const float *w, int64_t i, __m512 vs, __mmask16 m, int norm) {
    __m512 x = _mm512_maskz_loadu_ps(m, v + i);
    if (!norm) return x;
    x = _mm512_mul_ps(x, vs);
    if (w) x = _mm512_mul_ps(x, _mm512_maskz_loadu_ps(m, w + i));
    return x;
}

AI void rotate_norm(float *v, const float *w, __m512 vs, const float *c, const float *s, int n_rot,
                    int norm) {
    for (int i = 0; i < n_rot; i += 16) {
        __mmask16 m = i + 16 <= n_rot ? FULL : tail_mask(n_rot - i);
        _mm512_mask_storeu_ps(v + i, m,
                              rot_pairs(load_n(v, w, i, vs, m, norm), _mm512_maskz_loadu_ps(m, c + i),
                                        _mm512_maskz_loadu_ps(m, s + i)));
    }
}

AI void rotate_neox(float *v, const float *w, __m512 vs, const float *c, const float *s, int nh, int norm) {
    for (int i = 0; i < nh; i += 16) {
        __mmask16 m = i + 16 <= nh ? FULL : tail_mask(nh - i);
        __m512 x0 = load_n(v, w, i, vs, m, norm), x1 = load_n(v, w, i + nh, vs, m, norm);
        __m512 cv = _mm512_maskz_loadu_ps(m, c + i), sv = _mm512_maskz_loadu_ps(m, s + i);
        _mm512_mask_storeu_ps(v + i, m, _mm512_fmsub_ps(x0, cv, _mm512_mul_ps(x1, sv)));
        _mm512_mask_storeu_ps(v + nh + i, m, _mm512_fmadd_ps(x1, cv, _mm512_mul_ps(x0, sv)));
    }
}

static void scale_rest(float *v, const float *w, __m512 vs, int from, int hd) {
    for (int i = from; i < hd; i += 16) {
        __mmask16 m = i + 16 <= hd ? FULL : tail_mask(hd - i);
        _mm512_mask_storeu_ps(v + i, m, load_n(v, w, i, vs, m, 1));
    }
}

static inline float sumsq(const float *x, int64_t n) {
    __m512 a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 128 <= n; i += 128)
        for (int k = 0; k < 8; k++) {
            __m512 v = _mm512_loadu_ps(x + i + 16 * k);
            a[k] = _mm512_fmadd_ps(v, v, a[k]);
        }
    for (int k = 0; i + 16 <= n; i += 16, k++) {
        __m512 v = _mm512_loadu_ps(x + i);
        a[k] = _mm512_fmadd_ps(v, v, a[k]);
    }
    if (i < n) {
        __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
        a[7] = _mm512_fmadd_ps(v, v, a[7]);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3])),
                             _mm512_add_ps(_mm512_add_ps(a[4], a[5]), _mm512_add_ps(a[6], a[7])));
    return _mm512_reduce_add_ps(s);
}

AI void run_impl(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim, int norm,
                 const float *w, float eps, const int32_t *pos, const cf_rope_cfg *cfg) {
    long lo, hi;
    long thresh = norm ? cf_tuning_get()->thresh_qknorm : cf_tuning_get()->thresh_rope;
    cf_split(p, n_tok * n_heads, head_dim, thresh, 1, &lo, &hi);
    if (lo >= hi) return;
    table local, *t = table_get(cfg, &local);
    int64_t tok = lo / n_heads;
    int h = (int)(lo % n_heads);
    __m512 vs = _mm512_set1_ps(1.0f);
    for (long it = lo; it < hi; it++) {
        float *v = x + tok * ld + (int64_t)h * head_dim;
        if (norm) vs = _mm512_set1_ps(1.0f / sqrtf(sumsq(v, head_dim) / (float)head_dim + eps));
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

static void rope_avx512(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
                        const int32_t *pos, const cf_rope_cfg *cfg) {
    run_plain(p, x, n_tok, ld, n_heads, head_dim, pos, cfg);
}

static void headnorm_rope_avx512(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads,
                                 int head_dim, const float *w, float eps, const int32_t *pos,
                                 const cf_rope_cfg *cfg) {
    run_norm(p, x, n_tok, ld, n_heads, head_dim, w, eps, pos, cfg);
}

const cf_rope_ops cf_rope_ops_avx512_tbl = {rope_avx512, headnorm_rope_avx512};
