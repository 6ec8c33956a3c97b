/* Token masks.
 *
 * Mask entry (per top-frame state, built lazily, cached): a walk of the vocabulary trie that
 * only takes the frame's own byte transitions.  Tokens consumed entirely inside the frame, ending
 * in a state that can still consume, are `acc` (allowed whatever lies below in the stack).  A trie
 * node where the frame could be left (it may return, or push a child) is an `exit`: the tokens
 * through it depend on the stack.  For strings the code points each token adds are kept, so one
 * entry serves every count (maxLength is applied per mask); entries of unconstrained strings are
 * shared by all constraints on a vocabulary.
 *
 * Mask of a set of configurations: OR of the acc sets, then for each exit the real continuation
 * is computed (closure of the frame's state there: pops, pushes, combo decisions) and the trie is
 * explored below that node from it, stepping whole sets (cached transitions), pruned by the sets'
 * first-byte sets.  Independent configurations are handled one by one; when a combo ties
 * configurations together, one joint walk follows the paths to every exit instead. */
#include <stdlib.h>
#include <string.h>

#include "sampler/cons_int.h"

static void add_bytes(cf_constraint *K, pc_entry *e, size_t n) {
    e->bytes += n;
    K->cache_bytes += n;
}

void pc_free(pc_entry *e) {
    if (!e) return;
    free(e->acc);
    free(e->acc_list);
    free(e->acc_delta);
    free(e->acc_tok);
    if (e->cum) {
        for (int i = 0; i < e->max_delta; i++) free(e->cum[i]);
        free(e->cum);
    }
    free(e->exits);
    free(e);
}

/* ---- entry building ---- */

typedef struct {
    int32_t *tok;
    uint16_t *delta;
    int32_t n, cap;
    pc_exit *x;
    int32_t nx, capx;
    int oom;
} ebuild;

static void eb_tok(ebuild *b, const cf_cons_vocab *v, int32_t tnode, uint16_t delta) {
    int32_t k0 = v->ttok[tnode], kn = v->ttokn[tnode];
    for (int32_t k = 0; k < kn; k++) {
        if (b->n == b->cap) {
            int32_t nc = b->cap ? b->cap * 2 : 256;
            int32_t *t = realloc(b->tok, (size_t)nc * sizeof *t);
            uint16_t *d = t ? realloc(b->delta, (size_t)nc * sizeof *d) : NULL;
            if (!t || !d) {
                if (t) b->tok = t;
                b->oom = 1;
                return;
            }
            b->tok = t;
            b->delta = d;
            b->cap = nc;
        }
        b->tok[b->n] = v->sorted[k0 + k];
        b->delta[b->n] = delta;
        b->n++;
    }
}

static void eb_exit(ebuild *b, int32_t tnode, uint32_t xnode, uint64_t xaux, uint16_t delta) {
    if (b->nx == b->capx) {
        int32_t nc = b->capx ? b->capx * 2 : 64;
        pc_exit *x = realloc(b->x, (size_t)nc * sizeof *x);
        if (!x) {
            b->oom = 1;
            return;
        }
        b->x = x;
        b->capx = nc;
    }
    b->x[b->nx++] = (pc_exit){tnode, xnode, xaux, delta};
}

static int cmp_exit(const void *a, const void *b) {
    const pc_exit *x = a, *y = b;
    if (x->xaux != y->xaux) return x->xaux < y->xaux ? -1 : 1;
    if (x->xnode != y->xnode) return x->xnode < y->xnode ? -1 : 1;
    return x->tnode < y->tnode ? -1 : x->tnode > y->tnode;
}

