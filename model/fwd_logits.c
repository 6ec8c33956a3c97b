/* Logits restricted to a subset of the vocabulary (cf_batch.only): a constraint that allows a
 * few tokens needs a few rows of the output matrix, not all of them.  With a JSON Schema most
 * steps allow a handful of tokens (a key, a quote, a digit or two), so the output projection,
 * 15-25% of a small model's per-token work, shrinks to a few dot products. */
#include <math.h>

#include "model/fwd_int.h"

/* Output row j (index into c->out_rows): -INFINITY everywhere, then its ids, each run of
 * consecutive ids as one product over that run of output-matrix rows. */
static void subset_row(cf_context *c, const cf_batch *b, int j, void *act, float *logits) {
    const cf_model *m = c->m;
    const int64_t d = m->hp.n_embd, V = m->hp.n_vocab;
    int32_t r = c->out_rows[j];
    const int32_t *ids = b->only[r];
    int32_t n = b->n_only[r];
    float *y = logits + (size_t)j * (size_t)V;
    for (int64_t i = 0; i < V; i++) y[i] = -INFINITY;
    if (n <= 0) return;
    cf_act_quantize(&cf_par_serial, m->output.type, act, c->xn + (size_t)j * (size_t)d, d, 1, d);
    for (int32_t k = 0; k < n;) {
        int32_t e = k + 1;
        while (e < n && ids[e] == ids[e - 1] + 1) e++;
        cf_wmat w = cf_wmat_rows(&m->output, ids[k], e - k);
        cf_matmul_act(&cf_par_serial, &w, act, 1, y + ids[k], V);
        k = e;
    }
}

void cf_fwd_out_subset(const cf_par *p, cf_context *c, const cf_batch *b, int n_sub, float *logits) {
    if (n_sub <= 0) return;
    int64_t ids = 0;
    for (int s = 0; s < n_sub; s++) ids += b->n_only[c->out_rows[c->sub_rows[s]]];
    /* cost per row: its share of the dot products (MACs), plus the fill */
    long cost = (long)((ids / n_sub + 1) * c->m->hp.n_embd);
    long lo, hi;
    cf_split(p, n_sub, cost, cf_tuning_get()->thresh_matmul, 1, &lo, &hi);
    void *act = (char *)c->act_row + (size_t)p->ith * c->act_row_bytes;
    for (long s = lo; s < hi; s++) subset_row(c, b, c->sub_rows[s], act, logits);
}
