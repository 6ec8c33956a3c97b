/* JSON Schema -> grammar: driver, node index ($id / anchors / paths), $ref resolution, the memo
 * of compiled conjunctions, and the combinators (anyOf distributed, oneOf, not, if/then/else,
 * dependentSchemas).  The merging of keywords and the natives are in schema_emit.c. */
#include "sampler/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/schema_int.h"

void cf_schema_opts_default(cf_schema_opts *o) {
    o->max_ws = 16;
    o->strict = 0;
    o->lenient = 0;
}

int sc_fail(sc *c, const cf_json *at, int code, const char *fmt, ...) {
    if (c->failed) return -1;
    c->failed = 1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *p = at ? sc_path(c, at) : "";
    size_t pl = strlen(p);
    if (pl > 120) {   /* a deep pointer would fill the message: keep its head and tail */
        const char *tail = p + pl - 50;
        while (*tail && *tail != '/') tail++;
        cf_errf(c->err, code, "schema at %.60s/...%s: %s", p, tail, msg);
    } else
        cf_errf(c->err, code, "schema at %s: %s", *p ? p : "(root)", msg);
    return -1;
}

int sc_unsupported(sc *c, const cf_json *at, const char *what) {
    if (c->o.lenient) {
        const char *p = at ? sc_path(c, at) : "";
        cf_grammar_warn(c->g, "schema at %s: %s: not enforced (lenient)", *p ? p : "(root)", what);
        return 0;
    }
    return sc_fail(c, at, CF_EUNSUPPORTED, "%s cannot be enforced (--lenient drops it with a warning)", what);
}

int sc_regex(sc *c, const char *src, size_t len, int mode, cf_regex **out, cf_err *e) {
    for (int i = 0; i < c->nrc; i++)
        if (c->rc[i].mode == mode && c->rc[i].len == len && !memcmp(c->rc[i].src, src, len)) {
            *out = c->rc[i].re;
            return 0;
        }
    cf_regex *re;
    int rc = cf_regex_compile(src, len, mode, &re, e);
    if (rc) return rc;
    if (cf_grammar_pool_regex(c->g, re)) return cf_errf(e, CF_ENOMEM, "out of memory");
    if (c->nrc == c->caprc) {
        int nc = c->caprc ? c->caprc * 2 : 16;
        struct recache *a = realloc(c->rc, (size_t)nc * sizeof *a);
        if (!a) return cf_errf(e, CF_ENOMEM, "out of memory");
        c->rc = a;
        c->caprc = nc;
    }
    c->rc[c->nrc++] = (struct recache){src, len, mode, re};
    *out = re;
    return 0;
}

/* ---- node index ---- */