static pc_entry *eb_finish(cf_constraint *K, ebuild *b, const cf_cons_vocab *v, int strings) {
    if (b->oom) goto fail;
    pc_entry *e = calloc(1, sizeof *e);
    if (!e) goto fail;
    e->nacc = b->n;
    size_t bytes = sizeof *e;
    if (b->n > v->n_vocab / 32) {
        e->acc = calloc((size_t)v->words, 4);
        if (!e->acc) {
            free(e);
            goto fail;
        }
        for (int32_t i = 0; i < b->n; i++) e->acc[b->tok[i] >> 5] |= 1u << (b->tok[i] & 31);
        bytes += (size_t)v->words * 4;
    }
    if (strings) {
        uint16_t md = 0;
        for (int32_t i = 0; i < b->n; i++)
            if (b->delta[i] > md) md = b->delta[i];
        e->max_delta = md;
        e->acc_tok = b->tok;
        e->acc_delta = b->delta;
        e->nacc_delta = b->n;
        b->tok = NULL;
        b->delta = NULL;
        bytes += (size_t)e->nacc_delta * 6;
        if (md) {
            e->cum = calloc(md, sizeof *e->cum);
            if (!e->cum) {
                pc_free(e);
                goto fail;
            }
        }
    } else if (!e->acc) {
        e->acc_list = b->tok;
        b->tok = NULL;
        bytes += (size_t)e->nacc * 4;
    }
    if (b->nx > 1) qsort(b->x, (size_t)b->nx, sizeof *b->x, cmp_exit);
    e->exits = b->x;
    e->nexits = b->nx;
    b->x = NULL;
    bytes += (size_t)e->nexits * sizeof(pc_exit);
    free(b->tok);
    free(b->delta);
    if (K) add_bytes(K, e, bytes);
    else e->bytes = bytes;
    return e;
fail:
    free(b->tok);
    free(b->delta);
    free(b->x);
    if (K) K->oom = 1;
    return NULL;
}

/* String frames: unpacked states on the DFS stack (no interning while walking).
 * Deltas: with a maxLength, str_step_u refuses a body byte once count + the code points the
 * regexes still need exceed the limit, after every byte; a token (or exit) passes iff that holds
 * at each byte on its path, so its delta is the largest such need along the path (pm[]), not the
 * need at its last byte (a token may end inside an escape, where nothing more is checked). */
static pc_entry *walk_string(cf_constraint *K, const cf_cons_vocab *v, const sprog *p, const sstate *s0,
                             const uint32_t *seen, int shared) {
    ebuild b = {0};
    int32_t cap = 64, d = 0;
    int32_t *tn = malloc((size_t)cap * sizeof *tn), *cur = malloc((size_t)cap * sizeof *cur);
    sstate *st = malloc((size_t)cap * sizeof *st);
    uint16_t *pm = malloc((size_t)cap * sizeof *pm);
    if (!tn || !cur || !st || !pm) {
        b.oom = 1;
        goto out;
    }
    tn[0] = 0;
    cur[0] = 1;
    st[0] = *s0;
    st[0].count = 0;
    pm[0] = 0;
    while (d >= 0) {
        int32_t y = tn[d], z = cur[d];
        if (z >= v->tend[y]) {
            d--;
            continue;
        }
        cur[d] = v->tend[z];
        sstate s = st[d];
        if (!str_step_u(p, &s, seen, v->tbyte[z], 1)) continue;
        uint32_t dd = s.count;
        /* acc tokens are filtered by delta <= code points left: count what the regexes still need */
        if (p->mind && s.phase == SP_BODY) dd += str_mind(p, &s);
        if (dd < pm[d]) dd = pm[d];
        uint16_t delta = (uint16_t)(dd > 65535 ? 65535 : dd);
        if (s.phase == SP_CLOSED) {
            uint64_t xa = shared ? ((uint64_t)s.count | (uint64_t)s.phase << 16 | (uint64_t)s.utf8 << 20 |
                                    (uint64_t)s.hex << 23)
                                 : str_pack(K, p, &s, seen);
            if (xa == UINT64_MAX) {
                b.oom = 1;
                break;
            }
            eb_exit(&b, z, UINT32_MAX, xa, delta);
            continue;
        }
        if (v->ttokn[z]) eb_tok(&b, v, z, delta);
        if (z + 1 < v->tend[z]) {
            if (d + 1 == cap) {
                cap *= 2;
                int32_t *a1 = realloc(tn, (size_t)cap * sizeof *a1);
                if (a1) tn = a1;
                int32_t *a2 = realloc(cur, (size_t)cap * sizeof *a2);
                if (a2) cur = a2;
                sstate *a3 = realloc(st, (size_t)cap * sizeof *a3);
                if (a3) st = a3;
                uint16_t *a4 = realloc(pm, (size_t)cap * sizeof *a4);
                if (a4) pm = a4;
                if (!a1 || !a2 || !a3 || !a4) {
                    b.oom = 1;
                    break;
                }
            }
            d++;
            tn[d] = z;
            cur[d] = z + 1;
            st[d] = s;
            pm[d] = delta;
        }
    }
out:
    free(tn);
    free(cur);
    free(st);
    free(pm);
    pc_entry *e = eb_finish(shared ? NULL : K, &b, v, 1);
    if (e) e->self_xnode = 1;
    return e;
}

