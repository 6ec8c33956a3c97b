/* JSON Schema: expanding a conjunction ($ref, allOf), merging its keywords into one view, and
 * emitting the natives (grammar.h) for the merged view. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/cons_int.h"
#include "sampler/schema_int.h"

static const cf_json *kw(const cf_json *n, const char *k) { return n->type == CF_JSON_OBJECT ? cf_json_get(n, k) : NULL; }

int sc_json_type_bits(const cf_json *x, int int_strict) {
    switch (x->type) {
    case CF_JSON_NULL: return T_NULL;
    case CF_JSON_BOOL: return T_BOOL;
    case CF_JSON_OBJECT: return T_OBJ;
    case CF_JSON_ARRAY: return T_ARR;
    case CF_JSON_STRING: return T_STR;
    case CF_JSON_NUMBER: {
        if (x->is_int) return T_NUM | T_INT;
        if (int_strict) return T_NUM;
        __int128 v;
        int inf;
        if (x->num_text && num_parse_scaled(x->num_text, 0, &v, &inf) == 0 && !inf)
            return (v % (__int128)1000000000000LL) ? T_NUM : (T_NUM | T_INT);
        /* beyond the exact range: a double; every finite one >= 2^53 is integral (and a cast to
         * long long would be undefined beyond 2^63) */
        double d = x->num;
        return (!isfinite(d) || floor(d) == d) ? (T_NUM | T_INT) : T_NUM;
    }
    }
    return 0;
}

static int type_name_bits(const char *s) {
    if (!strcmp(s, "null")) return T_NULL;
    if (!strcmp(s, "boolean")) return T_BOOL;
    if (!strcmp(s, "object")) return T_OBJ;
    if (!strcmp(s, "array")) return T_ARR;
    if (!strcmp(s, "number")) return T_NUM | T_INT;
    if (!strcmp(s, "integer")) return T_INT;
    if (!strcmp(s, "string")) return T_STR;
    return -1;
}

/* bits of `type`; -1 invalid */
static int parse_type(const cf_json *t) {
    if (t->type == CF_JSON_STRING) return type_name_bits(t->str);
    if (t->type != CF_JSON_ARRAY) return -1;
    int b = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (t->items[i]->type != CF_JSON_STRING) return -1;
        int x = type_name_bits(t->items[i]->str);
        if (x < 0) return -1;
        b |= x;
    }
    return b;
}

int sv_types_of(sc *c, const cf_json *n) {
    if (n->type == CF_JSON_BOOL) return n->b ? T_ALL : 0;
    if (n->type != CF_JSON_OBJECT) return T_ALL;
    int t = T_ALL;
    const cf_json *ty = kw(n, "type");
    if (ty) {
        int b = parse_type(ty);
        if (b >= 0) t &= b;
    }
    const cf_json *cs = c->draft >= 6 ? kw(n, "const") : NULL;
    if (cs) t &= sc_json_type_bits(cs, c->draft == 4);
    const cf_json *en = kw(n, "enum");
    if (en && en->type == CF_JSON_ARRAY) {
        int e = 0;
        for (size_t i = 0; i < en->len; i++) e |= sc_json_type_bits(en->items[i], c->draft == 4);
        t &= e;
    }
    return t;
}

static int grow_(void **p, int *cap, int need, size_t elt) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 8;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, (size_t)nc * elt);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}
#define GROWV(arr, n, cap) grow_((void **)&(arr), &(cap), (n) + 1, sizeof *(arr))

static int oom(sc *c, const cf_json *at) { return sc_fail(c, at, CF_ENOMEM, "out of memory"); }

static int is_trivial(const cf_json *s) {
    return (s->type == CF_JSON_BOOL && s->b) || (s->type == CF_JSON_OBJECT && s->len == 0);
}

/* ---- building the view ---- */

enum { IF_OBJ = 1, IF_ARR = 2, IF_ACTIVE = 4 };

typedef struct {
    int *flags;   /* per item */
    int cap;
} iflags;

static int set_bound(sbound *b, const cf_json *v, int excl, int lower) {
    if (!b->v) {
        b->v = v;
        b->excl = excl;
        return 0;
    }
    int c = cf_json_num_cmp(v, b->v);
    if (lower ? c > 0 : c < 0) {
        b->v = v;
        b->excl = excl;
    } else if (c == 0) b->excl |= excl;
    return 0;
}

static int add_regex(sc *c, sview *v, const char *src, size_t len, int mode, const cf_json *at, const char *what) {
    for (int i = 0; i < v->nre; i++)
        if (v->re[i].mode == mode && v->re[i].len == len && !memcmp(v->re[i].src, src, len)) return 0;
    if (GROWV(v->re, v->nre, v->capre)) return oom(c, at);
    v->re[v->nre++] = (sregex){src, len, mode, at, what};
    return 0;
}

static int enum_intersect(sc *c, sview *v, const cf_json *const *vals, size_t n, const cf_json *at) {
    if (n > CF_SCHEMA_MAX_ENUM) return sc_fail(c, at, CF_ELIMIT, "enum with %zu values (cap %d)", n, CF_SCHEMA_MAX_ENUM);
    if (!v->has_enum) {
        v->has_enum = 1;
        v->ev = malloc((n + 1) * sizeof *v->ev);
        if (!v->ev) return oom(c, at);
        v->capev = (int)n + 1;
        v->nev = 0;
        for (size_t i = 0; i < n; i++) {
            int dup = 0;
            /* dedup only small enums exactly (large ones: duplicates are harmless) */
            if (n <= 256)
                for (int j = 0; j < v->nev && !dup; j++) dup = cf_json_equal(v->ev[j], vals[i]);
            if (!dup) v->ev[v->nev++] = vals[i];
        }
        return 0;
    }
    int k = 0;
    for (int i = 0; i < v->nev; i++) {
        int keep = 0;
        for (size_t j = 0; j < n && !keep; j++) keep = cf_json_equal(v->ev[i], vals[j]);
        if (keep) v->ev[k++] = v->ev[i];
    }
    v->nev = k;
    return 0;
}

static int is_nonneg_int(const cf_json *x) {
    if (x->type != CF_JSON_NUMBER) return 0;
    if (x->is_int) return x->i >= 0;
    return x->num >= 0 && x->num == (double)(long long)x->num;
}
static int64_t as_i64(const cf_json *x) {
    if (x->is_int) return x->i;
    return x->num > 9e18 ? INT64_MAX : (int64_t)x->num;
}

