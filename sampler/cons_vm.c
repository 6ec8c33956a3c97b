/* The machine: interning (blobs, stack nodes, configuration sets), frame dispatch, the closure
 * under pushes / pops / combo decisions, and the cached byte step between sets. */
#include <stdlib.h>
#include <string.h>

#include "sampler/cons_int.h"

/* ---- hashing ---- */

uint64_t cons_hash64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t cons_hash_bytes(const void *p, size_t n, uint64_t seed) {
    const uint8_t *b = p;
    uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ULL);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, b, 8);
        h = cons_hash64(h ^ v) + 0x9E3779B97F4A7C15ULL;
        b += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, b, n);
    return cons_hash64(h ^ v ^ ((uint64_t)n << 56));
}

/* ---- open-addressing table: hash -> id, several ids per hash allowed ---- */

int htab_init(htab *h, uint64_t cap) {
    uint64_t c = 16;
    while (c < cap) c *= 2;
    h->keys = calloc(c, sizeof *h->keys);
    h->ids = malloc(c * sizeof *h->ids);
    h->mask = c - 1;
    h->n = 0;
    return h->keys && h->ids ? 0 : -1;
}

void htab_free(htab *h) {
    free(h->keys);
    free(h->ids);
    memset(h, 0, sizeof *h);
}

void htab_clear(htab *h) {
    if (h->keys) memset(h->keys, 0, (h->mask + 1) * sizeof *h->keys);
    h->n = 0;
}

static inline uint64_t nz(uint64_t k) { return k ? k : 1; }

uint32_t htab_get(const htab *h, uint64_t key) {
    key = nz(key);
    for (uint64_t i = cons_hash64(key) & h->mask;; i = (i + 1) & h->mask) {
        if (!h->keys[i]) return UINT32_MAX;
        if (h->keys[i] == key) return h->ids[i];
    }
}

static int htab_grow(htab *h) {
    htab n;
    if (htab_init(&n, (h->mask + 1) * 2)) return -1;
    for (uint64_t i = 0; i <= h->mask; i++)
        if (h->keys[i]) {
            uint64_t j = cons_hash64(h->keys[i]) & n.mask;
            while (n.keys[j]) j = (j + 1) & n.mask;
            n.keys[j] = h->keys[i];
            n.ids[j] = h->ids[i];
            n.n++;
        }
    htab_free(h);
    *h = n;
    return 0;
}

int htab_put(htab *h, uint64_t key, uint32_t id) {
    if ((h->n + 1) * 2 > h->mask + 1 && htab_grow(h)) return -1;
    key = nz(key);
    uint64_t i = cons_hash64(key) & h->mask;
    while (h->keys[i]) i = (i + 1) & h->mask;
    h->keys[i] = key;
    h->ids[i] = id;
    h->n++;
    return 0;
}

/* iterate ids stored under key: start with *slot = UINT64_MAX */
uint32_t htab_next(const htab *h, uint64_t key, uint64_t *slot) {
    key = nz(key);
    uint64_t i = *slot == UINT64_MAX ? (cons_hash64(key) & h->mask) : ((*slot + 1) & h->mask);
    for (;; i = (i + 1) & h->mask) {
        if (!h->keys[i]) return UINT32_MAX;
        if (h->keys[i] == key) {
            *slot = i;
            return h->ids[i];
        }
    }
}

/* ---- blobs ---- */