/* Any other frame: packed states, the frame's own step function. */
static pc_entry *walk_packed(cf_constraint *K, const cf_cons_vocab *v, uint32_t node0, uint64_t aux0) {
    ebuild b = {0};
    int32_t cap = 64, d = 0;
    int32_t *tn = malloc((size_t)cap * sizeof *tn), *cur = malloc((size_t)cap * sizeof *cur);
    uint32_t *nd = malloc((size_t)cap * sizeof *nd);
    uint64_t *ax = malloc((size_t)cap * sizeof *ax);
    if (!tn || !cur || !nd || !ax) {
        b.oom = 1;
        goto out;
    }
    tn[0] = 0;
    cur[0] = 1;
    nd[0] = node0;
    ax[0] = aux0;
    while (d >= 0) {
        int32_t y = tn[d], z = cur[d];
        if (z >= v->tend[y]) {
            d--;
            continue;
        }
        cur[d] = v->tend[z];
        uint32_t n = nd[d];
        uint64_t a = ax[d];
        if (!fr_step(K, &n, &a, v->tbyte[z])) continue;
        int local = fr_local(K, n, a);
        uint64_t r;
        if (fr_final(K, n, a, &r) || fr_has_calls(K, n, a)) eb_exit(&b, z, n, a, 0);
        if (!local) continue;
        if (v->ttokn[z]) eb_tok(&b, v, z, 0);
        if (z + 1 < v->tend[z]) {
            if (d + 1 == cap) {
                cap *= 2;
                int32_t *a1 = realloc(tn, (size_t)cap * sizeof *a1);
                if (a1) tn = a1;
                int32_t *a2 = realloc(cur, (size_t)cap * sizeof *a2);
                if (a2) cur = a2;
                uint32_t *a3 = realloc(nd, (size_t)cap * sizeof *a3);
                if (a3) nd = a3;
                uint64_t *a4 = realloc(ax, (size_t)cap * sizeof *a4);
                if (a4) ax = a4;
                if (!a1 || !a2 || !a3 || !a4) {
                    b.oom = 1;
                    break;
                }
            }
            d++;
            tn[d] = z;
            cur[d] = z + 1;
            nd[d] = n;
            ax[d] = a;
        }
    }
out:
    free(tn);
    free(cur);
    free(nd);
    free(ax);
    return eb_finish(K, &b, v, 0);
}

/* Generic string programs for shared entries: 0 any escape, 1 decoded (\u limited to ASCII).
 * They count code points; entries are keyed by the state's phase / UTF-8 / hex bits. */
static const sprog g_generic[2] = {{.counted = 1, .max_len = -1}, {.counted = 1, .max_len = -1, .decode = 1}};

/* Open object keys (additional keys allowed, no propertyNames regex) and strings whose regexes
 * can never die (unanchored searches) accept exactly what a decoded generic string accepts: their
 * entry borrows the shared acc sets, and only the exits (where the string closes: which property
 * the key names, whether the pattern matched) are replayed with the real program. */
static int open_key(const sprog *p) {
    return (p->key_mode && !p->closed && p->nmust == 0) ||
           (!p->key_mode && p->always_live && p->decode && !p->mind);
}

static pc_entry *vocab_shared(cf_cons_vocab *mv, int flavor, uint64_t aux) {
    uint32_t idx = (uint32_t)flavor << 15 | (uint32_t)((aux >> 16) & 0x7FFF);
    pthread_mutex_lock(&mv->lock);
    if (!mv->gstr) {
        mv->gstr = calloc(1u << 16, sizeof *mv->gstr);
        if (!mv->gstr) {
            pthread_mutex_unlock(&mv->lock);
            return NULL;
        }
        mv->ngstr = 1 << 16;
    }
    pc_entry *e = mv->gstr[idx];
    if (!e) {
        sstate s;
        memset(&s, 0, sizeof s);
        str_unpack(NULL, &g_generic[flavor], aux & 0x7FFFFFFFull, &s, NULL);
        e = walk_string(NULL, mv, &g_generic[flavor], &s, NULL, 1);
        mv->gstr[idx] = e;
    }
    pthread_mutex_unlock(&mv->lock);
    return e;
}

