/* Kernel-bench family: the small ops over n (softmax over vocabulary-sized rows, SwiGLU over
 * FFN rows, GELU, add, scale) and the embedding lookup (dequantizing rows). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/kbench.h"
#include "kernels/ops.h"
#include "kernels/quant.h"

#define VERIFY_REL_TOL 4e-6 /* active path vs reference (exp/tanh approximations), relative */
#define VERIFY_ABS_TOL 1e-6 /* ... plus absolute (gelu's tanh form cancels for x < 0) */

enum { K_SOFTMAX, K_SWIGLU, K_GELU, K_ADD, K_SCALE, K_EMBED };
static const char *k_names[] = {"softmax", "swiglu", "gelu", "add", "scale", "embed"};

typedef struct {
    int kind, type;
    int64_t rows, n; /* embed: rows = tokens, n = dim */
    float *a, *b, *c;
    void *table;
    int32_t *ids;
} st_t;

enum { EMBED_VOCAB = 8192 };

static void fill(float *x, size_t n, uint64_t seed, float scale) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = ((float)(s >> 40) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
}

static int ensure(st_t *s) {
    if (s->a || s->c) return 0;
    size_t tot = (size_t)(s->rows * s->n);
    if (s->kind == K_EMBED) {
        size_t rb = cf_row_bytes(s->type, s->n);
        float *row = malloc(s->n * 4);
        s->table = kb_alloc(rb * EMBED_VOCAB);
        s->ids = kb_alloc(sizeof(int32_t) * s->rows);
        s->c = kb_alloc(tot * 4);
        if (!row || !s->table || !s->ids || !s->c || !rb) return free(row), -1;
        for (int r = 0; r < EMBED_VOCAB; r++) {
            fill(row, s->n, 1000 + r, 1.0f);
            if (cf_quantize_row(s->type, row, (char *)s->table + rb * r, s->n)) return free(row), -1;
        }
        free(row);
        for (int64_t t = 0; t < s->rows; t++) s->ids[t] = (int32_t)((t * 2654435761u) % EMBED_VOCAB);
        return 0;
    }
    s->a = kb_alloc(tot * 4);
    s->b = kb_alloc(tot * 4);
    s->c = kb_alloc(tot * 4);
    if (!s->a || !s->b || !s->c) return -1;
    fill(s->a, tot, 1, s->kind == K_SOFTMAX ? 10.0f : s->kind == K_SWIGLU || s->kind == K_GELU ? 6.0f : 1.0f);
    fill(s->b, tot, 2, 1.0f);
    memset(s->c, 0, tot * 4);
    return 0;
}

/* One call; ops NULL = the public (active ISA) entry point.  Writes to a (softmax, add, scale)
 * or c (swiglu, gelu, embed). */
static void call(const cf_par *p, st_t *s, const cf_ops_ops *ops, float *a, float *c) {
    int64_t tot = s->rows * s->n;
    switch (s->kind) {
    case K_SOFTMAX: ops ? ops->softmax(p, a, s->rows, s->n) : cf_softmax(p, a, s->rows, s->n); break;
    case K_SWIGLU:
        ops ? ops->swiglu(p, c, s->n, a, s->b, s->n, s->rows, s->n)
            : cf_swiglu(p, c, s->n, a, s->b, s->n, s->rows, s->n);
        break;
    case K_GELU: ops ? ops->gelu(p, c, a, tot) : cf_gelu(p, c, a, tot); break;
    case K_ADD: ops ? ops->add(p, a, s->b, tot) : cf_add(p, a, s->b, tot); break;
    case K_SCALE: ops ? ops->scale(p, a, 1.0f, tot) : cf_scale(p, a, 1.0f, tot); break;
    case K_EMBED: cf_embed(p, c, s->table, s->type, s->n, s->ids, s->rows); break;
    }
}