static int process_item(sc *c, sview *v, int i, iflags *fl) {
    const sitem it = v->items.it[i];
    const cf_json *n = it.n;
    if (n->type == CF_JSON_BOOL) {
        if (!n->b) v->is_false = 1;
        return 0;
    }
    if (n->type != CF_JSON_OBJECT) return sc_fail(c, n, CF_EFORMAT, "invalid schema: a schema must be an object or a boolean");
    int d = c->draft;
    const cf_json *x;
    if ((x = kw(n, "$ref"))) {
        if (x->type != CF_JSON_STRING) return sc_fail(c, n, CF_EFORMAT, "invalid schema: $ref must be a string");
        const cf_json *t = (it.skip & SK_EXP) ? n : sc_resolve(c, n, x->str);
        if (!t) {
            const char *colon = strchr(x->str, ':'), *hash = strchr(x->str, '#');
            int remote = x->str[0] != '#' && (colon || !hash || hash != x->str);
            if (remote) {
                char what[300];
                snprintf(what, sizeof what, "remote $ref '%.200s'", x->str);
                if (sc_unsupported(c, n, what)) return -1;
            } else {
                return sc_fail(c, n, CF_EINVAL, "unresolvable $ref '%.200s'", x->str);
            }
        } else if (!(it.skip & SK_EXP) && conj_add(&v->items, t, 0)) return oom(c, n);
        if (d <= 7) return 0;   /* siblings of $ref are ignored before 2019-09 */
    }
    if (GROWV(fl->flags, i, fl->cap)) return oom(c, n);
    fl->flags[i] = IF_ACTIVE;
    if ((x = kw(n, "$dynamicRef")) || (x = kw(n, "$recursiveRef"))) {
        if (sc_unsupported(c, n, "$dynamicRef / $recursiveRef")) return -1;
    }
    if ((x = kw(n, "allOf")) && !(it.skip & (SK_ALLOF | SK_EXP))) {
        if (x->type != CF_JSON_ARRAY || !x->len) return sc_fail(c, n, CF_EFORMAT, "invalid schema: allOf must be a non-empty array");
        for (size_t k = 0; k < x->len; k++)
            if (conj_add(&v->items, x->items[k], 0)) return oom(c, n);
    }
    static const struct {
        const char *k;
        int kind;
        int min_draft;
    } cmbs[] = {{"anyOf", SK_ANYOF, 4}, {"oneOf", SK_ONEOF, 4}, {"not", SK_NOT, 4}, {"if", SK_IF, 7}};
    for (size_t q = 0; q < sizeof cmbs / sizeof cmbs[0]; q++) {
        if (!(x = kw(n, cmbs[q].k)) || d < cmbs[q].min_draft || (it.skip & (uint32_t)cmbs[q].kind)) continue;
        if ((cmbs[q].kind == SK_ANYOF || cmbs[q].kind == SK_ONEOF) && (x->type != CF_JSON_ARRAY || !x->len))
            return sc_fail(c, n, CF_EFORMAT, "invalid schema: %s must be a non-empty array", cmbs[q].k);
        if ((cmbs[q].kind == SK_NOT || cmbs[q].kind == SK_IF) && x->type != CF_JSON_OBJECT && x->type != CF_JSON_BOOL)
            return sc_fail(c, n, CF_EFORMAT, "invalid schema: %s must be a schema", cmbs[q].k);
        if (cmbs[q].kind == SK_NOT && is_trivial(x)) {
            v->is_false = 1;
            continue;
        }
        if (cmbs[q].kind == SK_NOT && x->type == CF_JSON_BOOL && !x->b) continue;
        if (cmbs[q].kind == SK_IF && !kw(n, "then") && !kw(n, "else")) continue;
        if (cmbs[q].kind == SK_ANYOF || cmbs[q].kind == SK_ONEOF) {
            /* a single branch is just allOf */
            if (x->len == 1) {
                if (!(it.skip & SK_EXP) && conj_add(&v->items, x->items[0], 0)) return oom(c, n);
                continue;
            }
        }
        if (GROWV(v->cmb, v->ncmb, v->capcmb)) return oom(c, n);
        v->cmb[v->ncmb++] = (struct scmb){i, cmbs[q].kind};
    }
    if (!(it.skip & SK_DEPS)) {
        int has = 0;
        const cf_json *ds = d >= 2019 ? kw(n, "dependentSchemas") : NULL;
        if (ds) {
            if (ds->type != CF_JSON_OBJECT) return sc_fail(c, n, CF_EFORMAT, "invalid schema: dependentSchemas must be an object");
            for (size_t k = 0; k < ds->len; k++)
                if (!is_trivial(ds->items[k])) has = 1;
        }
        const cf_json *dd = kw(n, "dependencies");
        if (dd && dd->type == CF_JSON_OBJECT)
            for (size_t k = 0; k < dd->len; k++)
                if (dd->items[k]->type != CF_JSON_ARRAY && !is_trivial(dd->items[k])) has = 1;
        if (has) {
            if (GROWV(v->cmb, v->ncmb, v->capcmb)) return oom(c, n);
            v->cmb[v->ncmb++] = (struct scmb){i, SK_DEPS};
        }
    }
    if ((x = kw(n, "type"))) {
        int b = parse_type(x);
        if (b < 0) return sc_fail(c, n, CF_EFORMAT, "invalid schema: type must be a type name or an array of them");
        v->types &= (uint8_t)b;
    }
    if (d >= 6 && (x = kw(n, "const"))) {
        if (enum_intersect(c, v, &x, 1, n)) return -1;
    }
    if ((x = kw(n, "enum"))) {
        if (x->type != CF_JSON_ARRAY) return sc_fail(c, n, CF_EFORMAT, "invalid schema: enum must be an array");
        if (enum_intersect(c, v, (const cf_json *const *)x->items, x->len, n)) return -1;
    }
    /* strings */
    if ((x = kw(n, "minLength"))) {
        if (!is_nonneg_int(x)) return sc_fail(c, n, CF_EFORMAT, "invalid schema: minLength must be a non-negative integer");
        if (as_i64(x) > v->min_len) v->min_len = as_i64(x);
    }
    if ((x = kw(n, "maxLength"))) {
        if (!is_nonneg_int(x)) return sc_fail(c, n, CF_EFORMAT, "invalid schema: maxLength must be a non-negative integer");
        if (v->max_len < 0 || as_i64(x) < v->max_len) v->max_len = as_i64(x);
    }
    if ((x = kw(n, "pattern"))) {
        if (x->type != CF_JSON_STRING) return sc_fail(c, n, CF_EFORMAT, "invalid schema: pattern must be a string");
        if (add_regex(c, v, x->str, x->len, CF_RE_SEARCH, n, "pattern")) return -1;
    }
    if ((x = kw(n, "format")) && x->type == CF_JSON_STRING) {
        const char *re;
        int64_t ml;
        int k = sc_format(x->str, &re, &ml);
        if (k == 1) {
            if (add_regex(c, v, re, strlen(re), CF_RE_FULL, n, "format")) return -1;
            if (ml > 0 && (v->max_len < 0 || ml < v->max_len)) v->max_len = ml;
        } else if (k < 0) {
            char what[160];
            snprintf(what, sizeof what, "format '%.100s'", x->str);
            if (sc_unsupported(c, n, what)) return -1;
        }
    }
    /* numbers */
    const cf_json *mn = kw(n, "minimum"), *mx = kw(n, "maximum"), *emn = kw(n, "exclusiveMinimum"),
                  *emx = kw(n, "exclusiveMaximum");
    if (mn && mn->type != CF_JSON_NUMBER) return sc_fail(c, n, CF_EFORMAT, "invalid schema: minimum must be a number");
    if (mx && mx->type != CF_JSON_NUMBER) return sc_fail(c, n, CF_EFORMAT, "invalid schema: maximum must be a number");
    if (mn) set_bound(&v->lo, mn, emn && emn->type == CF_JSON_BOOL && emn->b, 1);
    if (mx) set_bound(&v->hi, mx, emx && emx->type == CF_JSON_BOOL && emx->b, 0);
    if (emn && emn->type == CF_JSON_NUMBER) set_bound(&v->lo, emn, 1, 1);
    if (emx && emx->type == CF_JSON_NUMBER) set_bound(&v->hi, emx, 1, 0);
    if ((x = kw(n, "multipleOf"))) {
        if (x->type != CF_JSON_NUMBER || x->num <= 0)
            return sc_fail(c, n, CF_EFORMAT, "invalid schema: multipleOf must be a positive number");
        int dup = 0;
        for (int k = 0; k < v->nmult; k++) dup |= cf_json_num_cmp(v->mult[k], x) == 0;
        if (!dup) {
            __int128 s;
            int inf;
            if (!x->num_text || num_parse_scaled(x->num_text, 0, &s, &inf) || inf || s <= 0) {
                char what[120];
                snprintf(what, sizeof what, "multipleOf %.60s (more than 12 decimals)", x->num_text ? x->num_text : "?");
                if (sc_unsupported(c, n, what)) return -1;
            } else {
                if (GROWV(v->mult, v->nmult, v->capmult)) return oom(c, n);
                v->mult[v->nmult++] = x;
            }
        }
    }
    /* objects / arrays: merged after all items are known */
    static const char *okw[] = {"properties", "patternProperties", "additionalProperties", "required", "minProperties",
                                "maxProperties", "propertyNames", "dependentRequired", "dependencies"};
    for (size_t k = 0; k < sizeof okw / sizeof okw[0]; k++)
        if (kw(n, okw[k])) {
            fl->flags[i] |= IF_OBJ;
            v->has_obj = 1;
        }
    static const char *akw[] = {"items", "prefixItems", "additionalItems", "minItems", "maxItems", "contains",
                                "minContains", "maxContains", "uniqueItems"};
    for (size_t k = 0; k < sizeof akw / sizeof akw[0]; k++)
        if (kw(n, akw[k])) {
            fl->flags[i] |= IF_ARR;
            v->has_arr = 1;
        }
    if (d >= 2019) {
        if ((x = kw(n, "unevaluatedProperties")) && !is_trivial(x) && sc_unsupported(c, n, "unevaluatedProperties"))
            return -1;
        if ((x = kw(n, "unevaluatedItems")) && !is_trivial(x) && sc_unsupported(c, n, "unevaluatedItems")) return -1;
    }
    return 0;
}

