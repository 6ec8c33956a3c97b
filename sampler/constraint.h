/* Constrained decoding: a grammar (GBNF or a compiled JSON Schema, see grammar.h / gbnf.h /
 * schema.h) bound to a tokenizer's vocabulary gives a constraint; each sequence being decoded
 * has its own matcher over it.
 *
 *   cf_cons_vocab   token tables for one tokenizer: each token's bytes, a trie over them.  Built
 *                   once per tokenizer (tens of ms), shared by every constraint.
 *   cf_constraint   the grammar compiled to a pushdown machine over bytes + caches (token mask
 *                   entries per frame state, interned matcher states, their transitions and masks).
 *   cf_matcher      one sequence: the current set of machine configurations.
 *
 * Semantics.  A token is allowed iff its bytes can be consumed from the current state (every
 * prefix of the output stays a prefix of some document of the grammar; where a combo (oneOf /
 * not / if / allOf that could not be merged) decides only at the end of a value, instances that
 * can no longer pass are pruned, see schema.h).  Control tokens (zero bytes) are never allowed;
 * EOS is allowed exactly when the document is complete; once a document is complete and nothing
 * can follow (cf_matcher_can_continue == 0), only EOS is allowed, so generation stops.  Masks are
 * bitsets over token ids: bit (id & 31) of word id >> 5.
 *
 * Limits: nesting depth CF_MAX_DEPTH (cons_int.h, 300 frames; deeper documents are refused).
 * Interned machine states (stack nodes, frame states) live as long as the constraint: a very long
 * generation grows them; masks and mask entries are caches (CF_CONS_CACHE_BYTES).
 *
 * Costs.  A mask is computed once per distinct matcher state and cached; computing one ORs the
 * precomputed sets of tokens that stay inside the current string / number / key and walks only
 * the few tokens that leave it.  Typical: microseconds.  Caches are bounded (CF_CONS_CACHE_BYTES):
 * when full they are dropped and rebuilt on demand.
 *
 * Threads.  A vocabulary is read-only after creation (its shared mask entries are built under its
 * own lock).  A constraint may be shared by matchers on several threads: every matcher call takes
 * the constraint's lock (calls on matchers of one constraint serialize).  A matcher is used by
 * one thread at a time. */
#ifndef CF_CONSTRAINT_H
#define CF_CONSTRAINT_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "model/tokenizer.h"
#include "sampler/grammar.h"
#include "sampler/sampler.h"

#define CF_CONS_CACHE_BYTES (512ull << 20)   /* per constraint, masks + mask entries */

typedef struct cf_cons_vocab cf_cons_vocab;
typedef struct cf_constraint cf_constraint;
typedef struct cf_matcher cf_matcher;

/* Vocabulary from a tokenizer (cf_tok_bytes of every non-control token; EOS = cf_tok_eos). */
int cf_cons_vocab_new(cf_cons_vocab **out, const cf_tokenizer *t, cf_err *err);
/* Vocabulary from explicit token bytes (tests): n tokens; lens[i] == 0 excludes token i; eos -1 = none. */
int cf_cons_vocab_from_bytes(cf_cons_vocab **out, int n, const uint8_t *const *bytes, const size_t *lens, int32_t eos,
                             cf_err *err);
void cf_cons_vocab_free(cf_cons_vocab *v);
int cf_cons_vocab_size(const cf_cons_vocab *v);
int32_t cf_cons_vocab_eos(const cf_cons_vocab *v);

/* Compiles a grammar (ownership of g passes to the constraint, also on failure).  v may be NULL:
 * then only byte-level matching works (cf_matcher_feed), not token calls.  The vocabulary must
 * outlive the constraint.  Errors: grammar check failures, CF_ELIMIT for oversized automata. */
int cf_constraint_new(cf_constraint **out, cf_grammar *g, const cf_cons_vocab *v, cf_err *err);
void cf_constraint_free(cf_constraint *c);
/* Notes from compilation (lenient relaxations), or NULL. */
const char *cf_constraint_warnings(const cf_constraint *c);
/* Cache statistics: distinct states seen, mask entries built, cached bytes. */
void cf_constraint_stats(const cf_constraint *c, size_t *states, size_t *entries, size_t *cache_bytes);

int cf_matcher_new(cf_matcher **out, cf_constraint *c, cf_err *err);
void cf_matcher_free(cf_matcher *m);
/* Back to the start of a document. */
void cf_matcher_reset(cf_matcher *m);

/* 1 if token tok is allowed now (EOS: iff complete), else 0. */
int cf_matcher_accepts(cf_matcher *m, int32_t tok);
/* Writes the allowed-token bitset (cf_cons_vocab_size bits, rounded up to words); returns the
 * number of allowed tokens, or -1 on OOM / no vocabulary. */
int cf_matcher_mask(cf_matcher *m, uint32_t *bits);
/* Consumes tok.  CF_EINVAL (state unchanged) if it is not allowed; EOS finishes the matcher. */
int cf_matcher_advance(cf_matcher *m, int32_t tok, cf_err *err);
/* Consumes raw bytes (no tokenizer).  Returns 0, or CF_EINVAL with the offset of the first byte
 * that is not allowed (state unchanged). */
int cf_matcher_feed(cf_matcher *m, const void *bytes, size_t n, cf_err *err);

/* The bytes so far form a complete document (EOS would be allowed). */
int cf_matcher_is_complete(const cf_matcher *m);
/* Some more bytes could still be consumed (0: the document is complete and closed). */
int cf_matcher_can_continue(const cf_matcher *m);
/* EOS was consumed. */
int cf_matcher_is_finished(const cf_matcher *m);

/* Adapter for the sampler's token filter (sampler.h): ctx = the matcher.  If a mask cannot be
 * computed (out of memory) the filter allows nothing (EOS only when complete). */
int cf_matcher_filter_accepts(void *matcher, int32_t tok);
void cf_matcher_filter_mask(void *matcher, uint32_t *bits);
cf_token_filter cf_matcher_filter(cf_matcher *m);

#endif
