/* Scalar reference RoPE (the spec): inverse frequencies by pow() in double, theta and its
 * sin/cos in double (libm reduces the argument), rounded to float; the rotation in float. */
#include <math.h>
#include <stdlib.h>

#include "kernels/rope.h"
#include "kernels/tuning.h"

typedef struct {
    double *invf; /* n_rot/2 inverse frequencies (times freq_scale) */
    float *c, *s; /* cos/sin for the current token */
    int32_t cur;  /* position the table holds */
    int have;
} table;

static int table_init(table *t, const cf_rope_cfg *cfg) {
    int nh = cfg->n_rot / 2;
    t->invf = malloc(sizeof(double) * nh);
    t->c = malloc(sizeof(float) * nh);
    t->s = malloc(sizeof(float) * nh);
    t->have = 0;
    if (!t->invf || !t->c || !t->s) return -1;
    for (int i = 0; i < nh; i++)
        t->invf[i] = (double)cfg->freq_scale * pow((double)cfg->freq_base, -2.0 * i / cfg->n_rot);
    return 0;
}

static void table_free(table *t) {
    free(t->invf);
    free(t->c);
    free(t->s);
}

static void table_at(table *t, int32_t pos, int nh) {
    if (t->have && t->cur == pos) return;
    for (int i = 0; i < nh; i++) {
        double th = (double)pos * t->invf[i];
        t->c[i] = (float)cos(th);
        t->s[i] = (float)sin(th);
    }
    t->cur = pos;
    t->have = 1;
}

static void rotate(float *v, const table *t, const cf_rope_cfg *cfg) {
    int nh = cfg->n_rot / 2;
    for (int i = 0; i < nh; i++) {
        int a = cfg->mode == CF_ROPE_NEOX ? i : 2 * i, b = cfg->mode == CF_ROPE_NEOX ? i + nh : 2 * i + 1;
        float x0 = v[a], x1 = v[b];
        v[a] = x0 * t->c[i] - x1 * t->s[i];
        v[b] = x0 * t->s[i] + x1 * t->c[i];
    }
}

static void headnorm1(float *v, int n, const float *w, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)v[i] * v[i];
    float s = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) v[i] = w ? (v[i] * s) * w[i] : v[i] * s;
}

static void run(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim, int norm,
                const float *w, float eps, const int32_t *pos, const cf_rope_cfg *cfg) {
    long lo, hi;
    long thresh = norm ? cf_tuning_get()->thresh_qknorm : cf_tuning_get()->thresh_rope;
    cf_split(p, n_tok * n_heads, head_dim, thresh, 1, &lo, &hi);
    if (lo >= hi) return;
    table t;
    if (table_init(&t, cfg)) abort(); /* tiny allocation; the reference is for tests */
    for (long it = lo; it < hi; it++) {
        int64_t tok = it / n_heads;
        float *v = x + tok * ld + (it % n_heads) * head_dim;
        if (norm) headnorm1(v, head_dim, w, eps);
        table_at(&t, pos[tok], cfg->n_rot / 2);
        rotate(v, &t, cfg);
    }
    table_free(&t);
}

static void rope_ref(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
                     const int32_t *pos, const cf_rope_cfg *cfg) {
    run(p, x, n_tok, ld, n_heads, head_dim, 0, NULL, 0, pos, cfg);
}

static void headnorm_rope_ref(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
                              const float *w, float eps, const int32_t *pos, const cf_rope_cfg *cfg) {
    run(p, x, n_tok, ld, n_heads, head_dim, 1, w, eps, pos, cfg);
}

const cf_rope_ops cf_rope_ops_ref_tbl = {rope_ref, headnorm_rope_ref};