static uint64_t ptr_hash(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static struct nidx *idx_find(sc *c, const cf_json *n) {
    if (!c->idxh) return NULL;
    for (size_t i = ptr_hash(n) & c->idxmask;; i = (i + 1) & c->idxmask) {
        uint32_t k = c->idxh[i];
        if (!k) return NULL;
        if (c->idx[k - 1].n == n) return &c->idx[k - 1];
    }
}

static int idx_rehash(sc *c, size_t cap) {
    uint32_t *h = calloc(cap, sizeof *h);
    if (!h) return -1;
    free(c->idxh);
    c->idxh = h;
    c->idxmask = cap - 1;
    for (size_t j = 0; j < c->nidx; j++) {
        size_t i = ptr_hash(c->idx[j].n) & c->idxmask;
        while (c->idxh[i]) i = (i + 1) & c->idxmask;
        c->idxh[i] = (uint32_t)j + 1;
    }
    return 0;
}

static int idx_add(sc *c, const cf_json *n, const char *path, const char *base, const cf_json *res, int schema) {
    if (idx_find(c, n)) return 0;
    if (c->nidx == c->capidx) {
        size_t nc = c->capidx ? c->capidx * 2 : 256;
        struct nidx *a = realloc(c->idx, nc * sizeof *a);
        if (!a) return -1;
        c->idx = a;
        c->capidx = nc;
    }
    struct nidx *e = &c->idx[c->nidx++];
    e->n = n;
    e->path = strdup(path);
    e->base = strdup(base);
    e->res = res;
    e->schema = (uint8_t)schema;
    if (!e->path || !e->base) return -1;
    if ((c->nidx + 1) * 2 > c->idxmask + 1 || !c->idxh) return idx_rehash(c, c->idxh ? (c->idxmask + 1) * 2 : 1024);
    size_t i = ptr_hash(n) & c->idxmask;
    while (c->idxh[i]) i = (i + 1) & c->idxmask;
    c->idxh[i] = (uint32_t)c->nidx;
    return 0;
}

static char *str_cat3(const char *a, const char *b, const char *d) {
    size_t la = strlen(a), lb = strlen(b), ld = strlen(d);
    char *r = malloc(la + lb + ld + 1);
    if (!r) return NULL;
    memcpy(r, a, la);
    memcpy(r + la, b, lb);
    memcpy(r + la + lb, d, ld + 1);
    return r;
}

/* RFC 3986 reference resolution (enough for $id / $ref). */
static char *uri_resolve(const char *base, const char *ref) {
    const char *colon = strchr(ref, ':');
    const char *stop = strpbrk(ref, "/?#");
    if (colon && (!stop || colon < stop)) return strdup(ref);   /* absolute */
    if (!*base) return strdup(ref);
    if (ref[0] == '#') {
        size_t bl = strcspn(base, "#");
        char *r = malloc(bl + strlen(ref) + 1);
        if (!r) return NULL;
        memcpy(r, base, bl);
        strcpy(r + bl, ref);
        return r;
    }
    /* scheme and authority of the base */
    const char *bs = strstr(base, "://");
    size_t auth_end = 0;
    if (bs) {
        const char *p = bs + 3;
        auth_end = (size_t)(p - base) + strcspn(p, "/?#");
    }
    if (ref[0] == '/' && ref[1] == '/') {
        const char *bc = strchr(base, ':');
        size_t sl = bc ? (size_t)(bc - base) + 1 : 0;
        char *r = malloc(sl + strlen(ref) + 1);
        if (!r) return NULL;
        memcpy(r, base, sl);
        strcpy(r + sl, ref);
        return r;
    }
    if (ref[0] == '/') {
        char *r = malloc(auth_end + strlen(ref) + 1);
        if (!r) return NULL;
        memcpy(r, base, auth_end);
        strcpy(r + auth_end, ref);
        return r;
    }
    /* merge: base path up to its last '/' */
    size_t bl = strcspn(base, "?#");
    size_t cut = bl;
    while (cut > auth_end && base[cut - 1] != '/') cut--;
    if (cut < auth_end) cut = auth_end;
    char *merged = malloc(cut + strlen(ref) + 2);
    if (!merged) return NULL;
    memcpy(merged, base, cut);
    size_t k = cut;
    if (bs && cut == auth_end) merged[k++] = '/';
    strcpy(merged + k, ref);
    /* remove dot segments in the path part */
    char *out = malloc(strlen(merged) + 1);
    if (!out) {
        free(merged);
        return NULL;
    }
    size_t pstart = auth_end;
    memcpy(out, merged, pstart);
    size_t o = pstart;
    const char *p = merged + pstart;
    size_t tail = strcspn(p, "?#");
    const char *end = p + tail;
    while (p < end) {
        const char *seg_end = p + 1;
        while (seg_end < end && *seg_end != '/') seg_end++;
        size_t sl = (size_t)(seg_end - p);
        if ((sl == 2 && p[1] == '.') || (sl == 1 && *p == '.')) {
            /* "/." or "." */
        } else if ((sl == 3 && p[1] == '.' && p[2] == '.')) {
            while (o > pstart && out[o - 1] != '/') o--;
            if (o > pstart) o--;
        } else {
            memcpy(out + o, p, sl);
            o += sl;
        }
        p = seg_end;
    }
    strcpy(out + o, end);
    free(merged);
    return out;
}

static char *path_child(const char *path, const char *key, size_t klen) {
    size_t pl = strlen(path);
    char *r = malloc(pl + 2 * klen + 2);
    if (!r) return NULL;
    memcpy(r, path, pl);
    size_t o = pl;
    r[o++] = '/';
    for (size_t i = 0; i < klen; i++) {
        if (key[i] == '~') {
            r[o++] = '~';
            r[o++] = '0';
        } else if (key[i] == '/') {
            r[o++] = '~';
            r[o++] = '1';
        } else r[o++] = key[i];
    }
    r[o] = 0;
    return r;
}

static int is_data_kw(const char *k) {
    return !strcmp(k, "enum") || !strcmp(k, "const") || !strcmp(k, "examples") || !strcmp(k, "default") ||
           !strcmp(k, "required");
}

/* What a node is, for the index: only a schema (not data inside an unknown keyword) may carry an
 * identifier ($id, draft-4 id, $anchor): JSON-Schema-Test-Suite optional/unknownKeyword.json. */
enum { R_DATA = 0, R_SCHEMA, R_MAP, R_ARR };

/* Role of the value under key k of a schema object (value type t). */
static int child_role(const char *k, int t) {
    static const char *const one[] = {"additionalProperties", "propertyNames", "contains", "additionalItems",
                                      "unevaluatedItems", "unevaluatedProperties", "not", "if", "then", "else",
                                      "items", "contentSchema"};
    static const char *const map[] = {"properties", "patternProperties", "$defs", "definitions",
                                      "dependentSchemas", "dependencies"};
    static const char *const arr[] = {"allOf", "anyOf", "oneOf", "prefixItems", "items"};
    if (t == CF_JSON_ARRAY) {
        for (size_t i = 0; i < sizeof arr / sizeof *arr; i++)
            if (!strcmp(k, arr[i])) return R_ARR;
        return R_DATA;
    }
    for (size_t i = 0; i < sizeof one / sizeof *one; i++)
        if (!strcmp(k, one[i])) return R_SCHEMA;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(k, map[i])) return t == CF_JSON_OBJECT ? R_MAP : R_DATA;
    return R_DATA;
}

