#include "model/engine.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "kernels/parallel.h"
#include "model/batch.h"
#include "model/forward.h"

/* one queued or running request */
typedef struct req {
    int64_t id;
    int32_t *prompt;
    int n_prompt;
    cf_sampler_params sp;
    cf_logit_bias *bias;
    cf_constraint *cons;
    int own_cons;
    int max_tokens;
    void *user;
    struct req *next;
} req;

typedef struct {
    req *r;              /* NULL: free slot */
    int n_fed;           /* prompt tokens evaluated so far */
    int32_t next_tok;    /* generated token to evaluate next step, -1 none */
    int64_t pos;         /* position of the next token to evaluate */
    cf_sampler *smp;
    cf_matcher *mat;
    cf_detok dt;
    int32_t *toks;
    int n_tok, cap_tok;
    char *text;
    size_t len, cap;
    int row;             /* logits row in this step's output, -1 none */
    int n_only;          /* this step: its logits are the n_only allowed tokens (only_buf row), -1: all */
    int32_t picked;      /* this step's sampled token */
} slot;

struct cf_engine {
    cf_context *c;
    const cf_tokenizer *tok;
    cf_engine_cb cb;
    int n_vocab, n_slots;
    slot *s;
    req *qhead, *qtail;
    int n_queued, n_running;
    int64_t next_id;
    cf_batch b;
    float *logits;       /* n_slots rows */
    int only_max;        /* a constraint allowing at most this many tokens gets a logit subset (0: never) */
    int32_t *only_buf;   /* n_slots x only_max allowed ids */
    uint32_t *bits;      /* a mask of n_vocab bits */
    int *sel;            /* slots sampled this step */
    int nsel;
    char *tbuf;          /* detok scratch */
    size_t tcap;
    cf_engine_stats st;
};

const char *cf_finish_name(cf_finish f) {
    switch (f) {
    case CF_FIN_NONE: return "none";
    case CF_FIN_STOP: return "stop";
    case CF_FIN_COMPLETE: return "complete";
    case CF_FIN_LENGTH: return "length";
    case CF_FIN_CONTEXT: return "context";
    case CF_FIN_DEAD: return "dead_state";
    }
    return "?";
}

static void req_free(req *r) {
    if (!r) return;
    if (r->own_cons) cf_constraint_free(r->cons);
    free(r->prompt);
    free(r->bias);
    free(r);
}

int cf_engine_new(cf_engine **out, cf_context *c, const cf_tokenizer *t, const cf_engine_cb *cb, cf_err *err) {
    *out = NULL;
    if (!c || !c->m || !t) return cf_errf(err, CF_EINVAL, "engine: a context and a tokenizer are required");
    if (c->p.n_batch < c->kv.n_seq)
        return cf_errf(err, CF_EINVAL, "engine: batch of %d tokens is smaller than the %d sequence slots",
                       c->p.n_batch, c->kv.n_seq);
    cf_engine *e = calloc(1, sizeof *e);
    if (!e) return cf_errf(err, CF_ENOMEM, "engine: out of memory");
    e->c = c;
    e->tok = t;
    if (cb) e->cb = *cb;
    e->n_vocab = c->m->hp.n_vocab;
    e->n_slots = c->kv.n_seq;
    e->tcap = cf_detok_max_out(t) + 8;
    e->s = calloc((size_t)e->n_slots, sizeof *e->s);
    e->sel = calloc((size_t)e->n_slots, sizeof *e->sel);
    e->logits = malloc((size_t)e->n_slots * (size_t)e->n_vocab * sizeof *e->logits);
    e->tbuf = malloc(e->tcap);
    /* a subset costs a dot product per id (plus a fill), the full row V of them: 1/128 of the
     * vocabulary keeps it a small fraction of the full projection */
    e->only_max = e->n_vocab / 128 > 16 ? e->n_vocab / 128 : 16;
    e->only_buf = malloc((size_t)e->n_slots * (size_t)e->only_max * sizeof *e->only_buf);
    e->bits = malloc(((size_t)e->n_vocab + 31) / 32 * sizeof *e->bits);
    if (!e->s || !e->sel || !e->logits || !e->tbuf || !e->only_buf || !e->bits || cf_batch_init(&e->b, c->p.n_batch, err)) {
        cf_engine_free(e);
        return cf_errf(err, CF_ENOMEM, "engine: out of memory");
    }
    *out = e;
    return 0;
}