uint32_t cons_blob(cf_constraint *K, const void *p, uint32_t n) {
    uint64_t hk = cons_hash_bytes(p, n, 0xB10B);
    uint64_t slot = UINT64_MAX;
    for (uint32_t id; (id = htab_next(&K->bh, hk, &slot)) != UINT32_MAX;)
        if (K->blen[id] == n && !memcmp(K->bpool + K->boff[id], p, n)) return id;
    uint64_t off = (K->nbpool + 15) & ~15ull;
    if (off + n > K->capbpool) {
        uint64_t nc = K->capbpool ? K->capbpool * 2 : 4096;
        while (nc < off + n) nc *= 2;
        uint8_t *np = realloc(K->bpool, nc);
        if (!np) goto oom;
        K->bpool = np;
        K->capbpool = nc;
    }
    if (K->nblob == K->capblob) {
        uint32_t nc = K->capblob ? K->capblob * 2 : 256;
        uint64_t *no = realloc(K->boff, (size_t)nc * sizeof *no);
        if (!no) goto oom;
        K->boff = no;
        uint32_t *nl = realloc(K->blen, (size_t)nc * sizeof *nl);
        if (!nl) goto oom;
        K->blen = nl;
        K->capblob = nc;
    }
    memcpy(K->bpool + off, p, n);
    K->nbpool = off + n;
    uint32_t id = K->nblob++;
    K->boff[id] = off;
    K->blen[id] = n;
    if (htab_put(&K->bh, hk, id)) goto oom;
    return id;
oom:
    K->oom = 1;
    return UINT32_MAX;
}

const void *cons_blob_ptr(const cf_constraint *K, uint32_t id, uint32_t *n) {
    *n = K->blen[id];
    return K->bpool + K->boff[id];
}

/* ---- stack nodes (id 0 = bottom) ---- */

static uint64_t cfg_hash(const cfg *c) {
    return cons_hash64(((uint64_t)c->node << 32 | c->parent) ^ cons_hash64(c->aux + 0x5bd1e995));
}
static int cfg_eq(const cfg *a, const cfg *b) { return a->node == b->node && a->parent == b->parent && a->aux == b->aux; }

uint32_t cons_stack(cf_constraint *K, uint32_t node, uint64_t aux, uint32_t parent) {
    cfg c = {node, parent, aux};
    uint64_t hk = cfg_hash(&c);
    uint64_t slot = UINT64_MAX;
    for (uint32_t id; (id = htab_next(&K->snh, hk, &slot)) != UINT32_MAX;)
        if (cfg_eq(&K->sn[id], &c)) return id;
    if (K->sn_depth[parent] >= CF_MAX_DEPTH) return 0;
    if (K->nsn == K->capsn) {
        uint32_t nc = K->capsn * 2;
        cfg *a = realloc(K->sn, (size_t)nc * sizeof *a);
        if (!a) goto oom;
        K->sn = a;
        uint16_t *d = realloc(K->sn_depth, (size_t)nc * sizeof *d);
        if (!d) goto oom;
        K->sn_depth = d;
        uint8_t *f = realloc(K->sn_combo, nc);
        if (!f) goto oom;
        K->sn_combo = f;
        K->capsn = nc;
    }
    uint32_t id = K->nsn++;
    K->sn[id] = c;
    K->sn_depth[id] = (uint16_t)(K->sn_depth[parent] + 1);
    K->sn_combo[id] = (uint8_t)(K->sn_combo[parent] || K->vn[node].kind == VK_COMBO);
    if (htab_put(&K->snh, hk, id)) goto oom;
    return id;
oom:
    K->oom = 1;
    return 0;
}

/* ---- frame dispatch ---- */

int fr_step(cf_constraint *K, uint32_t *node, uint64_t *aux, uint8_t b) {
    const vnode *v = &K->vn[*node];
    switch (v->kind) {
    case VK_RULE: {
        const rstate *r = &K->rs[v->spec];
        if (!fb_has(r->fb, b)) return 0;
        const redge *e = K->re_ + r->e_off;
        for (int32_t i = 0; i < r->e_n; i++)
            if (b >= e[i].lo && b <= e[i].hi) {
                *node = e[i].to;
                return 1;
            }
        return 0;
    }
    case VK_STRING: {
        const sprog *p = &K->sp[v->spec];
        sstate s;
        uint32_t seen[512];
        str_unpack(K, p, *aux, &s, p->seen_words ? seen : NULL);
        if (!str_step_u(p, &s, p->seen_words ? seen : NULL, b, 0)) return 0;
        uint64_t a = str_pack(K, p, &s, seen);
        if (a == UINT64_MAX) return 0;
        *aux = a;
        return 1;
    }
    case VK_NUMBER: return num_step(K, &K->np[v->spec], aux, b);
    case VK_OBJECT: return obj_step(K, *node, aux, b);
    case VK_ARRAY: return arr_step(K, *node, aux, b);
    }
    return 0;
}