static int index_walk(sc *c, const cf_json *n, const char *path, const char *base, const cf_json *res, int role,
                      int depth) {
    if (depth > CF_JSON_MAX_DEPTH) return 0;
    if (n->type != CF_JSON_OBJECT && n->type != CF_JSON_ARRAY) {
        return n->type == CF_JSON_BOOL ? idx_add(c, n, path, base, res, role == R_SCHEMA) : 0;
    }
    char *mybase = NULL;
    if (n->type == CF_JSON_OBJECT && role == R_SCHEMA) {
        const cf_json *id = cf_json_get(n, "$id");
        if (!id && c->draft == 4) id = cf_json_get(n, "id");
        if (id && id->type == CF_JSON_STRING && id->str[0] != '#') {
            mybase = uri_resolve(base, id->str);
            if (!mybase) return -1;
            /* strip an empty fragment */
            size_t l = strlen(mybase);
            if (l && mybase[l - 1] == '#') mybase[l - 1] = 0;
            base = mybase;
            res = n;
        }
    }
    int rc = idx_add(c, n, path, base, res, role == R_SCHEMA);
    for (size_t i = 0; !rc && i < n->len; i++) {
        char tmp[24];
        const char *k;
        size_t kl;
        int crole = R_DATA;
        if (n->type == CF_JSON_OBJECT) {
            k = n->keys[i];
            kl = n->key_lens[i];
            if (role == R_SCHEMA && is_data_kw(k)) continue;
            if (role == R_SCHEMA) crole = child_role(k, n->items[i]->type);
            else if (role == R_MAP) crole = R_SCHEMA;
        } else {
            snprintf(tmp, sizeof tmp, "%zu", i);
            k = tmp;
            kl = strlen(tmp);
            if (role == R_ARR) crole = R_SCHEMA;
        }
        char *cp = path_child(path, k, kl);
        if (!cp) {
            rc = -1;
            break;
        }
        rc = index_walk(c, n->items[i], cp, base, res, crole, depth + 1);
        free(cp);
    }
    free(mybase);
    return rc;
}

const char *sc_path(sc *c, const cf_json *n) {
    struct nidx *e = idx_find(c, n);
    return e ? e->path : "?";
}

static const cf_json *find_anchor(sc *c, const cf_json *res, const char *name) {
    for (size_t i = 0; i < c->nidx; i++) {
        const cf_json *n = c->idx[i].n;
        if (c->idx[i].res != res || !c->idx[i].schema || n->type != CF_JSON_OBJECT) continue;
        const cf_json *a = cf_json_get(n, "$anchor");
        if (a && a->type == CF_JSON_STRING && !strcmp(a->str, name)) return n;
        a = cf_json_get(n, "$dynamicAnchor");
        if (a && a->type == CF_JSON_STRING && !strcmp(a->str, name)) return n;
        a = cf_json_get(n, c->draft == 4 ? "id" : "$id");
        if (a && a->type == CF_JSON_STRING && a->str[0] == '#' && !strcmp(a->str + 1, name)) return n;
    }
    return NULL;
}

static const cf_json *apply_fragment(sc *c, const cf_json *res, const char *frag) {
    if (!*frag) return res;
    if (frag[0] == '/' || frag[0] == '%') return cf_json_pointer_uri(res, frag);
    return find_anchor(c, res, frag);
}

const cf_json *sc_resolve(sc *c, const cf_json *at, const char *ref) {
    struct nidx *e = idx_find(c, at);
    const char *base = e ? e->base : "";
    const cf_json *res = e && e->res ? e->res : c->root;
    if (ref[0] == '#') return apply_fragment(c, res, ref + 1);
    char *abs = uri_resolve(base, ref);
    if (!abs) return NULL;
    char *hash = strchr(abs, '#');
    const char *frag = "";
    if (hash) {
        *hash = 0;
        frag = hash + 1;
    }
    const cf_json *target = NULL;
    for (size_t i = 0; i < c->nidx && !target; i++)
        if (c->idx[i].res == c->idx[i].n && !strcmp(c->idx[i].base, abs)) target = c->idx[i].n;
    if (!target && !*abs) target = c->root;
    /* a base equal to the root's (empty) base */
    if (!target) {
        struct nidx *r = idx_find(c, c->root);
        if (r && !strcmp(r->base, abs)) target = c->root;
    }
    const cf_json *out = target ? apply_fragment(c, target, frag) : NULL;
    free(abs);
    return out;
}

const cf_json *sc_synth(sc *c, const char *json) {
    cf_json_doc *d = NULL;
    cf_err e;
    if (cf_json_parse(json, strlen(json), &d, &e)) return NULL;
    if (c->ndocs == c->capdocs) {
        int nc = c->capdocs ? c->capdocs * 2 : 8;
        cf_json_doc **a = realloc(c->docs, (size_t)nc * sizeof *a);
        if (!a) {
            cf_json_free(d);
            return NULL;
        }
        c->docs = a;
        c->capdocs = nc;
    }
    c->docs[c->ndocs++] = d;
    const cf_json *r = cf_json_root(d);
    idx_add(c, r, "(synthetic)", "", r, 1);
    return r;
}

/* ---- conjunctions and the memo ---- */

int conj_add(conj *cj, const cf_json *n, uint32_t skip) {
    for (int i = 0; i < cj->n; i++)
        if (cj->it[i].n == n && cj->it[i].skip == skip) return 0;
    if (cj->n == cj->cap) {
        int nc = cj->cap ? cj->cap * 2 : 8;
        sitem *a = realloc(cj->it, (size_t)nc * sizeof *a);
        if (!a) return -1;
        cj->it = a;
        cj->cap = nc;
    }
    cj->it[cj->n].n = n;
    cj->it[cj->n].skip = skip;
    cj->n++;
    return 0;
}

