/* RoPE (both layouts) and fused head-norm + RoPE: every ISA path against the reference and a
 * double-precision oracle, positions up to 32768, partial rotation, strides, thread invariance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/norm.h"
#include "kernels/rope.h"
#include "kernels/tuning.h"
#include "tests/testutil.h"

/* Absolute tolerances for inputs in [-1, 1] (outputs have the same magnitude). */
#define ROPE_ORACLE_TOL 8e-7 /* any path vs the double-precision oracle, every position */
#define ROPE_PATH_TOL 8e-7   /* SIMD path vs the reference */
#define EPS 1e-6f

static void oracle(float *y, const float *x, int64_t n_tok, int64_t ld, int n_heads, int hd,
                   const int32_t *pos, const cf_rope_cfg *c) {
    memcpy(y, x, sizeof(float) * n_tok * ld);
    int nh = c->n_rot / 2;
    for (int64_t t = 0; t < n_tok; t++)
        for (int h = 0; h < n_heads; h++)
            for (int i = 0; i < nh; i++) {
                double th = (double)pos[t] * c->freq_scale * pow((double)c->freq_base, -2.0 * i / c->n_rot);
                int a = c->mode == CF_ROPE_NEOX ? i : 2 * i, b = c->mode == CF_ROPE_NEOX ? i + nh : 2 * i + 1;
                const float *v = x + t * ld + h * hd;
                y[t * ld + h * hd + a] = (float)(v[a] * cos(th) - v[b] * sin(th));
                y[t * ld + h * hd + b] = (float)(v[a] * sin(th) + v[b] * cos(th));
            }
}

static void check_close(const float *a, const float *b, size_t n, double tol, const char *what, int isa,
                        int hd, int n_rot, int mode) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)a[i] - b[i]) <= tol,
                      "%s isa=%s hd=%d n_rot=%d mode=%d elem %zu: %.9g vs %.9g", what,
                      cf_isa_name((cf_isa)isa), hd, n_rot, mode, i, a[i], b[i]);
}

static int32_t *positions(int64_t n, uint64_t seed) {
    static const int32_t fixed[] = {0, 1, 2, 7, 100, 4095, 4096, 16383, 32767, 32768};
    int32_t *p = malloc(sizeof(int32_t) * n);
    for (int64_t i = 0; i < n; i++) p[i] = i < 10 ? fixed[i] : (int32_t)(tu_rand_u64(&seed) % 32769);
    return p;
}

START_TEST(test_rope_paths) {
    static const int hds[] = {2, 8, 14, 64, 80, 128, 256, 1030};
    static const float bases[] = {10000.0f, 1000000.0f};
    static const float scales[] = {1.0f, 0.25f};
    for (size_t hi = 0; hi < sizeof hds / sizeof *hds; hi++)
        for (int mode = 0; mode <= 2; mode += 2)
            for (int rv = 0; rv < 3; rv++) {
                int hd = hds[hi];
                int n_rot = rv == 0 ? hd : rv == 1 ? (hd / 2 + 1) / 2 * 2 : 2;
                if (n_rot > hd || n_rot < 2) continue;
                cf_rope_cfg cfg = {mode, n_rot, bases[(hi + rv) % 2], scales[rv == 2]};
                int n_heads = 3;
                int64_t n_tok = 12, ld = (int64_t)n_heads * hd + 3;
                size_t tot = (size_t)(n_tok * ld);
                float *x = malloc(tot * 4), *yo = malloc(tot * 4), *yr = malloc(tot * 4),
                      *ya = malloc(tot * 4);
                int32_t *pos = positions(n_tok, hd * 7 + mode + rv);
                tu_fill_rand(x, tot, 100 + hd + rv, 1.0f);
                oracle(yo, x, n_tok, ld, n_heads, hd, pos, &cfg);
                for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
                    if (!cf_isa_supported((cf_isa)isa)) continue;
                    float *y = isa ? ya : yr;
                    memcpy(y, x, tot * 4);
                    cf_rope_ops_for((cf_isa)isa)->rope(&cf_par_serial, y, n_tok, ld, n_heads, hd, pos, &cfg);
                    check_close(y, yo, tot, ROPE_ORACLE_TOL, "rope vs oracle", isa, hd, n_rot, mode);
                    if (isa) check_close(y, yr, tot, ROPE_PATH_TOL, "rope vs ref", isa, hd, n_rot, mode);
                    /* untouched: dims >= n_rot and the row padding */
                    for (int64_t t = 0; t < n_tok; t++) {
                        for (int h = 0; h < n_heads; h++)
                            for (int d = n_rot; d < hd; d++)
                                ck_assert(y[t * ld + h * hd + d] == x[t * ld + h * hd + d]);
                        for (int64_t d = (int64_t)n_heads * hd; d < ld; d++)
                            ck_assert(y[t * ld + d] == x[t * ld + d]);
                    }
                }
                free(x), free(yo), free(yr), free(ya), free(pos);
            }
}
END_TEST