int fr_final(cf_constraint *K, uint32_t node, uint64_t aux, uint64_t *result) {
    const vnode *v = &K->vn[node];
    *result = 0;
    switch (v->kind) {
    case VK_RULE: return v->final;
    case VK_STRING: {
        if ((int)((aux >> 16) & 15) != SP_CLOSED) return 0;
        const sprog *p = &K->sp[v->spec];
        if (!p->key_mode) return 1;
        sstate s;
        str_unpack(K, p, aux, &s, NULL);
        return str_final(p, &s, result);
    }
    case VK_NUMBER: return num_final(K, &K->np[v->spec], aux);
    case VK_OBJECT: return obj_final(K, node, aux);
    case VK_ARRAY: return arr_final(K, node, aux);
    }
    return 0;
}

int fr_local(cf_constraint *K, uint32_t node, uint64_t aux) {
    const vnode *v = &K->vn[node];
    switch (v->kind) {
    case VK_RULE: return v->has_bytes;
    case VK_STRING: return (int)((aux >> 16) & 15) != SP_CLOSED;
    case VK_NUMBER: {
        uint32_t fb[8];
        num_first(K, &K->np[v->spec], aux, fb);
        for (int i = 0; i < 8; i++)
            if (fb[i]) return 1;
        return 0;
    }
    case VK_OBJECT: return obj_phase_local(K, node, aux);
    case VK_ARRAY: return arr_phase_local(K, node, aux);
    }
    return 0;
}

int fr_has_calls(cf_constraint *K, uint32_t node, uint64_t aux) {
    const vnode *v = &K->vn[node];
    switch (v->kind) {
    case VK_RULE: return v->has_calls;
    case VK_OBJECT: return obj_has_calls(K, node, aux);
    case VK_ARRAY: return arr_has_calls(K, node, aux);
    }
    return 0;
}

void fr_first(cf_constraint *K, uint32_t node, uint64_t aux, uint32_t fb[8]) {
    const vnode *v = &K->vn[node];
    switch (v->kind) {
    case VK_RULE: memcpy(fb, K->rs[v->spec].fb, 32); return;
    case VK_STRING: {
        const sprog *p = &K->sp[v->spec];
        sstate s;
        str_unpack(K, p, aux, &s, NULL);
        str_first(p, &s, fb);
        return;
    }
    case VK_NUMBER: num_first(K, &K->np[v->spec], aux, fb); return;
    case VK_OBJECT: obj_first(K, node, aux, fb); return;
    case VK_ARRAY: arr_first(K, node, aux, fb); return;
    }
    memset(fb, 0, 32);
}

/* ---- closure ---- */

typedef struct {
    uint32_t N, combo;
    uint64_t tags;
    int resolved;
} cgroup;

typedef struct {
    cf_constraint *K;
    cgroup *g;
    int ng, capg;
} cl_ctx;

static void wpush(cf_constraint *K, cfg c) {
    if (K->nw == K->capw) {
        uint32_t nc = K->capw ? K->capw * 2 : 256;
        cfg *n = realloc(K->w, (size_t)nc * sizeof *n);
        if (!n) {
            K->oom = 1;
            return;
        }
        K->w = n;
        K->capw = nc;
    }
    K->w[K->nw++] = c;
}

static void opush(cf_constraint *K, cfg c) {
    if (K->nout == K->capout) {
        uint32_t nc = K->capout ? K->capout * 2 : 256;
        cfg *n = realloc(K->out, (size_t)nc * sizeof *n);
        if (!n) {
            K->oom = 1;
            return;
        }
        K->out = n;
        K->capout = nc;
    }
    K->out[K->nout++] = c;
}

/* seen-set of configurations for one closure: open addressing over a local array */

typedef struct {
    uint32_t *slot;   /* index + 1 into a local array of cfgs, 0 empty */
    cfg *c;
    uint32_t n, cap;
} cset;

static int cset_init(cset *s, uint32_t cap) {
    uint32_t c = 64;
    while (c < cap * 2) c *= 2;
    s->slot = calloc(c, sizeof *s->slot);
    s->c = malloc((size_t)c / 2 * sizeof *s->c);
    s->n = 0;
    s->cap = c;
    return s->slot && s->c ? 0 : -1;
}