void conj_free(conj *cj) {
    free(cj->it);
    memset(cj, 0, sizeof *cj);
}

struct memo_ent {
    sitem *it;
    int n;
    int32_t rule;
};

static int cmp_item(const void *a, const void *b) {
    const sitem *x = a, *y = b;
    if (x->n != y->n) return (uintptr_t)x->n < (uintptr_t)y->n ? -1 : 1;
    return x->skip < y->skip ? -1 : x->skip > y->skip;
}

static uint64_t conj_hash(const sitem *it, int n) {
    uint64_t h = 0x12345;
    for (int i = 0; i < n; i++) h = ptr_hash((const void *)(uintptr_t)(h ^ (uintptr_t)it[i].n ^ ((uint64_t)it[i].skip << 48)));
    return h;
}

static memo_ent *memo_find(sc *c, const sitem *it, int n, uint64_t h) {
    if (!c->memo) return NULL;
    for (size_t i = h & c->memomask;; i = (i + 1) & c->memomask) {
        memo_ent *e = c->memo[i];
        if (!e) return NULL;
        if (e->n == n && !memcmp(e->it, it, (size_t)n * sizeof *it)) return e;
    }
}

static int memo_put(sc *c, memo_ent *e, uint64_t h) {
    if ((c->nmemo + 1) * 2 > (c->memo ? c->memomask + 1 : 0)) {
        size_t cap = c->memo ? (c->memomask + 1) * 2 : 256;
        memo_ent **m = calloc(cap, sizeof *m);
        if (!m) return -1;
        for (size_t i = 0; c->memo && i <= c->memomask; i++)
            if (c->memo[i]) {
                uint64_t hh = conj_hash(c->memo[i]->it, c->memo[i]->n);
                size_t j = hh & (cap - 1);
                while (m[j]) j = (j + 1) & (cap - 1);
                m[j] = c->memo[i];
            }
        free(c->memo);
        c->memo = m;
        c->memomask = cap - 1;
    }
    size_t j = h & c->memomask;
    while (c->memo[j]) j = (j + 1) & c->memomask;
    c->memo[j] = e;
    c->nmemo++;
    return 0;
}

static int32_t new_rule(sc *c, const char *name) {
    if (++c->nrules > CF_SCHEMA_MAX_RULES) {
        sc_fail(c, NULL, CF_ELIMIT, "the schema needs more than %d grammar rules", CF_SCHEMA_MAX_RULES);
        return -1;
    }
    int32_t r = cf_grammar_new_rule(c->g, name);
    if (r < 0) sc_fail(c, NULL, CF_ENOMEM, "out of memory");
    return r;
}

int32_t sc_false(sc *c) {
    if (c->false_rule >= 0) return c->false_rule;
    int32_t r = new_rule(c, "false");
    if (r < 0) return -1;
    cf_grammar_define(c->g, r, cf_gx_fail(c->g));
    c->false_rule = r;
    return r;
}

/* The generic JSON value: any object / array / string / number / literal. */
int32_t sc_any(sc *c) {
    if (c->any_rule >= 0) return c->any_rule;
    int32_t r = new_rule(c, "any");
    if (r < 0) return -1;
    c->any_rule = r;
    cf_grammar *g = c->g;
    cf_native s = {.kind = CF_NAT_STRING};
    s.u.s.min_len = 0;
    s.u.s.max_len = -1;
    cf_native num = {.kind = CF_NAT_NUMBER};
    cf_native obj = {.kind = CF_NAT_OBJECT};
    obj.u.obj.additional = r;
    obj.u.obj.max_props = -1;
    obj.u.obj.key_native = -1;
    cf_native arr = {.kind = CF_NAT_ARRAY};
    arr.u.arr.items = r;
    arr.u.arr.max_items = -1;
    arr.u.arr.contains = CF_GR_NONE;
    arr.u.arr.max_contains = -1;
    cf_gx k[6];
    k[0] = cf_gx_native(g, cf_grammar_add_native(g, &obj));
    k[1] = cf_gx_native(g, cf_grammar_add_native(g, &arr));
    k[2] = cf_gx_native(g, cf_grammar_add_native(g, &s));
    k[3] = cf_gx_native(g, cf_grammar_add_native(g, &num));
    k[4] = cf_gx_alt2(g, cf_gx_str(g, "true"), cf_gx_str(g, "false"));
    k[5] = cf_gx_str(g, "null");
    cf_grammar_define(g, r, cf_gx_alt(g, k, 6));
    return r;
}

static int32_t combo_rule(sc *c, int kind, const int32_t *br, int nb, const char *name) {
    for (int i = 0; i < nb; i++)
        if (br[i] < 0) return -1;
    cf_native n = {.kind = CF_NAT_COMBO};
    n.u.combo.kind = kind;
    n.u.combo.nb = nb;
    n.u.combo.branches = malloc((size_t)nb * sizeof *br);
    if (!n.u.combo.branches) {
        sc_fail(c, NULL, CF_ENOMEM, "out of memory");
        return -1;
    }
    memcpy(n.u.combo.branches, br, (size_t)nb * sizeof *br);
    int32_t id = cf_grammar_add_native(c->g, &n);
    int32_t r = new_rule(c, name);
    if (r < 0 || id < 0) return -1;
    cf_grammar_define(c->g, r, cf_gx_native(c->g, id));
    return r;
}

