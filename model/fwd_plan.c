/* Before a forward pass: the batch checked against the context, its sequence runs found, and the
 * team sized to the work. */
#include "model/fwd_int.h"

int cf_fwd_team(const cf_context *c, const cf_batch *b, int n_groups, int n_out, const cf_tuning *tu, int nth) {
    const cf_hparams *hp = &c->m->hp;
    int64_t M = b->n, d = hp->n_embd;
    int used = 1;
    int64_t mm[4] = {M * d * (c->q_dim + 2 * c->kv_dim), M * c->q_dim * d, M * d * 2 * hp->n_ff,
                     (int64_t)n_out * d * hp->n_vocab};
    for (int i = 0; i < 4; i++) {
        int u = cf_split_nthreads((long)mm[i], tu->thresh_matmul, nth);
        if (u > used) used = u;
    }
    int64_t att = 0;
    for (int g = 0; g < n_groups; g++) {
        int64_t last = c->grp_n[g] ? b->pos[c->grp_row0[g] + c->grp_n[g] - 1] + 1 : 0;
        att += (int64_t)c->grp_n[g] * last; /* upper bound of attended positions */
    }
    int u = cf_split_nthreads((long)(att * 2 * hp->head_dim * hp->n_head), tu->thresh_attn, nth);
    return u > used ? u : used;
}

/* Token i's subset: ascending distinct ids in the vocabulary. */
static int check_only(const cf_batch *b, int i, int32_t n_vocab, cf_err *err) {
    const int32_t *ids = b->only[i];
    if (b->n_only[i] < 0) return cf_errf(err, CF_EINVAL, "batch token %d: logit subset of %d ids", i, b->n_only[i]);
    for (int32_t k = 0; k < b->n_only[i]; k++) {
        if (ids[k] < 0 || ids[k] >= n_vocab)
            return cf_errf(err, CF_EINVAL, "batch token %d: logit subset id %d (entry %d) is out of the vocabulary [0, %d)",
                           i, ids[k], k, n_vocab);
        if (k && ids[k] <= ids[k - 1])
            return cf_errf(err, CF_EINVAL, "batch token %d: logit subset ids must ascend (entry %d: %d after %d)", i, k,
                           ids[k], ids[k - 1]);
    }
    return 0;
}

int cf_fwd_plan(cf_context *c, const cf_batch *b, int *n_groups, int *n_out, int *n_full, int *n_sub, cf_err *err) {
    const cf_model *m = c->m;
    if (b->n < 1) return cf_errf(err, CF_EINVAL, "empty batch");
    if (b->n > c->p.n_batch)
        return cf_errf(err, CF_ELIMIT, "batch of %d tokens exceeds the context's n_batch (%d)", b->n, c->p.n_batch);
    int g = -1, no = 0, nf = 0, ns = 0;
    for (int i = 0; i < b->n; i++) {
        int32_t t = b->tok[i], s = b->seq[i], ps = b->pos[i];
        if (t < 0 || t >= m->hp.n_vocab)
            return cf_errf(err, CF_EINVAL, "batch token %d: id %d is out of the vocabulary [0, %d)", i, t, m->hp.n_vocab);
        if (s < 0 || s >= c->kv.n_seq)
            return cf_errf(err, CF_EINVAL, "batch token %d: sequence %d is out of range [0, %d)", i, s, c->kv.n_seq);
        if (ps < 0 || ps >= c->kv.n_ctx)
            return cf_errf(err, CF_ELIMIT, "batch token %d: position %d is outside the context (%lld positions)", i, ps,
                           (long long)c->kv.n_ctx);
        if (g >= 0 && c->grp_seq[g] == s) {
            int32_t want = b->pos[i - 1] + 1;
            if (ps != want)
                return cf_errf(err, CF_EINVAL, "batch token %d: sequence %d position %d, expected %d (positions must be consecutive)",
                               i, s, ps, want);
            c->grp_n[g]++;
        } else {
            for (int k = 0; k <= g; k++)
                if (c->grp_seq[k] == s)
                    return cf_errf(err, CF_EINVAL, "batch token %d: sequence %d's tokens are not contiguous in the batch", i, s);
            if (ps > c->kv.len[s])
                return cf_errf(err, CF_EINVAL, "batch token %d: sequence %d starts at position %d but only %lld are filled",
                               i, s, ps, (long long)c->kv.len[s]);
            g++;
            c->grp_seq[g] = s;
            c->grp_row0[g] = i;
            c->grp_n[g] = 1;
        }
        if (b->logits[i]) {
            if (b->only && b->only[i]) {
                int rc = check_only(b, i, m->hp.n_vocab, err);
                if (rc) return rc;
                c->sub_rows[ns++] = no;
            } else {
                nf = no + 1;
            }
            c->out_rows[no++] = i;
        }
    }
    *n_groups = g + 1;
    *n_out = no;
    *n_full = nf;
    *n_sub = ns;
    return 0;
}
