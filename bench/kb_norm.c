/* Kernel-bench family: RMSNorm (sweep over dim and rows, up to working sets far beyond L3), fused
 * residual RMSNorm, and per-head norm.  Buffers are allocated on first verify. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/kbench.h"
#include "kernels/norm.h"

#define EPS 1e-6f
#define VERIFY_REL_TOL 1e-5 /* active path vs reference, relative per element (+1e-6 absolute) */

enum { K_RMS, K_RMS_ADD, K_HEAD };

typedef struct {
    int kind;
    int64_t rows, n; /* K_HEAD: rows = tokens, n = heads x head_dim */
    int heads, hd;
    float *x, *w, *y, *res;
} st_t;

static void fill(float *x, size_t n, uint64_t seed, float scale) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = ((float)(s >> 40) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
}

static int ensure(st_t *s) {
    if (s->x) return 0;
    size_t tot = (size_t)(s->rows * s->n), wn = s->kind == K_HEAD ? (size_t)s->hd : (size_t)s->n;
    s->x = kb_alloc(tot * 4);
    s->w = kb_alloc(wn * 4);
    s->y = s->kind == K_HEAD ? NULL : kb_alloc(tot * 4);
    s->res = s->kind == K_RMS_ADD ? kb_alloc(tot * 4) : NULL;
    if (!s->x || !s->w || (s->kind != K_HEAD && !s->y) || (s->kind == K_RMS_ADD && !s->res)) return -1;
    fill(s->x, tot, 1, 1.0f);
    fill(s->w, wn, 2, 1.0f);
    if (s->res) fill(s->res, tot, 3, 1.0f);
    if (s->y) memset(s->y, 0, tot * 4);
    return 0;
}

static int compare(const float *a, const float *ref, size_t n, char *msg, size_t cap) {
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - ref[i]) <= VERIFY_REL_TOL * fabs(ref[i]) + 1e-6)) {
            snprintf(msg, cap, "element %zu: %.9g vs reference %.9g", i, a[i], ref[i]);
            return -1;
        }
    return 0;
}

static void call(const cf_par *p, st_t *s, const cf_norm_ops *ops, float *y, float *res, float *x) {
    if (s->kind == K_RMS)
        ops ? ops->rmsnorm(p, y, x, s->w, s->rows, s->n, EPS) : cf_rmsnorm(p, y, x, s->w, s->rows, s->n, EPS);
    else if (s->kind == K_RMS_ADD)
        ops ? ops->rmsnorm_add(p, y, res, x, s->w, s->rows, s->n, EPS)
            : cf_rmsnorm_add(p, y, res, x, s->w, s->rows, s->n, EPS);
    else
        ops ? ops->headnorm(p, x, s->rows, s->n, s->heads, s->hd, s->w, EPS)
            : cf_headnorm(p, x, s->rows, s->n, s->heads, s->hd, s->w, EPS);
}

