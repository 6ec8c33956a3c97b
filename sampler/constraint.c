/* Constraint and matcher API (see constraint.h). */
#include "sampler/constraint.h"

#include <stdlib.h>
#include <string.h>

#include "sampler/cons_int.h"

struct cf_matcher {
    cf_constraint *K;
    cfg *cs;
    uint32_t n, cap;
    uint32_t set;
    uint64_t gen;
    uint8_t flags;
    int finished;
};

static int k_init(cf_constraint *K) {
    if (htab_init(&K->bh, 256) || htab_init(&K->snh, 1024) || htab_init(&K->sh, 1024) || htab_init(&K->th, 4096) ||
        htab_init(&K->ph, 256))
        return -1;
    K->capsn = 1024;
    K->sn = malloc(K->capsn * sizeof *K->sn);
    K->sn_depth = malloc(K->capsn * sizeof *K->sn_depth);
    K->sn_combo = malloc(K->capsn);
    if (!K->sn || !K->sn_depth || !K->sn_combo) return -1;
    K->sn[0] = (cfg){0, 0, 0};
    K->sn_depth[0] = 0;
    K->sn_combo[0] = 0;
    K->nsn = 1;
    K->capsets = 1024;
    K->s_off = malloc(K->capsets * sizeof *K->s_off);
    K->s_n = malloc(K->capsets * sizeof *K->s_n);
    K->s_flags = malloc(K->capsets);
    K->s_fb = malloc(K->capsets * sizeof *K->s_fb);
    K->s_meta = malloc(K->capsets * sizeof *K->s_meta);
    if (!K->s_off || !K->s_n || !K->s_flags || !K->s_fb || !K->s_meta) return -1;
    K->s_off[0] = 0;
    K->s_n[0] = 0;
    K->s_flags[0] = 0;
    memset(K->s_fb[0], 0, sizeof K->s_fb[0]);
    K->s_meta[0].bits = NULL;
    K->nsets = 1;
    return 0;
}

int cf_constraint_new(cf_constraint **out, cf_grammar *g, const cf_cons_vocab *v, cf_err *err) {
    *out = NULL;
    if (!g) return cf_errf(err, CF_EINVAL, "constraint: no grammar");
    int rc = cf_grammar_check(g, err);
    if (rc) {
        cf_grammar_free(g);
        return rc;
    }
    cf_constraint *K = calloc(1, sizeof *K);
    if (!K) {
        cf_grammar_free(g);
        return cf_errf(err, CF_ENOMEM, "constraint: out of memory");
    }
    pthread_mutex_init(&K->lock, NULL);
    K->g = g;
    K->v = v;
    K->max_ws = g->max_ws < 0 ? 0 : g->max_ws > 255 ? 255 : g->max_ws;
    if (k_init(K)) {
        cf_constraint_free(K);
        return cf_errf(err, CF_ENOMEM, "constraint: out of memory");
    }
    rc = cons_build(K, err);
    if (rc) {
        cf_constraint_free(K);
        return rc;
    }
    uint32_t root = cons_root_set(K);
    if (K->oom) {
        cf_constraint_free(K);
        return cf_errf(err, CF_ENOMEM, "constraint: out of memory");
    }
    if (!root) {
        cf_constraint_free(K);
        return cf_errf(err, CF_EINVAL, "constraint: the grammar matches nothing");
    }
    *out = K;
    return 0;
}

void cf_constraint_free(cf_constraint *K) {
    if (!K) return;
    for (uint32_t i = 0; i < K->nsets; i++) free(K->s_meta[i].bits);
    for (uint32_t i = 0; i < K->npcs; i++) pc_free(K->pcs[i]);
    free(K->pcs);
    for (int i = 0; i < K->nsp; i++) sprog_free(&K->sp[i]);
    free(K->sp);
    for (int i = 0; i < K->nnp; i++) num_prog_free(&K->np[i]);
    free(K->np);
    for (int i = 0; i < K->nop; i++) {
        oprog *p = &K->op[i];
        free(p->prop_tl);
        free(p->required);
        free(p->pat_tl);
        if (p->dep)
            for (int j = 0; j < p->nprop; j++) free(p->dep[j]);
        free(p->dep);
        free(p->multi);
    }
    free(K->op);
    for (int i = 0; i < K->nap; i++) free(K->ap[i].prefix_tl);
    free(K->ap);
    free(K->cp);
    free(K->vn);
    free(K->rs);
    free(K->re_);
    free(K->rc);
    free(K->tl);
    free(K->tl_items);
    free(K->rule_tl);
    free(K->native_vn);
    free(K->bpool);
    free(K->boff);
    free(K->blen);
    htab_free(&K->bh);
    free(K->sn);
    free(K->sn_depth);
    free(K->sn_combo);
    htab_free(&K->snh);
    free(K->scfg);
    free(K->s_off);
    free(K->s_n);
    free(K->s_flags);
    free(K->s_fb);
    free(K->s_meta);
    htab_free(&K->sh);
    htab_free(&K->th);
    htab_free(&K->ph);
    free(K->w);
    free(K->out);
    cf_grammar_free(K->g);
    pthread_mutex_destroy(&K->lock);
    free(K);
}

