#include "model/context.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/parallel.h"
#include "kernels/quant.h"

#define DEFAULT_CTX 4096
#define DEFAULT_BATCH 512
#define MAX_BATCH 65536
#define MAX_SEQ 4096

cf_ctx_params cf_ctx_default(void) {
    cf_ctx_params p = {0, 1, DEFAULT_BATCH, CF_T_F16, 0};
    return p;
}

static void *xalloc(cf_context *c, size_t bytes, int *fail) {
    bytes = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) *fail = 1;
    else c->scratch_bytes += bytes;
    return p;
}

/* Every weight type a forward pass multiplies by, with the K it is used at. */
static void act_sizes(cf_context *c, int64_t M, size_t *max_bytes) {
    const cf_model *m = c->m;
    *max_bytes = 0;
    for (int l = 0; l <= m->hp.n_layer; l++) {
        const cf_wmat *ws[7];
        int nw = 0;
        if (l < m->hp.n_layer) {
            const cf_layer *ly = &m->layers[l];
            const cf_wmat *t[7] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w_gate, &ly->w_up, &ly->w_down};
            memcpy(ws, t, sizeof t);
            nw = 7;
        } else {
            ws[0] = &m->output;
            nw = 1;
        }
        for (int i = 0; i < nw; i++) {
            size_t b = cf_act_bytes(ws[i]->type, M, ws[i]->k);
            if (b > *max_bytes) *max_bytes = b;
        }
    }
}

int cf_context_init(cf_context *c, const cf_model *m, const cf_ctx_params *pp, cf_err *err) {
    memset(c, 0, sizeof *c);
    cf_ctx_params p = pp ? *pp : cf_ctx_default();
    if (p.n_ctx <= 0) p.n_ctx = m->hp.n_ctx_train > 0 && m->hp.n_ctx_train < DEFAULT_CTX ? m->hp.n_ctx_train : DEFAULT_CTX;
    if (p.n_seq <= 0) p.n_seq = 1;
    if (p.n_batch <= 0) p.n_batch = DEFAULT_BATCH;
    if (p.n_threads <= 0) p.n_threads = cf_default_threads();
    if (p.n_seq > MAX_SEQ) return cf_errf(err, CF_ELIMIT, "%d sequences exceed the cap of %d", p.n_seq, MAX_SEQ);
    if (p.n_batch > MAX_BATCH) return cf_errf(err, CF_ELIMIT, "batch of %d tokens exceeds the cap of %d", p.n_batch, MAX_BATCH);
    if (p.n_ctx > INT32_MAX) return cf_errf(err, CF_ELIMIT, "context of %lld positions is too large", (long long)p.n_ctx);
    c->m = m;
    c->p = p;
    const cf_hparams *hp = &m->hp;
    c->q_dim = hp->n_head * hp->head_dim;
    c->kv_dim = hp->n_head_kv * hp->head_dim;
    c->qkv_ld = c->q_dim + 2 * c->kv_dim;
    int rc = cf_kv_init(&c->kv, p.kv_type, hp->n_layer, p.n_seq, p.n_ctx, c->kv_dim, err);
    if (rc) return rc;
    size_t B = (size_t)p.n_batch;
    int fail = 0;
    c->x = xalloc(c, B * hp->n_embd * sizeof(float), &fail);
    c->xn = xalloc(c, B * hp->n_embd * sizeof(float), &fail);
    c->tmp = xalloc(c, B * hp->n_embd * sizeof(float), &fail);
    c->qkv = xalloc(c, B * c->qkv_ld * sizeof(float), &fail);
    c->att = xalloc(c, B * c->q_dim * sizeof(float), &fail);
    c->gate = xalloc(c, B * hp->n_ff * sizeof(float), &fail);
    c->up = xalloc(c, B * hp->n_ff * sizeof(float), &fail);
    c->h = xalloc(c, B * hp->n_ff * sizeof(float), &fail);
    act_sizes(c, p.n_batch, &c->act_bytes);
    for (int i = 0; i < 3; i++) c->act[i] = xalloc(c, c->act_bytes, &fail);
    c->grp_row0 = xalloc(c, B * sizeof(int32_t), &fail);
    c->grp_n = xalloc(c, B * sizeof(int32_t), &fail);
    c->grp_seq = xalloc(c, B * sizeof(int32_t), &fail);
    c->out_rows = xalloc(c, B * sizeof(int32_t), &fail);
    c->sub_rows = xalloc(c, B * sizeof(int32_t), &fail);
    c->attn = xalloc(c, B * sizeof(cf_attn_seq), &fail);
    if (fail) {
        size_t want = c->scratch_bytes;
        cf_context_free(c);
        return cf_errf(err, CF_ENOMEM, "out of memory for %.1f+ MiB of scratch (batch %d)", (double)want / 1048576.0,
                       p.n_batch);
    }
    return 0;
}

void cf_context_free(cf_context *c) {
    cf_kv_free(&c->kv);
    void *bufs[] = {c->x, c->xn, c->tmp, c->qkv, c->att, c->gate, c->up, c->h, c->act[0], c->act[1], c->act[2],
                    c->grp_row0, c->grp_n, c->grp_seq, c->out_rows, c->sub_rows, c->act_row, c->attn};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    memset(c, 0, sizeof *c);
}

void cf_context_clear_seq(cf_context *c, int s) { cf_kv_clear(&c->kv, s); }

int64_t cf_context_seq_len(const cf_context *c, int s) {
    return s >= 0 && s < c->kv.n_seq ? c->kv.len[s] : 0;
}

void cf_context_print_mem(const cf_context *c, FILE *f) {
    const double MiB = 1048576.0;
    const cf_model *m = c->m;
    char pk[64] = "";
    if (m->pack_bytes) snprintf(pk, sizeof pk, ", packed copy %.1f MiB", (double)m->pack_bytes / MiB);
    fprintf(f, "memory: weights %.1f MiB (mmap, %lld params%s%s), KV cache %.1f MiB (%s, %d seq x %lld ctx), "
               "scratch %.1f MiB (batch %d)\n",
            (double)m->weight_bytes / MiB, (long long)m->n_params, m->tied ? ", tied output" : "", pk,
            (double)c->kv.bytes / MiB, c->kv.type == CF_T_F16 ? "f16" : "f32", c->kv.n_seq, (long long)c->kv.n_ctx,
            (double)c->scratch_bytes / MiB, c->p.n_batch);
}