static void cset_free(cset *s) {
    free(s->slot);
    free(s->c);
}

/* 1 if inserted, 0 if present, -1 on OOM */
static int cset_add(cset *s, const cfg *c) {
    if ((s->n + 1) * 2 > s->cap) {
        cset n;
        if (cset_init(&n, s->cap)) return -1;
        for (uint32_t i = 0; i < s->n; i++) cset_add(&n, &s->c[i]);
        cset_free(s);
        *s = n;
    }
    uint32_t m = s->cap - 1;
    for (uint32_t i = (uint32_t)cfg_hash(c) & m;; i = (i + 1) & m) {
        if (!s->slot[i]) {
            s->c[s->n] = *c;
            s->slot[i] = ++s->n;
            return 1;
        }
        if (cfg_eq(&s->c[s->slot[i] - 1], c)) return 0;
    }
}

static void push_target(cf_constraint *K, uint32_t t, uint32_t P, uint64_t init, int depth);

static void push_tl(cf_constraint *K, int32_t tl, uint32_t P, uint64_t init) {
    if (tl <= -2) {
        push_target(K, (uint32_t)(-2 - tl), P, init, 0);
        return;
    }
    if (tl < 0) return;
    const tlist *L = &K->tl[tl];
    for (int32_t i = 0; i < L->n; i++) push_target(K, K->tl_items[L->off + i], P, UINT64_MAX, 0);
}

static void push_target(cf_constraint *K, uint32_t t, uint32_t P, uint64_t init, int depth) {
    if (depth > 64) return;
    const vnode *v = &K->vn[t];
    if (v->kind == VK_COMBO) {
        const cprog *cp = &K->cp[v->spec];
        for (int i = 0; i < cp->nb; i++) {
            uint32_t Ci = cons_stack(K, t, (uint64_t)i, P);
            if (!Ci) continue;
            int32_t tl = cp->tl[i];
            if (tl < 0) continue;
            const tlist *L = &K->tl[tl];
            for (int32_t j = 0; j < L->n; j++) push_target(K, K->tl_items[L->off + j], Ci, UINT64_MAX, depth + 1);
        }
        return;
    }
    cfg c = {t, P, init != UINT64_MAX ? init : cons_init_aux(K, t)};
    wpush(K, c);
}

static void do_pop(cf_constraint *K, cl_ctx *X, uint32_t p, uint64_t r) {
    if (p == 0) {
        cfg acc = {0, 0, 0};
        wpush(K, acc);
        return;
    }
    cfg pn = K->sn[p];
    const vnode *v = &K->vn[pn.node];
    if (v->kind == VK_COMBO) {
        for (int i = 0; i < X->ng; i++)
            if (X->g[i].N == pn.parent && X->g[i].combo == pn.node) {
                if (!X->g[i].resolved) X->g[i].tags |= 1ull << (pn.aux & 63);
                return;
            }
        if (X->ng == X->capg) {
            int nc = X->capg ? X->capg * 2 : 8;
            cgroup *ng = realloc(X->g, (size_t)nc * sizeof *ng);
            if (!ng) {
                K->oom = 1;
                return;
            }
            X->g = ng;
            X->capg = nc;
        }
        X->g[X->ng++] = (cgroup){pn.parent, pn.node, 1ull << (pn.aux & 63), 0};
        return;
    }
    uint32_t node = pn.node;
    uint64_t aux = pn.aux;
    switch (v->kind) {
    case VK_OBJECT:
        if (!obj_resume(K, node, &aux, r)) return;
        break;
    case VK_ARRAY:
        if (!arr_resume(K, node, &aux, r)) return;
        break;
    default: break;
    }
    cfg c = {node, pn.parent, aux};
    wpush(K, c);
}