/* conj with item j's combinator kind skipped, plus optional extra nodes */
static int conj_variant(conj *out, const conj *cj, int j, uint32_t skip, const cf_json *x1, const cf_json *x2) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < cj->n; i++)
        if (conj_add(out, cj->it[i].n, cj->it[i].skip | SK_EXP | (i == j ? skip : 0))) return -1;
    if (x1 && conj_add(out, x1, 0)) return -1;
    if (x2 && conj_add(out, x2, 0)) return -1;
    return 0;
}

static int32_t compile_variant(sc *c, const conj *cj, int j, uint32_t skip, const cf_json *x1, const cf_json *x2) {
    conj v;
    if (conj_variant(&v, cj, j, skip, x1, x2)) {
        conj_free(&v);
        sc_fail(c, NULL, CF_ENOMEM, "out of memory");
        return -1;
    }
    int32_t r = sc_compile(c, &v);
    conj_free(&v);
    return r;
}

static const cf_json *kw(const cf_json *n, const char *k) { return n->type == CF_JSON_OBJECT ? cf_json_get(n, k) : NULL; }

/* Types a schema node allows, looking only at `type`, `const`, `enum` (T_ALL if unknown). */
static int quick_types(sc *c, const cf_json *n, int depth) {
    if (n->type == CF_JSON_BOOL) return n->b ? T_ALL : 0;
    if (n->type != CF_JSON_OBJECT || depth > 8) return T_ALL;
    int t = sv_types_of(c, n);
    const cf_json *r = kw(n, "$ref");
    if (r && r->type == CF_JSON_STRING) {
        const cf_json *tg = sc_resolve(c, n, r->str);
        if (tg) t &= quick_types(c, tg, depth + 1);
    }
    const cf_json *a = kw(n, "allOf");
    if (a && a->type == CF_JSON_ARRAY)
        for (size_t i = 0; i < a->len; i++) t &= quick_types(c, a->items[i], depth + 1);
    return t;
}

/* A required property whose const/enum values differ between the two branches. */
static const cf_json *prop_values(sc *c, const cf_json *n, const char *name, int depth) {
    if (n->type != CF_JSON_OBJECT || depth > 8) return NULL;
    const cf_json *p = kw(n, "properties");
    if (p && p->type == CF_JSON_OBJECT) {
        const cf_json *s = cf_json_get(p, name);
        if (s && s->type == CF_JSON_OBJECT) {
            const cf_json *cst = kw(s, "const");
            if (cst) return cst;
            const cf_json *en = kw(s, "enum");
            if (en && en->type == CF_JSON_ARRAY) return en;
        }
    }
    const cf_json *r = kw(n, "$ref");
    if (r && r->type == CF_JSON_STRING) {
        const cf_json *tg = sc_resolve(c, n, r->str);
        if (tg) return prop_values(c, tg, name, depth + 1);
    }
    return NULL;
}

static int required_has(const cf_json *n, const char *name) {
    const cf_json *rq = kw(n, "required");
    if (!rq || rq->type != CF_JSON_ARRAY) return 0;
    for (size_t i = 0; i < rq->len; i++)
        if (rq->items[i]->type == CF_JSON_STRING && !strcmp(rq->items[i]->str, name)) return 1;
    return 0;
}

static int values_disjoint(const cf_json *a, const cf_json *b, int a_is_enum, int b_is_enum) {
    size_t na = a_is_enum ? a->len : 1, nb = b_is_enum ? b->len : 1;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (cf_json_equal(a_is_enum ? a->items[i] : a, b_is_enum ? b->items[j] : b)) return 0;
    return 1;
}

static const cf_json *deref(sc *c, const cf_json *n) {
    for (int k = 0; k < 8 && n->type == CF_JSON_OBJECT; k++) {
        const cf_json *r = kw(n, "$ref");
        if (!r || r->type != CF_JSON_STRING) break;
        const cf_json *t = sc_resolve(c, n, r->str);
        if (!t) break;
        n = t;
    }
    return n;
}

/* Two oneOf branches that no value can satisfy together (so oneOf = anyOf for them). */
static int branches_disjoint(sc *c, const cf_json *a, const cf_json *b) {
    if (!(quick_types(c, a, 0) & quick_types(c, b, 0))) return 1;
    a = deref(c, a);
    b = deref(c, b);
    if (a->type != CF_JSON_OBJECT || b->type != CF_JSON_OBJECT) return 0;
    const cf_json *ca = kw(a, "const"), *cb = kw(b, "const");
    const cf_json *ea = kw(a, "enum"), *eb = kw(b, "enum");
    if ((ca || (ea && ea->type == CF_JSON_ARRAY)) && (cb || (eb && eb->type == CF_JSON_ARRAY)))
        return values_disjoint(ca ? ca : ea, cb ? cb : eb, !ca, !cb);
    /* discriminator: a property required in both with disjoint const / enum values */
    const cf_json *pa = kw(a, "properties");
    if (pa && pa->type == CF_JSON_OBJECT) {
        int objs = !((quick_types(c, a, 0) | quick_types(c, b, 0)) & ~T_OBJ);
        for (size_t i = 0; i < pa->len; i++) {
            const char *name = pa->keys[i];
            if (!required_has(a, name) || !required_has(b, name)) continue;
            const cf_json *va = prop_values(c, a, name, 0), *vb = prop_values(c, b, name, 0);
            if (!va || !vb || !objs) continue;
            int ae = kw(pa->items[i], "const") == NULL;
            const cf_json *pb = kw(b, "properties");
            const cf_json *sb = pb ? cf_json_get(pb, name) : NULL;
            int be = !(sb && kw(sb, "const"));
            if (values_disjoint(va, vb, ae && va->type == CF_JSON_ARRAY, be && vb->type == CF_JSON_ARRAY)) return 1;
        }
    }
    return 0;
}


