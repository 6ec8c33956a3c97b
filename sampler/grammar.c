/* Grammar IR: builders, checks (undefined rules, left recursion), dump, free. */
#include "sampler/grammar.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(void **p, int32_t *cap, int32_t need, size_t elt) {
    if (need <= *cap) return 0;
    int32_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > (1 << 29)) return -1;
        nc *= 2;
    }
    void *np = realloc(*p, (size_t)nc * elt);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

cf_grammar *cf_grammar_new(void) {
    cf_grammar *g = calloc(1, sizeof *g);
    if (g) g->max_ws = 16;
    return g;
}

static void free_native(cf_native *n) {
    switch (n->kind) {
    case CF_NAT_STRING:
        if (!n->u.s.re_borrowed)
            for (int i = 0; i < n->u.s.nre; i++) cf_regex_free(n->u.s.re[i]);
        free(n->u.s.re);
        for (int i = 0; i < n->u.s.nlit; i++) free(n->u.s.lits[i]);
        free(n->u.s.lits);
        free(n->u.s.lit_lens);
        break;
    case CF_NAT_NUMBER:
        free(n->u.num.lo);
        free(n->u.num.hi);
        for (int i = 0; i < n->u.num.nmult; i++) free(n->u.num.mults[i]);
        free(n->u.num.mults);
        for (int i = 0; i < n->u.num.nval; i++) free(n->u.num.vals[i]);
        free(n->u.num.vals);
        break;
    case CF_NAT_OBJECT: {
        cf_nat_object *o = &n->u.obj;
        for (int i = 0; i < o->nprop; i++) {
            free(o->names[i]);
            if (o->dep_req) free(o->dep_req[i]);
        }
        free(o->names);
        free(o->name_lens);
        free(o->rules);
        free(o->required);
        free(o->dep_req);
        free(o->n_dep_req);
        if (!o->pat_borrowed)
            for (int i = 0; i < o->npat; i++) cf_regex_free(o->pat_re[i]);
        free(o->pat_re);
        free(o->pat_rules);
        break;
    }
    case CF_NAT_ARRAY: free(n->u.arr.prefix); break;
    case CF_NAT_COMBO: free(n->u.combo.branches); break;
    }
}

void cf_grammar_free(cf_grammar *g) {
    if (!g) return;
    for (int i = 0; i < g->nrules; i++) free(g->rules[i].name);
    free(g->rules);
    free(g->nodes);
    free(g->kids);
    free(g->bytes);
    free(g->ranges);
    for (int i = 0; i < g->nnatives; i++) free_native(&g->natives[i]);
    free(g->natives);
    for (int i = 0; i < g->nre_pool; i++) cf_regex_free(g->re_pool[i]);
    free(g->re_pool);
    free(g->warnings);
    free(g);
}

int32_t cf_grammar_rule(cf_grammar *g, const char *name, size_t len) {
    for (int i = 0; i < g->nrules; i++)
        if (strlen(g->rules[i].name) == len && !memcmp(g->rules[i].name, name, len)) return i;
    int32_t cap = g->caprules;
    if (grow((void **)&g->rules, &cap, g->nrules + 1, sizeof *g->rules)) {
        g->oom = 1;
        return -1;
    }
    g->caprules = cap;
    char *nm = malloc(len + 1);
    if (!nm) {
        g->oom = 1;
        return -1;
    }
    memcpy(nm, name, len);
    nm[len] = 0;
    g->rules[g->nrules] = (cf_rule){nm, -1, 0};
    return g->nrules++;
}

int32_t cf_grammar_new_rule(cf_grammar *g, const char *prefix) {
    /* generated names contain '#', which GBNF names cannot: no clash with user rules */
    char buf[96];
    snprintf(buf, sizeof buf, "%.60s#%d", prefix, g->nrules);
    int32_t cap = g->caprules;
    if (grow((void **)&g->rules, &cap, g->nrules + 1, sizeof *g->rules)) {
        g->oom = 1;
        return -1;
    }
    g->caprules = cap;
    char *nm = strdup(buf);
    if (!nm) {
        g->oom = 1;
        return -1;
    }
    g->rules[g->nrules] = (cf_rule){nm, -1, 0};
    return g->nrules++;
}

void cf_grammar_define(cf_grammar *g, int32_t rule, cf_gx body) {
    if (rule < 0 || rule >= g->nrules) return;
    g->rules[rule].body = body;
}