static int combo_decide(const cprog *cp, uint64_t tags, uint64_t *r) {
    *r = 0;
    switch (cp->kind) {
    case CF_COMBO_ONE: return __builtin_popcountll(tags) == 1;
    case CF_COMBO_ALL: return tags == (cp->nb >= 64 ? ~0ull : (1ull << cp->nb) - 1);
    case CF_COMBO_NOT: return (tags & 1) && !(tags & 2);
    case CF_COMBO_IF: return ((tags & 1) && (tags & 2)) || (!(tags & 1) && (tags & 4));
    case COMBO_CONTAINS:
        *r = (tags >> 1) & 1;
        return (int)(tags & 1);
    }
    return 0;
}

static int cfg_cmp(const void *a, const void *b) {
    const cfg *x = a, *y = b;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    if (x->parent != y->parent) return x->parent < y->parent ? -1 : 1;
    if (x->aux != y->aux) return x->aux < y->aux ? -1 : 1;
    return 0;
}

static uint32_t intern_set(cf_constraint *K, cfg *cs, uint32_t n);

uint32_t cons_intern(cf_constraint *K, const cfg *cs, uint32_t n) {
    if (n == 0) return 0;
    K->nout = 0;
    for (uint32_t i = 0; i < n; i++) opush(K, cs[i]);
    if (K->oom) return 0;
    return intern_set(K, K->out, n);
}

static void expand(cf_constraint *K, cl_ctx *X, cfg c) {
    const vnode *v = &K->vn[c.node];
    if (v->kind == VK_ACCEPT) {
        opush(K, c);
        return;
    }
    if (fr_local(K, c.node, c.aux)) opush(K, c);
    switch (v->kind) {
    case VK_RULE:
        if (v->has_calls) {
            const rstate *r = &K->rs[v->spec];
            for (int32_t i = 0; i < r->c_n; i++) {
                const rcall *rc = &K->rc[r->c_off + i];
                uint32_t P = cons_stack(K, rc->ret, 0, c.parent);
                if (P) push_tl(K, rc->tl, P, UINT64_MAX);
            }
        }
        break;
    case VK_OBJECT: {
        int32_t tl;
        uint64_t ra, ia;
        if (obj_calls(K, c.node, c.aux, &tl, &ra, &ia)) {
            uint32_t P = cons_stack(K, c.node, ra, c.parent);
            if (P) push_tl(K, tl, P, ia);
        }
        break;
    }
    case VK_ARRAY: {
        int32_t tl;
        uint64_t ra;
        if (arr_calls(K, c.node, c.aux, &tl, &ra)) {
            uint32_t P = cons_stack(K, c.node, ra, c.parent);
            if (P) push_tl(K, tl, P, UINT64_MAX);
        }
        break;
    }
    default: break;
    }
    uint64_t r;
    if (fr_final(K, c.node, c.aux, &r)) do_pop(K, X, c.parent, r);
}

/* Could a combo instance with these branch tags still alive ever pass? */
static int combo_viable(const cprog *cp, uint64_t alive) {
    switch (cp->kind) {
    case CF_COMBO_ONE: return alive != 0;
    case CF_COMBO_ALL: return alive == (cp->nb >= 64 ? ~0ull : (1ull << cp->nb) - 1);
    case CF_COMBO_NOT: return (int)(alive & 1);
    case CF_COMBO_IF: return ((alive & 1) && (alive & 2)) || (alive & 4);
    case COMBO_CONTAINS: return (int)(alive & 1);
    }
    return 1;
}

/* Drops the configurations of combo instances that can no longer pass (a branch every decision
 * needs has died): without this, a prefix could survive that no ending completes.  Instances are
 * identified as in the decisions: (continuation node, combo node). */