/* The grammar of one combinator of a conjunction.  distribute: the rest of the conjunction is
 * merged into each branch (anyOf -> alternatives of full schemas); otherwise the combinator stands
 * alone (the caller intersects it with the rest). */
static int32_t variant_or_alone(sc *c, const conj *base, int item, uint32_t skip, const cf_json *x, int distribute) {
    if (distribute) return compile_variant(c, base, item, skip, x, NULL);
    return x ? sc_compile1(c, x) : sc_any(c);
}

static cf_gx combinator_gx(sc *c, const conj *base, struct scmb cm, int distribute) {
    const cf_json *node = base->it[cm.item].n;
    cf_grammar *g = c->g;
    cf_gx body = -1;
    if (cm.kind == SK_ANYOF || cm.kind == SK_ONEOF) {
        const cf_json *arr = kw(node, cm.kind == SK_ANYOF ? "anyOf" : "oneOf");
        int nb = (int)arr->len;
        int32_t *br = malloc(((size_t)nb + 1) * sizeof *br);
        if (!br) {
            sc_fail(c, node, CF_ENOMEM, "out of memory");
        } else {
            int ok = 1;
            for (int i = 0; i < nb && ok; i++) {
                br[i] = variant_or_alone(c, base, cm.item, (uint32_t)cm.kind, arr->items[i], distribute);
                if (br[i] < 0) ok = 0;
            }
            int disjoint = cm.kind == SK_ANYOF;
            if (ok && !disjoint) {
                disjoint = 1;
                for (int i = 0; i < nb && disjoint; i++)
                    for (int j = i + 1; j < nb && disjoint; j++)
                        if (!branches_disjoint(c, arr->items[i], arr->items[j])) disjoint = 0;
            }
            if (ok) {
                if (disjoint || nb == 1) {
                    cf_gx *k = malloc(((size_t)nb + 1) * sizeof *k);
                    if (k) {
                        for (int i = 0; i < nb; i++) k[i] = cf_gx_ref(g, br[i]);
                        body = cf_gx_alt(g, k, nb);
                        free(k);
                    }
                } else if (nb > 64) {
                    sc_fail(c, node, CF_ELIMIT, "oneOf with %d overlapping branches (cap 64)", nb);
                } else {
                    char nm[220];
                    snprintf(nm, sizeof nm, "%s/oneOf", sc_path(c, node));
                    int32_t r = combo_rule(c, CF_COMBO_ONE, br, nb, nm);
                    if (r >= 0) body = cf_gx_ref(g, r);
                }
            }
            free(br);
        }
    } else if (cm.kind == SK_NOT) {
        const cf_json *nn = kw(node, "not");
        int32_t br[2];
        br[0] = variant_or_alone(c, base, cm.item, SK_NOT, NULL, distribute);
        br[1] = sc_compile1(c, nn);
        char nm[220];
        snprintf(nm, sizeof nm, "%s/not", sc_path(c, node));
        int32_t r = combo_rule(c, CF_COMBO_NOT, br, 2, nm);
        if (r >= 0) body = cf_gx_ref(g, r);
    } else if (cm.kind == SK_IF) {
        const cf_json *ni = kw(node, "if"), *nt = kw(node, "then"), *ne = kw(node, "else");
        int32_t br[3];
        br[0] = sc_compile1(c, ni);
        br[1] = variant_or_alone(c, base, cm.item, SK_IF, nt, distribute);
        br[2] = variant_or_alone(c, base, cm.item, SK_IF, ne, distribute);
        char nm[220];
        snprintf(nm, sizeof nm, "%s/if", sc_path(c, node));
        int32_t r = combo_rule(c, CF_COMBO_IF, br, 3, nm);
        if (r >= 0) body = cf_gx_ref(g, r);
    } else if (cm.kind == SK_DEPS) {
        /* dependentSchemas / dependencies (schema form): one IF combo per property, chained:
         * this variant skips them all, each condition is {"type":"object","required":[p]} */
        const cf_json *ds = kw(node, "dependentSchemas");
        const cf_json *dd = kw(node, "dependencies");
        int32_t rest = variant_or_alone(c, base, cm.item, SK_DEPS, NULL, distribute);
        int32_t cur = rest;
        for (int pass = 0; pass < 2 && cur >= 0; pass++) {
            const cf_json *m = pass ? dd : ds;
            if (!m || m->type != CF_JSON_OBJECT) continue;
            for (size_t i = 0; i < m->len && cur >= 0; i++) {
                const cf_json *sub = m->items[i];
                if (sub->type != CF_JSON_OBJECT && sub->type != CF_JSON_BOOL) continue;   /* array form: emit */
                char *q = cf_json_quote(m->keys[i], m->key_lens[i], NULL);
                if (!q) {
                    sc_fail(c, node, CF_ENOMEM, "out of memory");
                    cur = -1;
                    break;
                }
                char *js = str_cat3("{\"type\":\"object\",\"required\":[", q, "]}");
                free(q);
                const cf_json *cond = js ? sc_synth(c, js) : NULL;
                free(js);
                if (!cond) {
                    sc_fail(c, node, CF_ENOMEM, "out of memory");
                    cur = -1;
                    break;
                }
                /* value = IF(cond, cur AND sub, cur) */
                int32_t br[3];
                br[0] = sc_compile1(c, cond);
                int32_t subr = sc_compile1(c, sub);
                int32_t both[2] = {cur, subr};
                char nm[220];
                snprintf(nm, sizeof nm, "%s/dependentSchemas", sc_path(c, node));
                br[1] = combo_rule(c, CF_COMBO_ALL, both, 2, nm);
                br[2] = cur;
                cur = combo_rule(c, CF_COMBO_IF, br, 3, nm);
            }
        }
        if (cur >= 0) body = cf_gx_ref(g, cur);
    }
    return body;
}