static pc_entry *shared_entry(cf_constraint *K, int flavor, uint64_t aux) {
    pc_entry *e = vocab_shared((cf_cons_vocab *)K->v, flavor, aux);
    if (!e) K->oom = 1;
    return e;
}

int cons_vocab_warm(cf_cons_vocab *v) {
    /* the states every schema meets: before the opening quote and inside the body */
    for (int flavor = 0; flavor < 2; flavor++)
        for (uint64_t ph = SP_START; ph <= SP_BODY; ph++)
            if (!vocab_shared(v, flavor, ph << 16)) return -1;
    return 0;
}

static pc_entry *derive_open_key(cf_constraint *K, const sprog *p, uint64_t kaux, const pc_entry *base) {
    const cf_cons_vocab *v = K->v;
    pc_entry *e = calloc(1, sizeof *e);
    pc_exit *x = malloc(((size_t)base->nexits + 1) * sizeof *x);
    uint8_t path[1024];
    if (!e || !x) {
        free(e);
        free(x);
        K->oom = 1;
        return NULL;
    }
    e->acc_from = base;
    e->self_xnode = 1;
    sstate s0;
    str_unpack(K, p, kaux, &s0, NULL);
    s0.count = 0;
    int32_t nx = 0;
    for (int32_t i = 0; i < base->nexits; i++) {
        int32_t t = base->exits[i].tnode, d = 0;
        for (int32_t y = t; y > 0 && d < (int32_t)sizeof path; y = v->tparent[y]) path[d++] = v->tbyte[y];
        sstate s = s0;
        int ok = 1;
        for (int32_t k = d - 1; k >= 0 && ok; k--) ok = str_step_u(p, &s, NULL, path[k], 1);
        if (!ok || s.phase != SP_CLOSED) continue;
        uint64_t xa = str_pack(K, p, &s, NULL);
        if (xa == UINT64_MAX) {
            K->oom = 1;
            break;
        }
        x[nx++] = (pc_exit){t, UINT32_MAX, xa, base->exits[i].delta};
    }
    e->exits = x;
    e->nexits = nx;
    e->bytes = sizeof *e + (size_t)nx * sizeof *x;
    K->cache_bytes += e->bytes;
    return e;
}

static pc_entry *get_entry(cf_constraint *K, const cfg *c) {
    const cf_cons_vocab *v = K->v;
    const vnode *vn = &K->vn[c->node];
    if (vn->kind == VK_STRING) {
        const sprog *p = &K->sp[vn->spec];
        if (p->generic) return shared_entry(K, p->decode, c->aux);
    }
    uint64_t kaux = c->aux;
    if (vn->kind == VK_STRING && K->sp[vn->spec].counted) kaux &= ~0xFFFFull;
    uint64_t hk = cons_hash64(((uint64_t)c->node << 1) ^ cons_hash64(kaux + 0x9E37));
    uint64_t slot = UINT64_MAX;
    for (uint32_t id; (id = htab_next(&K->ph, hk, &slot)) != UINT32_MAX;) {
        pc_entry *e = K->pcs[id];
        if (e && e->key_node == c->node && e->key_aux == kaux) return e;
    }
    pc_entry *e;
    if (vn->kind == VK_STRING && open_key(&K->sp[vn->spec])) {
        const sprog *p = &K->sp[vn->spec];
        pc_entry *base = shared_entry(K, 1, c->aux);
        e = base ? derive_open_key(K, p, kaux, base) : NULL;
    } else if (vn->kind == VK_STRING) {
        const sprog *p = &K->sp[vn->spec];
        sstate s;
        uint32_t seen[512];
        str_unpack(K, p, kaux, &s, p->seen_words ? seen : NULL);
        e = walk_string(K, v, p, &s, p->seen_words ? seen : NULL, 0);
    } else {
        e = walk_packed(K, v, c->node, c->aux);
    }
    if (!e) return NULL;
    e->key_node = c->node;
    e->key_aux = kaux;
    K->n_entries++;
    if (K->npcs == K->cappcs) {
        uint32_t nc = K->cappcs ? K->cappcs * 2 : 256;
        pc_entry **n = realloc(K->pcs, (size_t)nc * sizeof *n);
        if (!n) {
            pc_free(e);
            K->oom = 1;
            return NULL;
        }
        K->pcs = n;
        K->cappcs = nc;
    }
    K->pcs[K->npcs] = e;
    if (htab_put(&K->ph, hk, K->npcs)) K->oom = 1;
    K->npcs++;
    return e;
}

