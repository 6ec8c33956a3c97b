/* RMSNorm, fused residual RMSNorm and per-head norm: every ISA path the CPU has against the
 * reference and a double-precision oracle, odd sizes, aliasing, batch and thread invariance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/norm.h"
#include "kernels/tuning.h"
#include "tests/testutil.h"

/* |path - ref| <= NORM_REL_TOL * |ref| + NORM_ABS_TOL elementwise (inputs in [-2, 2]) */
#define NORM_REL_TOL 4e-6
#define NORM_ABS_TOL 1e-6
/* reference against the double-precision oracle */
#define ORACLE_REL_TOL 1e-6
#define EPS 1e-5f

static const int64_t k_dims[] = {1, 7, 8, 16, 31, 33, 64, 100, 257, 1000, 4096, 5003};
static const int64_t k_rows[] = {1, 3, 17};

static void close_or_fail(const float *a, const float *ref, size_t n, double rel, double abs_tol,
                          const char *what, int isa, int64_t rows, int64_t dim) {
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]);
        ck_assert_msg(d <= rel * fabs(ref[i]) + abs_tol,
                      "%s isa=%s rows=%lld n=%lld: element %zu: %.9g vs ref %.9g", what,
                      cf_isa_name((cf_isa)isa), (long long)rows, (long long)dim, i, a[i], ref[i]);
    }
}

static void oracle(float *y, const float *x, const float *w, int64_t rows, int64_t n, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        double ss = 0;
        for (int64_t i = 0; i < n; i++) ss += (double)x[r * n + i] * x[r * n + i];
        double s = 1.0 / sqrt(ss / n + eps);
        for (int64_t i = 0; i < n; i++) y[r * n + i] = (float)(x[r * n + i] * s * (w ? w[i] : 1.0));
    }
}

START_TEST(test_rmsnorm_paths) {
    for (size_t di = 0; di < sizeof k_dims / sizeof *k_dims; di++)
        for (size_t ri = 0; ri < sizeof k_rows / sizeof *k_rows; ri++) {
            int64_t n = k_dims[di], rows = k_rows[ri];
            size_t tot = (size_t)(n * rows);
            float *x = malloc(tot * 4), *w = malloc(n * 4), *yr = malloc(tot * 4), *y = malloc(tot * 4),
                  *yo = malloc(tot * 4);
            tu_fill_rand(x, tot, 11 + n + rows, 2.0f);
            tu_fill_rand(w, n, 5 + n, 1.5f);
            for (int wn = 0; wn < 2; wn++) {
                const float *ww = wn ? NULL : w;
                cf_norm_ops_for(CF_ISA_REF)->rmsnorm(&cf_par_serial, yr, x, ww, rows, n, EPS);
                oracle(yo, x, ww, rows, n, EPS);
                close_or_fail(yr, yo, tot, ORACLE_REL_TOL, 1e-7, "ref vs oracle", 0, rows, n);
                for (int isa = 1; isa < CF_ISA_COUNT; isa++) {
                    if (!cf_isa_supported((cf_isa)isa)) continue;
                    memset(y, 0xff, tot * 4);
                    cf_norm_ops_for((cf_isa)isa)->rmsnorm(&cf_par_serial, y, x, ww, rows, n, EPS);
                    close_or_fail(y, yr, tot, NORM_REL_TOL, NORM_ABS_TOL, "rmsnorm", isa, rows, n);
                    /* in place (y aliases x) gives the same bits */
                    float *xc = malloc(tot * 4);
                    memcpy(xc, x, tot * 4);
                    cf_norm_ops_for((cf_isa)isa)->rmsnorm(&cf_par_serial, xc, xc, ww, rows, n, EPS);
                    ck_assert_int_eq(memcmp(xc, y, tot * 4), 0);
                    free(xc);
                }
            }
            free(x), free(w), free(yr), free(y), free(yo);
        }
}
END_TEST