static cf_gx new_node(cf_grammar *g, cf_gx_node nd) {
    if (g->oom) return -1;
    if (grow((void **)&g->nodes, &g->capnodes, g->nnodes + 1, sizeof *g->nodes)) {
        g->oom = 1;
        return -1;
    }
    g->nodes[g->nnodes] = nd;
    return g->nnodes++;
}

cf_gx cf_gx_fail(cf_grammar *g) { return new_node(g, (cf_gx_node){.kind = CF_GX_FAIL}); }
cf_gx cf_gx_empty(cf_grammar *g) { return new_node(g, (cf_gx_node){.kind = CF_GX_EMPTY}); }

cf_gx cf_gx_bytes(cf_grammar *g, const void *p, size_t n) {
    if (g->oom) return -1;
    if (n == 0) return cf_gx_empty(g);
    if (n > (1u << 28) || grow((void **)&g->bytes, &g->capbytes, g->nbytes + (int32_t)n, 1)) {
        g->oom = 1;
        return -1;
    }
    memcpy(g->bytes + g->nbytes, p, n);
    cf_gx r = new_node(g, (cf_gx_node){.kind = CF_GX_BYTES, .a = g->nbytes, .n = (int32_t)n});
    g->nbytes += (int32_t)n;
    return r;
}

cf_gx cf_gx_str(cf_grammar *g, const char *s) { return cf_gx_bytes(g, s, strlen(s)); }

cf_gx cf_gx_class(cf_grammar *g, const uint32_t *ranges, int n, int negated) {
    if (g->oom) return -1;
    if (n < 0 || grow((void **)&g->ranges, &g->capranges, g->nranges + 2 * n, sizeof *g->ranges)) {
        g->oom = 1;
        return -1;
    }
    if (n) memcpy(g->ranges + g->nranges, ranges, (size_t)n * 2 * sizeof *ranges);   /* n = 0: both may be NULL */
    cf_gx r = new_node(g, (cf_gx_node){.kind = CF_GX_CLASS, .a = g->nranges, .n = n, .neg = negated});
    g->nranges += 2 * n;
    return r;
}

static cf_gx list_node(cf_grammar *g, int kind, const cf_gx *kids, int n) {
    if (g->oom) return -1;
    for (int i = 0; i < n; i++)
        if (kids[i] < 0) return -1;
    if (n == 0) return kind == CF_GX_SEQ ? cf_gx_empty(g) : cf_gx_fail(g);
    if (n == 1) return kids[0];
    if (grow((void **)&g->kids, &g->capkids, g->nkids + n, sizeof *g->kids)) {
        g->oom = 1;
        return -1;
    }
    memcpy(g->kids + g->nkids, kids, (size_t)n * sizeof *kids);
    cf_gx r = new_node(g, (cf_gx_node){.kind = kind, .a = g->nkids, .n = n});
    g->nkids += n;
    return r;
}

cf_gx cf_gx_seq(cf_grammar *g, const cf_gx *kids, int n) { return list_node(g, CF_GX_SEQ, kids, n); }
cf_gx cf_gx_alt(cf_grammar *g, const cf_gx *kids, int n) { return list_node(g, CF_GX_ALT, kids, n); }
cf_gx cf_gx_seq2(cf_grammar *g, cf_gx a, cf_gx b) {
    cf_gx k[2] = {a, b};
    return cf_gx_seq(g, k, 2);
}
cf_gx cf_gx_alt2(cf_grammar *g, cf_gx a, cf_gx b) {
    cf_gx k[2] = {a, b};
    return cf_gx_alt(g, k, 2);
}

cf_gx cf_gx_repeat(cf_grammar *g, cf_gx kid, int min, int max) {
    if (kid < 0) return -1;
    if (max >= 0 && max < min) return cf_gx_fail(g);
    if (min == 1 && max == 1) return kid;
    if (max == 0) return cf_gx_empty(g);
    return new_node(g, (cf_gx_node){.kind = CF_GX_REPEAT, .a = kid, .min = min, .max = max});
}

cf_gx cf_gx_ref(cf_grammar *g, int32_t rule) {
    if (rule < 0) return -1;
    return new_node(g, (cf_gx_node){.kind = CF_GX_REF, .a = rule});
}

