/* Regex: AST (re_parse.c) -> Thompson NFA over UTF-8 bytes -> lazily built DFA (see regex.h).
 *
 * NFA: states are EPS (up to two outs), BYTES (a list of byte-range edges), MATCH, and the
 * assertions BEGIN (^), END ($), WB (\b), NWB (\B), each with one out.  A code-point set becomes
 * a small byte automaton: its ranges are split into UTF-8 byte-range sequences, put in a trie and
 * suffix-merged (built once per set, stamped out per repetition copy).
 * SEARCH mode is [\s\S]* P [\s\S]*; anchors are assertions, so ^ and $ keep their meaning.
 *
 * DFA: a state is the sorted set of "important" NFA states (BYTES, MATCH, and assertions still
 * waiting for the next character: END, WB, NWB) plus flags (previous char was a word char, for
 * \b; start position, for ^).  NFA states that cannot reach MATCH are pruned from every set
 * (co-reachability computed once on the NFA, without BEGIN edges, END only when nothing more is
 * consumed), so a non-start set is live iff it is non-empty; a set that contains the universal
 * suffix loop is replaced by that loop alone (it accepts every continuation).  With \b/\B,
 * liveness is settled by a forward search over the DFA instead (memoized).
 * Transitions are cached in a table [state][byte class]. */
#include "sampler/regex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/re_internal.h"

enum { NS_EPS, NS_BYTES, NS_MATCH, NS_BEGIN, NS_END, NS_WB, NS_NWB };

typedef struct {
    uint8_t kind;
    int32_t out0, out1;   /* EPS: both; assertions: out0 */
    uint32_t e0, ne;      /* BYTES: edges [e0, e0+ne) */
} nstate;

typedef struct {
    uint8_t lo, hi;
    int32_t to;
} nedge;

/* A code-point set as a minimized byte trie: nodes with edges to nodes (or -1 = exit). */
typedef struct {
    uint32_t nn, root;
    uint32_t *first;   /* nn+1 offsets into edges */
    nedge *edges;
} bprog;

enum { NEXT_UNKNOWN = -1, NEXT_END = -2 };
#define DF_PREVWORD 1u
#define DF_START 2u
#define TR_UNKNOWN (-2)

typedef struct {
    uint32_t off, len;   /* set in setpool */
    uint8_t flags;
    uint8_t accepting;
    uint8_t live;        /* 0 unknown, 1 live, 2 dead */
} dstate;

struct cf_regex {
    int mode;
    int has_wordb;
    int bt;                       /* backtracking matcher over `ast` (lookaround / backrefs) */
    re_ast ast;
    /* NFA */
    nstate *st;
    size_t nst, capst;
    nedge *ed;
    size_t ned, caped;
    int32_t start, match;
    int32_t univ_head;            /* SEARCH: head of the trailing [\s\S]* (-1 if none) */
    uint8_t *coreach;             /* can reach MATCH (no BEGIN edges) */
    uint8_t *coreach_start;       /* same, BEGIN edges allowed (start position) */
    /* byte classes */
    uint8_t cls[256];
    uint8_t cls_rep[256];
    int ncls;
    /* DFA */
    dstate *ds;
    size_t nds, capds;
    int32_t *setpool;
    size_t nsp, capsp;
    int32_t *trans;               /* nds * ncls */
    size_t captr;
    int32_t *hash;                /* open addressing over ds ids (-1 empty) */
    size_t caphash;
    int32_t dstart;
    size_t dfa_bytes;
    int overflow;
    char overflow_msg[160];
    /* scratch for closures */
    uint32_t *mark;
    uint32_t stamp;
    int32_t *stack, *out, *seeds;
    size_t capscratch, capseeds;
    int32_t *univ_set;
    uint32_t univ_len;
};

/* ---- NFA construction -------------------------------------------------------------------- */

typedef struct {
    cf_regex *re;
    const re_ast *ast;
    bprog *progs;   /* per AST set, built on first use */
    cf_err *err;
    int rc;
    int rep_col;    /* column of the outermost repetition being expanded (for cap messages) */
} builder;

typedef struct {
    int32_t start, end;   /* end: an EPS state whose out0 is still free */
} frag;

static int32_t add_state(builder *b, uint8_t kind) {
    cf_regex *re = b->re;
    if (b->rc) return -1;
    if (re->nst >= CF_RE_MAX_NFA) {
        if (b->rep_col > 0)
            b->rc = cf_errf(b->err, CF_ELIMIT, "column %d: repetition expands to more than %d NFA states",
                            b->rep_col, CF_RE_MAX_NFA);
        else
            b->rc = cf_errf(b->err, CF_ELIMIT, "column 1: pattern needs more than %d NFA states", CF_RE_MAX_NFA);
        return -1;
    }
    if (re->nst == re->capst) {
        size_t nc = re->capst ? re->capst * 2 : 256;
        nstate *ns = realloc(re->st, nc * sizeof *ns);
        if (!ns) {
            b->rc = cf_errf(b->err, CF_ENOMEM, "out of memory compiling regex");
            return -1;
        }
        re->st = ns;
        re->capst = nc;
    }
    nstate *s = &re->st[re->nst];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->out0 = s->out1 = -1;
    return (int32_t)re->nst++;
}

static int add_edges(builder *b, size_t n) {
    cf_regex *re = b->re;
    if (re->ned + n > re->caped) {
        size_t nc = re->caped ? re->caped : 512;
        while (nc < re->ned + n) nc *= 2;
        nedge *ne = realloc(re->ed, nc * sizeof *ne);
        if (!ne) return b->rc = cf_errf(b->err, CF_ENOMEM, "out of memory compiling regex");
        re->ed = ne;
        re->caped = nc;
    }
    return 0;
}