static int is_sep(const sview *v, int i) {
    for (int k = 0; k < v->nsep; k++)
        if (v->sep[k] == i) return 1;
    return 0;
}

static int add_sep(sc *c, sview *v, int i) {
    if (is_sep(v, i)) return 0;
    if (GROWV(v->sep, v->nsep, v->capsep)) return oom(c, NULL);
    v->sep[v->nsep++] = i;
    return 0;
}

static uint32_t name_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static int find_prop(sview *v, const char *name, size_t len) {
    if (!v->phash) return -1;
    for (uint32_t i = name_hash(name, len) & v->phmask;; i = (i + 1) & v->phmask) {
        int32_t k = v->phash[i];
        if (!k) return -1;
        if (v->props[k - 1].len == len && !memcmp(v->props[k - 1].name, name, len)) return k - 1;
    }
}

static int phash_insert(sview *v, int idx) {
    if (!v->phash || (uint32_t)(v->nprops + 1) * 2 > v->phmask + 1) {
        uint32_t cap = v->phash ? (v->phmask + 1) * 2 : 64;
        while ((uint32_t)(v->nprops + 1) * 2 > cap) cap *= 2;
        int32_t *h = calloc(cap, sizeof *h);
        if (!h) return -1;
        free(v->phash);
        v->phash = h;
        v->phmask = cap - 1;
        for (int i = 0; i < v->nprops; i++)
            if (i != idx) {
                uint32_t j = name_hash(v->props[i].name, v->props[i].len) & v->phmask;
                while (v->phash[j]) j = (j + 1) & v->phmask;
                v->phash[j] = i + 1;
            }
    }
    uint32_t j = name_hash(v->props[idx].name, v->props[idx].len) & v->phmask;
    while (v->phash[j]) j = (j + 1) & v->phmask;
    v->phash[j] = idx + 1;
    return 0;
}

static int add_prop(sc *c, sview *v, const char *name, size_t len) {
    int i = find_prop(v, name, len);
    if (i >= 0) return i;
    if (GROWV(v->props, v->nprops, v->capprops)) return oom(c, NULL);
    struct sprop *p = &v->props[v->nprops];
    memset(p, 0, sizeof *p);
    p->name = malloc(len + 1);
    if (!p->name) return oom(c, NULL);
    memcpy(p->name, name, len);
    p->name[len] = 0;
    p->len = len;
    int idx = v->nprops++;
    if (phash_insert(v, idx)) return oom(c, NULL);
    return idx;
}

static const cf_json *false_node(sc *c) {
    if (!c->fnode) c->fnode = sc_synth(c, "false");
    return c->fnode;
}

