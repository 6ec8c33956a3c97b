/* Building the machine from a grammar: each rule body -> NFA over bytes and calls -> DFA (subset
 * construction, states that cannot reach acceptance removed) -> VK_RULE nodes; each native ->
 * its program; target lists (what a call pushes), with rules that are pure alternations of
 * calls inlined into their callers. */
#include <stdlib.h>
#include <string.h>

#include "sampler/cons_int.h"

uint64_t num_init_aux(cf_constraint *K, const nprog *p);

#define GROW(arr, n, cap, need)                                                    \
    do {                                                                           \
        if ((uint64_t)(need) > (uint64_t)(cap)) {                                  \
            uint64_t nc_ = (cap) ? (uint64_t)(cap) * 2 : 16;                       \
            while (nc_ < (uint64_t)(need)) nc_ *= 2;                               \
            void *np_ = realloc((arr), nc_ * sizeof *(arr));                       \
            if (!np_) return -1;                                                   \
            (arr) = np_;                                                           \
            (cap) = nc_;                                                           \
        }                                                                          \
    } while (0)

uint32_t cons_new_vnode(cf_constraint *K, int kind, uint32_t spec) {
    if (K->nvn == K->capvn) {
        uint32_t nc = K->capvn ? K->capvn * 2 : 256;
        vnode *n = realloc(K->vn, (size_t)nc * sizeof *n);
        if (!n) {
            K->oom = 1;
            return UINT32_MAX;
        }
        K->vn = n;
        K->capvn = nc;
    }
    vnode v = {(uint8_t)kind, 0, 0, 0, spec};
    K->vn[K->nvn] = v;
    return K->nvn++;
}

int32_t cons_new_tlist(cf_constraint *K, const uint32_t *items, int n) {
    if (K->ntl == K->captl) {
        int32_t nc = K->captl ? K->captl * 2 : 64;
        tlist *t = realloc(K->tl, (size_t)nc * sizeof *t);
        if (!t) return -1;
        K->tl = t;
        K->captl = nc;
    }
    if (K->ntli + n > K->captli) {
        int32_t nc = K->captli ? K->captli * 2 : 256;
        while (nc < K->ntli + n) nc *= 2;
        uint32_t *t = realloc(K->tl_items, (size_t)nc * sizeof *t);
        if (!t) return -1;
        K->tl_items = t;
        K->captli = nc;
    }
    if (n) memcpy(K->tl_items + K->ntli, items, (size_t)n * sizeof *items);
    K->tl[K->ntl] = (tlist){K->ntli, n};
    K->ntli += n;
    return K->ntl++;
}

int32_t cons_combo_tl(cf_constraint *K, int kind, const int32_t *branch_tl, int nb) {
    if (nb > CF_MAX_COMBO) return -1;
    if (K->ncp == K->capcp) {
        int nc = K->capcp ? K->capcp * 2 : 16;
        cprog *c = realloc(K->cp, (size_t)nc * sizeof *c);
        if (!c) return -1;
        K->cp = c;
        K->capcp = nc;
    }
    cprog *c = &K->cp[K->ncp];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->nb = nb;
    memcpy(c->tl, branch_tl, (size_t)nb * sizeof *branch_tl);
    uint32_t v = cons_new_vnode(K, VK_COMBO, (uint32_t)K->ncp);
    if (v == UINT32_MAX) return -1;
    K->ncp++;
    return cons_new_tlist(K, &v, 1);
}

uint64_t cons_init_aux(cf_constraint *K, uint32_t node) {
    const vnode *v = &K->vn[node];
    switch (v->kind) {
    case VK_STRING: return K->sp[v->spec].init_aux;
    case VK_NUMBER: return K->np[v->spec].init_aux;
    case VK_OBJECT: return K->op[v->spec].init_aux;
    default: return 0;
    }
}

/* ---- NFA ---- */

enum { NE_EPS = 0, NE_RANGE, NE_CALL };

typedef struct {
    int32_t to, next;
    int32_t sym;      /* NE_CALL: rule id >= 0, native -1 - id */
    uint8_t kind, lo, hi;
} nedge;

typedef struct {
    int32_t *head;
    int32_t ns, caps;
    nedge *e;
    int32_t ne, cape;
    const cf_grammar *g;
    int over;
} nfa;

static int32_t nstate(nfa *a) {
    if (a->ns >= CF_NFA_MAX) {
        a->over = 1;
        return -1;
    }
    if (a->ns == a->caps) {
        int32_t nc = a->caps ? a->caps * 2 : 64;
        int32_t *h = realloc(a->head, (size_t)nc * sizeof *h);
        if (!h) {
            a->over = 2;
            return -1;
        }
        a->head = h;
        a->caps = nc;
    }
    a->head[a->ns] = -1;
    return a->ns++;
}

static void nadd(nfa *a, int32_t from, int32_t to, int kind, uint8_t lo, uint8_t hi, int32_t sym) {
    if (from < 0 || to < 0) return;
    if (a->ne == a->cape) {
        int32_t nc = a->cape ? a->cape * 2 : 128;
        nedge *e = realloc(a->e, (size_t)nc * sizeof *e);
        if (!e) {
            a->over = 2;
            return;
        }
        a->e = e;
        a->cape = nc;
    }
    a->e[a->ne] = (nedge){to, a->head[from], sym, (uint8_t)kind, lo, hi};
    a->head[from] = a->ne++;
}

