#include "model/batch.h"

#include <stdlib.h>
#include <string.h>

int cf_batch_init(cf_batch *b, int cap, cf_err *err) {
    memset(b, 0, sizeof *b);
    if (cap < 1) return cf_errf(err, CF_EINVAL, "batch capacity %d < 1", cap);
    b->tok = malloc((size_t)cap * sizeof *b->tok);
    b->pos = malloc((size_t)cap * sizeof *b->pos);
    b->seq = malloc((size_t)cap * sizeof *b->seq);
    b->logits = malloc((size_t)cap);
    b->only = malloc((size_t)cap * sizeof *b->only);
    b->n_only = malloc((size_t)cap * sizeof *b->n_only);
    if (!b->tok || !b->pos || !b->seq || !b->logits || !b->only || !b->n_only) {
        cf_batch_free(b);
        return cf_errf(err, CF_ENOMEM, "out of memory for a batch of %d tokens", cap);
    }
    b->cap = cap;
    return 0;
}

void cf_batch_free(cf_batch *b) {
    free(b->tok);
    free(b->pos);
    free(b->seq);
    free(b->logits);
    free(b->only);
    free(b->n_only);
    memset(b, 0, sizeof *b);
}

int cf_batch_add(cf_batch *b, int32_t tok, int32_t pos, int32_t seq, int want_logits) {
    if (b->n >= b->cap) return -1;
    b->tok[b->n] = tok;
    b->pos[b->n] = pos;
    b->seq[b->n] = seq;
    b->logits[b->n] = want_logits ? 1 : 0;
    b->only[b->n] = NULL;
    b->n_only[b->n] = 0;
    b->n++;
    return 0;
}

int cf_batch_add_seq(cf_batch *b, const int32_t *toks, int n, int32_t pos0, int32_t seq, int last_logits) {
    int k = 0;
    for (; k < n && b->n < b->cap; k++) cf_batch_add(b, toks[k], pos0 + k, seq, 0);
    if (k == n && k > 0 && last_logits) b->logits[b->n - 1] = 1;
    return k;
}

void cf_batch_set_only(cf_batch *b, int i, const int32_t *ids, int32_t n) {
    if (i < 0 || i >= b->n) return;
    b->only[i] = ids;
    b->n_only[i] = n;
}

int cf_batch_n_logits(const cf_batch *b) {
    int c = 0;
    for (int i = 0; i < b->n; i++) c += b->logits[i] != 0;
    return c;
}