/* NORM on interleaved data equals NEOX on the same pairs laid out as halves, bit for bit. */
START_TEST(test_layouts_agree) {
    int hd = 72;
    float x[72], xn[72], yn[72], yx[72];
    int32_t pos = 12345;
    tu_fill_rand(x, hd, 9, 1.0f);
    for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
        if (!cf_isa_supported((cf_isa)isa)) continue;
        cf_rope_cfg cn = {CF_ROPE_NORM, hd, 10000.0f, 1.0f}, cx = {CF_ROPE_NEOX, hd, 10000.0f, 1.0f};
        memcpy(yn, x, sizeof x);
        for (int i = 0; i < hd / 2; i++) xn[i] = x[2 * i], xn[i + hd / 2] = x[2 * i + 1];
        memcpy(yx, xn, sizeof x);
        cf_rope_ops_for((cf_isa)isa)->rope(&cf_par_serial, yn, 1, hd, 1, hd, &pos, &cn);
        cf_rope_ops_for((cf_isa)isa)->rope(&cf_par_serial, yx, 1, hd, 1, hd, &pos, &cx);
        for (int i = 0; i < hd / 2; i++) {
            ck_assert(yn[2 * i] == yx[i]);
            ck_assert(yn[2 * i + 1] == yx[i + hd / 2]);
        }
    }
}
END_TEST

/* Fused head-norm + RoPE equals head-norm then RoPE on the same path, bit for bit. */
START_TEST(test_headnorm_rope) {
    static const int hds[] = {8, 33 * 2, 128};
    for (size_t hi = 0; hi < sizeof hds / sizeof *hds; hi++)
        for (int mode = 0; mode <= 2; mode += 2) {
            int hd = hds[hi], n_heads = 4;
            int64_t n_tok = 9, ld = (int64_t)n_heads * hd;
            size_t tot = (size_t)(n_tok * ld);
            cf_rope_cfg cfg = {mode, hd, 1000000.0f, 1.0f};
            float *x = malloc(tot * 4), *w = malloc(hd * 4), *a = malloc(tot * 4), *b = malloc(tot * 4);
            int32_t *pos = positions(n_tok, 77);
            tu_fill_rand(x, tot, 5 + hd, 3.0f);
            tu_fill_rand(w, hd, 6 + hd, 1.0f);
            for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
                if (!cf_isa_supported((cf_isa)isa)) continue;
                memcpy(a, x, tot * 4);
                memcpy(b, x, tot * 4);
                cf_rope_ops_for((cf_isa)isa)
                    ->headnorm_rope(&cf_par_serial, a, n_tok, ld, n_heads, hd, w, EPS, pos, &cfg);
                cf_norm_ops_for((cf_isa)isa)->headnorm(&cf_par_serial, b, n_tok, ld, n_heads, hd, w, EPS);
                cf_rope_ops_for((cf_isa)isa)->rope(&cf_par_serial, b, n_tok, ld, n_heads, hd, pos, &cfg);
                ck_assert_msg(memcmp(a, b, tot * 4) == 0, "isa %d hd %d mode %d", isa, hd, mode);
            }
            free(x), free(w), free(a), free(b), free(pos);
        }
}
END_TEST