/* UTF-8 encodings of code points lo..hi as paths of byte ranges from s to t. */
static void utf8_path(nfa *a, int32_t s, int32_t t, uint32_t lo, uint32_t hi) {
    if (a->over || lo > hi) return;
    static const uint32_t lim[3] = {0x7F, 0x7FF, 0xFFFF};
    for (int i = 0; i < 3; i++)
        if (lo <= lim[i] && hi > lim[i]) {
            utf8_path(a, s, t, lo, lim[i]);
            utf8_path(a, s, t, lim[i] + 1, hi);
            return;
        }
    if (hi < 0x80) {
        nadd(a, s, t, NE_RANGE, (uint8_t)lo, (uint8_t)hi, 0);
        return;
    }
    for (int i = 1; i < 4; i++) {
        uint32_t m = (1u << (6 * i)) - 1;
        if ((lo & ~m) != (hi & ~m)) {
            if ((lo & m) != 0) {
                utf8_path(a, s, t, lo, lo | m);
                utf8_path(a, s, t, (lo | m) + 1, hi);
                return;
            }
            if ((hi & m) != m) {
                utf8_path(a, s, t, lo, (hi & ~m) - 1);
                utf8_path(a, s, t, hi & ~m, hi);
                return;
            }
        }
    }
    uint8_t x[4], y[4];
    int n;
    if (lo < 0x800) {
        n = 2;
        x[0] = (uint8_t)(0xC0 | lo >> 6), x[1] = (uint8_t)(0x80 | (lo & 63));
        y[0] = (uint8_t)(0xC0 | hi >> 6), y[1] = (uint8_t)(0x80 | (hi & 63));
    } else if (lo < 0x10000) {
        n = 3;
        x[0] = (uint8_t)(0xE0 | lo >> 12), x[1] = (uint8_t)(0x80 | ((lo >> 6) & 63)), x[2] = (uint8_t)(0x80 | (lo & 63));
        y[0] = (uint8_t)(0xE0 | hi >> 12), y[1] = (uint8_t)(0x80 | ((hi >> 6) & 63)), y[2] = (uint8_t)(0x80 | (hi & 63));
    } else {
        n = 4;
        x[0] = (uint8_t)(0xF0 | lo >> 18), x[1] = (uint8_t)(0x80 | ((lo >> 12) & 63));
        x[2] = (uint8_t)(0x80 | ((lo >> 6) & 63)), x[3] = (uint8_t)(0x80 | (lo & 63));
        y[0] = (uint8_t)(0xF0 | hi >> 18), y[1] = (uint8_t)(0x80 | ((hi >> 12) & 63));
        y[2] = (uint8_t)(0x80 | ((hi >> 6) & 63)), y[3] = (uint8_t)(0x80 | (hi & 63));
    }
    int32_t cur = s;
    for (int i = 0; i < n; i++) {
        int32_t nx = i == n - 1 ? t : nstate(a);
        nadd(a, cur, nx, NE_RANGE, x[i], y[i], 0);
        cur = nx;
    }
}

