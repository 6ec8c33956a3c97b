/* Kernel-bench family: RoPE (both layouts) and fused head-norm + RoPE, swept over sequence length
 * x heads (head_dim 128), from one decode token to working sets far beyond L3. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/kbench.h"
#include "kernels/rope.h"

#define EPS 1e-6f
#define VERIFY_ABS_TOL 2e-6 /* inputs in [-1, 1]; after the head norm values are O(1) too */

typedef struct {
    int fused;
    int64_t n_tok;
    int heads, hd;
    cf_rope_cfg cfg;
    float *x, *w;
    int32_t *pos;
} st_t;

static void fill(float *x, size_t n, uint64_t seed, float scale) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = ((float)(s >> 40) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
}

static void call(const cf_par *p, const st_t *s, const cf_rope_ops *ops, float *x) {
    int64_t ld = (int64_t)s->heads * s->hd;
    if (s->fused)
        ops ? ops->headnorm_rope(p, x, s->n_tok, ld, s->heads, s->hd, s->w, EPS, s->pos, &s->cfg)
            : cf_headnorm_rope(p, x, s->n_tok, ld, s->heads, s->hd, s->w, EPS, s->pos, &s->cfg);
    else
        ops ? ops->rope(p, x, s->n_tok, ld, s->heads, s->hd, s->pos, &s->cfg)
            : cf_rope(p, x, s->n_tok, ld, s->heads, s->hd, s->pos, &s->cfg);
}

static int verify(kb_case *c, char *msg, size_t cap) {
    st_t *s = c->state;
    size_t tot = (size_t)s->n_tok * s->heads * s->hd;
    if (!s->x) {
        s->x = kb_alloc(tot * 4);
        s->w = kb_alloc(s->hd * 4);
        s->pos = kb_alloc(sizeof(int32_t) * s->n_tok);
        if (!s->x || !s->w || !s->pos) {
            snprintf(msg, cap, "out of memory");
            return -1;
        }
        fill(s->x, tot, 11, 1.0f);
        fill(s->w, s->hd, 12, 1.0f);
        /* a decode token sits deep in the context; longer runs are a prefill from 0 */
        for (int64_t t = 0; t < s->n_tok; t++) s->pos[t] = (int32_t)(s->n_tok == 1 ? 4000 : t);
    }
    float *a = malloc(tot * 4), *b = malloc(tot * 4);
    int rc = -1;
    if (a && b) {
        memcpy(a, s->x, tot * 4), memcpy(b, s->x, tot * 4);
        call(&cf_par_serial, s, NULL, a);
        call(&cf_par_serial, s, cf_rope_ops_for(CF_ISA_REF), b);
        rc = 0;
        for (size_t i = 0; i < tot && !rc; i++)
            if (!(fabs((double)a[i] - b[i]) <= VERIFY_ABS_TOL)) {
                snprintf(msg, cap, "element %zu: %.9g vs reference %.9g", i, a[i], b[i]);
                rc = -1;
            }
    } else {
        snprintf(msg, cap, "out of memory");
    }
    free(a), free(b);
    return rc;
}

static void run(const cf_par *p, kb_case *c) {
    st_t *s = c->state;
    call(p, s, NULL, s->x);
}

static void release(kb_case *c) {
    st_t *s = c->state;
    if (s) free(s->x), free(s->w), free(s->pos);
    free(s);
    c->state = NULL;
}

static int push(kb_case **cases, int *n, int *cap, int fused, int mode, int64_t n_tok, int heads, int hd) {
    kb_case *c = kb_push(cases, n, cap);
    st_t *s = calloc(1, sizeof *s);
    if (!c || !s) {
        free(s);
        return -1;
    }
    s->fused = fused, s->n_tok = n_tok, s->heads = heads, s->hd = hd;
    s->cfg = (cf_rope_cfg){mode, hd, mode == CF_ROPE_NEOX ? 1000000.0f : 10000.0f, 1.0f};
    double el = (double)n_tok * heads * hd;
    snprintf(c->kernel, sizeof c->kernel, fused ? "headnorm_rope" : "rope");
    snprintf(c->size, sizeof c->size, "tok=%lld heads=%d hd=%d", (long long)n_tok, heads, hd);
    snprintf(c->type, sizeof c->type, mode == CF_ROPE_NEOX ? "neox" : "norm");
    c->bytes = 8 * el + 4.0 * n_tok;
    c->ops = (fused ? 7 : 3) * el; /* rotation: 2 mul + 1 fma per element (+ the norm) */
    c->limit = KB_LIMIT_BW;
    c->work = (long)el;
    c->thresh = fused ? "thresh_qknorm" : "thresh_rope";
    c->state = s;
    c->verify = verify;
    c->run = run;
    c->free = release;
    return 0;
}

int kb_family_rope(int quick, kb_case **cases, int *n, int *cap) {
    static const int64_t toks_full[] = {1, 4, 16, 64, 256, 1024, 4096, 16384},
                         toks_quick[] = {1, 64, 1024, 8192};
    static const int heads_full[] = {8, 32}, heads_quick[] = {16};
    const int64_t *toks = quick ? toks_quick : toks_full;
    const int *heads = quick ? heads_quick : heads_full;
    int nt = quick ? 4 : 8, nh = quick ? 1 : 2;
    for (int mode = 0; mode <= 2; mode += 2)
        for (int h = 0; h < nh; h++)
            for (int t = 0; t < nt; t++)
                if (push(cases, n, cap, 0, mode, toks[t], heads[h], 128)) return -1;
    static const int64_t ftoks[] = {1, 64, 512, 4096};
    for (int t = 0; t < (quick ? 3 : 4); t++) /* qwen3 Q: 16 heads x 128, NeoX */
        if (push(cases, n, cap, 1, CF_ROPE_NEOX, ftoks[t], 16, 128)) return -1;
    return 0;
}