/* ---- applying entries ---- */

static void or_bits(uint32_t *dst, const uint32_t *src, int words) {
    for (int i = 0; i < words; i++) dst[i] |= src[i];
}

static inline void set_tokens(const cf_cons_vocab *v, int32_t tnode, uint32_t *bits) {
    int32_t k0 = v->ttok[tnode], kn = v->ttokn[tnode];
    for (int32_t k = 0; k < kn; k++) {
        int32_t t = v->sorted[k0 + k];
        bits[t >> 5] |= 1u << (t & 31);
    }
}

static void apply_acc(cf_constraint *K, pc_entry *e, int shared, int64_t remaining, uint32_t *bits) {
    const cf_cons_vocab *v = K->v;
    if (e->acc_from) {
        e = (pc_entry *)e->acc_from;
        shared = 1;
    }
    if (e->acc_tok && remaining >= 0 && remaining < e->max_delta) {
        cf_cons_vocab *mv = (cf_cons_vocab *)v;
        if (shared) pthread_mutex_lock(&mv->lock);
        uint32_t *cb = e->cum[remaining];
        if (!cb) {
            cb = calloc((size_t)v->words, 4);
            if (cb) {
                for (int32_t i = 0; i < e->nacc_delta; i++)
                    if (e->acc_delta[i] <= remaining) cb[e->acc_tok[i] >> 5] |= 1u << (e->acc_tok[i] & 31);
                e->cum[remaining] = cb;
                if (!shared) add_bytes(K, e, (size_t)v->words * 4);
            }
        }
        if (shared) pthread_mutex_unlock(&mv->lock);
        if (cb) or_bits(bits, cb, v->words);
        else K->oom = 1;
        return;
    }
    if (e->acc) {
        or_bits(bits, e->acc, v->words);
        return;
    }
    const int32_t *l = e->acc_list ? e->acc_list : e->acc_tok;
    for (int32_t i = 0; i < e->nacc; i++) bits[l[i] >> 5] |= 1u << (l[i] & 31);
}

/* Explores the trie below tnode from set S (already after tnode's bytes), setting allowed tokens. */
static void dfs_below(cf_constraint *K, int32_t tnode, uint32_t S, uint32_t *bits) {
    const cf_cons_vocab *v = K->v;
    int32_t cap = 64, sp = 0;
    int32_t stn[64];
    uint32_t sset[64];
    int32_t *tn = stn;
    uint32_t *ss = sset;
    tn[sp] = tnode;
    ss[sp] = S;
    sp++;
    while (sp) {
        sp--;
        int32_t y = tn[sp];
        uint32_t Y = ss[sp];
        const uint32_t *fb = K->s_fb[Y];
        for (int32_t z = y + 1; z < v->tend[y]; z = v->tend[z]) {
            if (!fb_has(fb, v->tbyte[z])) continue;
            uint32_t Z = cons_step(K, Y, v->tbyte[z]);
            fb = K->s_fb[Y];   /* tables may have moved */
            if (!Z) continue;
            if (v->ttokn[z]) set_tokens(v, z, bits);
            if (z + 1 < v->tend[z]) {
                if (sp == cap) {
                    int32_t nc = cap * 2;
                    int32_t *a = malloc((size_t)nc * sizeof *a);
                    uint32_t *b = malloc((size_t)nc * sizeof *b);
                    if (!a || !b) {
                        free(a);
                        free(b);
                        K->oom = 1;
                        goto out;
                    }
                    memcpy(a, tn, (size_t)sp * sizeof *a);
                    memcpy(b, ss, (size_t)sp * sizeof *b);
                    if (tn != stn) free(tn);
                    if (ss != sset) free(ss);
                    tn = a;
                    ss = b;
                    cap = nc;
                }
                tn[sp] = z;
                ss[sp] = Z;
                sp++;
            }
        }
    }
out:
    if (tn != stn) free(tn);
    if (ss != sset) free(ss);
}

typedef struct {
    uint32_t node;
    uint64_t aux;
    uint32_t set;
    int full;
} xmemo;