int32_t cf_grammar_add_native(cf_grammar *g, const cf_native *nat) {
    int32_t cap = g->capnatives;
    if (g->oom || grow((void **)&g->natives, &cap, g->nnatives + 1, sizeof *g->natives)) {
        g->oom = 1;
        cf_native tmp = *nat;
        free_native(&tmp);
        return -1;
    }
    g->capnatives = cap;
    g->natives[g->nnatives] = *nat;
    return g->nnatives++;
}

cf_gx cf_gx_native(cf_grammar *g, int32_t native_id) {
    if (native_id < 0) return -1;
    return new_node(g, (cf_gx_node){.kind = CF_GX_NATIVE, .a = native_id});
}

int cf_grammar_pool_regex(cf_grammar *g, cf_regex *re) {
    int32_t cap = g->capre_pool;
    if (grow((void **)&g->re_pool, &cap, g->nre_pool + 1, sizeof *g->re_pool)) {
        cf_regex_free(re);
        g->oom = 1;
        return -1;
    }
    g->capre_pool = cap;
    g->re_pool[g->nre_pool++] = re;
    return 0;
}

void cf_grammar_warn(cf_grammar *g, const char *fmt, ...) {
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t old = g->warnings ? strlen(g->warnings) : 0, add = strlen(line);
    if (old > (1u << 20)) return;   /* enough said */
    char *p = realloc(g->warnings, old + add + 2);
    if (!p) return;
    memcpy(p + old, line, add);
    p[old + add] = '\n';
    p[old + add + 1] = 0;
    g->warnings = p;
}

/* ---- checks ---- */

/* Rules called before any byte is consumed, and nullability, per expression.  Natives consume at
 * least one byte, except COMBO, which starts its branches at once (so it "left-calls" them). */
static int expr_nullable(const cf_grammar *g, cf_gx e, const uint8_t *rnull) {
    const cf_gx_node *n = &g->nodes[e];
    switch (n->kind) {
    case CF_GX_FAIL: return 0;
    case CF_GX_EMPTY: return 1;
    case CF_GX_BYTES: return n->n == 0;
    case CF_GX_CLASS: return 0;
    case CF_GX_SEQ:
        for (int i = 0; i < n->n; i++)
            if (!expr_nullable(g, g->kids[n->a + i], rnull)) return 0;
        return 1;
    case CF_GX_ALT:
        for (int i = 0; i < n->n; i++)
            if (expr_nullable(g, g->kids[n->a + i], rnull)) return 1;
        return 0;
    case CF_GX_REPEAT: return n->min == 0 || expr_nullable(g, n->a, rnull);
    case CF_GX_REF: return rnull[n->a];
    case CF_GX_NATIVE: return 0;
    }
    return 0;
}

/* Collects every rule that e may call before consuming a byte (once each: mark[] dedups). */
typedef struct {
    uint8_t *mark;
    int32_t *v;
    int32_t n, cap;
    int oom;
} lcoll;

static void lc_add(lcoll *c, int32_t r) {
    if (c->mark[r]) return;
    if (c->n == c->cap) {
        int32_t nc = c->cap ? c->cap * 2 : 64;
        int32_t *a = realloc(c->v, (size_t)nc * sizeof *a);
        if (!a) {
            c->oom = 1;
            return;
        }
        c->v = a;
        c->cap = nc;
    }
    c->mark[r] = 1;
    c->v[c->n++] = r;
}

static void expr_leftcalls(const cf_grammar *g, cf_gx e, const uint8_t *rnull, lcoll *out) {
    const cf_gx_node *n = &g->nodes[e];
    switch (n->kind) {
    case CF_GX_SEQ:
        for (int i = 0; i < n->n; i++) {
            cf_gx k = g->kids[n->a + i];
            expr_leftcalls(g, k, rnull, out);
            if (!expr_nullable(g, k, rnull)) break;
        }
        break;
    case CF_GX_ALT:
        for (int i = 0; i < n->n; i++) expr_leftcalls(g, g->kids[n->a + i], rnull, out);
        break;
    case CF_GX_REPEAT: expr_leftcalls(g, n->a, rnull, out); break;
    case CF_GX_REF: lc_add(out, n->a); break;
    case CF_GX_NATIVE: {
        const cf_native *nat = &g->natives[n->a];
        if (nat->kind == CF_NAT_COMBO)
            for (int i = 0; i < nat->u.combo.nb; i++)
                if (nat->u.combo.branches[i] >= 0) lc_add(out, nat->u.combo.branches[i]);
        break;
    }
    default: break;
    }
}