static int merge_objects(sc *c, sview *v, const iflags *fl) {
    int ni = v->items.n;
    /* governing items: patternProperties or a non-trivial additionalProperties */
    int first_gov = -1, npat_items = 0, ngov = 0;
    for (int i = 0; i < ni; i++) {
        if (!(fl->flags[i] & IF_OBJ)) continue;
        const cf_json *n = v->items.it[i].n;
        const cf_json *pp = kw(n, "patternProperties"), *ap = kw(n, "additionalProperties");
        int haspat = pp && pp->type == CF_JSON_OBJECT && pp->len;
        int hasadd = (ap && !is_trivial(ap)) || (!ap && c->o.strict && kw(n, "properties"));
        if (haspat) npat_items++;
        if (haspat || hasadd) {
            ngov++;
            if (first_gov < 0) first_gov = i;
        }
    }
    if (ngov > 1 && npat_items > 0) {
        for (int i = 0; i < ni; i++) {
            if (!(fl->flags[i] & IF_OBJ) || i == first_gov) continue;
            const cf_json *n = v->items.it[i].n;
            const cf_json *pp = kw(n, "patternProperties"), *ap = kw(n, "additionalProperties");
            int haspat = pp && pp->type == CF_JSON_OBJECT && pp->len;
            int hasadd = (ap && !is_trivial(ap)) || (!ap && c->o.strict && kw(n, "properties"));
            if ((haspat || hasadd) && add_sep(c, v, i)) return -1;
        }
    }
    v->max_props = -1;
    /* names */
    for (int i = 0; i < ni; i++) {
        if (!(fl->flags[i] & IF_OBJ) || is_sep(v, i)) continue;
        const cf_json *n = v->items.it[i].n, *x;
        if ((x = kw(n, "properties"))) {
            if (x->type != CF_JSON_OBJECT) return sc_fail(c, n, CF_EFORMAT, "invalid schema: properties must be an object");
            for (size_t k = 0; k < x->len; k++)
                if (add_prop(c, v, x->keys[k], x->key_lens[k]) < 0) return -1;
        }
        if ((x = kw(n, "required"))) {
            if (x->type != CF_JSON_ARRAY) return sc_fail(c, n, CF_EFORMAT, "invalid schema: required must be an array");
            for (size_t k = 0; k < x->len; k++) {
                if (x->items[k]->type != CF_JSON_STRING)
                    return sc_fail(c, n, CF_EFORMAT, "invalid schema: required must hold strings");
                int p = add_prop(c, v, x->items[k]->str, x->items[k]->len);
                if (p < 0) return -1;
                v->props[p].required = 1;
            }
        }
        for (int pass = 0; pass < 2; pass++) {
            x = pass ? kw(n, "dependencies") : (c->draft >= 2019 ? kw(n, "dependentRequired") : NULL);
            if (!x) continue;
            if (x->type != CF_JSON_OBJECT) return sc_fail(c, n, CF_EFORMAT, "invalid schema: dependentRequired / dependencies must be an object");
            for (size_t k = 0; k < x->len; k++) {
                const cf_json *l = x->items[k];
                if (l->type != CF_JSON_ARRAY) {
                    if (!pass) return sc_fail(c, n, CF_EFORMAT, "invalid schema: dependentRequired values must be arrays");
                    continue;
                }
                if (!l->len) continue;
                int p = add_prop(c, v, x->keys[k], x->key_lens[k]);
                if (p < 0) return -1;
                for (size_t q = 0; q < l->len; q++) {
                    if (l->items[q]->type != CF_JSON_STRING)
                        return sc_fail(c, n, CF_EFORMAT, "invalid schema: dependency lists must hold strings");
                    int r = add_prop(c, v, l->items[q]->str, l->items[q]->len);
                    if (r < 0) return -1;
                    struct sprop *pp = &v->props[p];
                    int cnt = pp->dep ? pp->dep[0] : 0;
                    int *nd = realloc(pp->dep, (size_t)(cnt + 2) * sizeof *nd);
                    if (!nd) return oom(c, n);
                    pp->dep = nd;
                    pp->dep[0] = cnt + 1;
                    pp->dep[cnt + 1] = r;
                }
            }
        }
        if ((x = kw(n, "minProperties"))) {
            if (!is_nonneg_int(x)) return sc_fail(c, n, CF_EFORMAT, "invalid schema: minProperties must be a non-negative integer");
            if (as_i64(x) > v->min_props) v->min_props = as_i64(x);
        }
        if ((x = kw(n, "maxProperties"))) {
            if (!is_nonneg_int(x)) return sc_fail(c, n, CF_EFORMAT, "invalid schema: maxProperties must be a non-negative integer");
            if (v->max_props < 0 || as_i64(x) < v->max_props) v->max_props = as_i64(x);
        }
        if (c->draft >= 6 && (x = kw(n, "propertyNames")) && !is_trivial(x)) {
            v->has_pnames = 1;
            if (conj_add(&v->pnames, x, 0)) return oom(c, n);
        }
    }
    /* patterns and additional */
    for (int i = 0; i < ni; i++) {
        if (!(fl->flags[i] & IF_OBJ) || is_sep(v, i)) continue;
        const cf_json *n = v->items.it[i].n;
        const cf_json *pp = kw(n, "patternProperties"), *ap = kw(n, "additionalProperties");
        if (pp) {
            if (pp->type != CF_JSON_OBJECT) return sc_fail(c, n, CF_EFORMAT, "invalid schema: patternProperties must be an object");
            for (size_t k = 0; k < pp->len; k++) {
                if (GROWV(v->pats, v->npats, v->cappats)) return oom(c, n);
                struct spat *sp = &v->pats[v->npats++];
                memset(sp, 0, sizeof *sp);
                sp->re = (sregex){pp->keys[k], pp->key_lens[k], CF_RE_SEARCH, n, "patternProperties"};
                if (conj_add(&sp->cj, pp->items[k], 0)) return oom(c, n);
            }
        }
        if (!ap && c->o.strict && kw(n, "properties")) ap = false_node(c);
        if (ap) {
            if (ap->type != CF_JSON_OBJECT && ap->type != CF_JSON_BOOL)
                return sc_fail(c, n, CF_EFORMAT, "invalid schema: additionalProperties must be a schema");
            if (ap->type == CF_JSON_BOOL && !ap->b) v->add_kind = 1;
            else if (!is_trivial(ap) && v->add_kind != 1) {
                v->add_kind = 2;
                if (conj_add(&v->add, ap, 0)) return oom(c, n);
            }
        }
    }
    /* propertyNames with enum / const: the keys are exactly those names (that also meet its other
     * string constraints); they become explicit properties and nothing else is allowed */
    uint8_t *allowed = NULL;
    if (v->has_pnames) {
        sview kv;
        if (sv_build(c, &v->pnames, &kv)) return -1;
        if (kv.has_enum && !kv.ncmb && !kv.nsep && !kv.is_false) {
            int *pass = malloc(((size_t)kv.nev + 1) * sizeof *pass);
            int npass = 0;
            if (!pass) {
                sv_free(&kv);
                return oom(c, NULL);
            }
            for (int k = 0; k < kv.nev; k++) {
                const cf_json *x = kv.ev[k];
                if (x->type != CF_JSON_STRING || !(kv.types & T_STR)) continue;
                int64_t cps = 0;
                for (size_t q = 0; q < x->len; q++) cps += ((uint8_t)x->str[q] & 0xC0) != 0x80;
                if (cps < kv.min_len || (kv.max_len >= 0 && cps > kv.max_len)) continue;
                int match = 1;
                for (int r = 0; r < kv.nre && match; r++) {
                    cf_regex *re;
                    cf_err e;
                    int rc = sc_regex(c, kv.re[r].src, kv.re[r].len, kv.re[r].mode, &re, &e);
                    if (rc) {
                        free(pass);
                        sc_fail(c, kv.re[r].at, rc, "%s: %s", kv.re[r].what, e.msg);
                        sv_free(&kv);
                        return -1;
                    }
                    match = cf_regex_match(re, x->str, x->len);
                }
                if (!match) continue;
                int p = add_prop(c, v, x->str, x->len);
                if (p < 0) {
                    free(pass);
                    sv_free(&kv);
                    return -1;
                }
                pass[npass++] = p;
            }
            allowed = calloc((size_t)v->nprops + 1, 1);
            if (!allowed) {
                free(pass);
                sv_free(&kv);
                return oom(c, NULL);
            }
            for (int k = 0; k < npass; k++) allowed[pass[k]] = 1;
            free(pass);
            v->has_pnames = 0;
        }
        sv_free(&kv);
    }
    /* per name: the schemas of every item that governs it */
    for (int p = 0; p < v->nprops; p++) {
        struct sprop *pr = &v->props[p];
        for (int i = 0; i < ni; i++) {
            if (!(fl->flags[i] & IF_OBJ) || is_sep(v, i)) continue;
            const cf_json *n = v->items.it[i].n;
            const cf_json *props = kw(n, "properties");
            if (props && props->type == CF_JSON_OBJECT) {
                int found = 0;
                if (strlen(pr->name) == pr->len) {
                    /* the parser's index (last duplicate wins, as validators read it) */
                    const cf_json *ps = cf_json_get(props, pr->name);
                    if (ps) {
                        if (conj_add(&pr->cj, ps, 0)) return oom(c, n);
                        found = 1;
                    }
                } else {
                    for (size_t k = 0; k < props->len; k++)
                        if (props->key_lens[k] == pr->len && !memcmp(props->keys[k], pr->name, pr->len)) {
                            if (conj_add(&pr->cj, props->items[k], 0)) return oom(c, n);
                            found = 1;
                        }
                }
                if (found) continue;
            }
            int matched = 0;
            const cf_json *pp = kw(n, "patternProperties");
            if (pp && pp->type == CF_JSON_OBJECT)
                for (size_t k = 0; k < pp->len; k++) {
                    cf_regex *re;
                    cf_err e;
                    int rc = sc_regex(c, pp->keys[k], pp->key_lens[k], CF_RE_SEARCH, &re, &e);
                    if (rc) return sc_fail(c, n, rc, "patternProperties '%.80s': %s", pp->keys[k], e.msg);
                    int m = cf_regex_match(re, pr->name, pr->len);
                    if (m) {
                        matched = 1;
                        if (conj_add(&pr->cj, pp->items[k], 0)) return oom(c, n);
                    }
                }
            if (matched) continue;
            const cf_json *ap = kw(n, "additionalProperties");
            if (!ap && c->o.strict && props) ap = false_node(c);
            if (ap && !is_trivial(ap) && conj_add(&pr->cj, ap, 0)) {
                free(allowed);
                return oom(c, n);
            }
        }
    }
    if (allowed) {
        for (int p = 0; p < v->nprops; p++)
            if (!allowed[p]) {
                conj_free(&v->props[p].cj);
                if (conj_add(&v->props[p].cj, false_node(c), 0)) {
                    free(allowed);
                    return oom(c, NULL);
                }
            }
        free(allowed);
        for (int i = 0; i < v->npats; i++) conj_free(&v->pats[i].cj);
        v->npats = 0;
        conj_free(&v->add);
        v->add_kind = 1;
    }
    return 0;
}

