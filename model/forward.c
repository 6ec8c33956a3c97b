/* The batched forward pass: validation, then one parallel region running every layer.
 *
 * Step order per layer (| = team barrier; "rows" steps split batch rows, each thread running the
 * row kernels serially on its own rows, so a row never depends on the split):
 *   QKV matmuls | rows: [Q/K norm +] RoPE, K/V into the cache | attention |
 *   rows: quantize att | Wo matmul | rows: residual + RMSNorm + quantize | gate, up matmuls |
 *   rows: SwiGLU + quantize | down matmul | rows: residual + next RMSNorm + quantize |
 * The embedding lookup is fused into layer 0's first norm.  After the last layer's attention
 * only the rows that want logits go on (Wo, FFN and the output matmul skip the others). */
#include "model/forward.h"
#include "model/fwd_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attn.h"
#include "kernels/clock.h"
#include "kernels/matmul.h"
#include "kernels/norm.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "kernels/quant.h"
#include "kernels/rope.h"
#include "kernels/tuning.h"

/* Activation buffers for one step: weights sharing an activation kind share a buffer. */
typedef struct {
    int n;
    int wtype[3];
    int slot[3];   /* buffer of weight i */
} actset;

static void actset_make(actset *s, const cf_wmat *const *w, int nw) {
    s->n = 0;
    for (int i = 0; i < nw; i++) {
        cf_act_kind k = cf_act_kind_of(w[i]->type);
        int j = 0;
        while (j < s->n && cf_act_kind_of(s->wtype[j]) != k) j++;
        if (j == s->n) s->wtype[s->n++] = w[i]->type;
        s->slot[i] = j;
    }
}

typedef struct {
    cf_context *c;
    const cf_batch *b;
    float *logits;
    int n, n_groups, n_out, n_full, n_sub;
    cf_rope_cfg rope;
    cf_attn_shape ash;
    const cf_tuning *tun;
    int prof;
} fwd_state;

/* ---- profiling (diagnostics only: thread 0's wall time per step) ---- */
static int64_t g_prof[CF_PROF_COUNT], g_prof_n, g_prof_tok, g_prof_out, g_prof_kv, g_prof_wall;
static int64_t g_prof_full_n, g_prof_full_rows, g_prof_sub_ids;
static int g_prof_on = -1;
static const char *k_prof_names[CF_PROF_COUNT] = {"embed+norm", "qkv", "rope+kv", "attention", "wo",
                                                  "norm", "ffn_up", "swiglu", "ffn_down", "output", "barrier"};
void cf_forward_prof_read(cf_fwd_prof *o) {
    memcpy(o->ns, g_prof, sizeof g_prof);
    o->n_forward = g_prof_n, o->tokens = g_prof_tok, o->out_rows = g_prof_out;
    o->kv_attended = g_prof_kv, o->wall_ns = g_prof_wall;
    o->out_full_passes = g_prof_full_n, o->out_full_rows = g_prof_full_rows, o->out_subset_ids = g_prof_sub_ids;
}
void cf_forward_prof_enable(int on) {
    if (on) {
        memset(g_prof, 0, sizeof g_prof);
        g_prof_n = g_prof_tok = g_prof_out = g_prof_kv = g_prof_wall = 0;
        g_prof_full_n = g_prof_full_rows = g_prof_sub_ids = 0;
    }
    g_prof_on = on;
}
const char *cf_prof_name(int step) { return step >= 0 && step < CF_PROF_COUNT ? k_prof_names[step] : "?"; }
void cf_forward_profile(int64_t ns[CF_PROF_COUNT], int64_t *n_forward) {
    memcpy(ns, g_prof, sizeof g_prof);
    if (n_forward) *n_forward = g_prof_n;
}

typedef struct {
    const cf_par *p;
    int on;
    int64_t t;
} tick;
static inline void tick_step(tick *t, int step) {
    if (!t->on) return;
    int64_t now = cf_now_ns();
    g_prof[step] += now - t->t;
    t->t = now;
}