static void slot_release(slot *s) {
    cf_sampler_free(s->smp);
    cf_matcher_free(s->mat);
    req_free(s->r);
    free(s->toks);
    free(s->text);
    memset(s, 0, sizeof *s);
}

void cf_engine_abort(cf_engine *e) {
    for (int i = 0; i < e->n_slots; i++)
        if (e->s[i].r) slot_release(&e->s[i]);
    for (req *r = e->qhead, *n; r; r = n) {
        n = r->next;
        req_free(r);
    }
    e->qhead = e->qtail = NULL;
    e->n_queued = e->n_running = 0;
}

void cf_engine_free(cf_engine *e) {
    if (!e) return;
    if (e->s) cf_engine_abort(e);
    free(e->s);
    free(e->sel);
    free(e->logits);
    free(e->tbuf);
    free(e->only_buf);
    free(e->bits);
    cf_batch_free(&e->b);
    free(e);
}

int64_t cf_engine_submit(cf_engine *e, const cf_gen_req *r, cf_err *err) {
    cf_sampler *probe = NULL;
    int rc = 0;
    if (!r->prompt || r->n_prompt <= 0) rc = cf_errf(err, CF_EINVAL, "the prompt has no tokens");
    else if (r->n_prompt >= e->c->kv.n_ctx)
        rc = cf_errf(err, CF_ELIMIT, "the prompt has %d tokens; the context holds %lld (one must stay for output)",
                     r->n_prompt, (long long)e->c->kv.n_ctx);
    else if (r->max_tokens < 0) rc = cf_errf(err, CF_EINVAL, "max_tokens %d is negative", r->max_tokens);
    else if (r->cons && cf_tok_n_vocab(e->tok) > e->n_vocab)
        rc = cf_errf(err, CF_EINVAL, "the tokenizer has %d tokens, more than the model's %d", cf_tok_n_vocab(e->tok),
                     e->n_vocab);
    else if (cf_sampler_new(&r->sp, e->n_vocab, &probe, err))
        rc = err ? err->code : CF_EINVAL;
    cf_sampler_free(probe);
    for (int i = 0; !rc && i < r->n_prompt; i++)
        if (r->prompt[i] < 0 || r->prompt[i] >= e->n_vocab)
            rc = cf_errf(err, CF_EINVAL, "prompt token %d (id %d) is out of range", i, r->prompt[i]);
    req *q = rc ? NULL : calloc(1, sizeof *q);
    if (!rc && q) {
        q->prompt = malloc((size_t)r->n_prompt * sizeof *q->prompt);
        if (r->sp.n_bias > 0) q->bias = malloc((size_t)r->sp.n_bias * sizeof *q->bias);
        if (!q->prompt || (r->sp.n_bias > 0 && !q->bias)) {
            free(q->prompt);
            free(q->bias);
            free(q);
            q = NULL;
        }
    }
    if (!rc && !q) rc = cf_errf(err, CF_ENOMEM, "engine: out of memory");
    if (rc) {
        if (r->own_constraint) cf_constraint_free(r->cons);
        return -1;
    }
    memcpy(q->prompt, r->prompt, (size_t)r->n_prompt * sizeof *q->prompt);
    q->n_prompt = r->n_prompt;
    q->sp = r->sp;
    if (q->bias) memcpy(q->bias, r->sp.bias, (size_t)r->sp.n_bias * sizeof *q->bias);
    q->sp.bias = q->bias;
    q->cons = r->cons;
    q->own_cons = r->own_constraint;
    q->max_tokens = r->max_tokens;
    q->user = r->user;
    q->id = e->next_id++;
    if (e->qtail) e->qtail->next = q;
    else e->qhead = q;
    e->qtail = q;
    e->n_queued++;
    return q->id;
}