static void prune_combos(cf_constraint *K) {
    int any = 0;
    for (uint32_t i = 0; i < K->nout && !any; i++) any = K->sn_combo[K->out[i].parent];
    if (!any) return;
    struct inst {
        uint32_t N, combo;
        uint64_t alive;
    } loc[16], *in = loc;
    int ni = 0, cap = 16;
    for (int round = 0; round < 64; round++) {
        ni = 0;
        for (uint32_t i = 0; i < K->nout; i++)
            for (uint32_t p = K->out[i].parent; p && K->sn_combo[p]; p = K->sn[p].parent) {
                if (K->vn[K->sn[p].node].kind != VK_COMBO) continue;
                uint32_t N = K->sn[p].parent, cn = K->sn[p].node;
                int j = 0;
                while (j < ni && !(in[j].N == N && in[j].combo == cn)) j++;
                if (j == ni) {
                    if (ni == cap) {
                        struct inst *n2 = malloc((size_t)cap * 2 * sizeof *n2);
                        if (!n2) {
                            K->oom = 1;
                            goto out;
                        }
                        memcpy(n2, in, (size_t)ni * sizeof *in);
                        if (in != loc) free(in);
                        in = n2;
                        cap *= 2;
                    }
                    in[ni++] = (struct inst){N, cn, 0};
                }
                in[j].alive |= 1ull << (K->sn[p].aux & 63);
            }
        int dead = 0;
        for (int j = 0; j < ni; j++)
            if (!combo_viable(&K->cp[K->vn[in[j].combo].spec], in[j].alive)) {
                in[j].alive = UINT64_MAX;   /* mark */
                dead = 1;
            } else in[j].alive = 0;
        if (!dead) break;
        uint32_t k = 0;
        for (uint32_t i = 0; i < K->nout; i++) {
            int kill = 0;
            for (uint32_t p = K->out[i].parent; p && K->sn_combo[p] && !kill; p = K->sn[p].parent) {
                if (K->vn[K->sn[p].node].kind != VK_COMBO) continue;
                for (int j = 0; j < ni && !kill; j++)
                    if (in[j].alive == UINT64_MAX && in[j].N == K->sn[p].parent && in[j].combo == K->sn[p].node) kill = 1;
            }
            if (!kill) K->out[k++] = K->out[i];
        }
        K->nout = k;
    }
out:
    if (in != loc) free(in);
}

static uint32_t close_run(cf_constraint *K, const cfg *omit, int *full_nonempty) {
    K->n_closures++;
    cl_ctx X = {K, NULL, 0, 0};
    cset seen;
    if (cset_init(&seen, 64)) {
        K->oom = 1;
        return 0;
    }
    K->nout = 0;
    for (;;) {
        while (K->nw) {
            cfg c = K->w[--K->nw];
            int a = cset_add(&seen, &c);
            if (a < 0) {
                K->oom = 1;
                break;
            }
            if (!a) continue;
            expand(K, &X, c);
        }
        int best = -1;
        for (int i = 0; i < X.ng; i++)
            if (!X.g[i].resolved && (best < 0 || K->sn_depth[X.g[i].N] > K->sn_depth[X.g[best].N])) best = i;
        if (best < 0) break;
        cgroup *G = &X.g[best];
        G->resolved = 1;
        uint64_t r;
        if (combo_decide(&K->cp[K->vn[G->combo].spec], G->tags, &r)) do_pop(K, &X, G->N, r);
    }
    free(X.g);
    cset_free(&seen);
    prune_combos(K);
    if (full_nonempty) *full_nonempty = K->nout > 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < K->nout; i++)
        if (!omit || !cfg_eq(&K->out[i], omit)) K->out[n++] = K->out[i];
    if (K->oom) return 0;
    return intern_set(K, K->out, n);
}

uint32_t cons_close(cf_constraint *K, const cfg *cs, uint32_t n) {
    K->nw = 0;
    for (uint32_t i = 0; i < n; i++) wpush(K, cs[i]);
    return close_run(K, NULL, NULL);
}

uint32_t cons_close_without(cf_constraint *K, const cfg *c, const cfg *self, int *full_nonempty) {
    K->nw = 0;
    wpush(K, *c);
    return close_run(K, self, full_nonempty);
}

uint32_t cons_root_set(cf_constraint *K) {
    K->nw = 0;
    push_tl(K, K->root_tl, 0, UINT64_MAX);
    return close_run(K, NULL, NULL);
}

/* ---- sets ---- */