/* -- code-point set -> byte trie -- */

typedef struct {
    uint8_t lo, hi;
    int32_t child;   /* trie node, or -1 = exit */
    int32_t next;    /* next edge of the same node */
} tedge;

typedef struct {
    int32_t *first;   /* per node: first edge (-1 none) */
    int32_t *last;
    size_t nn, capn;
    tedge *e;
    size_t ne, cape;
    int oom;
} trie;

static int32_t trie_node(trie *t) {
    if (t->nn == t->capn) {
        size_t nc = t->capn ? t->capn * 2 : 64;
        int32_t *f = realloc(t->first, nc * sizeof *f);
        if (f) t->first = f;
        int32_t *l = f ? realloc(t->last, nc * sizeof *l) : NULL;
        if (!f || !l) {
            t->oom = 1;
            return -1;
        }
        t->last = l;
        t->capn = nc;
    }
    t->first[t->nn] = t->last[t->nn] = -1;
    return (int32_t)t->nn++;
}

static void trie_insert(trie *t, const uint8_t *lo, const uint8_t *hi, int n) {
    int32_t node = 0;
    for (int i = 0; i < n && !t->oom; i++) {
        int32_t e = t->first[node];
        while (e >= 0 && !(t->e[e].lo == lo[i] && t->e[e].hi == hi[i])) e = t->e[e].next;
        if (e < 0) {
            if (t->ne == t->cape) {
                size_t nc = t->cape ? t->cape * 2 : 128;
                tedge *ne = realloc(t->e, nc * sizeof *ne);
                if (!ne) {
                    t->oom = 1;
                    return;
                }
                t->e = ne;
                t->cape = nc;
            }
            int32_t child = i == n - 1 ? -1 : trie_node(t);
            if (t->oom) return;
            e = (int32_t)t->ne++;
            t->e[e] = (tedge){lo[i], hi[i], child, -1};
            if (t->last[node] >= 0) t->e[t->last[node]].next = e;
            else t->first[node] = e;
            t->last[node] = e;
        }
        node = t->e[e].child;
        if (node < 0) return;
    }
}