int32_t sc_compile(sc *c, const conj *cj0) {
    if (c->failed) return -1;
    /* canonical key: sorted items */
    conj cj = {0};
    for (int i = 0; i < cj0->n; i++)
        if (conj_add(&cj, cj0->it[i].n, cj0->it[i].skip)) {
            conj_free(&cj);
            sc_fail(c, NULL, CF_ENOMEM, "out of memory");
            return -1;
        }
    if (cj.n > 1) qsort(cj.it, (size_t)cj.n, sizeof *cj.it, cmp_item);
    uint64_t h = conj_hash(cj.it, cj.n);
    memo_ent *me = memo_find(c, cj.it, cj.n, h);
    if (me) {
        conj_free(&cj);
        return me->rule;
    }
    if (++c->depth > 400) {
        c->depth--;
        conj_free(&cj);
        sc_fail(c, cj0->n ? cj0->it[0].n : NULL, CF_ELIMIT, "schema nested too deeply");
        return -1;
    }
    char name[200];
    const char *p0 = cj.n ? sc_path(c, cj.it[0].n) : "";
    snprintf(name, sizeof name, "%s%s", *p0 ? p0 : "/", cj.n > 1 ? "+" : "");
    int32_t rule = new_rule(c, name);
    me = calloc(1, sizeof *me);
    if (rule < 0 || !me) {
        free(me);
        conj_free(&cj);
        c->depth--;
        if (!c->failed) sc_fail(c, NULL, CF_ENOMEM, "out of memory");
        return -1;
    }
    me->it = cj.it;
    me->n = cj.n;
    me->rule = rule;
    if (memo_put(c, me, h)) {
        free(me);
        conj_free(&cj);
        c->depth--;
        sc_fail(c, NULL, CF_ENOMEM, "out of memory");
        return -1;
    }
    /* cj.it now belongs to the memo entry */
    sview v;
    cf_gx body = -1;
    if (sv_build(c, &cj, &v)) {
        c->depth--;
        return -1;
    }
    cf_grammar *g = c->g;
    if (v.is_false) {
        body = cf_gx_fail(g);
    } else if (v.ncmb == 1) {
        body = combinator_gx(c, &v.items, v.cmb[0], 1);
    } else if (v.ncmb > 1) {
        /* several combinators: distributing them all would multiply; intersect the rest of the
         * conjunction (combinators skipped) with each combinator on its own */
        int32_t *br = malloc(((size_t)v.ncmb + 1) * sizeof *br);
        conj core = {0};
        int ok = br != NULL;
        for (int i = 0; ok && i < v.items.n; i++)
            if (conj_add(&core, v.items.it[i].n, v.items.it[i].skip | SK_EXP | SK_ANYOF | SK_ONEOF | SK_NOT | SK_IF | SK_DEPS))
                ok = 0;
        if (!ok) sc_fail(c, NULL, CF_ENOMEM, "out of memory");
        else if (v.ncmb + 1 > 64) sc_fail(c, v.items.it[0].n, CF_ELIMIT, "more than 63 combinators on one schema");
        else {
            br[0] = sc_compile(c, &core);
            for (int i = 0; i < v.ncmb && !c->failed; i++) {
                cf_gx cg = combinator_gx(c, &v.items, v.cmb[i], 0);
                int32_t r = cg >= 0 ? new_rule(c, name) : -1;
                if (r >= 0) cf_grammar_define(g, r, cg);
                br[1 + i] = r;
            }
            char nm[220];
            snprintf(nm, sizeof nm, "%s/allOf", name);
            int32_t r = c->failed ? -1 : combo_rule(c, CF_COMBO_ALL, br, v.ncmb + 1, nm);
            if (r >= 0) body = cf_gx_ref(g, r);
        }
        conj_free(&core);
        free(br);
    } else {
        body = sv_emit_core(c, &v);
        if (body >= 0 && v.nsep) {
            /* items that could not be merged: intersect */
            int32_t *br = malloc(((size_t)v.nsep + 1) * sizeof *br);
            int32_t core = new_rule(c, name);
            if (br && core >= 0) {
                cf_grammar_define(g, core, body);
                br[0] = core;
                for (int i = 0; i < v.nsep; i++) {
                    conj one = {0};
                    const sitem *it = &v.items.it[v.sep[i]];
                    conj_add(&one, it->n, it->skip | SK_ALLOF);
                    br[1 + i] = sc_compile(c, &one);
                    conj_free(&one);
                }
                char nm[220];
                snprintf(nm, sizeof nm, "%s/allOf", name);
                int32_t r = combo_rule(c, CF_COMBO_ALL, br, v.nsep + 1, nm);
                body = r >= 0 ? cf_gx_ref(g, r) : -1;
            }
            free(br);
        }
    }
    sv_free(&v);
    c->depth--;
    if (c->failed) return -1;
    if (body < 0) {
        sc_fail(c, NULL, CF_ENOMEM, "out of memory");
        return -1;
    }
    cf_grammar_define(g, rule, body);
    return rule;
}