START_TEST(test_rmsnorm_add_paths) {
    for (size_t di = 0; di < sizeof k_dims / sizeof *k_dims; di++) {
        int64_t n = k_dims[di], rows = 5;
        size_t tot = (size_t)(n * rows);
        float *x = malloc(tot * 4), *res0 = malloc(tot * 4), *w = malloc(n * 4);
        float *rr = malloc(tot * 4), *yr = malloc(tot * 4), *ra = malloc(tot * 4), *ya = malloc(tot * 4);
        tu_fill_rand(x, tot, 3 + n, 1.0f);
        tu_fill_rand(res0, tot, 4 + n, 1.0f);
        tu_fill_rand(w, n, 6 + n, 1.0f);
        memcpy(rr, res0, tot * 4);
        cf_norm_ops_for(CF_ISA_REF)->rmsnorm_add(&cf_par_serial, yr, rr, x, w, rows, n, EPS);
        for (size_t i = 0; i < tot; i++) ck_assert(rr[i] == res0[i] + x[i]);
        for (int isa = 1; isa < CF_ISA_COUNT; isa++) {
            if (!cf_isa_supported((cf_isa)isa)) continue;
            memcpy(ra, res0, tot * 4);
            cf_norm_ops_for((cf_isa)isa)->rmsnorm_add(&cf_par_serial, ya, ra, x, w, rows, n, EPS);
            ck_assert_int_eq(memcmp(ra, rr, tot * 4), 0); /* the residual sum is exact */
            close_or_fail(ya, yr, tot, NORM_REL_TOL, NORM_ABS_TOL, "rmsnorm_add", isa, rows, n);
        }
        free(x), free(res0), free(w), free(rr), free(yr), free(ra), free(ya);
    }
}
END_TEST

START_TEST(test_headnorm_paths) {
    static const int hds[] = {1, 7, 8, 31, 64, 128, 257};
    for (size_t hi = 0; hi < sizeof hds / sizeof *hds; hi++) {
        int hd = hds[hi], nh = 3;
        int64_t rows = 4, ld = (int64_t)nh * hd + 5; /* padding must stay untouched */
        size_t tot = (size_t)(rows * ld);
        float *x = malloc(tot * 4), *w = malloc(hd * 4), *xr = malloc(tot * 4), *xa = malloc(tot * 4);
        tu_fill_rand(x, tot, 17 + hd, 2.0f);
        tu_fill_rand(w, hd, 19 + hd, 1.0f);
        memcpy(xr, x, tot * 4);
        cf_norm_ops_for(CF_ISA_REF)->headnorm(&cf_par_serial, xr, rows, ld, nh, hd, w, EPS);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t i = (int64_t)nh * hd; i < ld; i++) ck_assert(xr[r * ld + i] == x[r * ld + i]);
        /* each head equals rmsnorm of that head */
        float yo[300];
        oracle(yo, x + ld + hd, w, 1, hd, EPS);
        close_or_fail(xr + ld + hd, yo, hd, ORACLE_REL_TOL, 1e-7, "headnorm vs oracle", 0, 1, hd);
        for (int isa = 1; isa < CF_ISA_COUNT; isa++) {
            if (!cf_isa_supported((cf_isa)isa)) continue;
            memcpy(xa, x, tot * 4);
            cf_norm_ops_for((cf_isa)isa)->headnorm(&cf_par_serial, xa, rows, ld, nh, hd, w, EPS);
            close_or_fail(xa, xr, tot, NORM_REL_TOL, NORM_ABS_TOL, "headnorm", isa, rows, hd);
        }
        free(x), free(w), free(xr), free(xa);
    }
}
END_TEST

/* ---- thread and batch invariance ---- */

typedef struct {
    const cf_norm_ops *ops;
    float *y, *res;
    const float *x, *w;
    int64_t rows, n;
    int kind;
} inv_arg;

static void inv_fn(const cf_par *p, void *a) {
    inv_arg *g = a;
    if (g->kind == 0)
        g->ops->rmsnorm(p, g->y, g->x, g->w, g->rows, g->n, EPS);
    else if (g->kind == 1)
        g->ops->rmsnorm_add(p, g->y, g->res, g->x, g->w, g->rows, g->n, EPS);
    else
        g->ops->headnorm(p, g->y, g->rows, g->n, 4, (int)(g->n / 4), g->w, EPS);
}