const char *cf_constraint_warnings(const cf_constraint *c) { return c && c->g ? c->g->warnings : NULL; }

void cf_constraint_stats(const cf_constraint *c, size_t *states, size_t *entries, size_t *cache_bytes) {
    if (states) *states = c->nsets;
    if (entries) *entries = c->npcs;
    if (cache_bytes) *cache_bytes = c->cache_bytes;
}

/* ---- matchers ---- */

static int m_load(cf_matcher *m, uint32_t set) {
    cf_constraint *K = m->K;
    uint32_t n;
    const cfg *cs = cons_set(K, set, &n);
    if (n > m->cap) {
        uint32_t nc = n + 16;
        cfg *a = realloc(m->cs, (size_t)nc * sizeof *a);
        if (!a) return -1;
        m->cs = a;
        m->cap = nc;
    }
    memcpy(m->cs, cs, (size_t)n * sizeof *cs);
    m->n = n;
    m->set = set;
    m->gen = K->gen;
    m->flags = K->s_flags[set];
    return 0;
}

/* Current set id (re-interned after a cache flush); caller holds the lock. */
static uint32_t m_set(cf_matcher *m) {
    cf_constraint *K = m->K;
    if (K->cache_bytes > CF_CONS_CACHE_BYTES) cons_flush_caches(K);
    if (m->gen != K->gen) {
        m->set = cons_intern(K, m->cs, m->n);
        m->gen = K->gen;
    }
    return m->set;
}

int cf_matcher_new(cf_matcher **out, cf_constraint *c, cf_err *err) {
    *out = NULL;
    cf_matcher *m = calloc(1, sizeof *m);
    if (!m) return cf_errf(err, CF_ENOMEM, "matcher: out of memory");
    m->K = c;
    pthread_mutex_lock(&c->lock);
    uint32_t root = cons_root_set(c);
    int rc = root && !c->oom ? m_load(m, root) : -1;
    pthread_mutex_unlock(&c->lock);
    if (rc) {
        free(m->cs);
        free(m);
        return cf_errf(err, CF_ENOMEM, "matcher: out of memory");
    }
    *out = m;
    return 0;
}

void cf_matcher_free(cf_matcher *m) {
    if (!m) return;
    free(m->cs);
    free(m);
}

void cf_matcher_reset(cf_matcher *m) {
    cf_constraint *K = m->K;
    pthread_mutex_lock(&K->lock);
    uint32_t root = cons_root_set(K);
    if (root) m_load(m, root);
    m->finished = 0;
    pthread_mutex_unlock(&K->lock);
}

static uint32_t walk_bytes(cf_constraint *K, uint32_t s, const uint8_t *b, size_t n, size_t *bad) {
    for (size_t i = 0; i < n && s; i++) {
        uint32_t t = cons_step(K, s, b[i]);
        if (!t && bad) *bad = i;
        s = t;
    }
    return s;
}

int cf_matcher_accepts(cf_matcher *m, int32_t tok) {
    cf_constraint *K = m->K;
    const cf_cons_vocab *v = K->v;
    if (!v || tok < 0 || tok >= v->n_vocab || m->finished) return 0;
    if (tok == v->eos) return (m->flags & SF_COMPLETE) != 0;
    if (!v->len[tok]) return 0;
    pthread_mutex_lock(&K->lock);
    uint32_t s = m_set(m);
    s = walk_bytes(K, s, v->pool + v->off[tok], v->len[tok], NULL);
    pthread_mutex_unlock(&K->lock);
    return s != 0;
}

int cf_matcher_mask(cf_matcher *m, uint32_t *bits) {
    cf_constraint *K = m->K;
    const cf_cons_vocab *v = K->v;
    if (!v) return -1;
    if (m->finished) {
        memset(bits, 0, (size_t)v->words * 4);
        return 0;
    }
    pthread_mutex_lock(&K->lock);
    uint32_t s = m_set(m);
    int rc = cons_mask(K, s, bits);
    if (K->oom) rc = -1;
    pthread_mutex_unlock(&K->lock);
    if (rc) return -1;
    int cnt = 0;
    for (int i = 0; i < v->words; i++) {
        uint32_t x = bits[i];   /* SWAR popcount: no -mpopcnt in the generic build */
        x = x - ((x >> 1) & 0x55555555u);
        x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
        cnt += (int)((((x + (x >> 4)) & 0x0F0F0F0Fu) * 0x01010101u) >> 24);
    }
    return cnt;
}