static int text_append(slot *s, const char *p, size_t n) {
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (s->len + n + 1 > cap) cap *= 2;
        char *t = realloc(s->text, cap);
        if (!t) return -1;
        s->text = t;
        s->cap = cap;
    }
    memcpy(s->text + s->len, p, n);
    s->len += n;
    s->text[s->len] = 0;
    return 0;
}

static int tok_append(slot *s, int32_t t) {
    if (s->n_tok == s->cap_tok) {
        int cap = s->cap_tok ? s->cap_tok * 2 : 64;
        int32_t *p = realloc(s->toks, (size_t)cap * sizeof *p);
        if (!p) return -1;
        s->toks = p;
        s->cap_tok = cap;
    }
    s->toks[s->n_tok++] = t;
    return 0;
}

static void emit(cf_engine *e, slot *s, const char *p, size_t n) {
    if (!n) return;
    text_append(s, p, n);
    if (e->cb.on_text) e->cb.on_text(e->cb.ctx, s->r->id, s->r->user, p, n);
}

/* Ends the request in slot s and frees the slot. */
static void finish(cf_engine *e, slot *s, cf_finish why, const char *detail) {
    size_t n = cf_detok_flush(&s->dt, e->tbuf, e->tcap);
    emit(e, s, e->tbuf, n);
    if (!s->text) text_append(s, "", 0);
    cf_gen_result res = {
        .id = s->r->id,
        .user = s->r->user,
        .finish = why,
        .complete = s->mat ? (cf_matcher_is_finished(s->mat) || cf_matcher_is_complete(s->mat)) : -1,
        .text = s->text ? s->text : "",
        .text_len = s->len,
        .toks = s->toks,
        .n_tok = s->n_tok,
        .n_prompt = s->r->n_prompt,
        .detail = detail ? detail : "",
    };
    uint64_t ns = 0, nm = 0;
    if (s->smp) cf_sampler_stats(s->smp, &ns, &nm);
    e->st.masked += (int64_t)nm;
    if (e->cb.on_done) e->cb.on_done(e->cb.ctx, &res);
    slot_release(s);
    e->n_running--;
}

/* Moves queued requests into free slots. */
static int admit(cf_engine *e, cf_err *err) {
    for (int i = 0; i < e->n_slots && e->qhead; i++) {
        slot *s = &e->s[i];
        if (s->r) continue;
        req *q = e->qhead;
        e->qhead = q->next;
        if (!e->qhead) e->qtail = NULL;
        e->n_queued--;
        q->next = NULL;
        memset(s, 0, sizeof *s);
        s->r = q;
        s->next_tok = -1;
        s->row = -1;
        e->n_running++;
        cf_context_clear_seq(e->c, i);
        cf_detok_init_mid(&s->dt, e->tok);
        if (cf_sampler_new(&q->sp, e->n_vocab, &s->smp, err) || (q->cons && cf_matcher_new(&s->mat, q->cons, err))) {
            slot_release(s);
            e->n_running--;
            return -(err ? err->code : CF_ENOMEM);
        }
        if (q->max_tokens == 0) finish(e, s, CF_FIN_LENGTH, NULL);
    }
    return 0;
}

/* Takes the sampled token t for slot s; ends the request when due. */
static void take(cf_engine *e, slot *s, int32_t t) {
    if (t < 0) {
        finish(e, s, CF_FIN_DEAD, s->mat ? "the constraint allows no token here" : "no token can be sampled");
        return;
    }
    cf_sampler_accept(s->smp, t);
    if (s->mat) {
        cf_err me;
        if (cf_matcher_advance(s->mat, t, &me)) {   /* cannot happen after a filtered pick */
            finish(e, s, CF_FIN_DEAD, "the constraint refused the sampled token");
            return;
        }
        if (cf_matcher_is_finished(s->mat)) {
            finish(e, s, CF_FIN_STOP, NULL);
            return;
        }
    }
    if (cf_tok_is_eog(e->tok, t)) {
        finish(e, s, CF_FIN_STOP, NULL);
        return;
    }
    if (tok_append(s, t)) {
        finish(e, s, CF_FIN_DEAD, "out of memory");
        return;
    }
    size_t n = cf_detok_push(&s->dt, t, e->tbuf, e->tcap);
    emit(e, s, e->tbuf, n);
    if (s->mat && cf_matcher_is_complete(s->mat) && !cf_matcher_can_continue(s->mat)) {
        finish(e, s, CF_FIN_COMPLETE, NULL);
        return;
    }
    if (s->n_tok >= s->r->max_tokens) {
        finish(e, s, CF_FIN_LENGTH, NULL);
        return;
    }
    if (s->pos >= e->c->kv.n_ctx) {
        finish(e, s, CF_FIN_CONTEXT, NULL);
        return;
    }
    s->next_tok = t;
}