static int merge_arrays(sc *c, sview *v, const iflags *fl) {
    int ni = v->items.n, ncont = 0;
    v->max_items = -1;
    v->max_contains = -1;
    v->min_contains = 1;
    int unique = 0;
    const cf_json *unique_at = NULL;
    for (int i = 0; i < ni; i++) {
        if (!(fl->flags[i] & IF_ARR)) continue;
        const cf_json *n = v->items.it[i].n, *x;
        if (c->draft >= 6 && kw(n, "contains") && ++ncont > 1 && add_sep(c, v, i)) return -1;
        if ((x = kw(n, "uniqueItems")) && x->type == CF_JSON_BOOL && x->b) {
            unique = 1;
            unique_at = n;
        }
    }
    int np = 0;
    for (int i = 0; i < ni; i++) {
        if (!(fl->flags[i] & IF_ARR) || is_sep(v, i)) continue;
        const cf_json *n = v->items.it[i].n, *x = kw(n, "items");
        const cf_json *pre = NULL;
        if (x && x->type == CF_JSON_ARRAY) pre = x;
        else if (c->draft >= 2020) pre = kw(n, "prefixItems");
        if (pre && pre->type != CF_JSON_ARRAY) return sc_fail(c, n, CF_EFORMAT, "invalid schema: prefixItems must be an array");
        if (pre && (int)pre->len > np) np = (int)pre->len;
    }
    if (np) {
        v->prefix = calloc((size_t)np, sizeof *v->prefix);
        if (!v->prefix) return oom(c, NULL);
        v->nprefix = np;
    }
    for (int i = 0; i < ni; i++) {
        if (!(fl->flags[i] & IF_ARR) || is_sep(v, i)) continue;
        const cf_json *n = v->items.it[i].n, *x = kw(n, "items"), *rest = NULL, *pre = NULL;
        if (x && x->type == CF_JSON_ARRAY) {
            pre = x;
            rest = kw(n, "additionalItems");
        } else {
            if (c->draft >= 2020) pre = kw(n, "prefixItems");
            rest = x;
        }
        if (rest && rest->type != CF_JSON_OBJECT && rest->type != CF_JSON_BOOL)
            return sc_fail(c, n, CF_EFORMAT, "invalid schema: items must be a schema");
        int plen = pre ? (int)pre->len : 0;
        for (int k = 0; k < np; k++) {
            const cf_json *s = k < plen ? pre->items[k] : rest;
            if (s && !is_trivial(s) && conj_add(&v->prefix[k], s, 0)) return oom(c, n);
        }
        if (rest) {
            if (rest->type == CF_JSON_BOOL && !rest->b) v->rest_kind = 1;
            else if (!is_trivial(rest) && v->rest_kind != 1) {
                v->rest_kind = 2;
                if (conj_add(&v->rest, rest, 0)) return oom(c, n);
            }
        }
        if ((x = kw(n, "minItems"))) {
            if (!is_nonneg_int(x)) return sc_fail(c, n, CF_EFORMAT, "invalid schema: minItems must be a non-negative integer");
            if (as_i64(x) > v->min_items) v->min_items = as_i64(x);
        }
        if ((x = kw(n, "maxItems"))) {
            if (!is_nonneg_int(x)) return sc_fail(c, n, CF_EFORMAT, "invalid schema: maxItems must be a non-negative integer");
            if (v->max_items < 0 || as_i64(x) < v->max_items) v->max_items = as_i64(x);
        }
        if (c->draft >= 6 && (x = kw(n, "contains"))) {
            v->has_contains = 1;
            if (conj_add(&v->contains, x, 0)) return oom(c, n);
            if (c->draft >= 2019) {
                const cf_json *a = kw(n, "minContains"), *b = kw(n, "maxContains");
                if (a && is_nonneg_int(a)) v->min_contains = as_i64(a);
                if (b && is_nonneg_int(b)) v->max_contains = as_i64(b);
            }
        }
    }
    if (unique && !(v->max_items >= 0 && v->max_items <= 1) && sc_unsupported(c, unique_at, "uniqueItems")) return -1;
    return 0;
}