static int utf8_encode(uint32_t cp, uint8_t *o) {
    if (cp < 0x80) return o[0] = (uint8_t)cp, 1;
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Splits [lo,hi] (no surrogates inside) into ranges whose UTF-8 forms are byte-range sequences. */
static void utf8_split(trie *t, uint32_t lo, uint32_t hi) {
    static const uint32_t lenmax[3] = {0x7F, 0x7FF, 0xFFFF};
    if (lo > hi || t->oom) return;
    for (int i = 0; i < 3; i++) {
        if (lo <= lenmax[i] && hi > lenmax[i]) {
            utf8_split(t, lo, lenmax[i]);
            utf8_split(t, lenmax[i] + 1, hi);
            return;
        }
    }
    uint8_t a[4], z[4];
    int n = utf8_encode(lo, a);
    for (int i = 1; i < n; i++) {
        uint32_t m = (1u << (6 * i)) - 1;
        if ((lo & ~m) != (hi & ~m)) {
            if (lo & m) {
                utf8_split(t, lo, lo | m);
                utf8_split(t, (lo | m) + 1, hi);
                return;
            }
            if ((hi & m) != m) {
                utf8_split(t, lo, (hi & ~m) - 1);
                utf8_split(t, hi & ~m, hi);
                return;
            }
        }
    }
    utf8_encode(hi, z);
    trie_insert(t, a, z, n);
}

/* Post-order canonicalization: identical nodes (same edge lists to the same canonical children)
 * become one.  Quadratic in the number of distinct nodes with equal edge counts, which stays small
 * (a few hundred even for \p{L}); hashed by a signature to keep it cheap. */
typedef struct {
    uint64_t h;
    uint32_t nedge;
    int32_t id;   /* canonical index */
} csig;

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

static int build_prog(const re_set *set, bprog *out, cf_err *err) {
    trie t = {0};
    memset(out, 0, sizeof *out);
    if (set->n == 0 || set->r[set->n - 1].hi < 0x80) {   /* ASCII only: one node */
        out->nn = 1;
        out->first = malloc(2 * sizeof *out->first);
        out->edges = malloc((set->n ? set->n : 1) * sizeof *out->edges);
        if (!out->first || !out->edges) {
            free(out->first);
            free(out->edges);
            memset(out, 0, sizeof *out);
            return cf_errf(err, CF_ENOMEM, "out of memory compiling regex character set");
        }
        out->first[0] = 0;
        out->first[1] = (uint32_t)set->n;
        for (size_t i = 0; i < set->n; i++) out->edges[i] = (nedge){(uint8_t)set->r[i].lo, (uint8_t)set->r[i].hi, -1};
        return 0;
    }
    trie_node(&t);
    for (size_t i = 0; i < set->n && !t.oom; i++) {
        uint32_t lo = set->r[i].lo, hi = set->r[i].hi;
        if (lo <= 0xDFFF && hi >= 0xD800) {   /* UTF-8 cannot encode surrogates */
            if (lo < 0xD800) utf8_split(&t, lo, 0xD7FF);
            if (hi > 0xDFFF) utf8_split(&t, 0xE000, hi);
        } else {
            utf8_split(&t, lo, hi);
        }
    }
    /* canonical ids, children before parents: trie nodes are created parent-first, so walking
     * ids downwards visits children first */
    int32_t *canon = NULL, *repr = NULL;
    csig *sig = NULL;
    if (!t.oom) {
        canon = malloc(t.nn * sizeof *canon);
        sig = malloc(t.nn * sizeof *sig);
        repr = malloc(t.nn * sizeof *repr);   /* canonical id -> trie node */
    }
    uint32_t ncanon = 0;
    if (!repr || t.nn == 0) goto oom;
    for (size_t k = t.nn; k-- > 0;) {
        uint64_t h = 1469598103934665603ull;
        uint32_t ne = 0;
        for (int32_t e = t.first[k]; e >= 0; e = t.e[e].next, ne++)
            h = mix(h, ((uint64_t)t.e[e].lo << 40) | ((uint64_t)t.e[e].hi << 32) |
                           (uint32_t)(t.e[e].child < 0 ? -1 : canon[t.e[e].child]));
        int32_t found = -1;
        for (uint32_t c = 0; c < ncanon && found < 0; c++) {
            if (sig[c].h != h || sig[c].nedge != ne) continue;
            int32_t x = t.first[repr[c]], y = t.first[k];
            for (; x >= 0 && y >= 0; x = t.e[x].next, y = t.e[y].next) {
                int32_t cx = t.e[x].child < 0 ? -1 : canon[t.e[x].child];
                int32_t cy = t.e[y].child < 0 ? -1 : canon[t.e[y].child];
                if (t.e[x].lo != t.e[y].lo || t.e[x].hi != t.e[y].hi || cx != cy) break;
            }
            if (x < 0 && y < 0) found = (int32_t)c;
        }
        if (found < 0 || k == 0) {   /* the root stays its own node */
            sig[ncanon] = (csig){h, ne, (int32_t)ncanon};
            repr[ncanon] = (int32_t)k;
            found = (int32_t)ncanon++;
        }
        canon[k] = found;
    }
    out->nn = ncanon;
    out->root = (uint32_t)canon[0];
    out->first = malloc((ncanon + 1) * sizeof *out->first);
    size_t total = 0;
    for (uint32_t c = 0; c < ncanon; c++)
        for (int32_t e = t.first[repr[c]]; e >= 0; e = t.e[e].next) total++;
    out->edges = malloc((total ? total : 1) * sizeof *out->edges);
    if (!out->first || !out->edges) goto oom;
    size_t o = 0;
    for (uint32_t c = 0; c < ncanon; c++) {
        out->first[c] = (uint32_t)o;
        for (int32_t e = t.first[repr[c]]; e >= 0; e = t.e[e].next)
            out->edges[o++] = (nedge){t.e[e].lo, t.e[e].hi, t.e[e].child < 0 ? -1 : canon[t.e[e].child]};
    }
    out->first[ncanon] = (uint32_t)o;
    free(canon);
    free(sig);
    free(repr);
    free(t.first);
    free(t.last);
    free(t.e);
    return 0;
oom:
    free(canon);
    free(sig);
    free(repr);
    free(t.first);
    free(t.last);
    free(t.e);
    free(out->first);
    free(out->edges);
    memset(out, 0, sizeof *out);
    return cf_errf(err, CF_ENOMEM, "out of memory compiling regex character set");
}

/* Stamps out a copy of the set's byte program: returns its fragment. */
static frag emit_set(builder *b, const bprog *pg) {
    frag f = {-1, -1};
    int32_t exit = add_state(b, NS_EPS);
    if (b->rc) return f;
    size_t base = b->re->nst;
    if (base + pg->nn > CF_RE_MAX_NFA) {
        for (uint32_t c = 0; c < pg->nn && !b->rc; c++) add_state(b, NS_BYTES);   /* reports the cap */
        return f;
    }
    for (uint32_t c = 0; c < pg->nn; c++) add_state(b, NS_BYTES);
    if (b->rc || add_edges(b, pg->first[pg->nn])) return f;
    cf_regex *re = b->re;
    for (uint32_t c = 0; c < pg->nn; c++) {
        nstate *s = &re->st[base + c];
        s->e0 = (uint32_t)re->ned;
        s->ne = pg->first[c + 1] - pg->first[c];
        for (uint32_t k = pg->first[c]; k < pg->first[c + 1]; k++) {
            nedge e = pg->edges[k];
            e.to = e.to < 0 ? exit : (int32_t)(base + (uint32_t)e.to);
            re->ed[re->ned++] = e;
        }
    }
    f.start = (int32_t)(base + pg->root);
    f.end = exit;
    return f;
}

static void patch(builder *b, int32_t end, int32_t to) {
    if (!b->rc) b->re->st[end].out0 = to;
}

static frag build(builder *b, int32_t node);

static frag build_rep(builder *b, const re_node *nd) {
    frag f = {-1, -1};
    int outer = b->rep_col == 0;
    if (outer) b->rep_col = nd->col;
    int32_t s = add_state(b, NS_EPS);
    f.start = f.end = s;
    for (int i = 0; i < nd->min && !b->rc; i++) {
        frag g = build(b, nd->child);
        patch(b, f.end, g.start);
        f.end = g.end;
    }
    if (nd->max < 0 && !b->rc) {   /* loop */
        int32_t l = add_state(b, NS_EPS), e = add_state(b, NS_EPS);
        frag g = build(b, nd->child);
        if (!b->rc) {
            b->re->st[l].out0 = g.start;
            b->re->st[l].out1 = e;
            patch(b, g.end, l);
            patch(b, f.end, l);
            f.end = e;
        }
    } else if (nd->max > nd->min && !b->rc) {   /* nested optionals */
        int32_t e = add_state(b, NS_EPS);
        for (int i = nd->min; i < nd->max && !b->rc; i++) {
            int32_t sp = add_state(b, NS_EPS);
            frag g = build(b, nd->child);
            if (b->rc) break;
            b->re->st[sp].out0 = g.start;
            b->re->st[sp].out1 = e;
            patch(b, f.end, sp);
            f.end = g.end;
        }
        patch(b, f.end, e);
        f.end = e;
    }
    if (outer) b->rep_col = 0;
    return f;
}

static frag build(builder *b, int32_t node) {
    frag f = {-1, -1};
    if (b->rc) return f;
    const re_node *nd = &b->ast->nodes[node];
    switch (nd->kind) {
    case RN_EMPTY: {
        int32_t s = add_state(b, NS_EPS);
        f.start = f.end = s;
        return f;
    }
    case RN_SET: {
        bprog *pg = &b->progs[nd->set];
        if (!pg->first) {
            int rc = build_prog(&b->ast->sets[nd->set], pg, b->err);
            if (rc) {
                b->rc = rc;
                return f;
            }
        }
        return emit_set(b, pg);
    }
    case RN_CAT: {
        int first = 1;
        for (int32_t c = nd->child; c >= 0 && !b->rc; c = b->ast->nodes[c].next) {
            frag g = build(b, c);
            if (first) f = g;
            else patch(b, f.end, g.start), f.end = g.end;
            first = 0;
        }
        return f;
    }
    case RN_ALT: {
        int32_t e = add_state(b, NS_EPS), prev = -1;
        for (int32_t c = nd->child; c >= 0 && !b->rc; c = b->ast->nodes[c].next) {
            int32_t sp = add_state(b, NS_EPS);
            frag g = build(b, c);
            if (b->rc) break;
            b->re->st[sp].out0 = g.start;
            patch(b, g.end, e);
            if (prev < 0) f.start = sp;
            else b->re->st[prev].out1 = sp;
            prev = sp;
        }
        f.end = e;
        return f;
    }
    case RN_REP: return build_rep(b, nd);
    case RN_GROUP: return build(b, nd->child);
    case RN_LOOK:
    case RN_BACKREF:   /* parsed only in backtracking mode, which does not build an NFA */
        b->rc = cf_errf(b->err, CF_EUNSUPPORTED, "column %d: lookaround/backreference in an automaton", nd->col);
        return f;
    case RN_BEGIN:
    case RN_END:
    case RN_WORDB:
    case RN_NWORDB: {
        static const uint8_t k[] = {[RN_BEGIN] = NS_BEGIN, [RN_END] = NS_END, [RN_WORDB] = NS_WB, [RN_NWORDB] = NS_NWB};
        int32_t s = add_state(b, k[nd->kind]), e = add_state(b, NS_EPS);
        if (!b->rc) b->re->st[s].out0 = e;
        f.start = s;
        f.end = e;
        return f;
    }
    }
    return f;
}

/* [\s\S]* loop: returns the loop's EPS state; its out1 is free; *head = the any-char BYTES root. */
static int32_t any_loop(builder *b, const bprog *any, int32_t *head) {
    int32_t l = add_state(b, NS_EPS);
    frag g = emit_set(b, any);
    if (b->rc) return -1;
    b->re->st[l].out0 = g.start;
    patch(b, g.end, l);
    *head = g.start;
    return l;
}

/* ---- analysis: co-reachability and byte classes ----------------------------------------- */

static int analyse(cf_regex *re, cf_err *err) {
    size_t n = re->nst;
    /* reverse adjacency (CSR) with edge kinds */
    uint32_t *cnt = calloc(n + 1, sizeof *cnt);
    if (!cnt) return cf_errf(err, CF_ENOMEM, "out of memory compiling regex");
#define FOR_EDGES(s, TO, KIND, BODY)                                                   \
    do {                                                                               \
        const nstate *st_ = &re->st[s];                                                \
        if (st_->kind == NS_BYTES) {                                                   \
            for (uint32_t k_ = 0; k_ < st_->ne; k_++) {                                \
                int32_t TO = re->ed[st_->e0 + k_].to;                                  \
                int KIND = NS_BYTES;                                                   \
                BODY;                                                                  \
            }                                                                          \
        } else {                                                                       \
            if (st_->out0 >= 0) {                                                      \
                int32_t TO = st_->out0;                                                \
                int KIND = st_->kind;                                                  \
                BODY;                                                                  \
            }                                                                          \
            if (st_->out1 >= 0) {                                                      \
                int32_t TO = st_->out1;                                                \
                int KIND = st_->kind;                                                  \
                BODY;                                                                  \
            }                                                                          \
        }                                                                              \
    } while (0)
    for (size_t s = 0; s < n; s++) FOR_EDGES(s, to, kind, (void)kind; cnt[to + 1]++);
    for (size_t i = 0; i < n; i++) cnt[i + 1] += cnt[i];
    size_t m = cnt[n];
    int32_t *from = malloc((m ? m : 1) * sizeof *from);
    uint8_t *fkind = malloc(m ? m : 1);
    uint32_t *fill = malloc((n + 1) * sizeof *fill);
    int32_t *queue = malloc((n ? n : 1) * sizeof *queue);
    uint8_t *z = calloc(n, 1);
    re->coreach = calloc(n, 1);
    re->coreach_start = calloc(n, 1);
    if (!from || !fkind || !fill || !queue || !z || !re->coreach || !re->coreach_start) {
        free(cnt), free(from), free(fkind), free(fill), free(queue), free(z);
        return cf_errf(err, CF_ENOMEM, "out of memory compiling regex");
    }
    memcpy(fill, cnt, (n + 1) * sizeof *fill);
    for (size_t s = 0; s < n; s++) FOR_EDGES(s, to, kind, from[fill[to]] = (int32_t)s; fkind[fill[to]++] = (uint8_t)kind);
#undef FOR_EDGES
    for (int pass = 0; pass < 2; pass++) {
        int begin_ok = pass == 1;
        uint8_t *c = pass ? re->coreach_start : re->coreach;
        /* Z: reaches MATCH without consuming (at the end of input) */
        memset(z, 0, n);
        size_t qh = 0, qt = 0;
        z[re->match] = 1;
        queue[qt++] = re->match;
        while (qh < qt) {
            int32_t s = queue[qh++];
            for (uint32_t k = cnt[s]; k < cnt[s + 1]; k++) {
                int32_t p = from[k];
                int kd = fkind[k];
                if (z[p] || kd == NS_BYTES || (kd == NS_BEGIN && !begin_ok)) continue;
                z[p] = 1;
                queue[qt++] = p;
            }
        }
        /* C: Z plus anything reaching C through bytes, EPS, \b \B (over-approximated) */
        qh = qt = 0;
        for (size_t s = 0; s < n; s++)
            if (z[s]) c[s] = 1, queue[qt++] = (int32_t)s;
        while (qh < qt) {
            int32_t s = queue[qh++];
            for (uint32_t k = cnt[s]; k < cnt[s + 1]; k++) {
                int32_t p = from[k];
                int kd = fkind[k];
                if (c[p] || kd == NS_END || (kd == NS_BEGIN && !begin_ok)) continue;
                c[p] = 1;
                queue[qt++] = p;
            }
        }
    }
    free(cnt), free(from), free(fkind), free(fill), free(queue), free(z);
    /* byte classes: boundaries of every edge range (and of \w when \b is used) */
    uint8_t bound[257] = {0};
    for (size_t i = 0; i < re->ned; i++) {
        bound[re->ed[i].lo] = 1;
        bound[re->ed[i].hi + 1] = 1;
    }
    if (re->has_wordb) {
        static const uint8_t wb[] = {'0', '9' + 1, 'A', 'Z' + 1, '_', '_' + 1, 'a', 'z' + 1};
        for (size_t i = 0; i < sizeof wb; i++) bound[wb[i]] = 1;
    }
    int c = -1;
    for (int b = 0; b < 256; b++) {
        if (b == 0 || bound[b]) {
            c++;
            re->cls_rep[c] = (uint8_t)b;
        }
        re->cls[b] = (uint8_t)c;
    }
    re->ncls = c + 1;
    return 0;
}

/* ---- closures and steps ------------------------------------------------------------------ */

static int is_word_byte(int b) {
    return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || b == '_' || (b >= 'a' && b <= 'z');
}

/* Scratch sizes: closure output <= NFA states; seeds <= edges + NFA states; closure stack
 * pushes <= seeds + 2 * NFA states. */
static int scratch(cf_regex *re) {
    size_t n = re->nst + 16, ns = re->ned + re->nst + 16;
    free(re->mark), free(re->stack), free(re->out), free(re->seeds);
    re->mark = calloc(n, sizeof *re->mark);
    re->stack = malloc((ns + 2 * n) * sizeof *re->stack);
    re->out = malloc(n * sizeof *re->out);
    re->seeds = malloc((ns + n) * sizeof *re->seeds);
    re->stamp = 0;
    re->capscratch = n;
    re->capseeds = ns;
    if (!re->mark || !re->stack || !re->out || !re->seeds) return -1;
    return 0;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

/* Epsilon closure of seeds: writes the important states (sorted) to re->out; returns the count.
 * next: the next byte if known, NEXT_UNKNOWN, or NEXT_END.  With NEXT_END, *accept reports
 * whether MATCH was reached. */
static size_t closure(cf_regex *re, const int32_t *seeds, size_t nseeds, int at_start, int prev_word,
                      int next, int *accept) {
    if (++re->stamp == 0) {
        memset(re->mark, 0, re->capscratch * sizeof *re->mark);
        re->stamp = 1;
    }
    const uint8_t *keep = at_start ? re->coreach_start : re->coreach;
    size_t sp = 0, no = 0;
    for (size_t i = nseeds; i-- > 0;) re->stack[sp++] = seeds[i];
    if (accept) *accept = 0;
    while (sp) {
        int32_t s = re->stack[--sp];
        if (re->mark[s] == re->stamp) continue;
        re->mark[s] = re->stamp;
        const nstate *st = &re->st[s];
        int follow = 0;
        switch (st->kind) {
        case NS_EPS:
            if (st->out1 >= 0) re->stack[sp++] = st->out1;
            if (st->out0 >= 0) re->stack[sp++] = st->out0;
            continue;
        case NS_BEGIN: follow = at_start; break;
        case NS_END:
            if (next == NEXT_UNKNOWN) {
                if (keep[s]) re->out[no++] = s;
                continue;
            }
            follow = next == NEXT_END;
            break;
        case NS_WB:
        case NS_NWB:
            if (next == NEXT_UNKNOWN) {
                if (keep[s]) re->out[no++] = s;
                continue;
            }
            {
                int nw = next >= 0 && is_word_byte(next);
                follow = (prev_word != nw) == (st->kind == NS_WB);
            }
            break;
        case NS_MATCH:
            if (accept) *accept = 1;
            re->out[no++] = s;
            continue;
        case NS_BYTES:
            if (keep[s]) re->out[no++] = s;
            continue;
        }
        if (follow && st->out0 >= 0) re->stack[sp++] = st->out0;
    }
    if (no > 1) qsort(re->out, no, sizeof *re->out, cmp_i32);
    return no;
}

/* One byte from the set `set` (flags): the successor's important states land in re->out. */
static size_t step_set(cf_regex *re, const int32_t *set, size_t n, unsigned flags, int byte, int *new_flags) {
    size_t ns = 0;
    const int32_t *src = set;
    size_t nsrc = n;
    if (re->has_wordb || (flags & DF_START)) {
        /* resolve pending assertions now that the next byte is known */
        memcpy(re->seeds, set, n * sizeof *set);
        nsrc = closure(re, re->seeds, n, (flags & DF_START) != 0, (flags & DF_PREVWORD) != 0, byte, NULL);
        memcpy(re->seeds + re->capseeds, re->out, nsrc * sizeof *re->out);
        src = re->seeds + re->capseeds;
    }
    int32_t *seeds = re->seeds;
    for (size_t i = 0; i < nsrc; i++) {
        const nstate *st = &re->st[src[i]];
        if (st->kind != NS_BYTES) continue;
        for (uint32_t k = 0; k < st->ne; k++) {
            const nedge *e = &re->ed[st->e0 + k];
            if (byte >= e->lo && byte <= e->hi) seeds[ns++] = e->to;
        }
    }
    int pw = re->has_wordb && is_word_byte(byte);
    *new_flags = pw ? DF_PREVWORD : 0;
    size_t no = closure(re, seeds, ns, 0, pw, NEXT_UNKNOWN, NULL);
    if (re->univ_head >= 0) {
        for (size_t i = 0; i < no; i++) {
            if (re->out[i] == re->univ_head) {
                memcpy(re->out, re->univ_set, re->univ_len * sizeof *re->out);
                *new_flags = 0;
                return re->univ_len;
            }
        }
    }
    return no;
}

static int set_accepting(cf_regex *re, const int32_t *set, size_t n, unsigned flags) {
    int acc;
    memcpy(re->seeds, set, n * sizeof *set);
    closure(re, re->seeds, n, (flags & DF_START) != 0, (flags & DF_PREVWORD) != 0, NEXT_END, &acc);
    return acc;
}

/* ---- DFA cache --------------------------------------------------------------------------- */

static uint64_t set_hash(const int32_t *s, size_t n, unsigned flags) {
    uint64_t h = 0xcbf29ce484222325ull ^ flags;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint32_t)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static int set_overflow(cf_regex *re, const char *what) {
    if (!re->overflow) {
        re->overflow = 1;
        snprintf(re->overflow_msg, sizeof re->overflow_msg, "regex DFA exceeded its cap of %s", what);
    }
    return -1;
}

static int grow_hash(cf_regex *re) {
    size_t nc = re->caphash ? re->caphash * 2 : 256;
    int32_t *nh = malloc(nc * sizeof *nh);
    if (!nh) return -1;
    memset(nh, 0xff, nc * sizeof *nh);
    for (size_t i = 0; i < re->nds; i++) {
        const dstate *d = &re->ds[i];
        size_t h = set_hash(re->setpool + d->off, d->len, d->flags) & (nc - 1);
        while (nh[h] >= 0) h = (h + 1) & (nc - 1);
        nh[h] = (int32_t)i;
    }
    free(re->hash);
    re->dfa_bytes += (nc - re->caphash) * sizeof *nh;
    re->hash = nh;
    re->caphash = nc;
    return 0;
}

/* Finds or adds the DFA state for (set, flags); -1 if a cap is hit. */
static int32_t intern(cf_regex *re, const int32_t *set, size_t n, unsigned flags) {
    if (n == 0) return -1;
    if (re->nds * 2 >= re->caphash && grow_hash(re)) return set_overflow(re, "memory (allocation failed)");
    size_t h = set_hash(set, n, flags) & (re->caphash - 1);
    for (; re->hash[h] >= 0; h = (h + 1) & (re->caphash - 1)) {
        const dstate *d = &re->ds[re->hash[h]];
        if (d->flags == flags && d->len == n && memcmp(re->setpool + d->off, set, n * sizeof *set) == 0)
            return re->hash[h];
    }
    if (re->nds >= CF_RE_MAX_DFA_STATES) {
        char w[64];
        snprintf(w, sizeof w, "%d states", CF_RE_MAX_DFA_STATES);
        return set_overflow(re, w);
    }
    size_t add = n * sizeof *set + sizeof(dstate) + (size_t)re->ncls * sizeof(int32_t);
    if (re->dfa_bytes + add > CF_RE_MAX_DFA_BYTES) {
        char w[64];
        snprintf(w, sizeof w, "%u bytes", (unsigned)CF_RE_MAX_DFA_BYTES);
        return set_overflow(re, w);
    }
    if (re->nsp + n > re->capsp) {
        size_t nc = re->capsp ? re->capsp * 2 : 1024;
        while (nc < re->nsp + n) nc *= 2;
        int32_t *np = realloc(re->setpool, nc * sizeof *np);
        if (!np) return set_overflow(re, "memory (allocation failed)");
        re->setpool = np;
        re->capsp = nc;
    }
    if (re->nds == re->capds) {
        size_t nc = re->capds ? re->capds * 2 : 64;
        dstate *nd = realloc(re->ds, nc * sizeof *nd);
        if (!nd) return set_overflow(re, "memory (allocation failed)");
        re->ds = nd;
        re->capds = nc;
        int32_t *nt = realloc(re->trans, nc * (size_t)re->ncls * sizeof *nt);
        if (!nt) return set_overflow(re, "memory (allocation failed)");
        re->trans = nt;
    }
    int32_t id = (int32_t)re->nds++;
    dstate *d = &re->ds[id];
    d->off = (uint32_t)re->nsp;
    d->len = (uint32_t)n;
    d->flags = (uint8_t)flags;
    d->live = 0;
    memcpy(re->setpool + re->nsp, set, n * sizeof *set);
    re->nsp += n;
    for (int c = 0; c < re->ncls; c++) re->trans[(size_t)id * (size_t)re->ncls + (size_t)c] = TR_UNKNOWN;
    re->hash[h] = id;
    re->dfa_bytes += add;
    d->accepting = (uint8_t)set_accepting(re, re->setpool + d->off, n, flags);
    return id;
}

/* ---- API --------------------------------------------------------------------------------- */

void cf_regex_free(cf_regex *re) {
    if (!re) return;
    free(re->st), free(re->ed), free(re->coreach), free(re->coreach_start);
    free(re->ds), free(re->setpool), free(re->trans), free(re->hash);
    free(re->mark), free(re->stack), free(re->out), free(re->seeds), free(re->univ_set);
    re_ast_free(&re->ast);
    free(re);
}

int cf_regex_compile(const char *pattern, size_t len, int mode, cf_regex **out, cf_err *err) {
    *out = NULL;
    if (!pattern && len) return cf_errf(err, CF_EINVAL, "cf_regex_compile: NULL pattern");
    if (mode & ~(CF_RE_FULL | CF_RE_BACKTRACK)) return cf_errf(err, CF_EINVAL, "cf_regex_compile: bad mode %d", mode);
    re_ast ast;
    int rc = re_parse(pattern ? pattern : "", len, (mode & CF_RE_BACKTRACK) ? RE_PARSE_BACKTRACK : 0, &ast, err);
    if (rc) return rc;
    if (ast.has_bt) {   /* match-only backtracking regex */
        cf_regex *re = calloc(1, sizeof *re);
        if (!re) {
            re_ast_free(&ast);
            return cf_errf(err, CF_ENOMEM, "out of memory compiling regex");
        }
        re->mode = mode & CF_RE_FULL;
        re->bt = 1;
        re->ast = ast;
        re->dstart = -1;
        re->univ_head = -1;
        *out = re;
        return 0;
    }
    mode &= CF_RE_FULL;
    cf_regex *re = calloc(1, sizeof *re);
    bprog *progs = calloc(ast.nsets + 1, sizeof *progs);
    bprog any = {0};
    re_set anyset = {0};
    if (!re || !progs) {
        rc = cf_errf(err, CF_ENOMEM, "out of memory compiling regex");
        goto done;
    }
    re->mode = mode;
    re->has_wordb = ast.has_wordb;
    re->univ_head = -1;
    builder b = {.re = re, .ast = &ast, .progs = progs, .err = err};
    int32_t pre = -1, head = -1, post = -1;
    if (mode == CF_RE_SEARCH) {
        if (re_set_add(&anyset, 0, RE_MAX_CP) || (rc = build_prog(&anyset, &any, err))) {
            if (!rc) rc = cf_errf(err, CF_ENOMEM, "out of memory compiling regex");
            goto done;
        }
        pre = any_loop(&b, &any, &head);
    }
    frag f = build(&b, ast.root);
    if (mode == CF_RE_SEARCH) post = any_loop(&b, &any, &re->univ_head);
    re->match = add_state(&b, NS_MATCH);
    if ((rc = b.rc)) goto done;
    if (mode == CF_RE_SEARCH) {
        re->st[pre].out1 = f.start;
        re->st[f.end].out0 = post;
        re->st[post].out1 = re->match;
        re->start = pre;
    } else {
        re->st[f.end].out0 = re->match;
        re->start = f.start;
    }
    if ((rc = analyse(re, err))) goto done;
    if (scratch(re)) {
        rc = cf_errf(err, CF_ENOMEM, "out of memory compiling regex");
        goto done;
    }
    if (re->univ_head >= 0) {
        int32_t seed = post;
        size_t n = closure(re, &seed, 1, 0, 0, NEXT_UNKNOWN, NULL);
        re->univ_set = malloc(n * sizeof *re->univ_set);
        if (!re->univ_set) {
            rc = cf_errf(err, CF_ENOMEM, "out of memory compiling regex");
            goto done;
        }
        memcpy(re->univ_set, re->out, n * sizeof *re->out);
        re->univ_len = (uint32_t)n;
    }
    {
        int32_t seed = re->start;
        size_t n = closure(re, &seed, 1, 1, 0, NEXT_UNKNOWN, NULL);
        unsigned fl = DF_START;
        if (re->univ_head >= 0) {
            for (size_t i = 0; i < n; i++) {
                if (re->out[i] == re->univ_head) {
                    memcpy(re->out, re->univ_set, re->univ_len * sizeof *re->out);
                    n = re->univ_len;
                    fl = 0;
                    break;
                }
            }
        }
        if (n == 0) {
            re->dstart = -1;   /* matches nothing */
        } else {
            int32_t *tmp = malloc(n * sizeof *tmp);
            if (!tmp) {
                rc = cf_errf(err, CF_ENOMEM, "out of memory compiling regex");
                goto done;
            }
            memcpy(tmp, re->out, n * sizeof *tmp);
            re->dstart = intern(re, tmp, n, fl);
            free(tmp);
            if (re->dstart < 0) {
                rc = cf_errf(err, CF_ELIMIT, "column 1: %s", re->overflow_msg);
                goto done;
            }
        }
    }
done:
    for (size_t i = 0; progs && i < ast.nsets; i++) free(progs[i].first), free(progs[i].edges);
    free(progs);
    free(any.first);
    free(any.edges);
    re_set_free(&anyset);
    re_ast_free(&ast);
    if (rc) {
        cf_regex_free(re);
        return rc;
    }
    *out = re;
    return 0;
}

int32_t cf_regex_start(cf_regex *re) { return re->dstart; }

int cf_regex_is_dfa(const cf_regex *re) { return !re->bt; }

int32_t cf_regex_next(cf_regex *re, int32_t state, uint8_t byte) {
    if (state < 0 || (size_t)state >= re->nds) return -1;
    size_t ti = (size_t)state * (size_t)re->ncls + re->cls[byte];
    int32_t t = re->trans[ti];
    if (t != TR_UNKNOWN) return t;
    const dstate *d = &re->ds[state];
    int nf;
    /* the class representative stands for every byte of its class */
    size_t n = step_set(re, re->setpool + d->off, d->len, d->flags, re->cls_rep[re->cls[byte]], &nf);
    t = intern(re, re->out, n, (unsigned)nf);
    if (t >= 0 || n == 0) re->trans[ti] = t;   /* do not cache a cap refusal */
    return t;
}

int cf_regex_accepting(cf_regex *re, int32_t state) {
    return state >= 0 && (size_t)state < re->nds && re->ds[state].accepting;
}

/* Forward search over the DFA for an accepting state (used when \b makes pruning inexact). */
static int live_search(cf_regex *re, int32_t s0) {
    size_t cap = 64, qh = 0, qt = 0;
    int32_t *q = malloc(cap * sizeof *q);
    uint8_t *seen = calloc(CF_RE_MAX_DFA_STATES, 1);
    int found = 0;
    if (!q || !seen) goto out;
    q[qt++] = s0;
    seen[s0] = 1;
    while (qh < qt && !found) {
        if (qh >= CF_RE_LIVE_SEARCH_MAX) {   /* budget spent: cannot tell, do not prune */
            found = 1;
            break;
        }
        int32_t s = q[qh++];
        if (re->ds[s].accepting || re->ds[s].live == 1) {
            found = 1;
            break;
        }
        if (re->ds[s].live == 2) continue;
        for (int c = 0; c < re->ncls; c++) {
            int32_t t = cf_regex_next(re, s, re->cls_rep[c]);
            if (t < 0 || seen[t]) {
                if (t < 0 && re->overflow) found = 1;   /* cannot tell: do not prune */
                if (found) break;
                continue;
            }
            seen[t] = 1;
            if (qt == cap) {
                int32_t *nq = realloc(q, cap * 2 * sizeof *nq);
                if (!nq) {
                    found = 1;
                    goto out;
                }
                q = nq;
                cap *= 2;
            }
            q[qt++] = t;
        }
    }
out:
    free(q);
    free(seen);
    return found;
}

int cf_regex_live(cf_regex *re, int32_t state) {
    if (state < 0 || (size_t)state >= re->nds) return 0;
    dstate *d = &re->ds[state];
    if (d->live) return d->live == 1;
    int live;
    if (d->accepting) {
        live = 1;
    } else if (re->has_wordb) {
        live = live_search(re, state);
        d = &re->ds[state];
    } else if (d->flags & DF_START) {
        /* the start set may hold states kept only for ^ or $ at position 0 */
        live = 0;
        for (uint32_t i = 0; i < d->len && !live; i++) live = re->coreach[re->setpool[d->off + i]];
    } else {
        live = 1;   /* every member can reach MATCH */
    }
    d->live = live ? 1 : 2;
    return live;
}

/* Uncached NFA simulation (used when the DFA cache is full). */
static int simulate(cf_regex *re, const unsigned char *s, size_t n) {
    size_t cap = re->nst + 1;
    int32_t *cur = malloc(cap * sizeof *cur);
    if (!cur) return 0;
    int32_t seed = re->start;
    size_t nc = closure(re, &seed, 1, 1, 0, NEXT_UNKNOWN, NULL);
    memcpy(cur, re->out, nc * sizeof *cur);
    unsigned flags = DF_START;
    for (size_t i = 0; i < n && nc; i++) {
        int nf;
        nc = step_set(re, cur, nc, flags, s[i], &nf);
        memcpy(cur, re->out, nc * sizeof *cur);
        flags = (unsigned)nf;
    }
    int acc = nc && set_accepting(re, cur, nc, flags);
    free(cur);
    return acc;
}

int cf_regex_match(cf_regex *re, const char *s, size_t n) {
    if (re->bt) return re_bt_match(&re->ast, re->mode == CF_RE_FULL, s, n);
    int32_t st = re->dstart;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n && st >= 0; i++) {
        st = cf_regex_next(re, st, u[i]);
        if (st < 0 && re->overflow) return simulate(re, u, n);
    }
    return st >= 0 && re->ds[st].accepting;
}

int cf_regex_overflowed(const cf_regex *re, cf_err *err) {
    if (re->overflow && err) cf_errf(err, CF_ELIMIT, "%s", re->overflow_msg);
    return re->overflow;
}

void cf_regex_stats(const cf_regex *re, size_t *nfa_states, size_t *dfa_states, size_t *dfa_bytes) {
    if (nfa_states) *nfa_states = re->nst;
    if (dfa_states) *dfa_states = re->nds;
    if (dfa_bytes) *dfa_bytes = re->dfa_bytes;
}