typedef struct {
    const cf_rope_ops *ops;
    float *x;
    const float *w;
    int64_t n_tok, ld;
    int n_heads, hd, fused;
    const int32_t *pos;
    const cf_rope_cfg *cfg;
} inv_arg;

static void inv_fn(const cf_par *p, void *a) {
    inv_arg *g = a;
    if (g->fused)
        g->ops->headnorm_rope(p, g->x, g->n_tok, g->ld, g->n_heads, g->hd, g->w, EPS, g->pos, g->cfg);
    else
        g->ops->rope(p, g->x, g->n_tok, g->ld, g->n_heads, g->hd, g->pos, g->cfg);
}

START_TEST(test_thread_invariance) {
    cf_tuning_mut()->thresh_rope = 1;
    cf_tuning_mut()->thresh_qknorm = 1;
    int hd = 64, n_heads = 5;
    int64_t n_tok = 7, ld = n_heads * hd;
    size_t tot = (size_t)(n_tok * ld);
    float *x = malloc(tot * 4), *w = malloc(hd * 4), *y1 = malloc(tot * 4), *yk = malloc(tot * 4);
    int32_t *pos = positions(n_tok, 3);
    tu_fill_rand(x, tot, 8, 1.0f);
    tu_fill_rand(w, hd, 9, 1.0f);
    cf_rope_cfg cfg = {CF_ROPE_NEOX, hd, 10000.0f, 1.0f};
    for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
        if (!cf_isa_supported((cf_isa)isa)) continue;
        for (int fused = 0; fused < 2; fused++) {
            inv_arg g = {cf_rope_ops_for((cf_isa)isa), y1, w, n_tok, ld, n_heads, hd, fused, pos, &cfg};
            memcpy(y1, x, tot * 4);
            cf_parallel_run(1, inv_fn, &g);
            for (int nth = 2; nth <= 3; nth++) {
                memcpy(yk, x, tot * 4);
                g.x = yk;
                cf_parallel_run(nth, inv_fn, &g);
                ck_assert_msg(memcmp(y1, yk, tot * 4) == 0, "isa %d fused %d nth %d", isa, fused, nth);
            }
            /* batch invariance: token 4 alone */
            float one[320];
            memcpy(one, x + 4 * ld, ld * 4);
            inv_arg s = {g.ops, one, w, 1, ld, n_heads, hd, fused, pos + 4, &cfg};
            inv_fn(&cf_par_serial, &s);
            ck_assert_int_eq(memcmp(one, y1 + 4 * ld, ld * 4), 0);
        }
    }
    free(x), free(w), free(y1), free(yk), free(pos);
}
END_TEST

START_TEST(test_dispatch) {
    ck_assert_ptr_eq(cf_rope_ops_for(CF_ISA_AVX512VNNI), cf_rope_ops_for(CF_ISA_AVX512));
    float x[16], y[16];
    int32_t pos[2] = {3, 40000};
    tu_fill_rand(x, 16, 1, 1.0f);
    memcpy(y, x, sizeof x);
    cf_rope_cfg cfg = {CF_ROPE_NORM, 8, 10000.0f, 1.0f};
    cf_rope(&cf_par_serial, x, 2, 8, 1, 8, pos, &cfg);
    cf_rope_ops_for(cf_isa_active())->rope(&cf_par_serial, y, 2, 8, 1, 8, pos, &cfg);
    ck_assert_int_eq(memcmp(x, y, sizeof x), 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("rope");
    TCase *tc = tcase_create("rope");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rope_paths);
    tcase_add_test(tc, test_layouts_agree);
    tcase_add_test(tc, test_headnorm_rope);
    tcase_add_test(tc, test_thread_invariance);
    tcase_add_test(tc, test_dispatch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