static int check_rule_id(const cf_grammar *g, int32_t r, int allow_none) {
    if (r == CF_GR_NONE && allow_none) return 1;
    return r >= 0 && r < g->nrules;
}

static int native_ok(const cf_grammar *g, const cf_native *n) {
    switch (n->kind) {
    case CF_NAT_STRING:
    case CF_NAT_NUMBER: return 1;
    case CF_NAT_OBJECT:
        for (int i = 0; i < n->u.obj.nprop; i++)
            if (!check_rule_id(g, n->u.obj.rules[i], 0)) return 0;
        for (int i = 0; i < n->u.obj.npat; i++)
            if (!check_rule_id(g, n->u.obj.pat_rules[i], 0)) return 0;
        if (n->u.obj.key_native >= g->nnatives ||
            (n->u.obj.key_native >= 0 && g->natives[n->u.obj.key_native].kind != CF_NAT_STRING))
            return 0;
        return check_rule_id(g, n->u.obj.additional, 1);
    case CF_NAT_ARRAY:
        for (int i = 0; i < n->u.arr.nprefix; i++)
            if (!check_rule_id(g, n->u.arr.prefix[i], 0)) return 0;
        return check_rule_id(g, n->u.arr.items, 1) && check_rule_id(g, n->u.arr.contains, 1);
    case CF_NAT_COMBO:
        if (n->u.combo.nb < 1) return 0;
        for (int i = 0; i < n->u.combo.nb; i++)
            if (!check_rule_id(g, n->u.combo.branches[i], 0)) return 0;
        return 1;
    }
    return 0;
}

int cf_grammar_check(const cf_grammar *g, cf_err *err) {
    if (!g || g->oom) return cf_errf(err, CF_ENOMEM, "grammar: out of memory");
    if (g->nrules == 0) return cf_errf(err, CF_EINVAL, "grammar: no rules (need a root rule)");
    for (int i = 0; i < g->nrules; i++)
        if (g->rules[i].body < 0)
            return cf_errf(err, CF_EFORMAT, "grammar: rule '%s' is used but never defined", g->rules[i].name);
    for (int i = 0; i < g->nnatives; i++)
        if (!native_ok(g, &g->natives[i])) return cf_errf(err, CF_EINVAL, "grammar: native %d is malformed", i);
    int nr = g->nrules;
    if (nr <= 0 || nr > (1 << 20)) return cf_errf(err, CF_ELIMIT, "grammar: too many rules");
    uint8_t *rnull = calloc((size_t)nr, 1);
    uint8_t *mark = calloc((size_t)nr, 1);
    int32_t *off = malloc(((size_t)nr + 1) * sizeof *off);
    lcoll lc = {mark, NULL, 0, 0, 0};
    if (!rnull || !mark || !off) {
        free(rnull);
        free(mark);
        free(off);
        return cf_errf(err, CF_ENOMEM, "grammar: out of memory");
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < nr; i++)
            if (!rnull[i] && expr_nullable(g, g->rules[i].body, rnull)) rnull[i] = changed = 1;
    }
    /* left-call graph as adjacency lists: rule i -> lc.v[off[i] .. off[i + 1]) */
    for (int i = 0; i < nr; i++) {
        off[i] = lc.n;
        int32_t b = lc.n;
        expr_leftcalls(g, g->rules[i].body, rnull, &lc);
        for (int32_t k = b; k < lc.n; k++) mark[lc.v[k]] = 0;
    }
    off[nr] = lc.n;
    /* cycle detection (iterative DFS, colours 0/1/2) */
    uint8_t *col = calloc((size_t)nr, 1);
    int32_t *stk = malloc((size_t)(unsigned)nr * 2 * sizeof *stk);
    int rc = 0;
    if (!col || !stk || lc.oom) rc = cf_errf(err, CF_ENOMEM, "grammar: out of memory");
    for (int s = 0; !rc && s < nr; s++) {
        if (col[s]) continue;
        int sp = 0;
        stk[sp++] = s;
        stk[sp++] = off[s];
        col[s] = 1;
        while (sp && !rc) {
            int v = stk[sp - 2], k = stk[sp - 1];
            if (k >= off[v + 1]) {
                col[v] = 2;
                sp -= 2;
                continue;
            }
            int j = lc.v[k];
            stk[sp - 1] = k + 1;
            if (col[j] == 1) {
                if (j == v)
                    rc = cf_errf(err, CF_EFORMAT,
                                 "grammar: left recursion: rule '%s' can call itself before consuming input",
                                 g->rules[j].name);
                else
                    rc = cf_errf(err, CF_EFORMAT,
                                 "grammar: left recursion: rule '%s' can call itself before consuming input "
                                 "(cycle through rule '%s')",
                                 g->rules[j].name, g->rules[v].name);
            } else if (!col[j]) {
                col[j] = 1;
                stk[sp++] = j;
                stk[sp++] = off[j];
            }
        }
    }
    free(mark);
    free(off);
    free(lc.v);
    free(col);
    free(stk);
    free(rnull);
    return rc;
}