static uint32_t intern_set(cf_constraint *K, cfg *cs, uint32_t n) {
    if (n == 0) return 0;
    if (n > 1) qsort(cs, n, sizeof *cs, cfg_cmp);
    uint64_t hk = cons_hash_bytes(cs, (size_t)n * sizeof *cs, 0x5E7);
    uint64_t slot = UINT64_MAX;
    for (uint32_t id; (id = htab_next(&K->sh, hk, &slot)) != UINT32_MAX;)
        if (K->s_n[id] == n && !memcmp(K->scfg + K->s_off[id], cs, (size_t)n * sizeof *cs)) return id;
    if (K->nscfg + n > K->capscfg) {
        uint64_t nc = K->capscfg ? K->capscfg * 2 : 4096;
        while (nc < K->nscfg + n) nc *= 2;
        cfg *a = realloc(K->scfg, nc * sizeof *a);
        if (!a) goto oom;
        K->scfg = a;
        K->capscfg = nc;
    }
    if (K->nsets == K->capsets) {
        uint32_t nc = K->capsets ? K->capsets * 2 : 1024;
        uint64_t *o = realloc(K->s_off, (size_t)nc * sizeof *o);
        if (!o) goto oom;
        K->s_off = o;
        uint32_t *nn = realloc(K->s_n, (size_t)nc * sizeof *nn);
        if (!nn) goto oom;
        K->s_n = nn;
        uint8_t *f = realloc(K->s_flags, nc);
        if (!f) goto oom;
        K->s_flags = f;
        uint32_t(*fb)[8] = realloc(K->s_fb, (size_t)nc * sizeof *fb);
        if (!fb) goto oom;
        K->s_fb = fb;
        setmeta *m = realloc(K->s_meta, (size_t)nc * sizeof *m);
        if (!m) goto oom;
        K->s_meta = m;
        K->capsets = nc;
    }
    uint32_t id = K->nsets++;
    K->s_off[id] = K->nscfg;
    K->s_n[id] = n;
    memcpy(K->scfg + K->nscfg, cs, (size_t)n * sizeof *cs);
    K->nscfg += n;
    uint8_t fl = 0;
    uint32_t fb[8] = {0};
    for (uint32_t i = 0; i < n; i++) {
        const cfg *c = &K->scfg[K->s_off[id] + i];
        if (K->vn[c->node].kind == VK_ACCEPT) {
            fl |= SF_COMPLETE;
            continue;
        }
        fl |= SF_LIVE;
        if (K->sn_combo[c->parent]) fl |= SF_COMBO;
        uint32_t f[8];
        fr_first(K, c->node, c->aux, f);
        for (int k = 0; k < 8; k++) fb[k] |= f[k];
    }
    K->s_flags[id] = fl;
    memcpy(K->s_fb[id], fb, sizeof fb);
    K->s_meta[id].bits = NULL;
    K->cache_bytes += (size_t)n * sizeof(cfg) + 64;
    if (htab_put(&K->sh, hk, id)) goto oom;
    return id;
oom:
    K->oom = 1;
    return 0;
}

uint32_t cons_step(cf_constraint *K, uint32_t set, uint8_t byte) {
    if (set == 0 || !fb_has(K->s_fb[set], byte)) return 0;
    uint64_t key = ((uint64_t)set << 8 | byte) + 1;
    uint32_t r = htab_get(&K->th, key);
    if (r != UINT32_MAX) return r;
    uint32_t n;
    const cfg *cs = cons_set(K, set, &n);
    K->nw = 0;
    for (uint32_t i = 0; i < n; i++) {
        cfg c = cs[i];
        if (K->vn[c.node].kind == VK_ACCEPT) continue;
        if (fr_step(K, &c.node, &c.aux, byte)) {
            wpush(K, c);
            cs = cons_set(K, set, &n);   /* stepping may intern blobs, not sets: pointer stays valid */
        }
    }
    r = close_run(K, NULL, NULL);
    if (!K->oom) {
        if (htab_put(&K->th, key, r)) K->oom = 1;
        K->cache_bytes += 24;
    }
    return r;
}

void cons_flush_caches(cf_constraint *K) {
    for (uint32_t i = 0; i < K->nsets; i++) free(K->s_meta[i].bits);
    for (uint32_t i = 0; i < K->npcs; i++) pc_free(K->pcs[i]);
    K->npcs = 0;
    htab_clear(&K->ph);
    htab_clear(&K->th);
    htab_clear(&K->sh);
    K->nsets = 1;   /* keep the empty set */
    K->nscfg = 0;
    K->cache_bytes = 0;
    K->gen++;
}
