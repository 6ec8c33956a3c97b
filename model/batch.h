/* A batch: the tokens of one forward pass, from one or more sequences.
 *
 * Token i has an id, a position, a sequence slot and a wants-logits flag.  The tokens of one
 * sequence must be contiguous in the batch with consecutive ascending positions, the first at
 * most the slot's filled length (equal: append; less: overwrite the tail, e.g. to retry).
 * cf_forward checks all of this and refuses a batch that breaks it. */
#ifndef CF_BATCH_H
#define CF_BATCH_H
#include <stdint.h>

#include "kernels/err.h"

typedef struct {
    int32_t *tok, *pos, *seq;
    int8_t *logits;          /* 1: the forward pass writes a logits row for this token */
    const int32_t **only;    /* per token: NULL = the whole vocabulary; else its logits row holds
                                only these token ids (n_only[i] of them, ascending, distinct), the
                                rest -INFINITY (a constraint's allowed set: the output projection
                                then computes those rows of the output matrix only) */
    int32_t *n_only;
    int n, cap;
} cf_batch;

int cf_batch_init(cf_batch *b, int cap, cf_err *err);
void cf_batch_free(cf_batch *b);
static inline void cf_batch_clear(cf_batch *b) { b->n = 0; }
/* Appends a token; returns 0, or -1 when the batch is full. */
int cf_batch_add(cf_batch *b, int32_t tok, int32_t pos, int32_t seq, int want_logits);
/* Appends n tokens of sequence seq at positions pos0..; returns the number added (fewer if the
 * batch fills up).  With last_logits, the last token asks for logits if all n fitted. */
int cf_batch_add_seq(cf_batch *b, const int32_t *toks, int n, int32_t pos0, int32_t seq, int last_logits);
/* Restricts token i's logits row to ids[0..n) (ascending, distinct, in the vocabulary; the
 * array must stay valid until the forward pass returns); cf_forward checks them. */
void cf_batch_set_only(cf_batch *b, int i, const int32_t *ids, int32_t n);
/* Number of tokens that want logits. */
int cf_batch_n_logits(const cf_batch *b);

#endif