/* Charge the time since the last mark to `step`, then the barrier wait to CF_PROF_BARRIER (thread 0). */
static inline void step_end(tick *t, int step) {
    tick_step(t, step);
    cf_barrier(t->p);
    tick_step(t, CF_PROF_BARRIER);
}

/* This thread's rows of the batch for a row step costing `cost` elements per row; returns how
 * many threads take part. */
static inline int rows_of(const cf_par *p, int64_t n, int64_t cost, long thresh, long *lo, long *hi) {
    cf_split(p, n, cost, thresh, 1, lo, hi);
    return cf_split_used(n, cost, thresh, 1, p->nth);
}

/* Quantizes the M rows of X (row stride ldx, K columns) into every buffer of `as`, right after a
 * row step that `used` threads shared.  The activation layout is private to the matmul kernels
 * (headers, interleaved row groups), so a thread cannot quantize just its rows: when one thread
 * did the whole row step and the quantization would not be split either (thresh_quant_act, M x K
 * elements), that thread quantizes everything with no barrier; otherwise the team meets and
 * quantizes together (the kernel splits rows by its own threshold), so a small row step (decode
 * of a few sequences) does not leave the quantization of a large activation to one thread. */
static void quant_rows(const fwd_state *S, const cf_par *p, const actset *as, const float *X, int64_t ldx,
                       int used, int64_t M, int64_t K) {
    cf_context *c = S->c;
    if (used == 1 && cf_split_nthreads((long)(M * K), S->tun->thresh_quant_act, p->nth) == 1) {
        if (p->ith == 0)
            for (int j = 0; j < as->n; j++) cf_act_quantize(&cf_par_serial, as->wtype[j], c->act[j], X, ldx, M, K);
        return;
    }
    cf_barrier(p);
    for (int j = 0; j < as->n; j++) cf_act_quantize(p, as->wtype[j], c->act[j], X, ldx, M, K);
}

static void layer_qkv_set(const cf_layer *ly, actset *as) {
    const cf_wmat *w[3] = {&ly->wq, &ly->wk, &ly->wv};
    actset_make(as, w, 3);
}

/* The set quantized at the end of layer l for what comes next (layer l+1's QKV or the output). */
static void next_set(const cf_model *m, int l, actset *as) {
    if (l + 1 < m->hp.n_layer) {
        layer_qkv_set(&m->layers[l + 1], as);
    } else {
        const cf_wmat *w[1] = {&m->output};
        actset_make(as, w, 1);
    }
}