int sv_build(sc *c, const conj *cj, sview *v) {
    memset(v, 0, sizeof *v);
    v->types = T_ALL;
    v->max_len = -1;
    v->max_props = -1;
    v->max_items = -1;
    v->max_contains = -1;
    v->int_strict = c->draft == 4;
    iflags fl = {NULL, 0};
    for (int i = 0; i < cj->n; i++)
        if (conj_add(&v->items, cj->it[i].n, cj->it[i].skip)) return oom(c, NULL);
    for (int i = 0; i < v->items.n && !c->failed; i++) {
        if (i >= 4096) {
            sc_fail(c, v->items.it[0].n, CF_ELIMIT, "allOf / $ref expansion beyond 4096 schemas");
            break;
        }
        if (GROWV(fl.flags, i, fl.cap)) {
            oom(c, NULL);
            break;
        }
        fl.flags[i] = 0;
        process_item(c, v, i, &fl);
    }
    if (!c->failed && v->has_obj) merge_objects(c, v, &fl);
    if (!c->failed && v->has_arr) merge_arrays(c, v, &fl);
    free(fl.flags);
    if (c->failed) {
        sv_free(v);
        return -1;
    }
    return 0;
}

void sv_free(sview *v) {
    conj_free(&v->items);
    free(v->ev);
    free(v->re);
    free(v->mult);
    free(v->cmb);
    free(v->sep);
    for (int i = 0; i < v->nprops; i++) {
        free(v->props[i].name);
        conj_free(&v->props[i].cj);
        free(v->props[i].dep);
    }
    free(v->props);
    free(v->phash);
    for (int i = 0; i < v->npats; i++) conj_free(&v->pats[i].cj);
    free(v->pats);
    conj_free(&v->add);
    conj_free(&v->pnames);
    for (int i = 0; i < v->nprefix; i++) conj_free(&v->prefix[i]);
    free(v->prefix);
    conj_free(&v->rest);
    conj_free(&v->contains);
    memset(v, 0, sizeof *v);
}

/* ---- emitting ---- */

static char *dup_text(const cf_json *x) {
    const char *t = x->num_text;
    char buf[40];
    if (!t) {
        snprintf(buf, sizeof buf, "%.17g", x->num);
        t = buf;
    }
    return strdup(t);
}

/* A search pattern any string can still come to match: not anchored at its start. */
static int search_always_live(const sregex *r) {
    if (r->mode != CF_RE_SEARCH) return 0;
    size_t i = 0;
    while (i < r->len) {
        if (r->src[i] == '(') {
            i++;
            if (i + 1 < r->len && r->src[i] == '?' && r->src[i + 1] == ':') i += 2;
            continue;
        }
        break;
    }
    return !(i < r->len && r->src[i] == '^');
}

static int compile_regexes(sc *c, const sview *v, cf_nat_string *s) {
    if (v->nre > CF_MAX_STR_RE) return sc_fail(c, v->re[0].at, CF_ELIMIT, "more than %d patterns/formats on one string", CF_MAX_STR_RE);
    s->re = calloc((size_t)v->nre + 1, sizeof *s->re);
    if (!s->re) return oom(c, NULL);
    s->re_borrowed = 1;
    for (int i = 0; i < v->nre; i++) {
        cf_err e;
        int rc = sc_regex(c, v->re[i].src, v->re[i].len, v->re[i].mode, &s->re[i], &e);
        if (rc) {
            free(s->re);
            s->re = NULL;
            return sc_fail(c, v->re[i].at, rc, "%s: %s", v->re[i].what, e.msg);
        }
        s->nre = i + 1;
    }
    s->always_live = v->nre > 0;
    for (int i = 0; i < v->nre; i++)
        if (!search_always_live(&v->re[i])) s->always_live = 0;
    return 0;
}

static cf_gx native_gx(sc *c, cf_native *n) {
    int32_t id = cf_grammar_add_native(c->g, n);
    if (id < 0) {
        oom(c, NULL);
        return -1;
    }
    return cf_gx_native(c->g, id);
}

static cf_gx emit_string(sc *c, const sview *v, const cf_json *const *lits, int nlit) {
    cf_native n = {.kind = CF_NAT_STRING};
    cf_nat_string *s = &n.u.s;
    s->min_len = v->min_len;
    s->max_len = v->max_len;
    if (v->max_len >= 0 && v->max_len < v->min_len) return cf_gx_fail(c->g);
    if (compile_regexes(c, v, s)) return -1;
    if (lits) {
        s->has_lits = 1;
        s->lits = calloc((size_t)nlit + 1, sizeof *s->lits);
        s->lit_lens = calloc((size_t)nlit + 1, sizeof *s->lit_lens);
        if (!s->lits || !s->lit_lens) {
            free(s->re);
            free(s->lits);
            free(s->lit_lens);
            oom(c, NULL);
            return -1;
        }
        for (int i = 0; i < nlit; i++) {
            s->lits[i] = malloc(lits[i]->len + 1);
            if (!s->lits[i]) break;
            memcpy(s->lits[i], lits[i]->str, lits[i]->len + 1);
            s->lit_lens[i] = lits[i]->len;
            s->nlit = i + 1;
        }
    }
    return native_gx(c, &n);
}

static cf_gx emit_number(sc *c, const sview *v, const cf_json *const *vals, int nval) {
    cf_native n = {.kind = CF_NAT_NUMBER};
    cf_nat_number *x = &n.u.num;
    x->int_only = !(v->types & T_NUM);
    x->no_frac = x->int_only && v->int_strict;
    if (v->lo.v) {
        x->lo = dup_text(v->lo.v);
        x->lo_excl = v->lo.excl;
    }
    if (v->hi.v) {
        x->hi = dup_text(v->hi.v);
        x->hi_excl = v->hi.excl;
    }
    if (v->nmult) {
        x->mults = calloc((size_t)v->nmult, sizeof *x->mults);
        if (x->mults)
            for (int i = 0; i < v->nmult; i++) x->mults[x->nmult++] = dup_text(v->mult[i]);
    }
    if (vals) {
        x->has_vals = 1;
        x->vals = calloc((size_t)nval + 1, sizeof *x->vals);
        if (x->vals)
            for (int i = 0; i < nval; i++) x->vals[x->nval++] = dup_text(vals[i]);
    }
    return native_gx(c, &n);
}

static int32_t rule_of(sc *c, const conj *cj) {
    if (!cj->n) return sc_any(c);
    return sc_compile(c, cj);
}

