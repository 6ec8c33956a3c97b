/* JSON Schema validator (see validate.h).  Layout: small maps and strings; URI resolution
 * (RFC 3986 5.2); the schema index ($id / $anchor / $dynamicAnchor); number helpers (exact
 * decimal); formats; the evaluator with annotations for unevaluated*. */
#include "sampler/validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/regex.h"

#define DEFAULT_BASE "https://cinfer.invalid/schema.json"

/* ---- maps -------------------------------------------------------------------------------- */

typedef struct {
    char *key;           /* owned */
    const void *val;
} sment;
typedef struct {
    sment *e;
    size_t cap, n;
} smap;

static uint64_t shash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static const void *smap_get(const smap *m, const char *k) {
    if (!m->cap) return NULL;
    for (size_t i = shash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->e[i].key) return NULL;
        if (!strcmp(m->e[i].key, k)) return m->e[i].val;
    }
}

static int smap_put(smap *m, const char *k, const void *v) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 32;
        sment *ne = calloc(nc, sizeof *ne);
        if (!ne) return -1;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->e[i].key) continue;
            size_t j = shash(m->e[i].key) & (nc - 1);
            while (ne[j].key) j = (j + 1) & (nc - 1);
            ne[j] = m->e[i];
        }
        free(m->e);
        m->e = ne;
        m->cap = nc;
    }
    size_t i = shash(k) & (m->cap - 1);
    for (; m->e[i].key; i = (i + 1) & (m->cap - 1))
        if (!strcmp(m->e[i].key, k)) return 0;   /* first registration wins */
    m->e[i].key = strdup(k);
    if (!m->e[i].key) return -1;
    m->e[i].val = v;
    m->n++;
    return 0;
}

static void smap_free(smap *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->e[i].key);
    free(m->e);
    memset(m, 0, sizeof *m);
}

typedef struct {
    const void *k;
    void *v;
} pment;
typedef struct {
    pment *e;
    size_t cap, n;
} pmap;

static size_t phash(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static void *pmap_get(const pmap *m, const void *k) {
    if (!m->cap) return NULL;
    for (size_t i = phash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->e[i].k) return NULL;
        if (m->e[i].k == k) return m->e[i].v;
    }
}

static int pmap_put(pmap *m, const void *k, void *v) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        pment *ne = calloc(nc, sizeof *ne);
        if (!ne) return -1;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->e[i].k) continue;
            size_t j = phash(m->e[i].k) & (nc - 1);
            while (ne[j].k) j = (j + 1) & (nc - 1);
            ne[j] = m->e[i];
        }
        free(m->e);
        m->e = ne;
        m->cap = nc;
    }
    size_t i = phash(k) & (m->cap - 1);
    for (; m->e[i].k; i = (i + 1) & (m->cap - 1))
        if (m->e[i].k == k) {
            m->e[i].v = v;
            return 0;
        }
    m->e[i].k = k;
    m->e[i].v = v;
    m->n++;
    return 0;
}

static void pmap_free(pmap *m) {
    free(m->e);
    memset(m, 0, sizeof *m);
}

/* ---- URIs (RFC 3986) --------------------------------------------------------------------- */

typedef struct {
    const char *scheme, *auth, *path, *query, *frag;
    size_t ls, la, lp, lq, lf;
    int has_scheme, has_auth, has_query, has_frag;
} uparts;

static int is_alpha(int c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

static void uri_split(const char *s, uparts *u) {
    memset(u, 0, sizeof *u);
    const char *p = s;
    if (is_alpha(*p)) {
        const char *q = p;
        while (is_alpha(*q) || is_digit(*q) || *q == '+' || *q == '-' || *q == '.') q++;
        if (*q == ':') {
            u->has_scheme = 1;
            u->scheme = p;
            u->ls = (size_t)(q - p);
            p = q + 1;
        }
    }
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
        u->has_auth = 1;
        u->auth = p;
        while (*p && *p != '/' && *p != '?' && *p != '#') p++;
        u->la = (size_t)(p - u->auth);
    }
    u->path = p;
    while (*p && *p != '?' && *p != '#') p++;
    u->lp = (size_t)(p - u->path);
    if (*p == '?') {
        u->has_query = 1;
        u->query = ++p;
        while (*p && *p != '#') p++;
        u->lq = (size_t)(p - u->query);
    }
    if (*p == '#') {
        u->has_frag = 1;
        u->frag = p + 1;
        u->lf = strlen(p + 1);
    }
}

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sb;