int32_t sc_compile1(sc *c, const cf_json *n) {
    if (!n) return sc_any(c);
    conj one = {0};
    if (conj_add(&one, n, 0)) {
        sc_fail(c, n, CF_ENOMEM, "out of memory");
        return -1;
    }
    int32_t r = sc_compile(c, &one);
    conj_free(&one);
    return r;
}

static int detect_draft(const cf_json *root) {
    const cf_json *s = root->type == CF_JSON_OBJECT ? cf_json_get(root, "$schema") : NULL;
    if (!s || s->type != CF_JSON_STRING) return 2020;
    if (strstr(s->str, "draft-04") || strstr(s->str, "draft-03")) return 4;
    if (strstr(s->str, "draft-06")) return 6;
    if (strstr(s->str, "draft-07")) return 7;
    if (strstr(s->str, "2019-09")) return 2019;
    return 2020;
}

int cf_schema_compile_json(const cf_json *schema, const cf_schema_opts *o, cf_grammar **out, cf_err *err) {
    *out = NULL;
    if (!schema) return cf_errf(err, CF_EINVAL, "schema: none given");
    if (schema->type != CF_JSON_OBJECT && schema->type != CF_JSON_BOOL)
        return cf_errf(err, CF_EFORMAT, "schema at (root): a schema must be an object or a boolean");
    sc c;
    memset(&c, 0, sizeof c);
    c.root = schema;
    if (o) c.o = *o;
    else cf_schema_opts_default(&c.o);
    c.err = err;
    c.any_rule = -1;
    c.false_rule = -1;
    c.draft = detect_draft(schema);
    c.g = cf_grammar_new();
    int rc = 0;
    if (!c.g) return cf_errf(err, CF_ENOMEM, "schema: out of memory");
    c.g->max_ws = c.o.max_ws < 0 ? 0 : c.o.max_ws > 255 ? 255 : c.o.max_ws;
    int32_t root = cf_grammar_rule(c.g, "root", 4);
    if (root != 0 || index_walk(&c, schema, "", "", schema, R_SCHEMA, 0)) {
        rc = cf_errf(err, CF_ENOMEM, "schema: out of memory");
        goto done;
    }
    int32_t top = sc_compile1(&c, schema);
    if (c.failed || top < 0) {
        rc = c.failed && err ? err->code : CF_ENOMEM;
        if (!c.failed) cf_errf(err, CF_ENOMEM, "schema: out of memory");
        goto done;
    }
    {
        uint32_t ws[4] = {' ', ' ', '\t', '\t'};
        uint32_t wsr[8] = {' ', ' ', '\t', '\t', '\n', '\n', '\r', '\r'};
        (void)ws;
        cf_gx lead = cf_gx_repeat(c.g, cf_gx_class(c.g, wsr, 4, 0), 0, c.g->max_ws);
        cf_grammar_define(c.g, 0, cf_gx_seq2(c.g, lead, cf_gx_ref(c.g, top)));
    }
    rc = cf_grammar_check(c.g, err);
    if (rc && err && strstr(err->msg, "left recursion")) {
        /* name the schema location: rule names are JSON pointers */
        cf_err_prefix(err, "schema: circular $ref/combination without an intervening value");
    }
done:
    for (size_t i = 0; i < c.nidx; i++) {
        free(c.idx[i].path);
        free(c.idx[i].base);
    }
    free(c.idx);
    free(c.idxh);
    if (c.memo) {
        for (size_t i = 0; i <= c.memomask; i++)
            if (c.memo[i]) {
                free(c.memo[i]->it);
                free(c.memo[i]);
            }
        free(c.memo);
    }
    for (int i = 0; i < c.ndocs; i++) cf_json_free(c.docs[i]);
    free(c.docs);
    free(c.rc);
    if (rc) {
        cf_grammar_free(c.g);
        return rc;
    }
    *out = c.g;
    return 0;
}

int cf_schema_compile(const char *json, size_t len, const cf_schema_opts *o, cf_grammar **out, cf_err *err) {
    *out = NULL;
    if (len > CF_SCHEMA_MAX_TEXT) return cf_errf(err, CF_ELIMIT, "schema: %zu bytes exceeds the cap", len);
    cf_json_doc *d = NULL;
    int rc = cf_json_parse(json, len, &d, err);
    if (rc) {
        cf_err_prefix(err, "schema: malformed JSON");
        return rc;
    }
    rc = cf_schema_compile_json(cf_json_root(d), o, out, err);
    cf_json_free(d);
    return rc;
}