/* ---- dump ---- */

typedef struct {
    char *p;
    size_t n, cap;
} dbuf;

static void dputs(dbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) return;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void dprintf_(dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dprintf_(dbuf *b, const char *fmt, ...) {
    char t[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t, sizeof t, fmt, ap);
    va_end(ap);
    if (k > 0) dputs(b, t, (size_t)k < sizeof t ? (size_t)k : sizeof t - 1);
}

static void dump_cp(dbuf *b, uint32_t c) {
    if (c == '\\' || c == ']' || c == '-' || c == '^' || c == '"') dprintf_(b, "\\%c", (char)c);
    else if (c >= 0x20 && c < 0x7f) dprintf_(b, "%c", (char)c);
    else dprintf_(b, "\\x{%X}", c);
}

static void dump_expr(dbuf *b, const cf_grammar *g, cf_gx e) {
    const cf_gx_node *n = &g->nodes[e];
    switch (n->kind) {
    case CF_GX_FAIL: dputs(b, "[^\\x{0}-\\x{10FFFF}]", 18); break;
    case CF_GX_EMPTY: dputs(b, "\"\"", 2); break;
    case CF_GX_BYTES:
        dputs(b, "\"", 1);
        for (int i = 0; i < n->n; i++) {
            uint8_t c = g->bytes[n->a + i];
            if (c == '"' || c == '\\') dprintf_(b, "\\%c", c);
            else if (c >= 0x20 && c < 0x7f) dprintf_(b, "%c", c);
            else dprintf_(b, "\\x%02X", c);
        }
        dputs(b, "\"", 1);
        break;
    case CF_GX_CLASS:
        dputs(b, n->neg ? "[^" : "[", n->neg ? 2 : 1);
        for (int i = 0; i < n->n; i++) {
            uint32_t lo = g->ranges[n->a + 2 * i], hi = g->ranges[n->a + 2 * i + 1];
            dump_cp(b, lo);
            if (hi != lo) {
                dputs(b, "-", 1);
                dump_cp(b, hi);
            }
        }
        dputs(b, "]", 1);
        break;
    case CF_GX_SEQ:
    case CF_GX_ALT:
        dputs(b, "(", 1);
        for (int i = 0; i < n->n; i++) {
            if (i) dputs(b, n->kind == CF_GX_SEQ ? " " : " | ", n->kind == CF_GX_SEQ ? 1 : 3);
            dump_expr(b, g, g->kids[n->a + i]);
        }
        dputs(b, ")", 1);
        break;
    case CF_GX_REPEAT:
        dump_expr(b, g, n->a);
        if (n->max < 0) dprintf_(b, "{%d,}", n->min);
        else dprintf_(b, "{%d,%d}", n->min, n->max);
        break;
    case CF_GX_REF: dputs(b, g->rules[n->a].name, strlen(g->rules[n->a].name)); break;
    case CF_GX_NATIVE: {
        static const char *kn[] = {"?", "string", "number", "object", "array", "combo"};
        const cf_native *nat = &g->natives[n->a];
        dprintf_(b, "<%s#%d>", kn[nat->kind >= 1 && nat->kind <= 5 ? nat->kind : 0], n->a);
        break;
    }
    }
}

char *cf_grammar_dump(const cf_grammar *g) {
    dbuf b = {0};
    for (int i = 0; i < g->nrules; i++) {
        dprintf_(&b, "%s ::= ", g->rules[i].name);
        if (g->rules[i].body >= 0) dump_expr(&b, g, g->rules[i].body);
        else dputs(&b, "<undefined>", 11);
        dputs(&b, "\n", 1);
    }
    if (!b.p) dputs(&b, "", 0);
    return b.p;
}
