/* Kernel-bench family: attention over sequence length x heads.  Decode (one query per sequence,
 * KV-bandwidth bound; one and eight sequences) and prefill (a causal block of n queries over n
 * positions, compute bound), F16 cache (and one F32), head_dim 128; plus the SmolLM2-135M shape
 * (head_dim 64, 9 query / 3 kv heads: "hd=64" in the size) at the contexts its decode sees. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/kbench.h"
#include "kernels/attn.h"
#include "kernels/bigmem.h"
#include "kernels/quant.h"

#define VERIFY_ABS_TOL 2e-5 /* q, k, v in [-1, 1]: outputs are convex combinations of v */
enum { VERIFY_ROWS = 6 };   /* rows per sequence checked against the (slow) reference */

typedef struct {
    cf_attn_shape sh;
    int n_seqs, kv_type;
    int64_t n_q, n_kv;
    cf_attn_seq *seqs;
    void *kv; /* one allocation per case: K then V for all sequences */
    float *q, *out;
    int32_t *pos;
} st_t;

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(*s >> 40) / 16777216.0f * 2.0f - 1.0f;
}

static int ensure(st_t *s) {
    if (s->seqs) return 0;
    int64_t ld = (int64_t)s->sh.n_head * s->sh.head_dim, kvs = (int64_t)s->sh.n_kv_head * s->sh.head_dim;
    size_t esz = s->kv_type == CF_T_F16 ? 2 : 4, per = (size_t)(s->n_kv * kvs);
    s->seqs = kb_alloc(s->n_seqs * sizeof(cf_attn_seq));
    s->kv = cf_alloc_big(per * esz * 2 * s->n_seqs); /* as the model's KV cache */
    s->q = kb_alloc(sizeof(float) * s->n_seqs * s->n_q * ld);
    s->out = kb_alloc(sizeof(float) * (size_t)(s->n_seqs * s->n_q * ld));
    s->pos = kb_alloc(sizeof(int32_t) * s->n_q);
    if (!s->seqs || !s->kv || !s->q || !s->out || !s->pos) return -1;
    uint64_t r = 99;
    for (size_t i = 0; i < per * 2 * s->n_seqs; i++) {
        float v = frand(&r);
        if (esz == 2)
            ((uint16_t *)s->kv)[i] = cf_f32_to_f16(v);
        else
            ((float *)s->kv)[i] = v;
    }
    for (int64_t i = 0; i < s->n_seqs * s->n_q * ld; i++) s->q[i] = frand(&r);
    for (int64_t t = 0; t < s->n_q; t++) s->pos[t] = (int32_t)(s->n_kv - s->n_q + t);
    for (int i = 0; i < s->n_seqs; i++) {
        const char *k = (const char *)s->kv + (size_t)2 * i * per * esz;
        s->seqs[i] = (cf_attn_seq){s->q + i * s->n_q * ld,
                                   s->out + i * s->n_q * ld,
                                   s->pos,
                                   s->n_q,
                                   k,
                                   k + per * esz,
                                   kvs,
                                   s->n_kv,
                                   s->kv_type};
    }
    return 0;
}