static void fwd_thread(const cf_par *p, void *arg) {
    fwd_state *S = arg;
    cf_context *c = S->c;
    const cf_model *m = c->m;
    const cf_hparams *hp = &m->hp;
    const cf_batch *b = S->b;
    const cf_tuning *tu = S->tun;
    const int64_t d = hp->n_embd, ff = hp->n_ff, ld = c->qkv_ld, qd = c->q_dim, kvd = c->kv_dim;
    const float eps = hp->norm_eps;
    tick tk = {p, S->prof && p->ith == 0, S->prof ? cf_now_ns() : 0};
    int64_t M = S->n;
    long lo, hi;
    actset as;

    /* embedding + layer 0's attention norm + quantization, per row */
    layer_qkv_set(&m->layers[0], &as);
    int used = rows_of(p, M, d, tu->thresh_embed, &lo, &hi);
    if (hi > lo) {
        cf_embed(&cf_par_serial, c->x + lo * d, m->tok_embd, m->tok_embd_type, d, b->tok + lo, hi - lo);
        cf_rmsnorm(&cf_par_serial, c->xn + lo * d, c->x + lo * d, m->layers[0].attn_norm, hi - lo, d, eps);
    }
    quant_rows(S, p, &as, c->xn, d, used, M, d);
    step_end(&tk, CF_PROF_EMBED);

    for (int l = 0; l < hp->n_layer; l++) {
        const cf_layer *ly = &m->layers[l];
        const int last = l == hp->n_layer - 1;
        /* Q, K, V from the shared activations (as = this layer's QKV set) */
        {
            cf_fwd_mm_job jobs[3] = {{&ly->wq, c->act[as.slot[0]], c->qkv, ld},
                              {&ly->wk, c->act[as.slot[1]], c->qkv + qd, ld},
                              {&ly->wv, c->act[as.slot[2]], c->qkv + qd + kvd, ld}};
            cf_fwd_mm_run(p, jobs, 3, M, tu->thresh_matmul);
        }
        step_end(&tk, CF_PROF_QKV);

        /* rows: [Q/K norm +] RoPE, then K and V into the cache; thread 0 also describes the
         * attention of each sequence for this layer */
        rows_of(p, M, ld, tu->thresh_rope, &lo, &hi);
        if (hi > lo) {
            float *q = c->qkv + lo * ld, *k = q + qd;
            const int32_t *pos = b->pos + lo;
            if (ly->q_norm) {
                cf_headnorm_rope(&cf_par_serial, q, hi - lo, ld, hp->n_head, hp->head_dim, ly->q_norm, eps, pos, &S->rope);
                cf_headnorm_rope(&cf_par_serial, k, hi - lo, ld, hp->n_head_kv, hp->head_dim, ly->k_norm, eps, pos, &S->rope);
            } else {
                cf_rope(&cf_par_serial, q, hi - lo, ld, hp->n_head, hp->head_dim, pos, &S->rope);
                cf_rope(&cf_par_serial, k, hi - lo, ld, hp->n_head_kv, hp->head_dim, pos, &S->rope);
            }
            for (long i = lo; i < hi; i++) {
                const float *row = c->qkv + i * ld;
                cf_kv_store(&c->kv, cf_kv_k(&c->kv, l, b->seq[i], b->pos[i]), row + qd);
                cf_kv_store(&c->kv, cf_kv_v(&c->kv, l, b->seq[i], b->pos[i]), row + qd + kvd);
            }
        }
        if (p->ith == 0) {
            for (int g = 0; g < S->n_groups; g++) {
                cf_attn_seq *a = &c->attn[g];
                int32_t r0 = c->grp_row0[g], s = c->grp_seq[g];
                a->q = c->qkv + (int64_t)r0 * ld;
                a->out = c->att + (int64_t)r0 * qd;
                a->pos = b->pos + r0;
                a->n_q = c->grp_n[g];
                a->k = cf_kv_k(&c->kv, l, s, 0);
                a->v = cf_kv_v(&c->kv, l, s, 0);
                a->kv_stride = kvd;
                a->n_kv = (int64_t)b->pos[r0 + c->grp_n[g] - 1] + 1;
                a->kv_type = c->kv.type;
            }
        }
        step_end(&tk, CF_PROF_ROPE);

        cf_attention(p, &S->ash, c->attn, S->n_groups);
        step_end(&tk, CF_PROF_ATTN);

        if (last && S->n_out < M) {
            /* only the rows that want logits go on: compact them (ascending, in place) */
            if (p->ith == 0)
                for (int j = 0; j < S->n_out; j++) {
                    int32_t r = c->out_rows[j];
                    if (r == j) continue;
                    memcpy(c->att + (int64_t)j * qd, c->att + (int64_t)r * qd, (size_t)qd * sizeof(float));
                    memcpy(c->x + (int64_t)j * d, c->x + (int64_t)r * d, (size_t)d * sizeof(float));
                }
            M = S->n_out;
            if (M == 0) return;
            cf_barrier(p);
        }

        /* attention output projection */
        {
            const cf_wmat *w[1] = {&ly->wo};
            actset_make(&as, w, 1);
            for (int j = 0; j < as.n; j++) cf_act_quantize(p, as.wtype[j], c->act[j], c->att, qd, M, qd);
            cf_barrier(p);
            cf_fwd_mm_one(p, &ly->wo, c->act[0], M, c->tmp, d, tu->thresh_matmul);
            step_end(&tk, CF_PROF_WO);
        }

        /* rows: residual + FFN norm + quantize for gate/up */
        {
            const cf_wmat *w[2] = {&ly->w_gate, &ly->w_up};
            actset_make(&as, w, 2);
            used = rows_of(p, M, d, tu->thresh_rmsnorm, &lo, &hi);
            if (hi > lo)
                cf_rmsnorm_add(&cf_par_serial, c->xn + lo * d, c->x + lo * d, c->tmp + lo * d, ly->ffn_norm, hi - lo, d, eps);
            quant_rows(S, p, &as, c->xn, d, used, M, d);
            step_end(&tk, CF_PROF_NORM);
        }

        /* gate and up, SwiGLU, quantize for down.  Few rows (decode): each thread the same
         * columns of all three, no barrier between them (two fewer per layer; the data stays on
         * its core).  Many rows (prefill): the products split by weight bytes, then SwiGLU and the
         * quantization by rows (measured at 512 rows, 2 threads: column-split SwiGLU + quantize
         * 63 vs 46 us/token, the pass 2.6% slower). */
        cf_fwd_mm_job jobs[2] = {{&ly->w_gate, c->act[as.slot[0]], c->gate, ff}, {&ly->w_up, c->act[as.slot[1]], c->up, ff}};
        if (M > tu->fwd_ffn_cols_m) {
            cf_fwd_mm_run(p, jobs, 2, M, tu->thresh_matmul);
            step_end(&tk, CF_PROF_FFN_UP);
            const cf_wmat *w[1] = {&ly->w_down};
            actset_make(&as, w, 1);
            used = rows_of(p, M, ff, tu->thresh_swiglu, &lo, &hi);
            if (hi > lo)
                cf_swiglu(&cf_par_serial, c->h + lo * ff, ff, c->gate + lo * ff, c->up + lo * ff, ff, hi - lo, ff);
            quant_rows(S, p, &as, c->h, ff, used, M, ff);
            step_end(&tk, CF_PROF_SWIGLU);
            cf_fwd_mm_one(p, &ly->w_down, c->act[0], M, c->tmp, d, tu->thresh_matmul);
            step_end(&tk, CF_PROF_FFN_DOWN);
        } else {
            const int64_t blk = cf_act_block(ly->w_down.type);
            /* whole quantization blocks per thread, pairs of them for the row-pair layout of Q8_0 */
            const int64_t gran = blk == 32 ? 64 : blk > 16 ? blk : 16;
            int64_t a, z;
            cf_fwd_mm_cols(p, jobs, 2, M, tu->thresh_matmul, gran, &a, &z);
            tick_step(&tk, CF_PROF_FFN_UP);
            if (z > a) {
                cf_swiglu(&cf_par_serial, c->h + a, ff, c->gate + a, c->up + a, ff, M, z - a);
                /* act[2]: the other threads may still be reading gate/up's (act[0], act[1]) */
                cf_act_quantize_cols(ly->w_down.type, c->act[2], c->h, ff, M, ff, a, z);
            }
            step_end(&tk, CF_PROF_SWIGLU);
            cf_fwd_mm_one(p, &ly->w_down, c->act[2], M, c->tmp, d, tu->thresh_matmul);
            step_end(&tk, CF_PROF_FFN_DOWN);
        }

        /* rows: residual + the next norm (next layer's attention norm or the output norm) */
        next_set(m, l, &as);
        const float *nw = last ? m->output_norm : m->layers[l + 1].attn_norm;
        used = rows_of(p, M, d, tu->thresh_rmsnorm, &lo, &hi);
        if (hi > lo) cf_rmsnorm_add(&cf_par_serial, c->xn + lo * d, c->x + lo * d, c->tmp + lo * d, nw, hi - lo, d, eps);
        quant_rows(S, p, &as, c->xn, d, used, M, d);
        step_end(&tk, CF_PROF_NORM);
    }

    /* output projection over the rows that want logits (compact after the last layer) */
    if (S->n_out > 0) {
        if (S->n_full > 0) cf_fwd_mm_one(p, &m->output, c->act[0], S->n_full, S->logits, hp->n_vocab, tu->thresh_matmul);
        if (S->n_sub > 0) {
            /* a subset row among the full ones is overwritten after the full product */
            if (c->sub_rows[0] < S->n_full) cf_barrier(p);
            cf_fwd_out_subset(p, c, b, S->n_sub, S->logits);
        }
        if (S->prof) {
            /* the whole team waits so the output time is measured, not just thread 0's share
             * (every thread must take this barrier, not only the one that keeps time) */
            tick_step(&tk, CF_PROF_OUTPUT);
            cf_barrier(p);
            tick_step(&tk, CF_PROF_BARRIER);
        }
    }
}

