/* Softmax, SwiGLU, GELU, add, scale and embedding lookup: every ISA path against the reference
 * and double-precision formulas, odd sizes, extreme inputs, thread invariance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/quant.h"
#include "kernels/tuning.h"
#include "tests/testutil.h"

#define SOFTMAX_REL_TOL 2e-6 /* vs double softmax, relative per element */
#define SOFTMAX_ABS_TOL 1e-9
#define SWIGLU_REL_TOL 2e-6 /* vs double silu(g)*u */
#define SWIGLU_ABS_TOL 1e-7
#define GELU_ABS_TOL 1e-6 /* vs double gelu, inputs in [-8, 8] (the tanh form cancels for x < 0) */
#define GELU_REL_TOL 2e-6

static const int64_t k_sizes[] = {1, 7, 8, 9, 31, 33, 257, 1000, 1031, 4099};

#define FOR_ISA(isa)                                                                                         \
    for (int isa = 0; isa < CF_ISA_COUNT; isa++)                                                             \
        if (cf_isa_supported((cf_isa)isa))

static void expect_close(double got, double want, double rel, double abs_tol, const char *what, int isa,
                         int64_t n, int64_t i) {
    ck_assert_msg(fabs(got - want) <= rel * fabs(want) + abs_tol, "%s isa=%s n=%lld i=%lld: %.9g vs %.9g",
                  what, cf_isa_name((cf_isa)isa), (long long)n, (long long)i, got, want);
}

START_TEST(test_softmax) {
    for (size_t si = 0; si < sizeof k_sizes / sizeof *k_sizes; si++) {
        int64_t n = k_sizes[si], rows = 3;
        float *x = malloc(rows * n * 4), *y = malloc(rows * n * 4);
        tu_fill_rand(x, rows * n, 7 + n, 20.0f);
        if (n > 1) x[n] = -INFINITY;  /* row 1 has a masked entry */
        if (n > 2) x[2 * n + 1] = 80; /* row 2 has a dominant entry */
        FOR_ISA(isa) {
            memcpy(y, x, rows * n * 4);
            cf_ops_for((cf_isa)isa)->softmax(&cf_par_serial, y, rows, n);
            for (int64_t r = 0; r < rows; r++) {
                double mx = -INFINITY, sum = 0;
                for (int64_t i = 0; i < n; i++) mx = fmax(mx, x[r * n + i]);
                for (int64_t i = 0; i < n; i++) sum += exp((double)x[r * n + i] - mx);
                for (int64_t i = 0; i < n; i++)
                    expect_close(y[r * n + i], exp((double)x[r * n + i] - mx) / sum, SOFTMAX_REL_TOL,
                                 SOFTMAX_ABS_TOL, "softmax", isa, n, i);
            }
            if (n > 1) ck_assert(y[n] == 0.0f); /* -inf gives exactly 0 */
        }
        free(x), free(y);
    }
}
END_TEST

START_TEST(test_swiglu_gelu) {
    for (size_t si = 0; si < sizeof k_sizes / sizeof *k_sizes; si++) {
        int64_t n = k_sizes[si], rows = 2, ld = n + 3;
        float *g = malloc(rows * ld * 4), *u = malloc(rows * ld * 4), *o = malloc(rows * (ld + 1) * 4);
        tu_fill_rand(g, rows * ld, 3 + n, 12.0f);
        tu_fill_rand(u, rows * ld, 4 + n, 2.0f);
        g[0] = -100.0f;
        FOR_ISA(isa) {
            for (int64_t i = 0; i < rows * (ld + 1); i++) o[i] = 42.0f;
            cf_ops_for((cf_isa)isa)->swiglu(&cf_par_serial, o, ld + 1, g, u, ld, rows, n);
            for (int64_t r = 0; r < rows; r++) {
                for (int64_t i = 0; i < n; i++) {
                    double gv = g[r * ld + i];
                    expect_close(o[r * (ld + 1) + i], gv / (1.0 + exp(-gv)) * u[r * ld + i], SWIGLU_REL_TOL,
                                 SWIGLU_ABS_TOL, "swiglu", isa, n, i);
                }
                ck_assert(o[r * (ld + 1) + n] == 42.0f); /* stride padding untouched */
            }
        }
        /* gelu on [-8, 8] */
        float *x = malloc(n * 4), *y = malloc((n + 1) * 4);
        tu_fill_rand(x, n, 9 + n, 8.0f);
        FOR_ISA(isa) {
            y[n] = 42.0f;
            cf_ops_for((cf_isa)isa)->gelu(&cf_par_serial, y, x, n);
            for (int64_t i = 0; i < n; i++) {
                double v = x[i], want = 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
                expect_close(y[i], want, GELU_REL_TOL, GELU_ABS_TOL, "gelu", isa, n, i);
            }
            ck_assert(y[n] == 42.0f);
        }
        free(g), free(u), free(o), free(x), free(y);
    }
}
END_TEST