static int verify(kb_case *c, char *msg, size_t cap) {
    st_t *s = c->state;
    if (ensure(s)) {
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    int64_t ld = s->sh.ldo;
    cf_attention(&cf_par_serial, &s->sh, s->seqs, s->n_seqs);
    /* rows are independent: check a spread of rows of each sequence against the reference */
    float *ref = malloc(sizeof(float) * ld);
    if (!ref) {
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < s->n_seqs && !rc; i++)
        for (int k = 0; k < VERIFY_ROWS && !rc; k++) {
            int64_t row = s->n_q <= VERIFY_ROWS ? k : (s->n_q - 1) * k / (VERIFY_ROWS - 1);
            if (row >= s->n_q) break;
            cf_attn_seq one = s->seqs[i];
            one.q += row * s->sh.ldq, one.pos += row, one.n_q = 1, one.out = ref;
            cf_attn_ops_for(CF_ISA_REF)->attention(&cf_par_serial, &s->sh, &one, 1);
            const float *got = s->seqs[i].out + row * ld;
            for (int64_t e = 0; e < (int64_t)s->sh.n_head * s->sh.head_dim; e++)
                if (!(fabs((double)got[e] - ref[e]) <= VERIFY_ABS_TOL)) {
                    snprintf(msg, cap, "seq %d row %lld element %lld: %.8g vs reference %.8g", i,
                             (long long)row, (long long)e, got[e], ref[e]);
                    rc = -1;
                    break;
                }
        }
    free(ref);
    return rc;
}

static void run(const cf_par *p, kb_case *c) {
    st_t *s = c->state;
    cf_attention(p, &s->sh, s->seqs, s->n_seqs);
}

static void release(kb_case *c) {
    st_t *s = c->state;
    if (s) free(s->seqs), free(s->kv), free(s->q), free(s->out), free(s->pos);
    free(s);
    c->state = NULL;
}

static int push(kb_case **cases, int *n, int *cap, int n_seqs, int64_t n_q, int64_t n_kv, int heads,
                int kv_heads, int hd, int kv_type) {
    kb_case *c = kb_push(cases, n, cap);
    st_t *s = calloc(1, sizeof *s);
    if (!c || !s) {
        free(s);
        return -1;
    }
    int64_t ld = (int64_t)heads * hd;
    s->sh = (cf_attn_shape){heads, kv_heads, hd, ld, ld, 1.0f / sqrtf((float)hd)};
    s->n_seqs = n_seqs, s->n_q = n_q, s->n_kv = n_kv, s->kv_type = kv_type;
    double att = 0; /* attended positions summed over the query rows of one sequence */
    for (int64_t t = 0; t < n_q; t++) att += (double)(n_kv - n_q + t + 1);
    double esz = kv_type == CF_T_F16 ? 2 : 4;
    snprintf(c->kernel, sizeof c->kernel, "attn");
    char hds[16] = "";
    if (hd != 128) snprintf(hds, sizeof hds, " hd=%d", hd);
    if (n_q == 1)
        snprintf(c->size, sizeof c->size, "decode seqs=%d kv=%lld heads=%d/%d%s", n_seqs, (long long)n_kv,
                 heads, kv_heads, hds);
    else
        snprintf(c->size, sizeof c->size, "prefill q=%lld kv=%lld heads=%d/%d%s", (long long)n_q,
                 (long long)n_kv, heads, kv_heads, hds);
    snprintf(c->type, sizeof c->type, kv_type == CF_T_F16 ? "f16" : "f32");
    c->bytes = n_seqs * (2.0 * n_kv * kv_heads * hd * esz + 2.0 * n_q * ld * 4);
    c->ops = n_seqs * att * heads * hd * 4.0; /* q.k and p.v: 2 multiply-adds per element */
    c->limit = n_q == 1 ? KB_LIMIT_BW : KB_LIMIT_FP32;
    c->work = (long)(n_seqs * att * heads * hd * 2.0);
    c->thresh = "thresh_attn";
    c->state = s;
    c->verify = verify;
    c->run = run;
    c->free = release;
    return 0;
}

int kb_family_attn(int quick, kb_case **cases, int *n, int *cap) {
    static const int64_t kv_full[] = {16, 128, 512, 2048, 8192, 32768}, kv_quick[] = {16, 512, 4096, 16384};
    static const int heads_full[][2] = {{16, 8}, {32, 8}}, heads_quick[][2] = {{16, 8}};
    const int64_t *kvs = quick ? kv_quick : kv_full;
    int nk = quick ? 4 : 6, nh = quick ? 1 : 2;
    for (int h = 0; h < nh; h++) {
        const int *hh = quick ? heads_quick[h] : heads_full[h];
        for (int k = 0; k < nk; k++)
            if (push(cases, n, cap, 1, 1, kvs[k], hh[0], hh[1], 128, CF_T_F16)) return -1;
    }
    if (push(cases, n, cap, 1, 1, 4096, 16, 8, 128, CF_T_F32)) return -1;
    if (push(cases, n, cap, 8, 1, quick ? 1024 : 4096, 16, 8, 128, CF_T_F16)) return -1;
    static const int64_t pf[] = {16, 128, 512, 2048};
    for (int k = 0; k < (quick ? 3 : 4); k++)
        if (push(cases, n, cap, 1, pf[k], pf[k], 16, 8, 128, CF_T_F16)) return -1;
    /* SmolLM2-135M: decode of one and of eight sequences at short and medium contexts, prefill */
    static const int64_t smol_full[] = {64, 256, 512}, smol_quick[] = {256};
    for (int ns = 1; ns <= 8; ns += 7)
        for (int k = 0; k < (quick ? 1 : 3); k++)
            if (push(cases, n, cap, ns, 1, quick ? smol_quick[k] : smol_full[k], 9, 3, 64, CF_T_F16)) return -1;
    if (push(cases, n, cap, 1, 512, 512, 9, 3, 64, CF_T_F16)) return -1;
    return 0;
}
