/* The sampler chain: picks the next token from a row of logits.
 *
 * Order (fixed, documented): logit bias -> penalties (repetition, frequency, presence over the
 * last `penalty_last_n` accepted tokens) -> constraint (token filter) -> top-k -> top-p -> min-p
 * -> temperature -> pick.  Greedy (temperature <= 0) picks the argmax (ties: lowest id); top-k,
 * top-p and min-p never remove the argmax, so they do not change a greedy pick.  top-p and
 * min-p see probabilities at temperature 1 (as llama.cpp's default chain does).
 *
 * Penalties (llama.cpp conventions): repetition: a seen token's logit l becomes l / r if l > 0,
 * l * r otherwise; frequency/presence: l -= count * freq + (count > 0) * presence.
 *
 * Constraint fast path: the chain runs on the unconstrained logits and picks a token; the
 * filter's `accepts` is asked about that token only; only if it is rejected is the full `mask`
 * computed, the disallowed logits set to -inf and the chain run again.  For greedy this is exact
 * (the argmax over allowed tokens).  For random sampling it is rejection sampling with one
 * retry from the masked distribution: without truncation (top-k/top-p/min-p off) the result is
 * exactly the distribution restricted to the allowed tokens; with truncation the first draw uses
 * the truncation of the unconstrained distribution.
 *
 * `logits` is modified in place (bias, penalties, mask).  Randomness comes from a per-sampler
 * xoshiro256** stream seeded by splitmix64(seed): the same seed and inputs give the same tokens.
 * Cost on a 150K vocabulary: O(n) passes and no sort: top-k keeps a heap of k (quickselect for
 * k > 2048), top-p is a quickselect on probability mass, min-p a threshold. */
#ifndef CF_SAMPLER_H
#define CF_SAMPLER_H
#include <stdint.h>

#include "kernels/err.h"

#define CF_SAMPLER_MAX_VOCAB (1 << 24)   /* n_vocab cap */
#define CF_SAMPLER_MAX_LAST_N (1 << 20)  /* penalty window cap */
#define CF_SAMPLER_MAX_BIAS (1 << 20)    /* logit-bias entries cap */

typedef struct {
    int32_t tok;
    float bias;   /* added to the logit; -INFINITY bans the token */
} cf_logit_bias;

typedef struct {
    float temperature;        /* <= 0: greedy */
    int32_t top_k;            /* <= 0: off */
    float top_p;              /* >= 1: off */
    float min_p;              /* <= 0: off */
    float repeat_penalty;     /* 1: off */
    float freq_penalty;       /* 0: off */
    float presence_penalty;   /* 0: off */
    int32_t penalty_last_n;   /* window of accepted tokens the penalties look at; 0: off */
    uint64_t seed;
    const cf_logit_bias *bias;   /* copied by cf_sampler_new */
    int32_t n_bias;
} cf_sampler_params;

/* Defaults: greedy, all stages off, seed 0. */
cf_sampler_params cf_sampler_defaults(void);

typedef struct cf_token_filter {
    void *ctx;
    int (*accepts)(void *ctx, int32_t tok);     /* 1 if tok is allowed in the current state */
    void (*mask)(void *ctx, uint32_t *bits);    /* n_vocab bits, 1 = allowed (bit t of bits[t/32]) */
} cf_token_filter;

typedef struct cf_sampler cf_sampler;

/* Validates the parameters (ranges, bias ids < n_vocab) with a message naming the bad one. */
int cf_sampler_new(const cf_sampler_params *p, int32_t n_vocab, cf_sampler **out, cf_err *err);
void cf_sampler_free(cf_sampler *s);
/* Clears the penalty history and reseeds the RNG (same state as just after cf_sampler_new). */
void cf_sampler_reset(cf_sampler *s);

/* Returns the chosen token, or -1 if the filter allows nothing (caller reports it).
 * f may be NULL; f->accepts may be NULL (then the mask is always used).  n_vocab must equal the
 * sampler's. */
int32_t cf_sampler_sample(cf_sampler *s, float *logits, int32_t n_vocab, const cf_token_filter *f);
/* The same over a known candidate set: ids[0..n) ascending, every other logit -inf (a logits row
 * the forward pass restricted to a constraint's allowed tokens, cf_batch.only), so no filter is
 * asked; biases and penalties as above, then the chain over those n logits only.  The same
 * distribution as cf_sampler_sample on that row; greedy picks the same token, a sampled pick may
 * differ in the last bits of the normalization.  -1 if none is finite. */
int32_t cf_sampler_sample_ids(cf_sampler *s, float *logits, int32_t n_vocab, const int32_t *ids, int32_t n);
void cf_sampler_accept(cf_sampler *s, int32_t tok);   /* history for penalties */

/* Counters for diagnostics: samples taken, and how many needed the full mask. */
void cf_sampler_stats(const cf_sampler *s, uint64_t *samples, uint64_t *masked);

#endif