static void sb_add(sb *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 128;
        while (nc < b->n + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sb *b, const char *s) { sb_add(b, s, strlen(s)); }

/* remove_dot_segments (RFC 3986 5.2.4) of path[0..n) appended to out. */
static void remove_dots(const char *in, size_t n, sb *out) {
    char *buf = malloc(n + 1);
    if (!buf) {
        out->oom = 1;
        return;
    }
    size_t o = 0, i = 0;
    while (i < n) {
        if (n - i >= 3 && !memcmp(in + i, "../", 3)) i += 3;
        else if (n - i >= 2 && !memcmp(in + i, "./", 2)) i += 2;
        else if (n - i >= 3 && !memcmp(in + i, "/./", 3)) i += 2;
        else if (n - i == 2 && !memcmp(in + i, "/.", 2)) i += 1, buf[o++] = '/', i = n;
        else if (n - i >= 4 && !memcmp(in + i, "/../", 4)) {
            i += 3;
            while (o > 0 && buf[o - 1] != '/') o--;
            if (o > 0) o--;
        } else if (n - i == 3 && !memcmp(in + i, "/..", 3)) {
            i = n;
            while (o > 0 && buf[o - 1] != '/') o--;
            if (o > 0) o--;
            buf[o++] = '/';
        } else if ((n - i == 1 && in[i] == '.') || (n - i == 2 && !memcmp(in + i, "..", 2))) {
            i = n;
        } else {
            size_t k = i;
            if (in[k] == '/') k++;
            while (k < n && in[k] != '/') k++;
            memcpy(buf + o, in + i, k - i);
            o += k - i;
            i = k;
        }
    }
    sb_add(out, buf, o);
    free(buf);
}

/* Resolves ref against base (both NUL-terminated); returns a malloc'ed string or NULL. */
static char *uri_resolve(const char *base, const char *ref) {
    uparts b, r;
    uri_split(base, &b);
    uri_split(ref, &r);
    sb o = {0};
    const char *sch = r.has_scheme ? r.scheme : b.scheme;
    size_t lsch = r.has_scheme ? r.ls : b.ls;
    if (r.has_scheme || b.has_scheme) {
        sb_add(&o, sch, lsch);
        sb_str(&o, ":");
    }
    if (r.has_scheme) {
        if (r.has_auth) sb_str(&o, "//"), sb_add(&o, r.auth, r.la);
        remove_dots(r.path, r.lp, &o);
        if (r.has_query) sb_str(&o, "?"), sb_add(&o, r.query, r.lq);
    } else if (r.has_auth) {
        sb_str(&o, "//");
        sb_add(&o, r.auth, r.la);
        remove_dots(r.path, r.lp, &o);
        if (r.has_query) sb_str(&o, "?"), sb_add(&o, r.query, r.lq);
    } else {
        if (b.has_auth) sb_str(&o, "//"), sb_add(&o, b.auth, b.la);
        if (r.lp == 0) {
            sb_add(&o, b.path, b.lp);
            if (r.has_query) sb_str(&o, "?"), sb_add(&o, r.query, r.lq);
            else if (b.has_query) sb_str(&o, "?"), sb_add(&o, b.query, b.lq);
        } else {
            if (r.path[0] == '/') {
                remove_dots(r.path, r.lp, &o);
            } else {
                sb m = {0};
                if (b.has_auth && b.lp == 0) {
                    sb_str(&m, "/");
                } else {
                    size_t k = b.lp;
                    while (k > 0 && b.path[k - 1] != '/') k--;
                    sb_add(&m, b.path, k);
                }
                sb_add(&m, r.path, r.lp);
                if (m.oom) o.oom = 1;
                else remove_dots(m.p ? m.p : "", m.n, &o);
                free(m.p);
            }
            if (r.has_query) sb_str(&o, "?"), sb_add(&o, r.query, r.lq);
        }
    }
    if (r.has_frag) sb_str(&o, "#"), sb_add(&o, r.frag, r.lf);
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    if (!o.p) o.p = strdup("");
    return o.p;
}

/* ---- validator state --------------------------------------------------------------------- */

typedef struct {
    const char *s;   /* key (NULL for an index) */
    size_t len, idx;
} seg;

typedef struct {
    seg *v;
    size_t n, cap;
    size_t dropped;   /* pushes that found no memory (popped first), so pops always match */
} path;

struct cf_validator {
    const cf_json *root;
    smap resources, anchors, dynanchors;
    pmap base;      /* schema node -> base URI (char*, owned via strs) */
    pmap regexes;   /* pattern string node -> cf_regex* */
    pmap refs;      /* $ref string node -> target schema node */
    char **strs;
    size_t nstrs, capstrs;
    int track;      /* unevaluated* present: annotations are needed */
    int dialect;    /* 4, 6, 7, 2019, 2020: from the root's $schema (default 2020) */
    unsigned flags;
    /* per check */
    cf_err *why;
    int have_err, quiet, depth;
    path ipath, spath;
    const char **scope;
    size_t nscope, capscope;
    cf_err build_err;
};

/* A keyword of the schema if the dialect has it. */
static const cf_json *kw(const cf_validator *v, const cf_json *s, const char *name, int since) {
    return v->dialect >= since ? cf_json_get(s, name) : NULL;
}

static const char *own(cf_validator *v, char *s) {
    if (!s) return NULL;
    if (v->nstrs == v->capstrs) {
        size_t nc = v->capstrs ? v->capstrs * 2 : 32;
        char **ns = realloc(v->strs, nc * sizeof *ns);
        if (!ns) {
            free(s);
            return NULL;
        }
        v->strs = ns;
        v->capstrs = nc;
    }
    v->strs[v->nstrs++] = s;
    return s;
}

static int path_push(path *p, const char *s, size_t len, size_t idx) {
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 32;
        seg *nv = p->dropped ? NULL : realloc(p->v, nc * sizeof *nv);
        if (!nv) {
            p->dropped++;   /* the message loses a segment; nothing else breaks */
            return 0;
        }
        p->v = nv;
        p->cap = nc;
    }
    p->v[p->n++] = (seg){s, len, idx};
    return 0;
}

static void path_pop(path *p) {
    if (p->dropped) p->dropped--;
    else if (p->n) p->n--;
}

static void path_str(const path *p, char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < p->n && o + 8 < cap; i++) {
        out[o++] = '/';
        if (!p->v[i].s) {
            o += (size_t)snprintf(out + o, cap - o, "%zu", p->v[i].idx);
            continue;
        }
        for (size_t k = 0; k < p->v[i].len && o + 4 < cap; k++) {
            char c = p->v[i].s[k];
            if (c == '~') out[o++] = '~', out[o++] = '0';
            else if (c == '/') out[o++] = '~', out[o++] = '1';
            else out[o++] = c;
        }
        out[o] = 0;
    }
    if (o >= cap) o = cap - 1;
    out[o] = 0;
}