static int verify(kb_case *c, char *msg, size_t cap) {
    st_t *s = c->state;
    if (ensure(s)) {
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    size_t tot = (size_t)(s->rows * s->n);
    float *x1 = malloc(tot * 4), *x2 = malloc(tot * 4), *y1 = malloc(tot * 4), *y2 = malloc(tot * 4);
    float *r1 = malloc(tot * 4), *r2 = malloc(tot * 4);
    int rc = -1;
    if (x1 && x2 && y1 && y2 && r1 && r2) {
        memcpy(x1, s->x, tot * 4), memcpy(x2, s->x, tot * 4);
        if (s->res) memcpy(r1, s->res, tot * 4), memcpy(r2, s->res, tot * 4);
        call(&cf_par_serial, s, NULL, y1, r1, x1);
        call(&cf_par_serial, s, cf_norm_ops_for(CF_ISA_REF), y2, r2, x2);
        rc = s->kind == K_HEAD ? compare(x1, x2, tot, msg, cap) : compare(y1, y2, tot, msg, cap);
        if (!rc && s->kind == K_RMS_ADD) rc = compare(r1, r2, tot, msg, cap);
    } else {
        snprintf(msg, cap, "out of memory");
    }
    free(x1), free(x2), free(y1), free(y2), free(r1), free(r2);
    return rc;
}

static void run(const cf_par *p, kb_case *c) {
    st_t *s = c->state;
    call(p, s, NULL, s->y, s->res, s->x);
}

static void release(kb_case *c) {
    st_t *s = c->state;
    if (s) free(s->x), free(s->w), free(s->y), free(s->res);
    free(s);
    c->state = NULL;
}

static int push(kb_case **cases, int *n, int *cap, int kind, int64_t rows, int64_t dim, int heads, int hd) {
    kb_case *c = kb_push(cases, n, cap);
    st_t *s = calloc(1, sizeof *s);
    if (!c || !s) {
        free(s);
        return -1;
    }
    *s = (st_t){kind, rows, dim, heads, hd, NULL, NULL, NULL, NULL};
    double el = (double)rows * dim;
    if (kind == K_RMS) {
        snprintf(c->kernel, sizeof c->kernel, "rmsnorm");
        snprintf(c->size, sizeof c->size, "rows=%lld n=%lld", (long long)rows, (long long)dim);
        c->bytes = 8 * el + 4.0 * dim;
        c->ops = 4 * el;
        c->thresh = "thresh_rmsnorm";
    } else if (kind == K_RMS_ADD) {
        snprintf(c->kernel, sizeof c->kernel, "rmsnorm_add");
        snprintf(c->size, sizeof c->size, "rows=%lld n=%lld", (long long)rows, (long long)dim);
        c->bytes = 16 * el + 4.0 * dim;
        c->ops = 5 * el;
        c->thresh = "thresh_rmsnorm";
    } else {
        snprintf(c->kernel, sizeof c->kernel, "headnorm");
        snprintf(c->size, sizeof c->size, "tok=%lld heads=%d hd=%d", (long long)rows, heads, hd);
        c->bytes = 8 * el + 4.0 * hd;
        c->ops = 4 * el;
        c->thresh = "thresh_qknorm";
    }
    snprintf(c->type, sizeof c->type, "f32");
    c->limit = KB_LIMIT_BW;
    c->work = (long)el;
    c->state = s;
    c->verify = verify;
    c->run = run;
    c->free = release;
    return 0;
}

int kb_family_norm(int quick, kb_case **cases, int *n, int *cap) {
    static const int64_t dims_full[] = {576, 1024, 2048, 4096, 8192, 16384}, dims_quick[] = {576, 4096};
    static const int64_t rows_full[] = {1, 4, 16, 64, 256, 1024}, rows_quick[] = {1, 16, 256};
    const int64_t *dims = quick ? dims_quick : dims_full, *rows = quick ? rows_quick : rows_full;
    int nd = quick ? 2 : 6, nr = quick ? 3 : 6;
    for (int i = 0; i < nd; i++)
        for (int j = 0; j < nr; j++)
            if (push(cases, n, cap, K_RMS, rows[j], dims[i], 0, 0)) return -1;
    /* far beyond L3 (32 MiB in + 32 MiB out, and 128 + 128 MiB): DRAM bound */
    if (push(cases, n, cap, K_RMS, 2048, 4096, 0, 0)) return -1;
    if (!quick && push(cases, n, cap, K_RMS, 8192, 4096, 0, 0)) return -1;
    static const int64_t add_rows[] = {1, 64, 1024, 4096};
    for (int j = 0; j < (quick ? 2 : 4); j++)
        if (push(cases, n, cap, K_RMS_ADD, add_rows[j], quick ? 1024 : 2048, 0, 0)) return -1;
    static const int64_t toks[] = {1, 16, 128, 512, 4096};
    for (int j = 0; j < (quick ? 3 : 5); j++) /* qwen3-0.6B Q: 16 heads x 128 */
        if (push(cases, n, cap, K_HEAD, toks[j], 16 * 128, 16, 128)) return -1;
    return 0;
}