START_TEST(test_add_scale) {
    for (size_t si = 0; si < sizeof k_sizes / sizeof *k_sizes; si++) {
        int64_t n = k_sizes[si];
        float *x = malloc(n * 4), *y0 = malloc((n + 1) * 4), *y = malloc((n + 1) * 4);
        tu_fill_rand(x, n, 1 + n, 3.0f);
        tu_fill_rand(y0, n + 1, 2 + n, 3.0f);
        FOR_ISA(isa) {
            memcpy(y, y0, (n + 1) * 4);
            cf_ops_for((cf_isa)isa)->add(&cf_par_serial, y, x, n);
            for (int64_t i = 0; i < n; i++) ck_assert(y[i] == y0[i] + x[i]); /* exact */
            ck_assert(y[n] == y0[n]);
            cf_ops_for((cf_isa)isa)->scale(&cf_par_serial, y, -0.375f, n);
            for (int64_t i = 0; i < n; i++) ck_assert(y[i] == (y0[i] + x[i]) * -0.375f);
            ck_assert(y[n] == y0[n]);
        }
        free(x), free(y0), free(y);
    }
}
END_TEST

START_TEST(test_embed) {
    enum { DIM = 64, ROWS = 10, NTOK = 6 };
    static const int types[] = {CF_T_F32, CF_T_F16, CF_T_Q8_0, CF_T_Q4_0};
    float src[ROWS * DIM], out[NTOK * DIM], want[DIM];
    int32_t ids[NTOK] = {3, 0, 9, 3, 5, 1};
    tu_fill_rand(src, ROWS * DIM, 77, 1.0f);
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        int type = types[ti];
        size_t rb = cf_row_bytes(type, DIM);
        ck_assert(rb > 0);
        unsigned char *tab = malloc(rb * ROWS);
        for (int r = 0; r < ROWS; r++)
            ck_assert_int_eq(cf_quantize_row(type, src + r * DIM, tab + r * rb, DIM), 0);
        cf_embed(&cf_par_serial, out, tab, type, DIM, ids, NTOK);
        for (int t = 0; t < NTOK; t++) {
            cf_dequantize_row_ref(type, tab + ids[t] * rb, want, DIM);
            ck_assert_msg(memcmp(out + t * DIM, want, sizeof want) == 0, "type %d token %d", type, t);
        }
        if (type == CF_T_F32) ck_assert_int_eq(memcmp(out, src + 3 * DIM, DIM * 4), 0);
        free(tab);
    }
}
END_TEST

typedef struct {
    const cf_ops_ops *ops;
    float *a, *b;
    const float *x, *u;
    int64_t rows, n;
} inv_arg;

static void inv_fn(const cf_par *p, void *v) {
    inv_arg *g = v;
    g->ops->softmax(p, g->a, g->rows, g->n);
    g->ops->swiglu(p, g->b, g->n, g->x, g->u, g->n, g->rows, g->n);
    cf_barrier(p);
    g->ops->gelu(p, g->b, g->b, g->rows * g->n);
    cf_barrier(p);
    g->ops->add(p, g->a, g->b, g->rows * g->n);
    cf_barrier(p);
    g->ops->scale(p, g->a, 1.5f, g->rows * g->n);
}

START_TEST(test_thread_invariance) {
    cf_tuning *t = cf_tuning_mut();
    t->thresh_softmax = t->thresh_swiglu = t->thresh_vec = 1;
    int64_t rows = 5, n = 2333; /* swiglu chunks and element granules both split unevenly */
    size_t tot = (size_t)(rows * n);
    float *x = malloc(tot * 4), *u = malloc(tot * 4), *a1 = malloc(tot * 4), *b1 = malloc(tot * 4),
          *ak = malloc(tot * 4), *bk = malloc(tot * 4);
    tu_fill_rand(x, tot, 5, 4.0f);
    tu_fill_rand(u, tot, 6, 4.0f);
    FOR_ISA(isa) {
        inv_arg g = {cf_ops_for((cf_isa)isa), a1, b1, x, u, rows, n};
        memcpy(a1, x, tot * 4);
        cf_parallel_run(1, inv_fn, &g);
        for (int nth = 2; nth <= 3; nth++) {
            memcpy(ak, x, tot * 4);
            g.a = ak, g.b = bk;
            cf_parallel_run(nth, inv_fn, &g);
            ck_assert_msg(memcmp(a1, ak, tot * 4) == 0 && memcmp(b1, bk, tot * 4) == 0, "isa %d nth %d", isa,
                          nth);
        }
    }
    free(x), free(u), free(a1), free(b1), free(ak), free(bk);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_softmax);
    tcase_add_test(tc, test_swiglu_gelu);
    tcase_add_test(tc, test_add_scale);
    tcase_add_test(tc, test_embed);
    tcase_add_test(tc, test_thread_invariance);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