int cf_forward(cf_context *c, const cf_batch *b, float *logits, cf_err *err) {
    if (g_prof_on < 0) {
        const char *e = getenv("CINFER_PROFILE");
        g_prof_on = e && *e && strcmp(e, "0") != 0;
    }
    int64_t t_enter = g_prof_on > 0 ? cf_now_ns() : 0;
    fwd_state S;
    memset(&S, 0, sizeof S);
    int rc = cf_fwd_plan(c, b, &S.n_groups, &S.n_out, &S.n_full, &S.n_sub, err);
    if (rc) return rc;
    if (S.n_out > 0 && !logits) return cf_errf(err, CF_EINVAL, "%d tokens want logits but no logits buffer was given", S.n_out);
    const cf_model *m = c->m;
    S.c = c;
    S.b = b;
    S.logits = logits;
    S.n = b->n;
    S.rope.mode = m->arch->rope_mode;
    S.rope.n_rot = m->hp.n_rot;
    S.rope.freq_base = m->hp.rope_base;
    S.rope.freq_scale = m->hp.rope_scale;
    S.ash.n_head = m->hp.n_head;
    S.ash.n_kv_head = m->hp.n_head_kv;
    S.ash.head_dim = m->hp.head_dim;
    S.ash.ldq = c->qkv_ld;
    S.ash.ldo = c->q_dim;
    S.ash.scale = 1.0f / sqrtf((float)m->hp.head_dim);
    S.tun = cf_tuning_get();
    S.prof = g_prof_on;
    int nth = c->p.n_threads > 0 ? c->p.n_threads : cf_default_threads();
    int team = cf_fwd_team(c, b, S.n_groups, S.n_full, S.tun, nth);
    if (S.n_sub > 0 && c->act_row_n < team) {
        size_t rb = (cf_act_bytes(m->output.type, 1, m->hp.n_embd) + 63) / 64 * 64;
        void *a = aligned_alloc(64, rb * (size_t)team);
        if (!a) return cf_errf(err, CF_ENOMEM, "out of memory for %d single-row activation buffers", team);
        free(c->act_row);
        c->act_row = a, c->act_row_bytes = rb, c->act_row_n = team;
    }
    cf_parallel_run(team, fwd_thread, &S);
    for (int g = 0; g < S.n_groups; g++) c->kv.len[c->grp_seq[g]] = b->pos[c->grp_row0[g] + c->grp_n[g] - 1] + 1;
    if (S.prof) {
        g_prof_n++, g_prof_tok += b->n, g_prof_out += S.n_out;
        g_prof_full_n += S.n_full > 0, g_prof_full_rows += S.n_full;
        for (int s = 0; s < S.n_sub; s++) g_prof_sub_ids += b->n_only[c->out_rows[c->sub_rows[s]]];
        for (int i = 0; i < b->n; i++) g_prof_kv += (int64_t)b->pos[i] + 1;
        if (t_enter) g_prof_wall += cf_now_ns() - t_enter;
    }
    return 0;
}