static void mask_independent(cf_constraint *K, const cfg *c, uint32_t *bits) {
    const vnode *vn = &K->vn[c->node];
    pc_entry *e = get_entry(K, c);
    if (!e) return;
    int shared = 0;
    const sprog *sp = NULL;
    int64_t remaining = -1;
    uint32_t count0 = 0;
    if (vn->kind == VK_STRING) {
        sp = &K->sp[vn->spec];
        shared = sp->generic;
        if (sp->counted) {
            count0 = str_count(c->aux);
            if (sp->max_len >= 0) remaining = sp->max_len - count0;
            int64_t capr = CF_STR_COUNT_CAP - (int64_t)count0;
            if (remaining < 0 || remaining > capr) remaining = capr;
        }
    }
    apply_acc(K, e, shared, remaining, bits);
    /* exits, grouped by (xnode, xaux) thanks to the sort */
    xmemo m = {UINT32_MAX, 0, 0, 0};
    int have = 0;
    for (int32_t i = 0; i < e->nexits; i++) {
        const pc_exit *x = &e->exits[i];
        uint32_t xn = x->xnode == UINT32_MAX ? c->node : x->xnode;
        uint64_t xa = x->xaux;
        if (sp && remaining >= 0 && x->delta > remaining) continue;   /* refused on the way to the exit */
        if (sp && !str_rebase(K, sp, x->xaux, count0, &xa)) continue;
        if (!have || m.node != xn || m.aux != xa) {
            cfg xc = {xn, c->parent, xa};
            int full = 0;
            m.set = cons_close_without(K, &xc, &xc, &full);
            m.node = xn;
            m.aux = xa;
            m.full = full;
            have = 1;
        }
        if (m.full && K->v->ttokn[x->tnode]) set_tokens(K->v, x->tnode, bits);
        if (m.set) dfs_below(K, x->tnode, m.set, bits);
    }
}

/* Joint walk for sets tied by combos: follow the paths to every exit of every configuration;
 * below an exit, explore by first bytes. */
typedef struct {
    int32_t *x;
    int32_t n;
} exitset;

static int on_path(const cf_cons_vocab *v, const exitset *X, int32_t z) {
    int32_t lo = 0, hi = X->n;
    while (lo < hi) {
        int32_t m = (lo + hi) / 2;
        if (X->x[m] < z) lo = m + 1;
        else hi = m;
    }
    return lo < X->n && X->x[lo] < v->tend[z];
}

