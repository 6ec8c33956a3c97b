/* The generation engine: continuous batching of many requests over one context.
 *
 * A request is a prompt (token ids), sampler parameters (with its own seed), an optional
 * constraint (sampler/constraint.h) and a token budget.  Requests wait in a FIFO queue and are
 * admitted into free KV slots (one per context sequence slot, cleared on admission) as others
 * finish.  Each cf_engine_step builds ONE batch: one decode token for every running sequence,
 * then prefill chunks of the joining sequences up to the context's n_batch tokens (decode tokens
 * whose constraint allows only a few tokens go last: their logits are a subset, see
 * cf_engine_set_logits_subset); runs
 * cf_forward once; then samples every sequence whose logits came back with its own sampler
 * (sampler.h, mask fast path) and matcher, split over the context's threads (sequences are
 * independent), and, on the calling thread, advances the matchers, streams text through
 * on_text (incremental, UTF-8-safe decode) and finishes sequences when due.
 *
 * Determinism: cf_forward's logits rows do not depend on the rest of the batch, and each
 * sequence owns its sampler/RNG, so a request gives the same tokens whatever runs beside it.
 *
 * Ends of a sequence (cf_finish): the model's end-of-generation token (with a constraint, EOS is
 * only allowed when the document is complete); the constraint's document is complete and
 * nothing can follow (the sequence ends without sampling EOS); the token budget; the slot's
 * positions; a constraint that allows no token (a dead state; cannot happen for a sound
 * grammar, reported instead of hanging).  Every request ends: each step either finishes a
 * sequence or moves it forward by at least one token, bounded by max_tokens and n_ctx.
 *
 * Constraints: one compiled cf_constraint may serve many requests (each gets its own matcher;
 * matcher calls on one constraint serialize on its lock, so sampling threads may share it).  The caller keeps shared constraints alive until the engine is idle; a request
 * may instead hand its constraint over (own_constraint) to be freed when it finishes.
 *
 * Not thread-safe: one thread drives an engine (forward and sampling start their own teams;
 * callbacks run on the driving thread). */
#ifndef CF_ENGINE_H
#define CF_ENGINE_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "model/context.h"
#include "model/tokenizer.h"
#include "sampler/constraint.h"
#include "sampler/sampler.h"

typedef enum {
    CF_FIN_NONE = 0,   /* still running */
    CF_FIN_STOP,       /* "stop": end-of-generation token sampled */
    CF_FIN_COMPLETE,   /* "complete": the constraint's document is complete and closed */
    CF_FIN_LENGTH,     /* "length": max_tokens generated */
    CF_FIN_CONTEXT,    /* "context": the slot's positions are used up */
    CF_FIN_DEAD,       /* "dead_state": the constraint allows no token (or ran out of memory) */
} cf_finish;

const char *cf_finish_name(cf_finish f);

typedef struct {
    const int32_t *prompt;      /* copied by cf_engine_submit; at least one token */
    int n_prompt;
    cf_sampler_params sp;       /* validated and copied (seed included) */
    cf_constraint *cons;        /* NULL: unconstrained */
    int own_constraint;         /* 1: the engine frees cons when the request ends (also on refusal) */
    int max_tokens;             /* generated tokens at most (EOS not counted); 0: none */
    void *user;                 /* passed back in callbacks */
} cf_gen_req;

typedef struct {
    int64_t id;                 /* cf_engine_submit's return value */
    void *user;
    cf_finish finish;
    int complete;               /* constrained: 1 if the output is a complete document; -1 unconstrained */
    const char *text;           /* whole output, NUL-terminated (held UTF-8 flushed as U+FFFD) */
    size_t text_len;
    const int32_t *toks;        /* generated tokens (EOS excluded); NULL when n_tok == 0 */
    int n_tok;
    int n_prompt;
    const char *detail;         /* a sentence on a dead state, else "" */
} cf_gen_result;

typedef struct {
    void *ctx;
    /* new text of request id (may be NULL) */
    void (*on_text)(void *ctx, int64_t id, void *user, const char *s, size_t n);
    /* request id finished; r and its buffers are valid during the call only (may be NULL) */
    void (*on_done)(void *ctx, const cf_gen_result *r);
    /* the raw logits of request id before its k-th sampled token (tests; may be NULL) */
    void (*on_logits)(void *ctx, int64_t id, int k, const float *logits, int n_vocab);
} cf_engine_cb;

typedef struct {
    int64_t steps;              /* forward passes */
    int64_t prefill_tokens;     /* prompt tokens evaluated */
    int64_t decode_tokens;      /* generated tokens fed back and evaluated */
    int64_t sampled;            /* tokens sampled (incl. EOS) */
    int64_t masked;             /* samples that needed the full constraint mask */
    double t_prefill_s;         /* forward time of steps with prefill tokens */
    double t_decode_s;          /* forward time of decode-only steps */
    double t_sample_s;          /* sampling + constraint + decode-to-text time */
} cf_engine_stats;

typedef struct cf_engine cf_engine;

/* c must outlive the engine; its n_seq slots are the engine's, and n_batch >= n_seq.  t decodes
 * the output (cf_tok_is_eog ends a sequence). */
int cf_engine_new(cf_engine **out, cf_context *c, const cf_tokenizer *t, const cf_engine_cb *cb, cf_err *err);
void cf_engine_free(cf_engine *e);

/* Logit subsets: when a sequence's constraint allows at most max_ids tokens at a step, the
 * forward pass computes only those rows of the output matrix for it (cf_batch.only) and the rest
 * of its logits row is -INFINITY; sampling sees the same allowed set either way (the constraint
 * masks the rest), so outputs stay valid and each sequence's stay independent of its batch, but
 * a sampler that draws before masking (temperature: a draw, then a masked redraw when the first
 * is refused) draws once instead, so seeded outputs differ from those with subsets off.  Default
 * n_vocab / 128 (at least 16); 0 turns subsets off (whole rows, as with an on_logits callback,
 * which always gets them).  Call before the first step: a grown limit reallocates per-slot rows. */
void cf_engine_set_logits_subset(cf_engine *e, int max_ids);
/* Queues a request; returns its id (>= 0), or -1 with err: CF_EINVAL for an empty prompt or bad
 * sampler parameters, CF_ELIMIT for a prompt that does not fit the context with room for one
 * generated token (n_prompt >= n_ctx), CF_ENOMEM. */
int64_t cf_engine_submit(cf_engine *e, const cf_gen_req *r, cf_err *err);

/* One forward pass (admitting queued requests first).  Returns 1 if requests remain (queued or
 * running), 0 when idle, or a negative cf_err code (the forward pass failed; the running
 * requests are ended as by cf_engine_abort). */
int cf_engine_step(cf_engine *e, cf_err *err);
/* Steps until idle; 0 or a negative error code. */
int cf_engine_run(cf_engine *e, cf_err *err);
/* Drops queued and running requests without calling on_done. */
void cf_engine_abort(cf_engine *e);

int cf_engine_n_queued(const cf_engine *e);
int cf_engine_n_running(const cf_engine *e);
int cf_engine_n_slots(const cf_engine *e);
void cf_engine_get_stats(const cf_engine *e, cf_engine_stats *s);

#endif