static cf_gx emit_object(sc *c, sview *v) {
    cf_native n = {.kind = CF_NAT_OBJECT};
    cf_nat_object *o = &n.u.obj;
    int np = v->nprops;
    o->names = calloc((size_t)np + 1, sizeof *o->names);
    o->name_lens = calloc((size_t)np + 1, sizeof *o->name_lens);
    o->rules = calloc((size_t)np + 1, sizeof *o->rules);
    o->required = calloc((size_t)np + 1, 1);
    o->pat_re = calloc((size_t)v->npats + 1, sizeof *o->pat_re);
    o->pat_rules = calloc((size_t)v->npats + 1, sizeof *o->pat_rules);
    o->key_native = -1;
    o->pat_borrowed = 1;
    o->min_props = v->min_props;
    o->max_props = v->max_props;
    if (!o->names || !o->name_lens || !o->rules || !o->required || !o->pat_re || !o->pat_rules) goto fail;
    int anydep = 0;
    for (int i = 0; i < np; i++) {
        struct sprop *p = &v->props[i];
        o->names[i] = malloc(p->len + 1);
        if (!o->names[i]) goto fail;
        memcpy(o->names[i], p->name, p->len + 1);
        o->name_lens[i] = p->len;
        o->nprop = i + 1;
        o->required[i] = (uint8_t)p->required;
        o->rules[i] = rule_of(c, &p->cj);
        if (o->rules[i] < 0) goto fail;
        if (p->dep) anydep = 1;
    }
    if (anydep) {
        o->dep_req = calloc((size_t)np + 1, sizeof *o->dep_req);
        o->n_dep_req = calloc((size_t)np + 1, sizeof *o->n_dep_req);
        if (!o->dep_req || !o->n_dep_req) goto fail;
        for (int i = 0; i < np; i++) {
            if (!v->props[i].dep) continue;
            int k = v->props[i].dep[0];
            o->dep_req[i] = malloc((size_t)k * sizeof **o->dep_req);
            if (!o->dep_req[i]) goto fail;
            for (int j = 0; j < k; j++) o->dep_req[i][j] = v->props[i].dep[1 + j];
            o->n_dep_req[i] = k;
        }
    }
    for (int j = 0; j < v->npats; j++) {
        cf_err e;
        int rc = sc_regex(c, v->pats[j].re.src, v->pats[j].re.len, CF_RE_SEARCH, &o->pat_re[j], &e);
        if (rc) {
            sc_fail(c, v->pats[j].re.at, rc, "patternProperties '%.80s': %s", v->pats[j].re.src, e.msg);
            goto fail;
        }
        o->npat = j + 1;
        o->pat_rules[j] = rule_of(c, &v->pats[j].cj);
        if (o->pat_rules[j] < 0) goto fail;
    }
    o->additional = v->add_kind == 1 ? CF_GR_NONE : v->add_kind == 2 ? sc_compile(c, &v->add) : sc_any(c);
    if (v->add_kind != 1 && o->additional < 0) goto fail;
    if (v->has_pnames) {
        sview kv;
        if (sv_build(c, &v->pnames, &kv)) goto fail;
        if (kv.ncmb || kv.has_enum || kv.nsep) {
            sv_free(&kv);
            if (sc_unsupported(c, v->pnames.it[0].n, "propertyNames beyond string constraints")) goto fail;
        } else if (kv.is_false || !(kv.types & T_STR)) {
            o->max_props = 0;
            sv_free(&kv);
        } else {
            cf_native kn = {.kind = CF_NAT_STRING};
            kn.u.s.min_len = kv.min_len;
            kn.u.s.max_len = kv.max_len;
            if (compile_regexes(c, &kv, &kn.u.s)) {
                sv_free(&kv);
                goto fail;
            }
            sv_free(&kv);
            o->key_native = cf_grammar_add_native(c->g, &kn);
            if (o->key_native < 0) goto fail;
        }
    }
    return native_gx(c, &n);
fail:
    if (!c->failed) oom(c, NULL);
    {
        /* the grammar frees natives it owns; this one was never added */
        for (int i = 0; i < o->nprop; i++) free(o->names[i]);
        free(o->names);
        free(o->name_lens);
        free(o->rules);
        free(o->required);
        free(o->pat_re);
        free(o->pat_rules);
        if (o->dep_req)
            for (int i = 0; i < np; i++) free(o->dep_req[i]);
        free(o->dep_req);
        free(o->n_dep_req);
    }
    return -1;
}

static cf_gx emit_array(sc *c, sview *v) {
    cf_native n = {.kind = CF_NAT_ARRAY};
    cf_nat_array *a = &n.u.arr;
    a->min_items = v->min_items;
    a->max_items = v->max_items;
    a->contains = CF_GR_NONE;
    a->max_contains = -1;
    a->prefix = calloc((size_t)v->nprefix + 1, sizeof *a->prefix);
    if (!a->prefix) {
        oom(c, NULL);
        return -1;
    }
    for (int i = 0; i < v->nprefix; i++) {
        a->prefix[i] = rule_of(c, &v->prefix[i]);
        if (a->prefix[i] < 0) {
            free(a->prefix);
            return -1;
        }
        a->nprefix = i + 1;
    }
    a->items = v->rest_kind == 1 ? CF_GR_NONE : rule_of(c, &v->rest);
    if (v->rest_kind != 1 && a->items < 0) {
        free(a->prefix);
        return -1;
    }
    if (v->has_contains) {
        a->contains = rule_of(c, &v->contains);
        a->min_contains = v->min_contains;
        a->max_contains = v->max_contains;
        if (a->contains < 0) {
            free(a->prefix);
            return -1;
        }
        if (a->min_contains == 0) a->contains = CF_GR_NONE;   /* no constraint left (but maxContains) */
        if (v->max_contains >= 0 && a->contains == CF_GR_NONE) a->contains = rule_of(c, &v->contains);
    }
    return native_gx(c, &n);
}