static int verify(kb_case *cs, char *msg, size_t cap) {
    st_t *s = cs->state;
    if (ensure(s)) {
        snprintf(msg, cap, "out of memory or unsupported type");
        return -1;
    }
    size_t tot = (size_t)(s->rows * s->n);
    int rc = 0;
    if (s->kind == K_EMBED) {
        float *want = malloc(s->n * 4);
        if (!want) return snprintf(msg, cap, "out of memory"), -1;
        call(&cf_par_serial, s, NULL, NULL, s->c);
        size_t rb = cf_row_bytes(s->type, s->n);
        for (int64_t t = 0; t < s->rows && !rc; t++) {
            cf_dequantize_row_ref(s->type, (const char *)s->table + rb * s->ids[t], want, s->n);
            if (memcmp(want, s->c + t * s->n, s->n * 4)) {
                snprintf(msg, cap, "token %lld differs from the reference dequantization", (long long)t);
                rc = -1;
            }
        }
        free(want);
        return rc;
    }
    float *a1 = malloc(tot * 4), *a2 = malloc(tot * 4), *c1 = malloc(tot * 4), *c2 = malloc(tot * 4);
    if (!a1 || !a2 || !c1 || !c2) {
        free(a1), free(a2), free(c1), free(c2);
        return snprintf(msg, cap, "out of memory"), -1;
    }
    memcpy(a1, s->a, tot * 4), memcpy(a2, s->a, tot * 4);
    call(&cf_par_serial, s, NULL, a1, c1);
    call(&cf_par_serial, s, cf_ops_for(CF_ISA_REF), a2, c2);
    const float *x = a1, *y = a2;
    if (s->kind == K_SWIGLU || s->kind == K_GELU) x = c1, y = c2;
    for (size_t i = 0; i < tot && !rc; i++)
        if (!(fabs((double)x[i] - y[i]) <= VERIFY_REL_TOL * fabs(y[i]) + VERIFY_ABS_TOL)) {
            snprintf(msg, cap, "element %zu: %.9g vs reference %.9g", i, x[i], y[i]);
            rc = -1;
        }
    free(a1), free(a2), free(c1), free(c2);
    return rc;
}

static void run(const cf_par *p, kb_case *c) {
    st_t *s = c->state;
    call(p, s, NULL, s->a, s->c);
}

static void release(kb_case *c) {
    st_t *s = c->state;
    if (s) free(s->a), free(s->b), free(s->c), free(s->table), free(s->ids);
    free(s);
    c->state = NULL;
}

static int push(kb_case **cases, int *n, int *cap, int kind, int64_t rows, int64_t dim, int type) {
    kb_case *c = kb_push(cases, n, cap);
    st_t *s = calloc(1, sizeof *s);
    if (!c || !s) {
        free(s);
        return -1;
    }
    s->kind = kind, s->rows = rows, s->n = dim, s->type = type;
    double el = (double)rows * dim;
    snprintf(c->kernel, sizeof c->kernel, "%s", k_names[kind]);
    if (kind == K_SOFTMAX || kind == K_SWIGLU)
        snprintf(c->size, sizeof c->size, "rows=%lld n=%lld", (long long)rows, (long long)dim);
    else if (kind == K_EMBED)
        snprintf(c->size, sizeof c->size, "tok=%lld dim=%lld", (long long)rows, (long long)dim);
    else
        snprintf(c->size, sizeof c->size, "n=%lld", (long long)dim);
    snprintf(c->type, sizeof c->type, "%s", kind == K_EMBED ? cf_dtype_get(type)->name : "f32");
    static const double bytes_per[] = {8, 12, 8, 12, 8, 0}, ops_per[] = {4, 4, 6, 1, 1, 2};
    c->bytes = kind == K_EMBED ? rows * (double)cf_row_bytes(type, dim) + 4 * el : bytes_per[kind] * el;
    c->ops = ops_per[kind] * el;
    c->limit = KB_LIMIT_BW;
    c->work = (long)el;
    static const char *thr[] = {"thresh_softmax", "thresh_swiglu", "thresh_swiglu",
                                "thresh_vec",     "thresh_vec",    "thresh_embed"};
    c->thresh = thr[kind];
    c->state = s;
    c->verify = verify;
    c->run = run;
    c->free = release;
    return 0;
}

int kb_family_ops(int quick, kb_case **cases, int *n, int *cap) {
    static const int64_t sm_n[] = {1024, 32000, 151936}, sm_rows[] = {1, 32};
    for (int r = 0; r < (quick ? 1 : 2); r++)
        for (int i = 0; i < 3; i++)
            if ((!quick || i != 1) && push(cases, n, cap, K_SOFTMAX, sm_rows[r], sm_n[i], 0)) return -1;
    static const int64_t sw_rows[] = {1, 16, 128, 512};
    for (int r = 0; r < 4; r++)
        if ((!quick || r == 0 || r == 3) && push(cases, n, cap, K_SWIGLU, sw_rows[r], 3072, 0)) return -1;
    static const int64_t el_full[] = {1000, 30000, 300000, 3000000, 30000000},
                         el_quick[] = {1000, 100000, 3000000};
    const int64_t *el = quick ? el_quick : el_full;
    for (int k = K_GELU; k <= K_SCALE; k++)
        for (int i = 0; i < (quick ? 3 : 5); i++)
            if (push(cases, n, cap, k, 1, el[i], 0)) return -1;
    static const int64_t toks[] = {1, 64, 512};
    for (int i = 0; i < 3; i++)
        if ((!quick || i != 1) && push(cases, n, cap, K_EMBED, toks[i], 1024, CF_T_Q8_0)) return -1;
    if (!quick && push(cases, n, cap, K_EMBED, 512, 1024, CF_T_F32)) return -1;
    return 0;
}