START_TEST(test_thread_invariance) {
    cf_tuning_mut()->thresh_rmsnorm = 1; /* force splitting even for small work */
    cf_tuning_mut()->thresh_qknorm = 1;
    int64_t rows = 13, n = 260;
    size_t tot = (size_t)(rows * n);
    float *x = malloc(tot * 4), *w = malloc(n * 4), *res0 = malloc(tot * 4);
    float *y1 = malloc(tot * 4), *yk = malloc(tot * 4), *r1 = malloc(tot * 4), *rk = malloc(tot * 4);
    tu_fill_rand(x, tot, 1, 1.0f);
    tu_fill_rand(w, n, 2, 1.0f);
    tu_fill_rand(res0, tot, 3, 1.0f);
    for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
        if (!cf_isa_supported((cf_isa)isa)) continue;
        for (int kind = 0; kind < 3; kind++) {
            inv_arg g = {cf_norm_ops_for((cf_isa)isa), y1, r1, x, w, rows, n, kind};
            memcpy(r1, res0, tot * 4);
            if (kind == 2) memcpy(y1, x, tot * 4);
            cf_parallel_run(1, inv_fn, &g);
            for (int nth = 2; nth <= 3; nth++) {
                g.y = yk, g.res = rk;
                memcpy(rk, res0, tot * 4);
                if (kind == 2) memcpy(yk, x, tot * 4);
                cf_parallel_run(nth, inv_fn, &g);
                ck_assert_msg(memcmp(y1, yk, tot * 4) == 0, "isa %d kind %d nth %d differs", isa, kind, nth);
                if (kind == 1) ck_assert_int_eq(memcmp(r1, rk, tot * 4), 0);
            }
            if (kind == 0) { /* batch invariance: row 7 alone equals row 7 in the batch */
                float one[260];
                g.ops->rmsnorm(&cf_par_serial, one, x + 7 * n, w, 1, n, EPS);
                ck_assert_int_eq(memcmp(one, y1 + 7 * n, n * 4), 0);
            }
        }
    }
    free(x), free(w), free(res0), free(y1), free(yk), free(r1), free(rk);
}
END_TEST

/* Outputs larger than the L3 are written with streaming stores: same values as row by row. */
START_TEST(test_rmsnorm_streaming) {
    int64_t n = 1031; /* odd: rows start at every alignment */
    int64_t rows = (int64_t)(cf_cpu()->l3 / (4 * (size_t)n)) + 3;
    size_t tot = (size_t)(rows * n);
    float *x = malloc(tot * 4), *w = malloc(n * 4), *y = malloc(tot * 4), *res = malloc(tot * 4);
    float *one = malloc(n * 4), *r1 = malloc(n * 4);
    ck_assert(x && w && y && res && one && r1);
    tu_fill_rand(x, tot, 21, 1.0f);
    tu_fill_rand(w, n, 22, 1.0f);
    static const int64_t probe[] = {0, 1, 2, 7, 1000, -1};
    for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
        if (!cf_isa_supported((cf_isa)isa)) continue;
        const cf_norm_ops *ops = cf_norm_ops_for((cf_isa)isa);
        ops->rmsnorm(&cf_par_serial, y, x, w, rows, n, EPS);
        for (size_t k = 0; k < sizeof probe / sizeof *probe; k++) {
            int64_t r = probe[k] < 0 ? rows - 1 : probe[k];
            ops->rmsnorm(&cf_par_serial, one, x + r * n, w, 1, n, EPS);
            ck_assert_msg(memcmp(one, y + r * n, n * 4) == 0, "isa %d row %lld", isa, (long long)r);
        }
        memset(res, 0, tot * 4);
        ops->rmsnorm_add(&cf_par_serial, y, res, x, w, rows, n, EPS);
        int64_t r = rows - 2;
        memset(r1, 0, n * 4);
        ops->rmsnorm_add(&cf_par_serial, one, r1, x + r * n, w, 1, n, EPS);
        ck_assert_int_eq(memcmp(one, y + r * n, n * 4), 0);
    }
    free(x), free(w), free(y), free(res), free(one), free(r1);
}
END_TEST

START_TEST(test_dispatch) {
    ck_assert_ptr_eq(cf_norm_ops_for(CF_ISA_AVX512VNNI), cf_norm_ops_for(CF_ISA_AVX512));
    float x[9] = {1, -2, 3, -4, 5, -6, 7, -8, 9}, y[9], yr[9];
    cf_rmsnorm(&cf_par_serial, y, x, NULL, 1, 9, EPS);
    cf_norm_ops_for(cf_isa_active())->rmsnorm(&cf_par_serial, yr, x, NULL, 1, 9, EPS);
    ck_assert_int_eq(memcmp(y, yr, sizeof y), 0);
    double ss = 0;
    for (int i = 0; i < 9; i++) ss += y[i] * (double)y[i];
    ck_assert(fabs(ss / 9 - 1.0) < 1e-5); /* unit RMS */
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("norm");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rmsnorm_paths);
    tcase_add_test(tc, test_rmsnorm_add_paths);
    tcase_add_test(tc, test_headnorm_paths);
    tcase_add_test(tc, test_thread_invariance);
    tcase_add_test(tc, test_rmsnorm_streaming);
    tcase_add_test(tc, test_dispatch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