/* A grammar for exactly the JSON value x (up to JSON equality for numbers and key order). */
static int32_t const_rule(sc *c, const cf_json *x, int depth) {
    if (depth > 200) {
        sc_fail(c, NULL, CF_ELIMIT, "const/enum value nested too deeply");
        return -1;
    }
    cf_grammar *g = c->g;
    cf_gx body = -1;
    sview tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.types = T_ALL;
    tmp.max_len = -1;
    switch (x->type) {
    case CF_JSON_NULL: body = cf_gx_str(g, "null"); break;
    case CF_JSON_BOOL: body = cf_gx_str(g, x->b ? "true" : "false"); break;
    case CF_JSON_STRING: body = emit_string(c, &tmp, &x, 1); break;
    case CF_JSON_NUMBER: body = emit_number(c, &tmp, &x, 1); break;
    case CF_JSON_OBJECT: {
        cf_native n = {.kind = CF_NAT_OBJECT};
        cf_nat_object *o = &n.u.obj;
        size_t np = x->len;
        o->names = calloc(np + 1, sizeof *o->names);
        o->name_lens = calloc(np + 1, sizeof *o->name_lens);
        o->rules = calloc(np + 1, sizeof *o->rules);
        o->required = calloc(np + 1, 1);
        o->additional = CF_GR_NONE;
        o->key_native = -1;
        o->min_props = (int64_t)np;
        o->max_props = (int64_t)np;
        if (!o->names || !o->name_lens || !o->rules || !o->required) {
            free(o->names);
            free(o->name_lens);
            free(o->rules);
            free(o->required);
            oom(c, x);
            return -1;
        }
        /* duplicate keys: the last one wins (as the parser's lookup does) */
        int k = 0;
        for (size_t i = 0; i < np; i++) {
            int dup = 0;
            for (size_t j = i + 1; j < np && !dup; j++)
                dup = x->key_lens[j] == x->key_lens[i] && !memcmp(x->keys[j], x->keys[i], x->key_lens[i]);
            if (dup) continue;
            o->names[k] = malloc(x->key_lens[i] + 1);
            if (!o->names[k]) break;
            memcpy(o->names[k], x->keys[i], x->key_lens[i] + 1);
            o->name_lens[k] = x->key_lens[i];
            o->required[k] = 1;
            o->nprop = k + 1;
            o->rules[k] = const_rule(c, x->items[i], depth + 1);
            k++;
        }
        o->min_props = o->max_props = k;
        body = native_gx(c, &n);
        break;
    }
    case CF_JSON_ARRAY: {
        cf_native n = {.kind = CF_NAT_ARRAY};
        cf_nat_array *a = &n.u.arr;
        a->prefix = calloc(x->len + 1, sizeof *a->prefix);
        if (!a->prefix) {
            oom(c, x);
            return -1;
        }
        for (size_t i = 0; i < x->len; i++) a->prefix[a->nprefix++] = const_rule(c, x->items[i], depth + 1);
        a->items = CF_GR_NONE;
        a->min_items = a->max_items = (int64_t)x->len;
        a->contains = CF_GR_NONE;
        a->max_contains = -1;
        body = native_gx(c, &n);
        break;
    }
    }
    if (c->failed || body < 0) return -1;
    int32_t r = cf_grammar_new_rule(g, "const");
    if (r < 0) {
        oom(c, x);
        return -1;
    }
    cf_grammar_define(g, r, body);
    return r;
}

static cf_gx alt_list(sc *c, cf_gx *k, int n) {
    for (int i = 0; i < n; i++)
        if (k[i] < 0) return -1;
    return cf_gx_alt(c->g, k, n);
}

static cf_gx emit_enum(sc *c, sview *v) {
    cf_grammar *g = c->g;
    int n = v->nev;
    const cf_json **strs = malloc(((size_t)n + 1) * sizeof *strs), **nums = malloc(((size_t)n + 1) * sizeof *nums);
    cf_gx *parts = malloc(((size_t)n + 8) * sizeof *parts);
    cf_gx *objs = malloc(((size_t)n + 1) * sizeof *objs);
    if (!strs || !nums || !parts || !objs) {
        free(strs);
        free(nums);
        free(parts);
        free(objs);
        oom(c, NULL);
        return -1;
    }
    int ns = 0, nn = 0, np = 0;
    int has_t = 0, has_f = 0, has_null = 0;
    for (int i = 0; i < n; i++) {
        const cf_json *x = v->ev[i];
        int t = sc_json_type_bits(x, v->int_strict);
        if (!(t & v->types)) continue;
        switch (x->type) {
        case CF_JSON_STRING: strs[ns++] = x; break;
        case CF_JSON_NUMBER: nums[nn++] = x; break;
        case CF_JSON_BOOL:
            if (x->b) has_t = 1;
            else has_f = 1;
            break;
        case CF_JSON_NULL: has_null = 1; break;
        default: break;
        }
    }
    if (ns) parts[np++] = emit_string(c, v, strs, ns);
    if (nn) parts[np++] = emit_number(c, v, nums, nn);
    if (has_t) parts[np++] = cf_gx_str(g, "true");
    if (has_f) parts[np++] = cf_gx_str(g, "false");
    if (has_null) parts[np++] = cf_gx_str(g, "null");
    /* objects / arrays: exact values; when object / array keywords also apply, intersect */
    for (int pass = 0; pass < 2 && !c->failed; pass++) {
        int want = pass ? CF_JSON_ARRAY : CF_JSON_OBJECT;
        int cnt = 0;
        for (int i = 0; i < n; i++) {
            const cf_json *x = v->ev[i];
            if ((int)x->type != want || !(sc_json_type_bits(x, v->int_strict) & v->types)) continue;
            int32_t r = const_rule(c, x, 0);
            if (r < 0) break;
            objs[cnt++] = cf_gx_ref(g, r);
        }
        if (!cnt || c->failed) continue;
        cf_gx alt = alt_list(c, objs, cnt);
        int has_kw = pass ? v->has_arr : v->has_obj;
        if (has_kw && alt >= 0) {
            int32_t ra = cf_grammar_new_rule(g, "enum");
            int32_t rk = cf_grammar_new_rule(g, pass ? "array" : "object");
            cf_gx core = pass ? emit_array(c, v) : emit_object(c, v);
            if (ra < 0 || rk < 0 || core < 0) {
                if (!c->failed) oom(c, NULL);
                break;
            }
            cf_grammar_define(g, ra, alt);
            cf_grammar_define(g, rk, core);
            cf_native cn = {.kind = CF_NAT_COMBO};
            cn.u.combo.kind = CF_COMBO_ALL;
            cn.u.combo.nb = 2;
            cn.u.combo.branches = malloc(2 * sizeof(int32_t));
            if (!cn.u.combo.branches) {
                oom(c, NULL);
                break;
            }
            cn.u.combo.branches[0] = ra;
            cn.u.combo.branches[1] = rk;
            alt = native_gx(c, &cn);
        }
        parts[np++] = alt;
    }
    cf_gx r = c->failed ? -1 : (np ? alt_list(c, parts, np) : cf_gx_fail(g));
    free(strs);
    free(nums);
    free(parts);
    free(objs);
    return r;
}

cf_gx sv_emit_core(sc *c, sview *v) {
    cf_grammar *g = c->g;
    if (v->is_false) return cf_gx_fail(g);
    if (v->has_enum) return emit_enum(c, v);
    cf_gx parts[8];
    int np = 0;
    if (v->types & T_OBJ) parts[np++] = emit_object(c, v);
    if (v->types & T_ARR) parts[np++] = emit_array(c, v);
    if (v->types & T_STR) parts[np++] = emit_string(c, v, NULL, 0);
    if (v->types & (T_NUM | T_INT)) parts[np++] = emit_number(c, v, NULL, 0);
    if (v->types & T_BOOL) parts[np++] = cf_gx_alt2(g, cf_gx_str(g, "true"), cf_gx_str(g, "false"));
    if (v->types & T_NULL) parts[np++] = cf_gx_str(g, "null");
    if (c->failed) return -1;
    if (!np) return cf_gx_fail(g);
    return alt_list(c, parts, np);
}