static int cmp_u32pair(const void *a, const void *b) {
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static void class_path(nfa *a, int32_t s, int32_t t, const uint32_t *r, int n, int neg) {
    /* normalize: sort, merge, clip to [0, 0x10FFFF], optionally complement; drop surrogates */
    uint32_t *v = malloc(((size_t)n + 2) * 2 * sizeof *v);
    uint32_t *w = malloc(((size_t)n + 4) * 2 * sizeof *w);
    if (!v || !w) {
        a->over = 2;
        free(v);
        free(w);
        return;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        uint32_t lo = r[2 * i], hi = r[2 * i + 1];
        if (lo > hi || lo > 0x10FFFF) continue;
        if (hi > 0x10FFFF) hi = 0x10FFFF;
        v[2 * k] = lo;
        v[2 * k + 1] = hi;
        k++;
    }
    qsort(v, (size_t)k, 2 * sizeof *v, cmp_u32pair);
    int m = 0;
    for (int i = 0; i < k; i++) {
        if (m && v[2 * i] <= w[2 * (m - 1) + 1] + 1) {
            if (v[2 * i + 1] > w[2 * (m - 1) + 1]) w[2 * (m - 1) + 1] = v[2 * i + 1];
        } else {
            w[2 * m] = v[2 * i];
            w[2 * m + 1] = v[2 * i + 1];
            m++;
        }
    }
    if (neg) {
        int q = 0;
        uint32_t next = 0;
        for (int i = 0; i < m; i++) {
            if (w[2 * i] > next) {
                v[2 * q] = next;
                v[2 * q + 1] = w[2 * i] - 1;
                q++;
            }
            next = w[2 * i + 1] + 1;
        }
        if (next <= 0x10FFFF) {
            v[2 * q] = next;
            v[2 * q + 1] = 0x10FFFF;
            q++;
        }
        memcpy(w, v, (size_t)q * 2 * sizeof *v);
        m = q;
    }
    for (int i = 0; i < m; i++) {
        uint32_t lo = w[2 * i], hi = w[2 * i + 1];
        if (lo <= 0xDFFF && hi >= 0xD800) {   /* cut out surrogates */
            if (lo < 0xD800) utf8_path(a, s, t, lo, 0xD7FF);
            if (hi > 0xDFFF) utf8_path(a, s, t, 0xE000, hi);
        } else utf8_path(a, s, t, lo, hi);
    }
    free(v);
    free(w);
}

static void build_expr(nfa *a, cf_gx e, int32_t s, int32_t t, int depth) {
    if (a->over || s < 0 || t < 0) return;
    if (depth > 2000) {
        a->over = 1;
        return;
    }
    const cf_grammar *g = a->g;
    const cf_gx_node *n = &g->nodes[e];
    switch (n->kind) {
    case CF_GX_FAIL: break;
    case CF_GX_EMPTY: nadd(a, s, t, NE_EPS, 0, 0, 0); break;
    case CF_GX_BYTES: {
        int32_t cur = s;
        for (int32_t i = 0; i < n->n; i++) {
            int32_t nx = i == n->n - 1 ? t : nstate(a);
            uint8_t b = g->bytes[n->a + i];
            nadd(a, cur, nx, NE_RANGE, b, b, 0);
            cur = nx;
        }
        break;
    }
    case CF_GX_CLASS: class_path(a, s, t, n->n ? g->ranges + n->a : NULL, n->n, n->neg); break;   /* empty: ranges may be NULL */
    case CF_GX_SEQ: {
        int32_t cur = s;
        for (int32_t i = 0; i < n->n; i++) {
            int32_t nx = i == n->n - 1 ? t : nstate(a);
            build_expr(a, g->kids[n->a + i], cur, nx, depth + 1);
            cur = nx;
        }
        break;
    }
    case CF_GX_ALT:
        for (int32_t i = 0; i < n->n; i++) build_expr(a, g->kids[n->a + i], s, t, depth + 1);
        break;
    case CF_GX_REPEAT: {
        int32_t cur = s;
        for (int i = 0; i < n->min && !a->over; i++) {
            int32_t nx = nstate(a);
            build_expr(a, n->a, cur, nx, depth + 1);
            cur = nx;
        }
        if (n->max < 0) {
            int32_t loop = nstate(a);
            nadd(a, cur, loop, NE_EPS, 0, 0, 0);
            build_expr(a, n->a, loop, loop, depth + 1);
            nadd(a, loop, t, NE_EPS, 0, 0, 0);
        } else {
            nadd(a, cur, t, NE_EPS, 0, 0, 0);
            for (int i = n->min; i < n->max && !a->over; i++) {
                int32_t nx = nstate(a);
                build_expr(a, n->a, cur, nx, depth + 1);
                nadd(a, nx, t, NE_EPS, 0, 0, 0);
                cur = nx;
            }
        }
        break;
    }
    case CF_GX_REF: nadd(a, s, t, NE_CALL, 0, 0, n->a); break;
    case CF_GX_NATIVE: nadd(a, s, t, NE_CALL, 0, 0, -1 - n->a); break;
    }
}

/* ---- subset construction ---- */

typedef struct {
    int32_t *st;      /* NFA states (sorted) */
    int32_t n;
} dset;

typedef struct {
    nfa *a;
    int32_t fin;
    dset *ds;
    int32_t nds, capds;
    htab h;
    /* per DFA state: edges and calls (symbol based), final */
    struct dedge { uint8_t lo, hi; int32_t to; } *de;
    int32_t nde, capde;
    struct dcall { int32_t sym, to; } *dc;
    int32_t ndc, capdc;
    int32_t *de_off, *de_n, *dc_off, *dc_n;
    uint8_t *dfin;
    int32_t capst;
    int32_t *mark;    /* scratch: NFA state marks (stamp) */
    int32_t stamp;
    int32_t *stk;
    int64_t work;     /* NFA states closed + range tests so far (bounded by CF_SUBSET_WORK_MAX) */
} dfa;

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

/* eps-closure of st[0..n) -> sorted unique array in *out (malloc'ed) */
static int eclose(dfa *D, const int32_t *st, int32_t n, int32_t **out, int32_t *on) {
    nfa *a = D->a;
    D->stamp++;
    int32_t cap = n + 16, k = 0, sp = 0;
    int32_t *r = malloc((size_t)cap * sizeof *r);
    if (!r) return -1;
    for (int32_t i = 0; i < n; i++)
        if (D->mark[st[i]] != D->stamp) {
            D->mark[st[i]] = D->stamp;
            D->stk[sp++] = st[i];
        }
    while (sp) {
        int32_t x = D->stk[--sp];
        if (k == cap) {
            cap *= 2;
            int32_t *nr = realloc(r, (size_t)cap * sizeof *nr);
            if (!nr) {
                free(r);
                return -1;
            }
            r = nr;
        }
        r[k++] = x;
        for (int32_t ei = a->head[x]; ei >= 0; ei = a->e[ei].next)
            if (a->e[ei].kind == NE_EPS && D->mark[a->e[ei].to] != D->stamp) {
                D->mark[a->e[ei].to] = D->stamp;
                D->stk[sp++] = a->e[ei].to;
            }
    }
    /* the construction is exponential at worst and quadratic in easy cases (x?{1,10000}: 10^4
     * DFA states of up to 10^4 NFA states each); a budget turns that into an error, not a hang */
    D->work += k;
    if (D->work > CF_SUBSET_WORK_MAX) {
        free(r);
        return -3;
    }
    qsort(r, (size_t)k, sizeof *r, cmp_i32);
    *out = r;
    *on = k;
    return 0;
}

static int32_t dfa_state(dfa *D, int32_t *st, int32_t n) {
    uint64_t hk = cons_hash_bytes(st, (size_t)n * 4, 0xDFA);
    uint64_t slot = UINT64_MAX;
    uint32_t id;
    for (;;) {
        /* manual iteration (htab_next is static in cons_vm.c) */
        uint64_t key = hk ? hk : 1;
        uint64_t i = slot == UINT64_MAX ? (cons_hash64(key) & D->h.mask) : ((slot + 1) & D->h.mask);
        id = UINT32_MAX;
        for (;; i = (i + 1) & D->h.mask) {
            if (!D->h.keys[i]) break;
            if (D->h.keys[i] == key) {
                slot = i;
                id = D->h.ids[i];
                break;
            }
        }
        if (id == UINT32_MAX) break;
        if (D->ds[id].n == n && !memcmp(D->ds[id].st, st, (size_t)n * 4)) {
            free(st);
            return (int32_t)id;
        }
    }
    if (D->nds >= CF_RULE_MAX_STATES) {
        free(st);
        return -2;
    }
    GROW(D->ds, D->nds, D->capds, D->nds + 1);
    D->ds[D->nds] = (dset){st, n};
    if (htab_put(&D->h, hk, (uint32_t)D->nds)) return -1;
    return D->nds++;
}

typedef struct {
    int32_t lo, hi, to;   /* for collecting range edges */
} rng;


/* Builds the DFA of one rule; fills D (states 0..nds), state 0 = start.  Returns 0 / -1 OOM / -2 limit. */
static int subset(dfa *D, int32_t start) {
    int32_t *s0, n0;
    int ec = eclose(D, &start, 1, &s0, &n0);
    if (ec) return ec;
    int32_t r0 = dfa_state(D, s0, n0);
    if (r0 < 0) return r0;
    nfa *a = D->a;
    rng *rs = NULL;
    int32_t nrs = 0, caprs = 0;
    int32_t *bnd = malloc(600 * sizeof *bnd);
    if (!bnd) return -1;
    for (int32_t di = 0; di < D->nds; di++) {
        if (di >= D->capst) {
            int32_t cap = D->capst ? D->capst * 2 : 64;
            int32_t *p;
            p = realloc(D->de_off, (size_t)cap * sizeof *p);
            if (!p) return -1;
            D->de_off = p;
            p = realloc(D->de_n, (size_t)cap * sizeof *p);
            if (!p) return -1;
            D->de_n = p;
            p = realloc(D->dc_off, (size_t)cap * sizeof *p);
            if (!p) return -1;
            D->dc_off = p;
            p = realloc(D->dc_n, (size_t)cap * sizeof *p);
            if (!p) return -1;
            D->dc_n = p;
            uint8_t *f = realloc(D->dfin, (size_t)cap);
            if (!f) return -1;
            D->dfin = f;
            D->capst = cap;
        }
        dset cur = D->ds[di];
        D->dfin[di] = 0;
        nrs = 0;
        /* byte ranges */
        for (int32_t i = 0; i < cur.n; i++) {
            int32_t x = cur.st[i];
            if (x == D->fin) D->dfin[di] = 1;
            for (int32_t ei = a->head[x]; ei >= 0; ei = a->e[ei].next) {
                const nedge *e = &a->e[ei];
                if (e->kind == NE_RANGE) {
                    GROW(rs, nrs, caprs, nrs + 1);
                    rs[nrs++] = (rng){e->lo, e->hi, e->to};
                }
            }
        }
        D->de_off[di] = D->nde;
        D->de_n[di] = 0;
        if (nrs) {
            int nb = 0;
            uint8_t isb[257] = {0};
            for (int32_t i = 0; i < nrs; i++) {
                isb[rs[i].lo] = 1;
                isb[rs[i].hi + 1] = 1;
            }
            for (int b = 0; b <= 256; b++)
                if (isb[b]) bnd[nb++] = b;
            D->work += (int64_t)nrs * nb;
            if (D->work > CF_SUBSET_WORK_MAX) {
                free(rs);
                free(bnd);
                return -3;
            }
            int32_t prev_to = -1, prev_lo = 0, prev_hi = -1;
            for (int k = 0; k + 1 < nb; k++) {
                int lo = bnd[k], hi = bnd[k + 1] - 1;
                int32_t *tg = malloc((size_t)nrs * sizeof *tg);
                if (!tg) return -1;
                int32_t nt = 0;
                for (int32_t i = 0; i < nrs; i++)
                    if (rs[i].lo <= lo && rs[i].hi >= hi) tg[nt++] = rs[i].to;
                if (!nt) {
                    free(tg);
                    continue;
                }
                int32_t *cl, ncl;
                int ec = eclose(D, tg, nt, &cl, &ncl);
                free(tg);
                if (ec) {
                    free(rs);
                    free(bnd);
                    return ec;
                }
                int32_t to = dfa_state(D, cl, ncl);
                if (to < 0) {
                    free(rs);
                    free(bnd);
                    return to;
                }
                if (to == prev_to && lo == prev_hi + 1) {
                    D->de[D->nde - 1].hi = (uint8_t)hi;
                    prev_hi = hi;
                    continue;
                }
                GROW(D->de, D->nde, D->capde, D->nde + 1);
                D->de[D->nde++] = (struct dedge){(uint8_t)lo, (uint8_t)hi, to};
                D->de_n[di]++;
                prev_to = to;
                prev_lo = lo;
                prev_hi = hi;
            }
            (void)prev_lo;
        }
        /* calls, grouped by symbol */
        D->dc_off[di] = D->ndc;
        D->dc_n[di] = 0;
        for (int32_t i = 0; i < cur.n; i++)
            for (int32_t ei = a->head[cur.st[i]]; ei >= 0; ei = a->e[ei].next) {
                const nedge *e = &a->e[ei];
                if (e->kind != NE_CALL) continue;
                int dup = 0;
                for (int32_t j = 0; j < D->dc_n[di]; j++)
                    if (D->dc[D->dc_off[di] + j].sym == e->sym) dup = 1;
                if (dup) continue;
                /* all targets of this symbol from this DFA state */
                int32_t cap = 8, nt = 0;
                int32_t *tg = malloc((size_t)cap * sizeof *tg);
                if (!tg) return -1;
                for (int32_t i2 = 0; i2 < cur.n; i2++)
                    for (int32_t e2 = a->head[cur.st[i2]]; e2 >= 0; e2 = a->e[e2].next)
                        if (a->e[e2].kind == NE_CALL && a->e[e2].sym == e->sym) {
                            if (nt == cap) {
                                cap *= 2;
                                int32_t *nn = realloc(tg, (size_t)cap * sizeof *nn);
                                if (!nn) {
                                    free(tg);
                                    return -1;
                                }
                                tg = nn;
                            }
                            tg[nt++] = a->e[e2].to;
                        }
                int32_t *cl, ncl;
                int ec = eclose(D, tg, nt, &cl, &ncl);
                free(tg);
                if (ec) {
                    free(rs);
                    free(bnd);
                    return ec;
                }
                int32_t to = dfa_state(D, cl, ncl);
                if (to < 0) {
                    free(rs);
                    free(bnd);
                    return to;
                }
                GROW(D->dc, D->ndc, D->capdc, D->ndc + 1);
                D->dc[D->ndc++] = (struct dcall){e->sym, to};
                D->dc_n[di]++;
            }
    }
    free(rs);
    free(bnd);
    return 0;
}

static void dfa_free(dfa *D) {
    for (int32_t i = 0; i < D->nds; i++) free(D->ds[i].st);
    free(D->ds);
    htab_free(&D->h);
    free(D->de);
    free(D->dc);
    free(D->de_off);
    free(D->de_n);
    free(D->dc_off);
    free(D->dc_n);
    free(D->dfin);
    free(D->mark);
    free(D->stk);
}

/* Per rule: DFA state -> vnode mapping; calls hold symbols until target lists exist. */
typedef struct {
    uint32_t start;      /* vnode of the start state, UINT32_MAX: rule matches nothing */
    int pure;            /* start state is only an alternation of calls ending the rule */
    int32_t *syms;       /* pure: the symbols */
    int nsyms;
} ruleinfo;

typedef struct {
    int32_t rc_index;    /* index into K->rc */
    int32_t sym;
} pending_call;

static int build_rule(cf_constraint *K, int32_t rule, ruleinfo *ri, pending_call **pc, int32_t *npc, int32_t *cappc,
                      cf_err *err) {
    const cf_grammar *g = K->g;
    nfa a = {0};
    a.g = g;
    int32_t s = nstate(&a), t = nstate(&a);
    build_expr(&a, g->rules[rule].body, s, t, 0);
    if (a.over) {
        free(a.head);
        free(a.e);
        if (a.over == 2) return cf_errf(err, CF_ENOMEM, "grammar: out of memory");
        return cf_errf(err, CF_ELIMIT, "grammar: rule '%s' expands to more than %d automaton states",
                       g->rules[rule].name, CF_NFA_MAX);
    }
    dfa D = {0};
    D.a = &a;
    D.fin = t;
    D.mark = calloc((size_t)a.ns + 1, sizeof *D.mark);
    D.stk = malloc(((size_t)a.ns + 1) * sizeof *D.stk);
    int rc = (!D.mark || !D.stk || htab_init(&D.h, 64)) ? -1 : subset(&D, s);
    if (rc) {
        dfa_free(&D);
        free(a.head);
        free(a.e);
        if (rc == -2)
            return cf_errf(err, CF_ELIMIT, "grammar: rule '%s' needs more than %d automaton states",
                           g->rules[rule].name, CF_RULE_MAX_STATES);
        if (rc == -3)
            return cf_errf(err, CF_ELIMIT,
                           "grammar: rule '%s' is too costly to compile (more than %lld subset-construction steps)",
                           g->rules[rule].name, (long long)CF_SUBSET_WORK_MAX);
        return cf_errf(err, CF_ENOMEM, "grammar: out of memory");
    }
    /* live states: can reach a final state through byte edges or calls */
    int32_t n = D.nds;
    uint8_t *live = n > 0 ? calloc((size_t)(uint32_t)n, 1) : NULL;
    if (!live) goto oom;
    for (int32_t i = 0; i < n; i++) live[i] = D.dfin[i];
    for (int ch = 1; ch;) {
        ch = 0;
        for (int32_t i = 0; i < n; i++) {
            if (live[i]) continue;
            for (int32_t j = 0; j < D.de_n[i] && !live[i]; j++)
                if (live[D.de[D.de_off[i] + j].to]) live[i] = ch = 1;
            for (int32_t j = 0; j < D.dc_n[i] && !live[i]; j++)
                if (live[D.dc[D.dc_off[i] + j].to]) live[i] = ch = 1;
        }
    }
    if (K->nvn + (uint32_t)n > CF_RULE_MAX_STATES * 2u) {
        free(live);
        dfa_free(&D);
        free(a.head);
        free(a.e);
        return cf_errf(err, CF_ELIMIT, "grammar: more than %d automaton states in all", CF_RULE_MAX_STATES * 2);
    }
    uint32_t *map = malloc((size_t)(uint32_t)n * sizeof *map);
    if (!map) {
        free(live);
        goto oom;
    }
    for (int32_t i = 0; i < n; i++) {
        map[i] = UINT32_MAX;
        if (!live[i]) continue;
        if (K->nrs == K->caprs) {
            int32_t nc = K->caprs ? K->caprs * 2 : 256;
            rstate *r = realloc(K->rs, (size_t)nc * sizeof *r);
            if (!r) {
                free(map);
                free(live);
                goto oom;
            }
            K->rs = r;
            K->caprs = nc;
        }
        memset(&K->rs[K->nrs], 0, sizeof K->rs[K->nrs]);
        map[i] = cons_new_vnode(K, VK_RULE, (uint32_t)K->nrs);
        K->nrs++;
        if (map[i] == UINT32_MAX) {
            free(map);
            free(live);
            goto oom;
        }
    }
    for (int32_t i = 0; i < n; i++) {
        if (map[i] == UINT32_MAX) continue;
        vnode *v = &K->vn[map[i]];
        rstate *r = &K->rs[v->spec];
        v->final = D.dfin[i];
        r->e_off = K->nre_;
        for (int32_t j = 0; j < D.de_n[i]; j++) {
            const struct dedge *e = &D.de[D.de_off[i] + j];
            if (map[e->to] == UINT32_MAX) continue;
            if (K->nre_ == K->capre_) {
                int32_t nc = K->capre_ ? K->capre_ * 2 : 256;
                redge *ne = realloc(K->re_, (size_t)nc * sizeof *ne);
                if (!ne) {
                    free(map);
                    free(live);
                    goto oom;
                }
                K->re_ = ne;
                K->capre_ = nc;
            }
            K->re_[K->nre_++] = (redge){e->lo, e->hi, map[e->to]};
            r->e_n++;
            for (int b = e->lo; b <= e->hi; b++) fb_set(r->fb, (unsigned)b);
        }
        v->has_bytes = r->e_n > 0;
        r->c_off = K->nrc;
        for (int32_t j = 0; j < D.dc_n[i]; j++) {
            const struct dcall *c = &D.dc[D.dc_off[i] + j];
            if (map[c->to] == UINT32_MAX) continue;
            if (K->nrc == K->caprc) {
                int32_t nc = K->caprc ? K->caprc * 2 : 256;
                rcall *nr = realloc(K->rc, (size_t)nc * sizeof *nr);
                if (!nr) {
                    free(map);
                    free(live);
                    goto oom;
                }
                K->rc = nr;
                K->caprc = nc;
            }
            if (*npc == *cappc) {
                int32_t nc = *cappc ? *cappc * 2 : 256;
                pending_call *np = realloc(*pc, (size_t)nc * sizeof *np);
                if (!np) {
                    free(map);
                    free(live);
                    goto oom;
                }
                *pc = np;
                *cappc = nc;
            }
            (*pc)[(*npc)++] = (pending_call){K->nrc, c->sym};
            K->rc[K->nrc++] = (rcall){-1, map[c->to]};
            r->c_n++;
        }
        v->has_calls = r->c_n > 0;
    }
    ri->start = map[0];
    /* pure alternation of calls: start has no bytes, is not final, every call returns to a final
     * state with nothing else to do */
    ri->pure = 0;
    if (ri->start != UINT32_MAX) {
        const vnode *v0 = &K->vn[ri->start];
        const rstate *r0 = &K->rs[v0->spec];
        int pure = !v0->final && !v0->has_bytes && v0->has_calls;
        for (int32_t j = 0; pure && j < r0->c_n; j++) {
            const vnode *vr = &K->vn[K->rc[r0->c_off + j].ret];
            if (!vr->final || vr->has_bytes || vr->has_calls) pure = 0;
        }
        if (pure) {
            ri->syms = malloc((size_t)r0->c_n * sizeof *ri->syms);
            if (!ri->syms) {
                free(map);
                free(live);
                goto oom;
            }
            /* symbols of the start state's calls: they are the last r0->c_n pending entries
             * belonging to rc indices r0->c_off.. */
            for (int32_t j = 0; j < r0->c_n; j++)
                for (int32_t q = *npc - 1; q >= 0; q--)
                    if ((*pc)[q].rc_index == r0->c_off + j) {
                        ri->syms[j] = (*pc)[q].sym;
                        break;
                    }
            ri->nsyms = r0->c_n;
            ri->pure = 1;
        }
    }
    free(map);
    free(live);
    dfa_free(&D);
    free(a.head);
    free(a.e);
    return 0;
oom:
    dfa_free(&D);
    free(a.head);
    free(a.e);
    return cf_errf(err, CF_ENOMEM, "grammar: out of memory");
}

/* Targets of a symbol (rule or native), flattening pure rules. */
typedef struct {
    uint32_t *v;
    int n, cap;
} uvec;

static int uvec_add(uvec *u, uint32_t x) {
    for (int i = 0; i < u->n; i++)
        if (u->v[i] == x) return 0;
    if (u->n == u->cap) {
        int nc = u->cap ? u->cap * 2 : 8;
        uint32_t *n = realloc(u->v, (size_t)nc * sizeof *n);
        if (!n) return -1;
        u->v = n;
        u->cap = nc;
    }
    u->v[u->n++] = x;
    return 0;
}

static int sym_targets(cf_constraint *K, ruleinfo *ri, uint8_t *busy, int32_t sym, uvec *out, int depth) {
    if (sym < 0) return uvec_add(out, (uint32_t)K->native_vn[-1 - sym]);
    ruleinfo *r = &ri[sym];
    if (r->start == UINT32_MAX) return 0;
    if (!r->pure || busy[sym] || depth > 32) return uvec_add(out, r->start);
    busy[sym] = 1;
    int rc = 0;
    for (int i = 0; i < r->nsyms && !rc; i++) rc = sym_targets(K, ri, busy, r->syms[i], out, depth + 1);
    busy[sym] = 0;
    return rc;
}

/* ---- natives ---- */

static int cmp_lit_idx_ctx_helper(const char *a, size_t la, const char *b, size_t lb) {
    int c = memcmp(a, b, la < lb ? la : lb);
    if (c) return c;
    return la < lb ? -1 : la > lb;
}

typedef struct {
    char **s;
    size_t *l;
} litctx;
static litctx g_lc;
static pthread_mutex_t g_lc_lock = PTHREAD_MUTEX_INITIALIZER;
static int cmp_lit_idx(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return cmp_lit_idx_ctx_helper(g_lc.s[x], g_lc.l[x], g_lc.s[y], g_lc.l[y]);
}
/* order[] = indices of lits sorted by bytes */
static void sort_lits(char **s, size_t *l, int n, int *order) {
    for (int i = 0; i < n; i++) order[i] = i;
    pthread_mutex_lock(&g_lc_lock);
    g_lc.s = s;
    g_lc.l = l;
    qsort(order, (size_t)n, sizeof *order, cmp_lit_idx);
    pthread_mutex_unlock(&g_lc_lock);
}

static int finish_sprog(cf_constraint *K, sprog *p) {
    if (p->nre && p->max_len >= 0) {
        if (sprog_mind_init(p)) return -1;
    }
    p->decode = p->has_trie || p->nre > 0;
    p->counted = p->min_len > 0 || p->max_len >= 0;
    p->blob = p->has_trie || p->nre > 1 || p->seen_words > 0;
    p->generic = !p->has_trie && p->nre == 0;
    sstate s;
    memset(&s, 0, sizeof s);
    s.phase = SP_START;
    s.trie = p->has_trie ? 0 : -1;
    for (int i = 0; i < p->nre; i++) s.re[i] = cf_regex_start(p->re[i]);
    uint32_t zero[512] = {0};
    uint64_t a = str_pack(K, p, &s, zero);
    if (a == UINT64_MAX) return -1;
    p->init_aux = a;
    return 0;
}

static int build_string(cf_constraint *K, sprog *p, const cf_nat_string *ns, cf_err *err) {
    memset(p, 0, sizeof *p);
    if (ns->nre > CF_MAX_STR_RE) return cf_errf(err, CF_ELIMIT, "string: more than %d regexes", CF_MAX_STR_RE);
    for (int i = 0; i < ns->nre; i++) p->re[i] = ns->re[i];
    p->nre = ns->nre;
    p->min_len = ns->min_len;
    p->max_len = ns->max_len;
    p->always_live = ns->always_live && !ns->has_lits && ns->nre > 0;
    if (ns->has_lits) {
        int n = ns->nlit;
        int *ord = malloc(((size_t)n + 1) * sizeof *ord);
        char **sl = malloc(((size_t)n + 1) * sizeof *sl);
        size_t *ll = malloc(((size_t)n + 1) * sizeof *ll);
        if (!ord || !sl || !ll) {
            free(ord);
            free(sl);
            free(ll);
            return cf_errf(err, CF_ENOMEM, "out of memory");
        }
        sort_lits(ns->lits, ns->lit_lens, n, ord);
        int k = 0;
        for (int i = 0; i < n; i++) {
            char *s = ns->lits[ord[i]];
            size_t l = ns->lit_lens[ord[i]];
            if (k && ll[k - 1] == l && !memcmp(sl[k - 1], s, l)) continue;
            sl[k] = s;
            ll[k] = l;
            k++;
        }
        int rc = sprog_build_trie(&p->trie, sl, ll, k);
        free(ord);
        free(sl);
        free(ll);
        if (rc) return cf_errf(err, CF_ENOMEM, "out of memory");
        p->has_trie = 1;
    }
    if (finish_sprog(K, p)) return cf_errf(err, CF_ENOMEM, "out of memory");
    return 0;
}

static int add_sprog(cf_constraint *K) {
    if (K->nsp == K->capsp) {
        int nc = K->capsp ? K->capsp * 2 : 16;
        sprog *n = realloc(K->sp, (size_t)nc * sizeof *n);
        if (!n) return -1;
        K->sp = n;
        K->capsp = nc;
    }
    memset(&K->sp[K->nsp], 0, sizeof K->sp[K->nsp]);
    return K->nsp++;
}

static int build_object(cf_constraint *K, int oi, const cf_nat_object *no, const int32_t *rule_tl, cf_err *err) {
    oprog *p = &K->op[oi];
    memset(p, 0, sizeof *p);
    int n = no->nprop;
    if (n > 512 * 32) return cf_errf(err, CF_ELIMIT, "object: more than %d properties", 512 * 32);
    if (no->npat > CF_MAX_PATTERNS)
        return cf_errf(err, CF_ELIMIT, "object: more than %d patternProperties", CF_MAX_PATTERNS);
    int *ord = malloc(((size_t)n + 1) * sizeof *ord);
    int *inv = malloc(((size_t)n + 1) * sizeof *inv);
    char **sl = malloc(((size_t)n + 1) * sizeof *sl);
    size_t *ll = malloc(((size_t)n + 1) * sizeof *ll);
    p->words = (n + 31) / 32;
    p->prop_tl = malloc(((size_t)n + 1) * sizeof *p->prop_tl);
    p->required = calloc((size_t)p->words + 1, sizeof *p->required);
    if (!ord || !inv || !sl || !ll || !p->prop_tl || !p->required) goto oom;
    sort_lits(no->names, no->name_lens, n, ord);
    for (int i = 0; i < n; i++) {
        inv[ord[i]] = i;
        sl[i] = no->names[ord[i]];
        ll[i] = no->name_lens[ord[i]];
        if (i && ll[i] == ll[i - 1] && !memcmp(sl[i], sl[i - 1], ll[i])) {
            cf_errf(err, CF_EINVAL, "object: duplicate property name '%.*s'", (int)(ll[i] > 60 ? 60 : ll[i]), sl[i]);
            free(ord);
            free(inv);
            free(sl);
            free(ll);
            return CF_EINVAL;
        }
        p->prop_tl[i] = rule_tl[no->rules[ord[i]]];
        if (no->required[ord[i]]) {
            p->required[i >> 5] |= 1u << (i & 31);
            p->nreq++;
        }
    }
    p->nprop = n;
    if (no->dep_req) {
        p->dep = calloc((size_t)n + 1, sizeof *p->dep);
        if (!p->dep) goto oom;
        for (int i = 0; i < n; i++) {
            int oi2 = ord[i];
            if (!no->n_dep_req || !no->n_dep_req[oi2]) continue;
            int k = no->n_dep_req[oi2];
            p->dep[i] = malloc(((size_t)k + 1) * sizeof **p->dep);
            if (!p->dep[i]) goto oom;
            p->dep[i][0] = k;
            for (int j = 0; j < k; j++) p->dep[i][1 + j] = inv[no->dep_req[oi2][j]];
        }
    }
    p->npat = no->npat;
    p->pat_tl = malloc(((size_t)no->npat + 1) * sizeof *p->pat_tl);
    if (!p->pat_tl) goto oom;
    for (int j = 0; j < no->npat; j++) p->pat_tl[j] = rule_tl[no->pat_rules[j]];
    p->add_tl = no->additional >= 0 ? rule_tl[no->additional] : -1;
    p->min_props = no->min_props;
    p->max_props = no->max_props;
    p->blob = n > 0 || no->npat > 0;
    /* the key program */
    int si = add_sprog(K);
    if (si < 0) goto oom;
    sprog *kp = &K->sp[si];
    kp->key_mode = 1;
    kp->closed = p->add_tl < 0;
    kp->min_len = 0;
    kp->max_len = -1;
    if (no->key_native >= 0) {
        const cf_nat_string *kn = &K->g->natives[no->key_native].u.s;
        for (int i = 0; i < kn->nre && kp->nre < CF_MAX_STR_RE; i++) kp->re[kp->nre++] = kn->re[i];
        kp->min_len = kn->min_len;
        kp->max_len = kn->max_len;
    }
    kp->nmust = kp->nre;
    if (kp->nre + no->npat > CF_MAX_STR_RE) {
        free(ord);
        free(inv);
        free(sl);
        free(ll);
        return cf_errf(err, CF_ELIMIT, "object: more than %d key regexes (patternProperties + propertyNames)",
                       CF_MAX_STR_RE);
    }
    for (int j = 0; j < no->npat; j++) kp->re[kp->nre++] = no->pat_re[j];
    if (n > 0) {
        if (sprog_build_trie(&kp->trie, sl, ll, n)) goto oom;
        kp->has_trie = 1;
        if (kp->closed) kp->seen_words = p->words;
    }
    if (finish_sprog(K, kp)) goto oom;
    uint32_t kv = cons_new_vnode(K, VK_STRING, (uint32_t)si);
    if (kv == UINT32_MAX) goto oom;
    p = &K->op[oi];
    p->key_vn = kv;
    free(ord);
    free(inv);
    free(sl);
    free(ll);
    return 0;
oom:
    free(ord);
    free(inv);
    free(sl);
    free(ll);
    return cf_errf(err, CF_ENOMEM, "out of memory");
}

static int object_init_aux(cf_constraint *K, oprog *p) {
    p->init_aux = obj_init_aux(K, p);
    return p->init_aux == UINT64_MAX ? -1 : 0;
}

int cons_build(cf_constraint *K, cf_err *err) {
    const cf_grammar *g = K->g;
    int rc = 0;
    /* vnode 0: ACCEPT */
    if (cons_new_vnode(K, VK_ACCEPT, 0) == UINT32_MAX) return cf_errf(err, CF_ENOMEM, "out of memory");
    K->native_vn = malloc(((size_t)g->nnatives + 1) * sizeof *K->native_vn);
    K->rule_tl = malloc(((size_t)g->nrules + 1) * sizeof *K->rule_tl);
    ruleinfo *ri = calloc((size_t)g->nrules + 1, sizeof *ri);
    uint8_t *busy = calloc((size_t)g->nrules + 1, 1);
    pending_call *pc = NULL;
    int32_t npc = 0, cappc = 0;
    int *spec = malloc(((size_t)g->nnatives + 1) * sizeof *spec);
    if (!K->native_vn || !K->rule_tl || !ri || !busy || !spec) {
        rc = cf_errf(err, CF_ENOMEM, "out of memory");
        goto done;
    }
    /* 1. a vnode per native (programs filled in step 4) */
    for (int i = 0; i < g->nnatives; i++) {
        const cf_native *n = &g->natives[i];
        int kind = 0, idx = -1;
        switch (n->kind) {
        case CF_NAT_STRING:
            kind = VK_STRING;
            idx = add_sprog(K);
            break;
        case CF_NAT_NUMBER:
            kind = VK_NUMBER;
            if (K->nnp == K->capnp) {
                int nc = K->capnp ? K->capnp * 2 : 16;
                nprog *np = realloc(K->np, (size_t)nc * sizeof *np);
                if (!np) break;
                K->np = np;
                K->capnp = nc;
            }
            memset(&K->np[K->nnp], 0, sizeof K->np[K->nnp]);
            idx = K->nnp++;
            break;
        case CF_NAT_OBJECT:
            kind = VK_OBJECT;
            if (K->nop == K->capop) {
                int nc = K->capop ? K->capop * 2 : 16;
                oprog *op = realloc(K->op, (size_t)nc * sizeof *op);
                if (!op) break;
                K->op = op;
                K->capop = nc;
            }
            memset(&K->op[K->nop], 0, sizeof K->op[K->nop]);
            idx = K->nop++;
            break;
        case CF_NAT_ARRAY:
            kind = VK_ARRAY;
            if (K->nap == K->capap) {
                int nc = K->capap ? K->capap * 2 : 16;
                aprog *ap = realloc(K->ap, (size_t)nc * sizeof *ap);
                if (!ap) break;
                K->ap = ap;
                K->capap = nc;
            }
            memset(&K->ap[K->nap], 0, sizeof K->ap[K->nap]);
            idx = K->nap++;
            break;
        case CF_NAT_COMBO:
            kind = VK_COMBO;
            if (K->ncp == K->capcp) {
                int nc = K->capcp ? K->capcp * 2 : 16;
                cprog *cp = realloc(K->cp, (size_t)nc * sizeof *cp);
                if (!cp) break;
                K->cp = cp;
                K->capcp = nc;
            }
            memset(&K->cp[K->ncp], 0, sizeof K->cp[K->ncp]);
            idx = K->ncp++;
            break;
        }
        if (idx < 0) {
            rc = cf_errf(err, CF_ENOMEM, "out of memory");
            goto done;
        }
        spec[i] = idx;
        uint32_t v = cons_new_vnode(K, kind, (uint32_t)idx);
        if (v == UINT32_MAX) {
            rc = cf_errf(err, CF_ENOMEM, "out of memory");
            goto done;
        }
        K->native_vn[i] = (int32_t)v;
    }
    /* 2. rules */
    for (int r = 0; r < g->nrules; r++) {
        rc = build_rule(K, r, &ri[r], &pc, &npc, &cappc, err);
        if (rc) goto done;
    }
    /* 3. target lists per rule; patch calls */
    for (int r = 0; r < g->nrules; r++) {
        uvec u = {0};
        if (sym_targets(K, ri, busy, r, &u, 0)) {
            free(u.v);
            rc = cf_errf(err, CF_ENOMEM, "out of memory");
            goto done;
        }
        K->rule_tl[r] = cons_new_tlist(K, u.v, u.n);
        free(u.v);
        if (K->rule_tl[r] < 0) {
            rc = cf_errf(err, CF_ENOMEM, "out of memory");
            goto done;
        }
    }
    for (int32_t i = 0; i < npc; i++) {
        int32_t sym = pc[i].sym;
        if (sym >= 0) K->rc[pc[i].rc_index].tl = K->rule_tl[sym];
        else {
            uint32_t v = (uint32_t)K->native_vn[-1 - sym];
            int32_t tl = cons_new_tlist(K, &v, 1);
            if (tl < 0) {
                rc = cf_errf(err, CF_ENOMEM, "out of memory");
                goto done;
            }
            K->rc[pc[i].rc_index].tl = tl;
        }
    }
    /* 4. native programs */
    for (int i = 0; i < g->nnatives; i++) {
        const cf_native *n = &g->natives[i];
        switch (n->kind) {
        case CF_NAT_STRING: rc = build_string(K, &K->sp[spec[i]], &n->u.s, err); break;
        case CF_NAT_NUMBER:
            rc = num_prog_init(&K->np[spec[i]], &n->u.num, err);
            if (!rc) {
                K->np[spec[i]].init_aux = num_init_aux(K, &K->np[spec[i]]);
                if (K->np[spec[i]].init_aux == UINT64_MAX) rc = cf_errf(err, CF_ENOMEM, "out of memory");
            }
            break;
        case CF_NAT_OBJECT:
            rc = build_object(K, spec[i], &n->u.obj, K->rule_tl, err);
            if (!rc && object_init_aux(K, &K->op[spec[i]])) rc = cf_errf(err, CF_ENOMEM, "out of memory");
            break;
        case CF_NAT_ARRAY: {
            aprog *p = &K->ap[spec[i]];
            const cf_nat_array *na = &n->u.arr;
            p->nprefix = na->nprefix;
            p->prefix_tl = malloc(((size_t)na->nprefix + 1) * sizeof *p->prefix_tl);
            if (!p->prefix_tl) {
                rc = cf_errf(err, CF_ENOMEM, "out of memory");
                break;
            }
            int32_t ctl = na->contains >= 0 ? K->rule_tl[na->contains] : -1;
            for (int j = 0; j < na->nprefix && !rc; j++) {
                int32_t t = K->rule_tl[na->prefix[j]];
                if (ctl >= 0) {
                    int32_t br[2] = {t, ctl};
                    t = cons_combo_tl(K, COMBO_CONTAINS, br, 2);
                    p = &K->ap[spec[i]];
                    if (t < 0) rc = cf_errf(err, CF_ENOMEM, "out of memory");
                }
                p->prefix_tl[j] = t;
            }
            int32_t it = na->items >= 0 ? K->rule_tl[na->items] : -1;
            if (it >= 0 && ctl >= 0 && !rc) {
                int32_t br[2] = {it, ctl};
                it = cons_combo_tl(K, COMBO_CONTAINS, br, 2);
                p = &K->ap[spec[i]];
                if (it < 0) rc = cf_errf(err, CF_ENOMEM, "out of memory");
            }
            p->items_tl = it;
            p->min_items = na->min_items;
            p->max_items = na->max_items;
            p->has_contains = ctl >= 0;
            p->min_contains = na->min_contains;
            p->max_contains = na->max_contains;
            break;
        }
        case CF_NAT_COMBO: {
            cprog *c = &K->cp[spec[i]];
            const cf_nat_combo *nc = &n->u.combo;
            if (nc->nb > CF_MAX_COMBO) {
                rc = cf_errf(err, CF_ELIMIT, "combo with more than %d branches", CF_MAX_COMBO);
                break;
            }
            c->kind = nc->kind;
            c->nb = nc->nb;
            for (int j = 0; j < nc->nb; j++) c->tl[j] = K->rule_tl[nc->branches[j]];
            break;
        }
        }
        if (rc) goto done;
    }
    K->root_tl = K->rule_tl[0];
    if (K->oom) rc = cf_errf(err, CF_ENOMEM, "out of memory");
done:
    for (int r = 0; r < g->nrules; r++)
        if (ri) free(ri[r].syms);
    free(ri);
    free(busy);
    free(pc);
    free(spec);
    return rc;
}