/* Slot i's row of allowed ids (only_max entries). */
static int32_t *only_row(const cf_engine *e, int i) { return e->only_buf + (size_t)i * (size_t)e->only_max; }

/* Samples the slots in e->sel[ith], e->sel[ith + nth], ... (thread-safe: each slot is touched by
 * one thread; matchers of a shared constraint serialize on its lock). */
static void sample_par(const cf_par *p, void *arg) {
    cf_engine *e = arg;
    for (int k = p->ith; k < e->nsel; k += p->nth) {
        slot *s = &e->s[e->sel[k]];
        float *l = e->logits + (size_t)s->row * (size_t)e->n_vocab;
        if (s->n_only >= 0) { /* a logit subset: its ids are the constraint's allowed set */
            s->picked = cf_sampler_sample_ids(s->smp, l, e->n_vocab, only_row(e, e->sel[k]), s->n_only);
            continue;
        }
        cf_token_filter f;
        if (s->mat) f = cf_matcher_filter(s->mat);
        s->picked = cf_sampler_sample(s->smp, l, e->n_vocab, s->mat ? &f : NULL);
    }
}

/* Slot i's allowed tokens into its only_buf row when its constraint allows 1..only_max of them
 * (s->n_only; returns it), else -1.  Not with an on_logits callback (it wants whole rows). */
static int only_ids(cf_engine *e, slot *s, int i) {
    if (!s->mat || e->only_max <= 0 || e->cb.on_logits) return -1;
    size_t nw = ((size_t)e->n_vocab + 31) / 32;
    memset(e->bits, 0, nw * sizeof *e->bits); /* the constraint's vocabulary may be the smaller */
    int n = cf_matcher_mask(s->mat, e->bits);
    if (n <= 0 || n > e->only_max) return -1;
    int32_t *ids = only_row(e, i);
    int k = 0;
    for (size_t w = 0; w < nw && k < n; w++)
        for (uint32_t m = e->bits[w]; m; m &= m - 1) ids[k++] = (int32_t)(w * 32 + (size_t)__builtin_ctz(m));
    s->n_only = k;
    return k;
}

void cf_engine_set_logits_subset(cf_engine *e, int max_ids) {
    if (max_ids < 0) max_ids = 0;
    if (max_ids > e->only_max) {   /* grow the per-slot id rows */
        int32_t *nb = realloc(e->only_buf, (size_t)e->n_slots * (size_t)max_ids * sizeof *nb);
        if (!nb) return;
        e->only_buf = nb;
    }
    e->only_max = max_ids;
}

