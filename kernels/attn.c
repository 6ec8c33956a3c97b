/* Attention: precondition checks, dispatch, and the cost-balanced task split shared by the
 * ISA paths. */
#include "kernels/attn.h"

#include <assert.h>
#include <stddef.h>

#include "kernels/quant.h"
#include "kernels/tuning.h"

extern const cf_attn_ops cf_attn_ops_ref_tbl, cf_attn_ops_avx2_tbl, cf_attn_ops_avx512_tbl;

const cf_attn_ops *cf_attn_ops_for(cf_isa isa) {
    switch (isa) {
    case CF_ISA_REF: return &cf_attn_ops_ref_tbl;
    case CF_ISA_AVX2: return &cf_attn_ops_avx2_tbl;
    case CF_ISA_AVX512:
    case CF_ISA_AVX512VNNI: return &cf_attn_ops_avx512_tbl;
    default: return &cf_attn_ops_ref_tbl;
    }
}

void cf_attention(const cf_par *p, const cf_attn_shape *sh, const cf_attn_seq *seqs, int n_seqs) {
    assert(p && sh && (seqs || n_seqs == 0) && n_seqs >= 0);
    assert(sh->n_kv_head > 0 && sh->n_head % sh->n_kv_head == 0);
    assert(sh->head_dim > 0 && sh->head_dim <= CF_ATTN_MAX_HEAD_DIM);
    assert(sh->ldq >= (int64_t)sh->n_head * sh->head_dim && sh->ldo >= (int64_t)sh->n_head * sh->head_dim);
#ifndef NDEBUG
    for (int s = 0; s < n_seqs; s++) {
        const cf_attn_seq *q = &seqs[s];
        assert(q->n_q >= 0 && (q->n_q == 0 || (q->q && q->out && q->pos && q->k && q->v)));
        assert(q->kv_type == CF_T_F32 || q->kv_type == CF_T_F16);
        assert(q->kv_stride >= (int64_t)sh->n_kv_head * sh->head_dim);
        for (int64_t t = 0; t < q->n_q; t++) assert(q->pos[t] >= 0 && q->pos[t] < q->n_kv);
    }
#endif
    cf_attn_ops_for(cf_isa_active())->attention(p, sh, seqs, n_seqs);
}

int cf_attn_tile(void) {
    long t = cf_tuning_get()->tile_attn_kv;
    if (t > CF_ATTN_MAX_TILE) t = CF_ATTN_MAX_TILE;
    t &= ~7L;
    return t < 8 ? 8 : (int)t;
}

int cf_attn_rh(void) {
    long r = cf_tuning_get()->tile_attn_rh;
    return r < 1 ? 1 : r > CF_ATTN_MAX_RH ? CF_ATTN_MAX_RH : (int)r;
}

/* Task order: sequence, row block, kv head, head subgroup (so a thread's consecutive tasks
 * usually share rows and cover adjacent kv heads).  Calls visit(task, cost) for each. */
typedef void (*visit_fn)(const cf_attn_task *t, int64_t cost, void *st);

static void enumerate(const cf_attn_shape *sh, const cf_attn_seq *seqs, int n_seqs, int qb, int hsub,
                      visit_fn visit, void *st) {
    int group = sh->n_head / sh->n_kv_head;
    for (int s = 0; s < n_seqs; s++) {
        const cf_attn_seq *q = &seqs[s];
        for (int64_t t0 = 0; t0 < q->n_q; t0 += qb) {
            int64_t t1 = t0 + qb < q->n_q ? t0 + qb : q->n_q, att = 0;
            for (int64_t r = t0; r < t1; r++) att += q->pos[r] + 1;
            for (int g = 0; g < sh->n_kv_head; g++)
                for (int h0 = 0; h0 < group; h0 += hsub) {
                    cf_attn_task t = {s, g, g * group + h0, group - h0 < hsub ? group - h0 : hsub, t0, t1};
                    visit(&t, att * t.nh * 2 * sh->head_dim, st);
                }
        }
    }
}

typedef struct {
    int64_t total, cum, n;
    int ith, used;
    void (*fn)(const cf_attn_task *t, void *ctx);
    void *ctx;
} split_st;

static void add_cost(const cf_attn_task *t, int64_t cost, void *st) {
    (void)t;
    ((split_st *)st)->total += cost;
    ((split_st *)st)->n++;
}

static void maybe_run(const cf_attn_task *t, int64_t cost, void *st) {
    split_st *s = st;
    /* owner: the thread whose equal share of the total contains this task's cost midpoint */
    double mid = (double)s->cum + 0.5 * (double)cost;
    int owner = s->total > 0 ? (int)(mid * s->used / (double)s->total) : 0;
    if (owner >= s->used) owner = s->used - 1;
    s->cum += cost;
    if (owner == s->ith) s->fn(t, s->ctx);
}

void cf_attn_for_tasks(const cf_par *p, const cf_attn_shape *sh, const cf_attn_seq *seqs, int n_seqs,
                       int rh_max, void (*fn)(const cf_attn_task *t, void *ctx), void *ctx) {
    split_st st = {0, 0, 0, p->ith, 1, fn, ctx};
    if (rh_max < 1) rh_max = 1;
    int group = sh->n_head / sh->n_kv_head, hsub = group < rh_max ? group : rh_max, qb = rh_max / hsub;
    if (p->nth > 1) {
        enumerate(sh, seqs, n_seqs, qb, hsub, add_cost, &st);
        st.used = cf_split_nthreads(st.total, cf_tuning_get()->thresh_attn, p->nth);
        if (p->ith >= st.used) return;
        /* Too few tasks to balance (e.g. one decode row over 3 kv heads on 2 threads: 3 vs 6
         * row-heads): one head per task (same row blocks), so the shares differ by at most one
         * row-head; the threads then both read the kv head that straddles the boundary.  A thread's
         * consecutive tasks of one kv head and row block merge back into one segment. */
        if (st.used > 1 && hsub > 1 && st.n < 4 * st.used) hsub = 1;
    }
    enumerate(sh, seqs, n_seqs, qb, hsub, maybe_run, &st);
}