/* Records the first instance failure (outside quiet sub-evaluations); returns 0 (invalid). */
static int fail(cf_validator *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(cf_validator *v, const char *fmt, ...) {
    if (v->quiet || v->have_err || !v->why) return 0;
    char ip[200], sp[200], what[300];
    path_str(&v->ipath, ip, sizeof ip);
    path_str(&v->spath, sp, sizeof sp);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *kw = v->spath.n && v->spath.v[v->spath.n - 1].s ? v->spath.v[v->spath.n - 1].s : "schema";
    size_t kl = v->spath.n && v->spath.v[v->spath.n - 1].s ? v->spath.v[v->spath.n - 1].len : 6;
    cf_errf(v->why, CF_EINVAL, "at %s: %.*s (schema %s): %s", ip[0] ? ip : "(root)", (int)(kl > 60 ? 60 : kl), kw,
            sp[0] ? sp : "(root)", what);
    v->have_err = 1;
    return 0;
}

/* A problem with the schema itself: always recorded; returns -code. */
static int serr(cf_validator *v, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int serr(cf_validator *v, int code, const char *fmt, ...) {
    char sp[200], what[300];
    path_str(&v->spath, sp, sizeof sp);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    cf_errf(v->why, code, "schema %s: %s", sp[0] ? sp : "(root)", what);
    v->have_err = 1;
    return -code;
}

/* ---- index ------------------------------------------------------------------------------- */

static const char *const SUB_ONE[] = {"additionalProperties", "propertyNames", "contains", "additionalItems",
                                      "unevaluatedItems", "unevaluatedProperties", "not", "if", "then", "else",
                                      "items"};
static const char *const SUB_MAP[] = {"properties", "patternProperties", "$defs", "definitions",
                                      "dependentSchemas", "dependencies"};
static const char *const SUB_ARR[] = {"allOf", "anyOf", "oneOf", "prefixItems", "items"};

static int index_walk(cf_validator *v, const cf_json *s, const char *base, int depth) {
    if (depth > CF_SCHEMA_MAX_DEPTH)
        return cf_errf(&v->build_err, CF_ELIMIT, "schema nested deeper than %d", CF_SCHEMA_MAX_DEPTH);
    if (s->type == CF_JSON_BOOL) return pmap_put(&v->base, s, (void *)base) ? CF_ENOMEM : 0;
    if (s->type != CF_JSON_OBJECT) return 0;
    const cf_json *id = cf_json_get(s, v->dialect == 4 ? "id" : "$id");
    if (id && id->type == CF_JSON_STRING && id->len) {
        if (id->str[0] == '#') {   /* draft 6/7 plain-name fragment id = anchor */
            char *k = uri_resolve(base, id->str);
            int rc = !k || smap_put(&v->anchors, k, s);
            free(k);
            if (rc) return CF_ENOMEM;
        } else {
            char *nb = uri_resolve(base, id->str);
            if (!nb) return CF_ENOMEM;
            char *h = strchr(nb, '#');
            if (h) *h = 0;
            base = own(v, nb);
            if (!base || smap_put(&v->resources, base, s)) return CF_ENOMEM;
        }
    }
    if (pmap_put(&v->base, s, (void *)base)) return CF_ENOMEM;
    const char *akeys[2] = {"$anchor", "$dynamicAnchor"};
    for (int a = 0; a < 2; a++) {
        const cf_json *an = cf_json_get(s, akeys[a]);
        if (!an || an->type != CF_JSON_STRING) continue;
        size_t bl = strlen(base);
        char *k = malloc(bl + an->len + 2);
        if (!k) return CF_ENOMEM;
        memcpy(k, base, bl);
        k[bl] = '#';
        memcpy(k + bl + 1, an->str, an->len + 1);
        int rc = smap_put(&v->anchors, k, s) || (a == 1 && smap_put(&v->dynanchors, k, s));
        free(k);
        if (rc) return CF_ENOMEM;
    }
    if (kw(v, s, "unevaluatedProperties", 2019) || kw(v, s, "unevaluatedItems", 2019)) v->track = 1;
    int rc;
    for (size_t i = 0; i < sizeof SUB_ONE / sizeof *SUB_ONE; i++) {
        const cf_json *c = cf_json_get(s, SUB_ONE[i]);
        if (c && (c->type == CF_JSON_OBJECT || c->type == CF_JSON_BOOL) && (rc = index_walk(v, c, base, depth + 1)))
            return rc;
    }
    for (size_t i = 0; i < sizeof SUB_MAP / sizeof *SUB_MAP; i++) {
        const cf_json *m = cf_json_get(s, SUB_MAP[i]);
        if (!m || m->type != CF_JSON_OBJECT) continue;
        for (size_t k = 0; k < m->len; k++)
            if ((rc = index_walk(v, m->items[k], base, depth + 1))) return rc;
    }
    for (size_t i = 0; i < sizeof SUB_ARR / sizeof *SUB_ARR; i++) {
        const cf_json *a = cf_json_get(s, SUB_ARR[i]);
        if (!a || a->type != CF_JSON_ARRAY) continue;
        for (size_t k = 0; k < a->len; k++)
            if ((rc = index_walk(v, a->items[k], base, depth + 1))) return rc;
    }
    return 0;
}

void cf_validator_free(cf_validator *v) {
    if (!v) return;
    smap_free(&v->resources);
    smap_free(&v->anchors);
    smap_free(&v->dynanchors);
    for (size_t i = 0; i < v->regexes.cap; i++)
        if (v->regexes.e[i].k) cf_regex_free(v->regexes.e[i].v);
    pmap_free(&v->regexes);
    pmap_free(&v->base);
    pmap_free(&v->refs);
    for (size_t i = 0; i < v->nstrs; i++) free(v->strs[i]);
    free(v->strs);
    free(v->ipath.v);
    free(v->spath.v);
    free(v->scope);
    free(v);
}

int cf_validator_new(const cf_json *schema_root, cf_validator **out, cf_err *err) {
    return cf_validator_new_opts(schema_root, 0, out, err);
}

int cf_validator_new_opts(const cf_json *schema_root, unsigned flags, cf_validator **out, cf_err *err) {
    *out = NULL;
    if (!schema_root) return cf_errf(err, CF_EINVAL, "cf_validator_new: NULL schema");
    if (schema_root->type != CF_JSON_OBJECT && schema_root->type != CF_JSON_BOOL)
        return cf_errf(err, CF_EFORMAT, "schema (root): a schema must be an object or a boolean");
    cf_validator *v = calloc(1, sizeof *v);
    if (!v) return cf_errf(err, CF_ENOMEM, "out of memory");
    v->root = schema_root;
    v->flags = flags;
    v->dialect = 2020;
    const cf_json *sch = schema_root->type == CF_JSON_OBJECT ? cf_json_get(schema_root, "$schema") : NULL;
    if (sch && sch->type == CF_JSON_STRING) {
        if (strstr(sch->str, "draft-03") || strstr(sch->str, "draft-04")) v->dialect = 4;
        else if (strstr(sch->str, "draft-06")) v->dialect = 6;
        else if (strstr(sch->str, "draft-07")) v->dialect = 7;
        else if (strstr(sch->str, "2019-09")) v->dialect = 2019;
    }
    int rc = smap_put(&v->resources, DEFAULT_BASE, schema_root) ? CF_ENOMEM : 0;
    if (!rc) rc = index_walk(v, schema_root, DEFAULT_BASE, 0);
    if (rc) {
        if (rc == CF_ENOMEM) cf_errf(err, CF_ENOMEM, "out of memory indexing the schema");
        else if (err) *err = v->build_err;
        cf_validator_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* ---- numbers ----------------------------------------------------------------------------- */

/* A number lexeme as digits D (no leading zeros) * 10^exp. */
typedef struct {
    char d[64];   /* first 63 significant digits */
    size_t nd;    /* total significant digits (may exceed 63: then inexact) */
    long exp;
    int neg, zero;
} dnum;

static void dnum_parse(const char *t, dnum *x) {
    memset(x, 0, sizeof *x);
    if (*t == '-') x->neg = 1, t++;
    long fracdigits = 0;
    int seen_nz = 0, in_frac = 0;
    size_t trailing_zeros = 0;
    for (; *t && *t != 'e' && *t != 'E'; t++) {
        if (*t == '.') {
            in_frac = 1;
            continue;
        }
        if (in_frac) fracdigits++;
        if (*t == '0' && !seen_nz) continue;
        seen_nz = 1;
        if (x->nd < sizeof x->d - 1) x->d[x->nd] = *t;
        x->nd++;
        trailing_zeros = *t == '0' ? trailing_zeros + 1 : 0;
    }
    long e = 0;
    if (*t == 'e' || *t == 'E') {
        t++;
        int en = 0;
        if (*t == '+' || *t == '-') en = *t++ == '-';
        for (; is_digit(*t); t++)
            if (e < 100000000) e = e * 10 + (*t - '0');
        if (en) e = -e;
    }
    if (!x->nd) {
        x->zero = 1;
        return;
    }
    /* strip trailing zeros into the exponent */
    x->nd -= trailing_zeros;
    if (x->nd < sizeof x->d) x->d[x->nd] = 0;
    x->exp = e - fracdigits + (long)trailing_zeros;
}

static int num_is_integral(const cf_json *n) {
    if (n->is_int) return 1;
    if (!n->num_text) return n->num == floor(n->num) && isfinite(n->num);
    dnum x;
    dnum_parse(n->num_text, &x);
    return x.zero || x.exp >= 0;
}

/* 1 if x is an integer multiple of m (m > 0), exactly when possible. */
static int multiple_of(const cf_json *xn, const cf_json *mn) {
    if (xn->num_text && mn->num_text) {
        dnum x, m;
        dnum_parse(xn->num_text, &x);
        dnum_parse(mn->num_text, &m);
        if (x.zero) return 1;
        if (x.nd < sizeof x.d && m.nd <= 18) {
            long e = x.exp < m.exp ? x.exp : m.exp;
            long xz = x.exp - e, mz = m.exp - e;
            if (mz + (long)m.nd <= 18 && xz <= 100000) {
                uint64_t M = 0;
                for (size_t i = 0; i < m.nd; i++) M = M * 10 + (uint64_t)(m.d[i] - '0');
                for (long i = 0; i < mz; i++) M *= 10;
                unsigned __int128 r = 0;
                for (size_t i = 0; i < x.nd; i++) r = (r * 10 + (unsigned)(x.d[i] - '0')) % M;
                for (long i = 0; i < xz && r; i++) r = (r * 10) % M;
                return r == 0;
            }
            if (m.exp > x.exp + (long)x.nd) return 0;   /* |m| > |x| */
        }
    }
    double q = xn->num / mn->num;
    if (!isfinite(q)) return 0;
    return fabs(q - nearbyint(q)) <= 1e-9 * (fabs(q) > 1 ? fabs(q) : 1);
}


/* ---- evaluation -------------------------------------------------------------------------- */

static size_t cp_count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* draft-04: an integer is written without fraction or exponent; later: any integral value. */
static int is_integer(const cf_validator *v, const cf_json *x) {
    if (v->dialect == 4 && x->num_text) return !strpbrk(x->num_text, ".eE");
    return num_is_integral(x);
}

static const char *type_name(const cf_validator *v, const cf_json *x) {
    switch (x->type) {
    case CF_JSON_NULL: return "null";
    case CF_JSON_BOOL: return "boolean";
    case CF_JSON_NUMBER: return is_integer(v, x) ? "integer" : "number";
    case CF_JSON_STRING: return "string";
    case CF_JSON_ARRAY: return "array";
    case CF_JSON_OBJECT: return "object";
    }
    return "?";
}

static int type_is(const cf_validator *v, const cf_json *x, const char *t, size_t tl) {
    if (tl == 7 && !memcmp(t, "integer", 7)) return x->type == CF_JSON_NUMBER && is_integer(v, x);
    if (tl == 6 && !memcmp(t, "number", 6)) return x->type == CF_JSON_NUMBER;
    const char *n = type_name(v, x);
    if (x->type == CF_JSON_NUMBER) return 0;
    return strlen(n) == tl && !memcmp(n, t, tl);
}

static int eval(cf_validator *v, const cf_json *s, const cf_json *x, const char *base, uint8_t *ann);

/* Evaluates s against a child of the instance (key or index pushed on the instance path). */
static int eval_child(cf_validator *v, const cf_json *s, const cf_json *x, const char *base, const char *key, size_t kl,
                      size_t idx) {
    path_push(&v->ipath, key, kl, idx);
    uint8_t *ann = NULL;
    if (v->track && (x->type == CF_JSON_OBJECT || x->type == CF_JSON_ARRAY) && x->len) {
        ann = calloc(x->len, 1);
        if (!ann) return serr(v, CF_ENOMEM, "out of memory");
    }
    int r = eval(v, s, x, base, ann);
    free(ann);
    path_pop(&v->ipath);
    return r;
}

/* Evaluates a subschema in place (same instance); merges its annotations into ann if valid. */
static int eval_inplace(cf_validator *v, const cf_json *s, const cf_json *x, const char *base, uint8_t *ann) {
    if (!ann) return eval(v, s, x, base, NULL);
    uint8_t *sub = calloc(x->len, 1);
    if (!sub) return serr(v, CF_ENOMEM, "out of memory");
    int r = eval(v, s, x, base, sub);
    if (r == 1)
        for (size_t i = 0; i < x->len; i++) ann[i] |= sub[i];
    free(sub);
    return r;
}

#define SPUSH(v, k) path_push(&(v)->spath, (k), strlen(k), 0)
#define SPUSHN(v, k, n) path_push(&(v)->spath, (k), (n), 0)
#define SPUSHI(v, i) path_push(&(v)->spath, NULL, 0, (i))
#define SPOP(v) path_pop(&(v)->spath)

static cf_regex *get_regex(cf_validator *v, const cf_json *pat, int *rc) {
    cf_regex *re = pmap_get(&v->regexes, pat);
    *rc = 0;
    if (re) return re;
    cf_err e;
    if (cf_regex_compile(pat->str, pat->len, CF_RE_SEARCH | CF_RE_BACKTRACK, &re, &e)) {
        *rc = serr(v, e.code, "pattern /%.80s/: %s", pat->str, e.msg);
        return NULL;
    }
    if (pmap_put(&v->regexes, pat, re)) {
        cf_regex_free(re);
        *rc = serr(v, CF_ENOMEM, "out of memory");
        return NULL;
    }
    return re;
}

/* Resolves a $ref / $dynamicRef string node; *tbase gets the target's base URI. */
static const cf_json *resolve_ref(cf_validator *v, const cf_json *ref, const char *base, int dynamic,
                                  const char **tbase, int *rc) {
    *rc = 0;
    char *abs = uri_resolve(base, ref->str);
    if (!abs) {
        *rc = serr(v, CF_ENOMEM, "out of memory");
        return NULL;
    }
    char *h = strchr(abs, '#');
    const char *frag = "";
    if (h) {
        *h = 0;
        frag = h + 1;
    }
    const cf_json *res = smap_get(&v->resources, abs);
    const cf_json *t = NULL;
    const char *rbase = NULL;
    if (res) {
        rbase = pmap_get(&v->base, res);
        if (!frag[0]) {
            t = res;
        } else if (frag[0] == '/') {
            t = cf_json_pointer_uri(res, frag);
        } else {
            h[0] = '#';
            t = smap_get(&v->anchors, abs);
            h[0] = 0;
            if (t && dynamic) {
                const cf_json *da = cf_json_get(t, "$dynamicAnchor");
                if (da && da->type == CF_JSON_STRING && !strcmp(da->str, frag)) {
                    /* dynamic: the outermost scope resource with this dynamic anchor wins */
                    for (size_t i = 0; i < v->nscope; i++) {
                        size_t bl = strlen(v->scope[i]), fl = strlen(frag);
                        char *k = malloc(bl + fl + 2);
                        if (!k) break;
                        memcpy(k, v->scope[i], bl);
                        k[bl] = '#';
                        memcpy(k + bl + 1, frag, fl + 1);
                        const cf_json *d = smap_get(&v->dynanchors, k);
                        free(k);
                        if (d) {
                            t = d;
                            break;
                        }
                    }
                }
            }
        }
    }
    if (!t && res && frag[0]) {
        /* lenient fallback for generated schemas whose $id values move the base away from the
         * document that holds the definitions: the fragment against the root document */
        if (frag[0] == '/') {
            t = cf_json_pointer_uri(v->root, frag);
        } else {
            size_t fl = strlen(frag);
            char *k = malloc(sizeof DEFAULT_BASE + fl + 1);
            if (k) {
                memcpy(k, DEFAULT_BASE "#", sizeof DEFAULT_BASE);
                memcpy(k + sizeof DEFAULT_BASE, frag, fl + 1);
                t = smap_get(&v->anchors, k);
                free(k);
            }
        }
        if (t) rbase = pmap_get(&v->base, v->root);
    }
    if (!t) {
        if (h) h[0] = '#';
        *rc = res ? serr(v, CF_EFORMAT, "unresolvable reference '%.200s' (resolved to %.200s)", ref->str, abs)
                  : serr(v, CF_EUNSUPPORTED, "reference '%.200s' points to another document (%.200s): remote references are not supported",
                         ref->str, abs);
        free(abs);
        return NULL;
    }
    const char *tb = pmap_get(&v->base, t);
    *tbase = tb ? tb : rbase ? rbase : DEFAULT_BASE;
    free(abs);
    return t;
}

/* Number keywords. */
static int eval_number(cf_validator *v, const cf_json *s, const cf_json *x) {
    const cf_json *k;
    const cf_json *emin = cf_json_get(s, "exclusiveMinimum"), *emax = cf_json_get(s, "exclusiveMaximum");
    if ((k = cf_json_get(s, "minimum")) && k->type == CF_JSON_NUMBER) {
        int excl = emin && emin->type == CF_JSON_BOOL && emin->b;   /* draft 4 */
        int c = cf_json_num_cmp(x, k);
        if (c < 0 || (excl && c == 0)) {
            SPUSH(v, "minimum");
            fail(v, "%s is %s %s", x->num_text, excl ? "not greater than" : "less than", k->num_text);
            SPOP(v);
            return 0;
        }
    }
    if ((k = cf_json_get(s, "maximum")) && k->type == CF_JSON_NUMBER) {
        int excl = emax && emax->type == CF_JSON_BOOL && emax->b;
        int c = cf_json_num_cmp(x, k);
        if (c > 0 || (excl && c == 0)) {
            SPUSH(v, "maximum");
            fail(v, "%s is %s %s", x->num_text, excl ? "not less than" : "greater than", k->num_text);
            SPOP(v);
            return 0;
        }
    }
    if (emin && emin->type == CF_JSON_NUMBER && cf_json_num_cmp(x, emin) <= 0) {
        SPUSH(v, "exclusiveMinimum");
        fail(v, "%s is not greater than %s", x->num_text, emin->num_text);
        SPOP(v);
        return 0;
    }
    if (emax && emax->type == CF_JSON_NUMBER && cf_json_num_cmp(x, emax) >= 0) {
        SPUSH(v, "exclusiveMaximum");
        fail(v, "%s is not less than %s", x->num_text, emax->num_text);
        SPOP(v);
        return 0;
    }
    if ((k = cf_json_get(s, "multipleOf")) && k->type == CF_JSON_NUMBER) {
        SPUSH(v, "multipleOf");
        if (!(k->num > 0)) {
            int r = serr(v, CF_EFORMAT, "multipleOf must be greater than 0");
            SPOP(v);
            return r;
        }
        int ok = multiple_of(x, k);
        if (!ok) fail(v, "%s is not a multiple of %s", x->num_text, k->num_text);
        SPOP(v);
        if (!ok) return 0;
    }
    return 1;
}

static int eval_string(cf_validator *v, const cf_json *s, const cf_json *x) {
    const cf_json *k;
    size_t ncp = (size_t)-1;
    if ((k = cf_json_get(s, "minLength")) && k->type == CF_JSON_NUMBER) {
        ncp = cp_count(x->str, x->len);
        if ((double)ncp < k->num) {
            SPUSH(v, "minLength");
            fail(v, "%zu code points, fewer than %s", ncp, k->num_text);
            SPOP(v);
            return 0;
        }
    }
    if ((k = cf_json_get(s, "maxLength")) && k->type == CF_JSON_NUMBER) {
        if (ncp == (size_t)-1) ncp = cp_count(x->str, x->len);
        if ((double)ncp > k->num) {
            SPUSH(v, "maxLength");
            fail(v, "%zu code points, more than %s", ncp, k->num_text);
            SPOP(v);
            return 0;
        }
    }
    if ((k = cf_json_get(s, "pattern")) && k->type == CF_JSON_STRING) {
        SPUSH(v, "pattern");
        int rc;
        cf_regex *re = get_regex(v, k, &rc);
        if (!re) {
            SPOP(v);
            return rc;
        }
        int ok = cf_regex_match(re, x->str, x->len);
        if (ok < 0) {
            int r = serr(v, CF_ELIMIT, "pattern /%.80s/: backtracking cap hit on a %zu-byte string", k->str, x->len);
            SPOP(v);
            return r;
        }
        if (!ok) fail(v, "\"%.60s\" does not match /%.80s/", x->str, k->str);
        SPOP(v);
        if (!ok) return 0;
    }
    if (!(v->flags & CF_VALIDATE_FORMAT_ANNOTATION) && (k = cf_json_get(s, "format")) && k->type == CF_JSON_STRING) {
        int ok = cf_format_check(k->str, x->str, x->len);
        if (ok == 0) {
            SPUSH(v, "format");
            fail(v, "\"%.60s\" is not a valid %s", x->str, k->str);
            SPOP(v);
            return 0;
        }
    }
    return 1;
}

/* A hash consistent with cf_json_equal (1 == 1.0, member order ignored). */
static uint64_t json_hash(const cf_json *x) {
    uint64_t h = 0x9e3779b97f4a7c15ull * (uint64_t)(x->type + 1);
    switch (x->type) {
    case CF_JSON_NULL: return h;
    case CF_JSON_BOOL: return h ^ (uint64_t)(x->b != 0);
    case CF_JSON_NUMBER: {
        if (!x->num_text) return h ^ (uint64_t)(int64_t)x->num;   /* coarse: equal values collide */
        dnum d;
        dnum_parse(x->num_text, &d);
        if (d.zero) return h;
        h ^= (uint64_t)d.neg * 0x51ed27;
        h = (h ^ (uint64_t)d.exp) * 0x100000001b3ull;
        for (size_t i = 0; i < d.nd && i < sizeof d.d - 1; i++) h = (h ^ (unsigned char)d.d[i]) * 0x100000001b3ull;
        return h;
    }
    case CF_JSON_STRING:
        for (size_t i = 0; i < x->len; i++) h = (h ^ (unsigned char)x->str[i]) * 0x100000001b3ull;
        return h;
    case CF_JSON_ARRAY:
        for (size_t i = 0; i < x->len; i++) h = (h ^ json_hash(x->items[i])) * 0x100000001b3ull + 17;
        return h;
    case CF_JSON_OBJECT: {
        uint64_t sum = 0;   /* order-independent (duplicate keys: coarse but consistent) */
        for (size_t i = 0; i < x->len; i++) {
            uint64_t kh = 1469598103934665603ull;
            for (size_t c = 0; c < x->key_lens[i]; c++) kh = (kh ^ (unsigned char)x->keys[i][c]) * 0x100000001b3ull;
            if (cf_json_get(x, x->keys[i]) != x->items[i]) continue;   /* shadowed duplicate */
            sum += kh * 31 + json_hash(x->items[i]);
        }
        return h ^ sum;
    }
    }
    return h;
}

typedef struct {
    uint64_t h;
    size_t i;
} hidx;

static int cmp_hidx(const void *a, const void *b) {
    const hidx *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* 1 and the first pair found if two items are equal; 0 if none; -1 on OOM.  O(n log n). */
static int find_duplicate(const cf_json *x, size_t *a, size_t *b) {
    hidx *hs = malloc(x->len * sizeof *hs);
    if (!hs) return -1;
    for (size_t i = 0; i < x->len; i++) hs[i] = (hidx){json_hash(x->items[i]), i};
    qsort(hs, x->len, sizeof *hs, cmp_hidx);
    int found = 0;
    for (size_t i = 0; i < x->len && !found; i++)
        for (size_t j = i + 1; j < x->len && hs[j].h == hs[i].h && !found; j++)
            if (cf_json_equal(x->items[hs[i].i], x->items[hs[j].i])) {
                *a = hs[i].i;
                *b = hs[j].i;
                found = 1;
            }
    free(hs);
    return found;
}

static int eval_array(cf_validator *v, const cf_json *s, const cf_json *x, const char *base, uint8_t *ann) {
    const cf_json *k;
    int r;
    size_t n = x->len;
    if ((k = cf_json_get(s, "minItems")) && k->type == CF_JSON_NUMBER && (double)n < k->num) {
        SPUSH(v, "minItems");
        fail(v, "%zu items, fewer than %s", n, k->num_text);
        SPOP(v);
        return 0;
    }
    if ((k = cf_json_get(s, "maxItems")) && k->type == CF_JSON_NUMBER && (double)n > k->num) {
        SPUSH(v, "maxItems");
        fail(v, "%zu items, more than %s", n, k->num_text);
        SPOP(v);
        return 0;
    }
    if ((k = cf_json_get(s, "uniqueItems")) && k->type == CF_JSON_BOOL && k->b && n > 1) {
        size_t a, b;
        int d = find_duplicate(x, &a, &b);
        if (d < 0) return serr(v, CF_ENOMEM, "out of memory");
        if (d) {
            SPUSH(v, "uniqueItems");
            fail(v, "items %zu and %zu are equal", a, b);
            SPOP(v);
            return 0;
        }
    }
    /* prefixItems, or draft-7 array-form items */
    const cf_json *items = cf_json_get(s, "items");
    const cf_json *prefix = kw(v, s, "prefixItems", 2020);
    const char *pname = "prefixItems";
    if (items && items->type == CF_JSON_ARRAY) prefix = items, pname = "items";
    size_t np = 0;
    if (prefix && prefix->type == CF_JSON_ARRAY) {
        np = prefix->len < n ? prefix->len : n;
        SPUSH(v, pname);
        for (size_t i = 0; i < np; i++) {
            SPUSHI(v, i);
            r = eval_child(v, prefix->items[i], x->items[i], base, NULL, 0, i);
            SPOP(v);
            if (r <= 0) return SPOP(v), r;
            if (ann) ann[i] = 1;
        }
        SPOP(v);
    }
    const cf_json *rest = NULL;
    const char *rname = NULL;
    if (items && items->type != CF_JSON_ARRAY) rest = items, rname = "items";
    else if (items && items->type == CF_JSON_ARRAY) rest = cf_json_get(s, "additionalItems"), rname = "additionalItems";
    if (rest) {
        SPUSH(v, rname);
        for (size_t i = np; i < n; i++) {
            r = eval_child(v, rest, x->items[i], base, NULL, 0, i);
            if (r <= 0) return SPOP(v), r;
            if (ann) ann[i] = 1;
        }
        SPOP(v);
    }
    if ((k = kw(v, s, "contains", 6))) {
        const cf_json *mn = kw(v, s, "minContains", 2019), *mx = kw(v, s, "maxContains", 2019);
        double lo = mn && mn->type == CF_JSON_NUMBER ? mn->num : 1, hi = mx && mx->type == CF_JSON_NUMBER ? mx->num : INFINITY;
        size_t cnt = 0;
        SPUSH(v, "contains");
        v->quiet++;
        for (size_t i = 0; i < n; i++) {
            r = eval_child(v, k, x->items[i], base, NULL, 0, i);
            if (r < 0) return v->quiet--, SPOP(v), r;
            if (r) {
                cnt++;
                if (ann) ann[i] = 1;
            }
        }
        v->quiet--;
        if ((double)cnt < lo) {
            if (mn) SPOP(v), SPUSH(v, "minContains");
            fail(v, "%zu items match 'contains', fewer than %g", cnt, lo);
            SPOP(v);
            return 0;
        }
        if ((double)cnt > hi) {
            SPOP(v);
            SPUSH(v, "maxContains");
            fail(v, "%zu items match 'contains', more than %g", cnt, hi);
            SPOP(v);
            return 0;
        }
        SPOP(v);
    }
    return 1;
}

/* The compiled regex of patternProperties key j (cached by the key's slot address). */
static cf_regex *key_regex(cf_validator *v, const cf_json *pp, size_t j, int *rc) {
    *rc = 0;
    cf_regex *re = pmap_get(&v->regexes, &pp->keys[j]);
    if (re) return re;
    cf_err e;
    if (cf_regex_compile(pp->keys[j], pp->key_lens[j], CF_RE_SEARCH | CF_RE_BACKTRACK, &re, &e)) {
        SPUSH(v, "patternProperties");
        *rc = serr(v, e.code, "pattern /%.80s/: %s", pp->keys[j], e.msg);
        SPOP(v);
        return NULL;
    }
    if (pmap_put(&v->regexes, &pp->keys[j], re)) {
        cf_regex_free(re);
        *rc = serr(v, CF_ENOMEM, "out of memory");
        return NULL;
    }
    return re;
}

static int eval_object(cf_validator *v, const cf_json *s, const cf_json *x, const char *base, uint8_t *ann) {
    const cf_json *k;
    int r;
    size_t n = x->len;
    if ((k = cf_json_get(s, "minProperties")) && k->type == CF_JSON_NUMBER && (double)n < k->num) {
        SPUSH(v, "minProperties");
        fail(v, "%zu properties, fewer than %s", n, k->num_text);
        SPOP(v);
        return 0;
    }
    if ((k = cf_json_get(s, "maxProperties")) && k->type == CF_JSON_NUMBER && (double)n > k->num) {
        SPUSH(v, "maxProperties");
        fail(v, "%zu properties, more than %s", n, k->num_text);
        SPOP(v);
        return 0;
    }
    if ((k = cf_json_get(s, "required")) && k->type == CF_JSON_ARRAY) {
        for (size_t i = 0; i < k->len; i++) {
            const cf_json *name = k->items[i];
            if (name->type == CF_JSON_STRING && !cf_json_get(x, name->str)) {
                SPUSH(v, "required");
                fail(v, "required property \"%.80s\" is missing", name->str);
                SPOP(v);
                return 0;
            }
        }
    }
    const cf_json *dr = kw(v, s, "dependentRequired", 2019), *deps = cf_json_get(s, "dependencies");
    for (int pass = 0; pass < 2; pass++) {
        const cf_json *d = pass ? deps : dr;
        if (!d || d->type != CF_JSON_OBJECT) continue;
        for (size_t i = 0; i < d->len; i++) {
            if (d->items[i]->type != CF_JSON_ARRAY || !cf_json_get(x, d->keys[i])) continue;
            for (size_t j = 0; j < d->items[i]->len; j++) {
                const cf_json *name = d->items[i]->items[j];
                if (name->type == CF_JSON_STRING && !cf_json_get(x, name->str)) {
                    SPUSH(v, pass ? "dependencies" : "dependentRequired");
                    fail(v, "property \"%.60s\" requires \"%.60s\"", d->keys[i], name->str);
                    SPOP(v);
                    return 0;
                }
            }
        }
    }
    const cf_json *props = cf_json_get(s, "properties");
    const cf_json *pp = cf_json_get(s, "patternProperties");
    const cf_json *ap = cf_json_get(s, "additionalProperties");
    if (props && props->type != CF_JSON_OBJECT) props = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *key = x->keys[i];
        size_t kl = x->key_lens[i];
        int matched = 0;
        const cf_json *ps = props ? cf_json_get(props, key) : NULL;
        if (ps && strlen(key) != kl) ps = NULL;   /* keys with NUL bytes cannot be named */
        if (ps) {
            matched = 1;
            SPUSH(v, "properties");
            SPUSHN(v, key, kl);
            r = eval_child(v, ps, x->items[i], base, key, kl, 0);
            SPOP(v);
            SPOP(v);
            if (r <= 0) return r;
        }
        if (pp && pp->type == CF_JSON_OBJECT) {
            for (size_t j = 0; j < pp->len; j++) {
                int rc;
                cf_regex *re = key_regex(v, pp, j, &rc);
                if (!re) return rc;
                int m = cf_regex_match(re, key, kl);
                if (m < 0) {
                    SPUSH(v, "patternProperties");
                    int r2 = serr(v, CF_ELIMIT, "pattern /%.80s/: backtracking cap hit", pp->keys[j]);
                    SPOP(v);
                    return r2;
                }
                if (!m) continue;
                matched = 1;
                SPUSH(v, "patternProperties");
                SPUSHN(v, pp->keys[j], pp->key_lens[j]);
                r = eval_child(v, pp->items[j], x->items[i], base, key, kl, 0);
                SPOP(v);
                SPOP(v);
                if (r <= 0) return r;
            }
        }
        if (!matched && ap) {
            SPUSH(v, "additionalProperties");
            if (ap->type == CF_JSON_BOOL && !ap->b) {
                path_push(&v->ipath, key, kl, 0);
                fail(v, "property \"%.80s\" is not allowed", key);
                path_pop(&v->ipath);
                SPOP(v);
                return 0;
            }
            r = eval_child(v, ap, x->items[i], base, key, kl, 0);
            SPOP(v);
            if (r <= 0) return r;
            matched = 1;
        }
        if (matched && ann) ann[i] = 1;
    }
    if ((k = kw(v, s, "propertyNames", 6))) {
        SPUSH(v, "propertyNames");
        for (size_t i = 0; i < n; i++) {
            cf_json name = {.type = CF_JSON_STRING, .str = x->keys[i], .len = x->key_lens[i]};
            r = eval_child(v, k, &name, base, x->keys[i], x->key_lens[i], 0);
            if (r <= 0) return SPOP(v), r;
        }
        SPOP(v);
    }
    for (int pass = 0; pass < 2; pass++) {
        const cf_json *d = pass ? deps : kw(v, s, "dependentSchemas", 2019);
        if (!d || d->type != CF_JSON_OBJECT) continue;
        for (size_t i = 0; i < d->len; i++) {
            const cf_json *ds = d->items[i];
            if (ds->type != CF_JSON_OBJECT && ds->type != CF_JSON_BOOL) continue;
            if (!cf_json_get(x, d->keys[i])) continue;
            SPUSH(v, pass ? "dependencies" : "dependentSchemas");
            SPUSHN(v, d->keys[i], d->key_lens[i]);
            r = eval_inplace(v, ds, x, base, ann);
            SPOP(v);
            SPOP(v);
            if (r <= 0) return r;
        }
    }
    return 1;
}

static int eval_body(cf_validator *v, const cf_json *s, const cf_json *x, const char *base, uint8_t *ann) {
    const cf_json *k;
    int r;
    /* $ref / $dynamicRef */
    static const char *const refkw[2] = {"$ref", "$dynamicRef"};
    for (int d = 0; d < 2; d++) {
        if (!(k = kw(v, s, refkw[d], d ? 2020 : 4)) || k->type != CF_JSON_STRING) continue;
        SPUSH(v, refkw[d]);
        const char *tb;
        int rc;
        const cf_json *t = d ? NULL : pmap_get(&v->refs, k);
        if (t) {
            tb = pmap_get(&v->base, t);
            if (!tb) t = NULL;
        }
        if (!t) {
            t = resolve_ref(v, k, base, d, &tb, &rc);
            if (!t) return SPOP(v), rc;
            /* only static refs are cacheable; keep the base with the node */
            if (!d && pmap_get(&v->base, t) && pmap_put(&v->refs, k, (void *)t)) return SPOP(v), serr(v, CF_ENOMEM, "oom");
        }
        r = eval_inplace(v, t, x, tb, ann);
        SPOP(v);
        if (r <= 0) return r;
        if (v->dialect <= 7) return 1;   /* before 2019-09, $ref replaces its siblings */
    }
    /* type / enum / const */
    if ((k = cf_json_get(s, "type"))) {
        int ok = 0;
        if (k->type == CF_JSON_STRING) ok = type_is(v, x, k->str, k->len);
        else if (k->type == CF_JSON_ARRAY)
            for (size_t i = 0; i < k->len && !ok; i++)
                ok = k->items[i]->type == CF_JSON_STRING && type_is(v, x, k->items[i]->str, k->items[i]->len);
        if (!ok) {
            SPUSH(v, "type");
            char *w = cf_json_write(k, NULL);
            fail(v, "%s is not of type %.100s", type_name(v, x), w ? w : "?");
            free(w);
            SPOP(v);
            return 0;
        }
    }
    if ((k = cf_json_get(s, "enum")) && k->type == CF_JSON_ARRAY) {
        int ok = 0;
        for (size_t i = 0; i < k->len && !ok; i++) ok = cf_json_equal(x, k->items[i]);
        if (!ok) {
            SPUSH(v, "enum");
            fail(v, "value is not one of the %zu enum values", k->len);
            SPOP(v);
            return 0;
        }
    }
    if ((k = kw(v, s, "const", 6)) && !cf_json_equal(x, k)) {
        SPUSH(v, "const");
        fail(v, "value differs from the const");
        SPOP(v);
        return 0;
    }
    /* type-specific keywords */
    if (x->type == CF_JSON_NUMBER && (r = eval_number(v, s, x)) <= 0) return r;
    if (x->type == CF_JSON_STRING && (r = eval_string(v, s, x)) <= 0) return r;
    if (x->type == CF_JSON_ARRAY && (r = eval_array(v, s, x, base, ann)) <= 0) return r;
    if (x->type == CF_JSON_OBJECT && (r = eval_object(v, s, x, base, ann)) <= 0) return r;
    /* applicators */
    if ((k = cf_json_get(s, "allOf")) && k->type == CF_JSON_ARRAY) {
        SPUSH(v, "allOf");
        for (size_t i = 0; i < k->len; i++) {
            SPUSHI(v, i);
            r = eval_inplace(v, k->items[i], x, base, ann);
            SPOP(v);
            if (r <= 0) return SPOP(v), r;
        }
        SPOP(v);
    }
    if ((k = cf_json_get(s, "anyOf")) && k->type == CF_JSON_ARRAY) {
        SPUSH(v, "anyOf");
        int any = 0;
        v->quiet++;
        for (size_t i = 0; i < k->len; i++) {
            if (any && !ann) break;   /* annotations need every branch */
            SPUSHI(v, i);
            r = eval_inplace(v, k->items[i], x, base, ann);
            SPOP(v);
            if (r < 0) return v->quiet--, SPOP(v), r;
            any |= r;
        }
        v->quiet--;
        if (!any) fail(v, "none of the %zu branches matched", k->len);
        SPOP(v);
        if (!any) return 0;
    }
    if ((k = cf_json_get(s, "oneOf")) && k->type == CF_JSON_ARRAY) {
        SPUSH(v, "oneOf");
        size_t nmatch = 0, first = 0, second = 0;
        v->quiet++;
        for (size_t i = 0; i < k->len && nmatch < 2; i++) {
            SPUSHI(v, i);
            r = eval_inplace(v, k->items[i], x, base, ann);
            SPOP(v);
            if (r < 0) return v->quiet--, SPOP(v), r;
            if (r) {
                if (nmatch == 0) first = i;
                else second = i;
                nmatch++;
            }
        }
        v->quiet--;
        if (nmatch == 0) fail(v, "none of the %zu branches matched", k->len);
        if (nmatch > 1) fail(v, "branches %zu and %zu both matched", first, second);
        SPOP(v);
        if (nmatch != 1) return 0;
    }
    if ((k = cf_json_get(s, "not"))) {
        SPUSH(v, "not");
        v->quiet++;
        r = eval_inplace(v, k, x, base, NULL);
        v->quiet--;
        if (r < 0) return SPOP(v), r;
        if (r) fail(v, "the value matches the 'not' schema");
        SPOP(v);
        if (r) return 0;
    }
    if ((k = kw(v, s, "if", 7))) {
        SPUSH(v, "if");
        v->quiet++;
        int c = eval_inplace(v, k, x, base, ann);
        v->quiet--;
        SPOP(v);
        if (c < 0) return c;
        const char *br = c ? "then" : "else";
        const cf_json *b = cf_json_get(s, br);
        if (b) {
            SPUSH(v, br);
            r = eval_inplace(v, b, x, base, ann);
            SPOP(v);
            if (r <= 0) return r;
        }
    }
    /* unevaluated*: after everything else, over what nothing evaluated */
    if (x->type == CF_JSON_ARRAY && (k = kw(v, s, "unevaluatedItems", 2019))) {
        SPUSH(v, "unevaluatedItems");
        for (size_t i = 0; i < x->len; i++) {
            if (ann && ann[i]) continue;
            r = eval_child(v, k, x->items[i], base, NULL, 0, i);
            if (r <= 0) return SPOP(v), r;
            if (ann) ann[i] = 1;
        }
        SPOP(v);
    }
    if (x->type == CF_JSON_OBJECT && (k = kw(v, s, "unevaluatedProperties", 2019))) {
        SPUSH(v, "unevaluatedProperties");
        for (size_t i = 0; i < x->len; i++) {
            if (ann && ann[i]) continue;
            if (k->type == CF_JSON_BOOL && !k->b) {
                path_push(&v->ipath, x->keys[i], x->key_lens[i], 0);
                fail(v, "property \"%.80s\" is not allowed (unevaluated)", x->keys[i]);
                path_pop(&v->ipath);
                SPOP(v);
                return 0;
            }
            r = eval_child(v, k, x->items[i], base, x->keys[i], x->key_lens[i], 0);
            if (r <= 0) return SPOP(v), r;
            if (ann) ann[i] = 1;
        }
        SPOP(v);
    }
    return 1;
}

static int eval(cf_validator *v, const cf_json *s, const cf_json *x, const char *base, uint8_t *ann) {
    if (s->type == CF_JSON_BOOL) {
        if (!s->b) return fail(v, "the schema 'false' allows nothing");
        return 1;   /* a boolean schema produces no annotations */
    }
    if (s->type != CF_JSON_OBJECT) return serr(v, CF_EFORMAT, "a schema must be an object or a boolean");
    if (++v->depth > CF_SCHEMA_MAX_DEPTH) {
        v->depth--;
        return serr(v, CF_ELIMIT, "evaluation nested deeper than %d (a $ref cycle?)", CF_SCHEMA_MAX_DEPTH);
    }
    const char *b = pmap_get(&v->base, s);
    if (!b) b = base;
    int pushed = 0;
    if (!v->nscope || strcmp(v->scope[v->nscope - 1], b)) {
        if (v->nscope == v->capscope) {
            size_t nc = v->capscope ? v->capscope * 2 : 16;
            const char **ns = realloc(v->scope, nc * sizeof *ns);
            if (!ns) return v->depth--, serr(v, CF_ENOMEM, "out of memory");
            v->scope = ns;
            v->capscope = nc;
        }
        v->scope[v->nscope++] = b;
        pushed = 1;
    }
    uint8_t *local = NULL;   /* annotations are collected even where the caller drops them */
    if (!ann && v->track && (x->type == CF_JSON_OBJECT || x->type == CF_JSON_ARRAY) && x->len) {
        ann = local = calloc(x->len, 1);
        if (!local) {
            if (pushed) v->nscope--;
            v->depth--;
            return serr(v, CF_ENOMEM, "out of memory");
        }
    }
    int r = eval_body(v, s, x, b, ann);
    free(local);
    if (pushed) v->nscope--;
    v->depth--;
    return r;
}

int cf_validator_check(cf_validator *v, const cf_json *instance, cf_err *why) {
    v->why = why;
    v->have_err = 0;
    v->quiet = 0;
    v->depth = 0;
    v->ipath.n = v->spath.n = v->ipath.dropped = v->spath.dropped = 0;
    v->nscope = 0;
    uint8_t *ann = NULL;
    if (v->track && (instance->type == CF_JSON_OBJECT || instance->type == CF_JSON_ARRAY) && instance->len) {
        ann = calloc(instance->len, 1);
        if (!ann) return cf_errf(why, CF_ENOMEM, "out of memory");
    }
    const char *b = pmap_get(&v->base, v->root);
    int r = eval(v, v->root, instance, b ? b : DEFAULT_BASE, ann);
    free(ann);
    if (r == 1) return 0;
    if (r == 0) {
        if (!v->have_err) cf_errf(why, CF_EINVAL, "invalid");
        return CF_EINVAL;
    }
    return -r;
}

int cf_schema_validate(const cf_json *schema_root, const cf_json *instance, cf_err *why) {
    cf_validator *v;
    int rc = cf_validator_new(schema_root, &v, why);
    if (rc) return rc;
    rc = cf_validator_check(v, instance, why);
    cf_validator_free(v);
    return rc;
}