int cf_engine_step(cf_engine *e, cf_err *err) {
    cf_err local;
    if (!err) err = &local;
    int rc = admit(e, err);
    if (rc) {
        cf_engine_abort(e);
        return rc;
    }
    if (!e->n_running) return e->n_queued ? 1 : 0;
    cf_batch *b = &e->b;
    cf_batch_clear(b);
    int nrow = 0, n_pre = 0, n_sub = 0;
    double tm = cf_now_s(); /* the constraint masks below count as sampling time */
    /* decode tokens first, one per running sequence: those whose logits cover the vocabulary,
     * then (after the prefill chunks, so the full rows stay a prefix of the output rows) those
     * whose constraint allows only a few tokens now */
    for (int i = 0; i < e->n_slots; i++) {
        slot *s = &e->s[i];
        s->row = -1;
        s->n_only = -1;
        if (!s->r || s->next_tok < 0) continue;
        if (only_ids(e, s, i) >= 0) {
            n_sub++;
            continue;
        }
        cf_batch_add(b, s->next_tok, (int32_t)s->pos, i, 1);
        s->row = nrow++;
    }
    int n_dec = b->n + n_sub, cap = b->cap;
    e->st.t_sample_s += cf_now_s() - tm;
    b->cap -= n_sub; /* room for them */
    /* then prefill chunks, oldest request first */
    for (;;) {
        slot *best = NULL;
        for (int i = 0; i < e->n_slots; i++) {
            slot *s = &e->s[i];
            if (s->r && s->next_tok < 0 && s->row == -1 && s->n_fed < s->r->n_prompt && (!best || s->r->id < best->r->id))
                best = s;
        }
        if (!best || b->n >= b->cap) break;
        int i = (int)(best - e->s);
        int want = best->r->n_prompt - best->n_fed;
        int k = cf_batch_add_seq(b, best->r->prompt + best->n_fed, want, best->n_fed, i, 1);
        best->n_fed += k;
        best->pos = best->n_fed;
        n_pre += k;
        best->row = k == want ? nrow++ : -2;   /* -2: fed this step, no logits yet */
    }
    b->cap = cap;
    for (int i = 0; i < e->n_slots && n_sub; i++) {
        slot *s = &e->s[i];
        if (!s->r || s->next_tok < 0 || s->n_only < 0) continue;
        cf_batch_add(b, s->next_tok, (int32_t)s->pos, i, 1);
        cf_batch_set_only(b, b->n - 1, only_row(e, i), s->n_only);
        s->row = nrow++;
    }
    double t0 = cf_now_s();
    if (cf_forward(e->c, b, e->logits, err)) {
        cf_engine_abort(e);
        return -(err->code ? err->code : CF_EINVAL);
    }
    double t1 = cf_now_s();
    e->st.steps++;
    e->st.prefill_tokens += n_pre;
    e->st.decode_tokens += n_dec;
    if (n_pre) e->st.t_prefill_s += t1 - t0;
    else e->st.t_decode_s += t1 - t0;
    e->nsel = 0;
    for (int i = 0; i < e->n_slots; i++) {
        slot *s = &e->s[i];
        if (!s->r) continue;
        if (s->next_tok >= 0) s->pos++;
        s->next_tok = -1;
        if (s->row < 0) {
            s->row = -1;
            continue;
        }
        if (e->cb.on_logits)
            e->cb.on_logits(e->cb.ctx, s->r->id, s->n_tok, e->logits + (size_t)s->row * (size_t)e->n_vocab, e->n_vocab);
        e->sel[e->nsel++] = i;
    }
    /* sampling: independent per sequence (own sampler, matcher, logits row), so the team may
     * split it; the results do not depend on who sampled what */
    int nth = e->c->p.n_threads < e->nsel ? e->c->p.n_threads : e->nsel;
    if (nth > 1) cf_parallel_run(nth, sample_par, e);
    else sample_par(&cf_par_serial, e);
    for (int k = 0; k < e->nsel; k++) {
        slot *s = &e->s[e->sel[k]];
        s->row = -1;
        e->st.sampled++;
        take(e, s, s->picked);
    }
    e->st.t_sample_s += cf_now_s() - t1;
    return e->n_running || e->n_queued ? 1 : 0;
}

int cf_engine_run(cf_engine *e, cf_err *err) {
    for (;;) {
        int rc = cf_engine_step(e, err);
        if (rc <= 0) return rc;
    }
}

int cf_engine_n_queued(const cf_engine *e) { return e->n_queued; }
int cf_engine_n_running(const cf_engine *e) { return e->n_running; }
int cf_engine_n_slots(const cf_engine *e) { return e->n_slots; }
void cf_engine_get_stats(const cf_engine *e, cf_engine_stats *s) {
    *s = e->st;
    for (int i = 0; i < e->n_slots; i++) {   /* running sequences' mask counts too */
        uint64_t ns = 0, nm = 0;
        if (e->s[i].smp) cf_sampler_stats(e->s[i].smp, &ns, &nm);
        s->masked += (int64_t)nm;
    }
}