static int is_exit(const exitset *X, int32_t z) {
    int32_t lo = 0, hi = X->n;
    while (lo < hi) {
        int32_t m = (lo + hi) / 2;
        if (X->x[m] < z) lo = m + 1;
        else hi = m;
    }
    return lo < X->n && X->x[lo] == z;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

static void joint_walk(cf_constraint *K, uint32_t S, const exitset *X, uint32_t *bits) {
    const cf_cons_vocab *v = K->v;
    typedef struct {
        int32_t t;
        uint32_t s;
        int below;
    } jf;
    int32_t cap = 256, sp = 0;
    jf *st = malloc((size_t)cap * sizeof *st);
    if (!st) {
        K->oom = 1;
        return;
    }
    st[sp++] = (jf){0, S, 0};
    while (sp) {
        jf f = st[--sp];
        for (int32_t z = f.t + 1; z < v->tend[f.t]; z = v->tend[z]) {
            uint8_t b = v->tbyte[z];
            int below = f.below;
            if (below) {
                if (!fb_has(K->s_fb[f.s], b)) continue;
            } else {
                if (!on_path(v, X, z)) continue;
            }
            uint32_t Z = cons_step(K, f.s, b);
            if (!Z) continue;
            if (v->ttokn[z]) set_tokens(v, z, bits);
            if (!below && is_exit(X, z)) below = 1;
            if (z + 1 < v->tend[z]) {
                if (sp == cap) {
                    cap *= 2;
                    jf *n = realloc(st, (size_t)cap * sizeof *n);
                    if (!n) {
                        K->oom = 1;
                        free(st);
                        return;
                    }
                    st = n;
                }
                st[sp++] = (jf){z, Z, below};
            }
        }
    }
    free(st);
}

static void combo_fixpoint(cf_constraint *K, const cfg *cs, uint32_t n, uint32_t *alive, uint32_t *bits) {
    int W = K->v->words;
    typedef struct {
        uint32_t N, combo;
        int kind, nb;
    } inst;
    typedef struct {
        int inst, tag;
    } link;
    inst *in = NULL;
    link *ln = NULL;
    int ni = 0, capi = 0, nl = 0, capl = 0;
    int *first = malloc(((size_t)n + 1) * sizeof *first);   /* links of config i: [first[i], first[i+1]) */
    if (!first) {
        K->oom = 1;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        first[i] = nl;
        for (uint32_t p = cs[i].parent; p && K->sn_combo[p]; p = K->sn[p].parent) {
            if (K->vn[K->sn[p].node].kind != VK_COMBO) continue;
            int j = 0;
            while (j < ni && !(in[j].N == K->sn[p].parent && in[j].combo == K->sn[p].node)) j++;
            if (j == ni) {
                if (ni == capi) {
                    capi = capi ? capi * 2 : 8;
                    inst *a = realloc(in, (size_t)capi * sizeof *a);
                    if (!a) goto oom;
                    in = a;
                }
                const cprog *cp = &K->cp[K->vn[K->sn[p].node].spec];
                in[ni++] = (inst){K->sn[p].parent, K->sn[p].node, cp->kind, cp->nb};
            }
            if (nl == capl) {
                capl = capl ? capl * 2 : 16;
                link *a = realloc(ln, (size_t)capl * sizeof *a);
                if (!a) goto oom;
                ln = a;
            }
            ln[nl++] = (link){j, (int)(K->sn[p].aux & 63)};
        }
    }
    first[n] = nl;
    if (ni) {
        /* per instance and tag: OR of alive configs; per instance: viability bitset */
        uint32_t *tagb = malloc((size_t)ni * 64 * 4), *via = malloc((size_t)ni * (size_t)W * 4);
        uint64_t *present = calloc((size_t)ni, sizeof *present);
        if (!tagb || !via || !present) {
            free(tagb);
            free(via);
            free(present);
            goto oom;
        }
        for (int iter = 0; iter < 64; iter++) {
            int changed = 0;
            for (int w = 0; w < W; w++) {
                for (int j = 0; j < ni; j++) present[j] = 0;
                for (int j = 0; j < ni; j++)
                    for (int t = 0; t < in[j].nb && t < 64; t++) tagb[j * 64 + t] = 0;
                for (uint32_t i = 0; i < n; i++) {
                    uint32_t a = alive[(size_t)i * W + w];
                    if (!a) continue;
                    for (int k = first[i]; k < first[i + 1]; k++) {
                        tagb[ln[k].inst * 64 + ln[k].tag] |= a;
                        present[ln[k].inst] |= 1ull << ln[k].tag;
                    }
                }
                for (int j = 0; j < ni; j++) {
                    /* bit b is viable iff the tags alive at b satisfy the instance */
                    const uint32_t *tb = tagb + j * 64;
                    int nb = in[j].nb < 64 ? in[j].nb : 64;
                    uint32_t vb = 0;
                    switch (in[j].kind) {
                    case CF_COMBO_ONE:
                        for (int t = 0; t < nb; t++) vb |= tb[t];
                        break;
                    case CF_COMBO_ALL:
                        vb = ~0u;
                        for (int t = 0; t < nb; t++) vb &= tb[t];
                        break;
                    case CF_COMBO_NOT:
                    case COMBO_CONTAINS: vb = tb[0]; break;
                    case CF_COMBO_IF: vb = (tb[0] & tb[1]) | tb[2]; break;
                    default: vb = ~0u;
                    }
                    via[(size_t)j * W + w] = vb;
                }
                for (uint32_t i = 0; i < n; i++) {
                    uint32_t *a = &alive[(size_t)i * W + w];
                    uint32_t na = *a;
                    for (int k = first[i]; k < first[i + 1]; k++) na &= via[(size_t)ln[k].inst * W + w];
                    if (na != *a) {
                        *a = na;
                        changed = 1;
                    }
                }
            }
            if (!changed) break;
        }
        free(tagb);
        free(via);
        free(present);
    }
    for (uint32_t i = 0; i < n; i++)
        for (int w = 0; w < W; w++) bits[w] |= alive[(size_t)i * W + w];
    free(in);
    free(ln);
    free(first);
    return;
oom:
    K->oom = 1;
    free(in);
    free(ln);
    free(first);
}

int cons_mask(cf_constraint *K, uint32_t set, uint32_t *bits) {
    const cf_cons_vocab *v = K->v;
    memset(bits, 0, (size_t)v->words * 4);
    if (set == 0) return 0;
    if (K->s_meta[set].bits) {
        K->n_mask_hits++;
        memcpy(bits, K->s_meta[set].bits, (size_t)v->words * 4);
        return 0;
    }
    uint32_t n;
    cfg local[64];
    const cfg *cs0 = cons_set(K, set, &n);
    cfg *cs = n <= 64 ? local : malloc((size_t)n * sizeof *cs);
    if (!cs) {
        K->oom = 1;
        return -1;
    }
    memcpy(cs, cs0, (size_t)n * sizeof *cs);
    uint8_t flags = K->s_flags[set];
    if (!(flags & SF_COMBO)) {
        for (uint32_t i = 0; i < n; i++)
            if (K->vn[cs[i].node].kind != VK_ACCEPT) mask_independent(K, &cs[i], bits);
    } else {
        exitset X = {NULL, 0};
        int32_t capx = 0;
        int W = v->words;
        uint32_t *alive = calloc((size_t)n * (size_t)W, 4);
        if (!alive) K->oom = 1;
        for (uint32_t i = 0; i < n && !K->oom; i++) {
            if (K->vn[cs[i].node].kind == VK_ACCEPT) continue;
            pc_entry *e = get_entry(K, &cs[i]);
            if (!e) continue;
            const vnode *vn = &K->vn[cs[i].node];
            int64_t remaining = -1;
            int shared = 0;
            if (vn->kind == VK_STRING) {
                const sprog *sp = &K->sp[vn->spec];
                shared = sp->generic;
                if (sp->counted) {
                    uint32_t c0 = str_count(cs[i].aux);
                    if (sp->max_len >= 0) remaining = sp->max_len - c0;
                    int64_t capr = CF_STR_COUNT_CAP - (int64_t)c0;
                    if (remaining < 0 || remaining > capr) remaining = capr;
                }
            }
            apply_acc(K, e, shared, remaining, alive + (size_t)i * W);
            if (X.n + e->nexits > capx) {
                int32_t nc = capx ? capx * 2 : 64;
                while (nc < X.n + e->nexits) nc *= 2;
                int32_t *nx = realloc(X.x, (size_t)nc * sizeof *nx);
                if (!nx) {
                    K->oom = 1;
                    break;
                }
                X.x = nx;
                capx = nc;
            }
            for (int32_t j = 0; j < e->nexits; j++) X.x[X.n++] = e->exits[j].tnode;
        }
        /* Tokens that stay inside every frame: a configuration survives them iff the token is in
         * its acc set and every combo instance above it stays viable (cons_vm.c prunes the
         * others); that is a fixpoint over bitsets. */
        if (!K->oom) combo_fixpoint(K, cs, n, alive, bits);
        free(alive);
        if (X.n > 1) {
            qsort(X.x, (size_t)X.n, sizeof *X.x, cmp_i32);
            int32_t k = 0;
            for (int32_t j = 0; j < X.n; j++)
                if (!k || X.x[k - 1] != X.x[j]) X.x[k++] = X.x[j];
            X.n = k;
        }
        /* tokens through an exit: cleared, then decided by the joint walk with real steps */
        for (int32_t j = 0; j < X.n && !K->oom; j++)
            for (int32_t y = X.x[j]; y < v->tend[X.x[j]]; y++) {
                int32_t k0 = v->ttok[y], kn = v->ttokn[y];
                for (int32_t q = 0; q < kn; q++) {
                    int32_t t = v->sorted[k0 + q];
                    bits[t >> 5] &= ~(1u << (t & 31));
                }
            }
        if (!K->oom) joint_walk(K, set, &X, bits);
        free(X.x);
    }
    if (cs != local) free(cs);
    if (K->oom) return -1;
    if ((flags & SF_COMPLETE) && v->eos >= 0) bits[v->eos >> 5] |= 1u << (v->eos & 31);
    uint32_t *copy = malloc((size_t)v->words * 4);
    if (copy) {
        memcpy(copy, bits, (size_t)v->words * 4);
        K->s_meta[set].bits = copy;
        K->cache_bytes += (size_t)v->words * 4;
    }
    return 0;
}