/* A string regex hit its DFA cap (regex.h): bytes it would have decided are refused (cons_str.c),
 * so a refusal is reported as that limit, not as a byte the grammar does not allow. */
static int regex_cap_hit(const cf_constraint *K, cf_err *err) {
    for (int i = 0; i < K->nsp; i++)
        for (int j = 0; j < K->sp[i].nre; j++)
            if (cf_regex_overflowed(K->sp[i].re[j], err)) {
                cf_err_prefix(err, "matcher: string pattern");
                return 1;
            }
    return 0;
}

int cf_matcher_advance(cf_matcher *m, int32_t tok, cf_err *err) {
    cf_constraint *K = m->K;
    const cf_cons_vocab *v = K->v;
    if (!v) return cf_errf(err, CF_EINVAL, "matcher: no vocabulary");
    if (tok < 0 || tok >= v->n_vocab) return cf_errf(err, CF_EINVAL, "matcher: token %d out of range", tok);
    if (m->finished) return cf_errf(err, CF_EINVAL, "matcher: token %d after the end of the document", tok);
    if (tok == v->eos) {
        if (!(m->flags & SF_COMPLETE))
            return cf_errf(err, CF_EINVAL, "matcher: end of sequence before the document is complete");
        m->finished = 1;
        return 0;
    }
    if (!v->len[tok]) return cf_errf(err, CF_EINVAL, "matcher: control token %d is never allowed", tok);
    pthread_mutex_lock(&K->lock);
    uint32_t s = m_set(m);
    size_t bad = 0;
    uint32_t t = walk_bytes(K, s, v->pool + v->off[tok], v->len[tok], &bad);
    int rc = 0;
    if (t) {
        if (m_load(m, t)) rc = cf_errf(err, CF_ENOMEM, "matcher: out of memory");
    } else if (K->oom) {
        rc = cf_errf(err, CF_ENOMEM, "matcher: out of memory");
    } else if (regex_cap_hit(K, err)) {
        rc = CF_ELIMIT;
    } else {
        rc = cf_errf(err, CF_EINVAL, "matcher: token %d not allowed here (its byte %zu)", tok, bad);
    }
    pthread_mutex_unlock(&K->lock);
    return rc;
}

int cf_matcher_feed(cf_matcher *m, const void *bytes, size_t n, cf_err *err) {
    cf_constraint *K = m->K;
    if (m->finished) return cf_errf(err, CF_EINVAL, "matcher: bytes after the end of the document");
    pthread_mutex_lock(&K->lock);
    uint32_t s = m_set(m);
    size_t bad = 0;
    uint32_t t = walk_bytes(K, s, bytes, n, &bad);
    int rc = 0;
    if (n == 0) t = s;
    if (t) {
        if (m_load(m, t)) rc = cf_errf(err, CF_ENOMEM, "matcher: out of memory");
    } else if (K->oom) {
        rc = cf_errf(err, CF_ENOMEM, "matcher: out of memory");
    } else if (regex_cap_hit(K, err)) {
        rc = CF_ELIMIT;
    } else {
        rc = cf_errf(err, CF_EINVAL, "byte %zu (0x%02x) not allowed here", bad, ((const uint8_t *)bytes)[bad]);
    }
    pthread_mutex_unlock(&K->lock);
    return rc;
}

int cf_matcher_is_complete(const cf_matcher *m) { return !m->finished && (m->flags & SF_COMPLETE) != 0; }
int cf_matcher_can_continue(const cf_matcher *m) { return !m->finished && (m->flags & SF_LIVE) != 0; }
int cf_matcher_is_finished(const cf_matcher *m) { return m->finished; }

int cf_matcher_filter_accepts(void *matcher, int32_t tok) { return cf_matcher_accepts(matcher, tok); }
void cf_matcher_filter_mask(void *matcher, uint32_t *bits) {
    if (cf_matcher_mask(matcher, bits) < 0) {
        /* on failure allow nothing but EOS if complete: never let an invalid token through */
        cf_matcher *m = matcher;
        const cf_cons_vocab *v = m->K->v;
        if (!v) return;
        memset(bits, 0, (size_t)v->words * 4);
        if (cf_matcher_is_complete(m) && v->eos >= 0) bits[v->eos >> 5] |= 1u << (v->eos & 31);
    }
}

cf_token_filter cf_matcher_filter(cf_matcher *m) {
    cf_token_filter f = {m, cf_matcher_filter_accepts, cf_matcher_filter_mask};
    return f;
}
