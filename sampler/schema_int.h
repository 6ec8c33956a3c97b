/* Internals of the JSON Schema compiler (schema.c, schema_emit.c, schema_format.c). */
#ifndef CF_SCHEMA_INT_H
#define CF_SCHEMA_INT_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "sampler/grammar.h"
#include "sampler/json.h"
#include "sampler/schema.h"

/* A conjunction item: a schema node whose keywords all apply, minus the skipped combinators. */
/* SK_EXP: the node's $ref target and allOf branches are already in the conjunction */
enum { SK_ANYOF = 1, SK_ONEOF = 2, SK_NOT = 4, SK_IF = 8, SK_DEPS = 16, SK_ALLOF = 32, SK_EXP = 64 };

typedef struct {
    const cf_json *n;   /* object or boolean schema */
    uint32_t skip;
} sitem;

typedef struct {
    sitem *it;
    int n, cap;
} conj;

/* type bits */
enum { T_NULL = 1, T_BOOL = 2, T_OBJ = 4, T_ARR = 8, T_NUM = 16, T_INT = 32, T_STR = 64, T_ALL = 127 };

typedef struct {
    const cf_json *v;   /* number node (exact lexeme), NULL = none */
    int excl;
} sbound;

typedef struct {
    const char *src;    /* regex source (NUL-terminated, owned by the document or static) */
    size_t len;
    int mode;           /* CF_RE_SEARCH (pattern) / CF_RE_FULL (format) */
    const cf_json *at;  /* node for error messages */
    const char *what;   /* "pattern" or "format" */
} sregex;

typedef struct {
    /* expanded items (after $ref / allOf) */
    conj items;
    uint8_t types;
    int int_strict;     /* draft-04 integers */
    int has_enum;
    const cf_json **ev;
    int nev, capev;
    /* strings */
    int64_t min_len, max_len;
    sregex *re;
    int nre, capre;
    /* numbers */
    sbound lo, hi;
    const cf_json **mult;
    int nmult, capmult;
    /* combinators: (item index, kind) */
    struct scmb {
        int item;
        int kind;       /* SK_* */
    } *cmb;
    int ncmb, capcmb;
    /* items that could not be merged: compiled apart and intersected (ALL) */
    int *sep;
    int nsep, capsep;
    int is_false;       /* some item is `false` */
    /* objects (merged over the items with object keywords) */
    int has_obj;
    struct sprop {
        char *name;     /* decoded */
        size_t len;
        conj cj;        /* empty = any */
        int required;
        int *dep;       /* dependentRequired: property indices, dep[0] = count */
    } *props;
    int nprops, capprops;
    int32_t *phash;     /* property index + 1 by name hash; size phmask + 1 */
    uint32_t phmask;
    struct spat {
        sregex re;
        conj cj;
    } *pats;
    int npats, cappats;
    int add_kind;       /* 0 any, 1 none (false), 2 conj */
    conj add;
    int64_t min_props, max_props;
    int has_pnames;
    conj pnames;
    /* arrays */
    int has_arr;
    conj *prefix;
    int nprefix;
    int rest_kind;      /* 0 any, 1 none, 2 conj */
    conj rest;
    int64_t min_items, max_items;
    int has_contains;
    conj contains;
    int64_t min_contains, max_contains;
} sview;

typedef struct memo_ent memo_ent;

typedef struct sc {
    const cf_json *root;
    cf_schema_opts o;
    cf_grammar *g;
    cf_err *err;
    int failed;
    int draft;          /* 4, 6, 7, 2019, 2020 */
    /* node index: path, base URI, resource root */
    struct nidx {
        const cf_json *n;
        char *path;
        char *base;
        const cf_json *res;
        uint8_t schema;   /* a schema position (not data inside an unknown keyword) */
    } *idx;
    size_t nidx, capidx;
    uint32_t *idxh;     /* hash slots: index + 1 */
    size_t idxmask;
    /* memo: conj -> rule */
    memo_ent **memo;
    size_t memomask, nmemo;
    int any_rule;       /* generic JSON value, -1 until needed */
    const cf_json *fnode;   /* a `false` schema node (strict additionalProperties) */
    int false_rule;
    cf_json_doc **docs; /* synthetic schemas (dependentSchemas conditions) */
    int ndocs, capdocs;
    int nrules;
    int depth;
    /* compiled regexes by (source, mode); they live in the grammar's pool */
    struct recache {
        const char *src;
        size_t len;
        int mode;
        cf_regex *re;
    } *rc;
    int nrc, caprc;
} sc;

/* schema.c */
int sc_fail(sc *c, const cf_json *at, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *sc_path(sc *c, const cf_json *n);
int32_t sc_compile(sc *c, const conj *cj);          /* rule id, -1 on failure */
int32_t sc_compile1(sc *c, const cf_json *n);        /* a single node */
int32_t sc_any(sc *c);
int32_t sc_false(sc *c);
int conj_add(conj *cj, const cf_json *n, uint32_t skip);
void conj_free(conj *cj);
const cf_json *sc_resolve(sc *c, const cf_json *at, const char *ref);
const cf_json *sc_synth(sc *c, const char *json);   /* parses and keeps a small schema */
int sc_unsupported(sc *c, const cf_json *at, const char *what);   /* refuse, or warn under lenient */

/* A compiled regex from the per-schema cache (owned by the grammar's pool); 0 or an error code
 * with the message in *e. */
int sc_regex(sc *c, const char *src, size_t len, int mode, cf_regex **out, cf_err *e);

/* schema_emit.c */
int sv_build(sc *c, const conj *cj, sview *v);
void sv_free(sview *v);
cf_gx sv_emit_core(sc *c, sview *v);   /* the value grammar of the merged keywords (no combinators) */
int sv_types_of(sc *c, const cf_json *n);   /* quick: type bits a single schema allows (for disjointness) */
int sc_json_type_bits(const cf_json *x, int int_strict);

/* schema_format.c: regex (full match) for a format, and an extra code-point cap (0 = none).
 * Returns 1 known+enforced, 0 unknown (annotation), -1 known to validators but not enforceable. */
int sc_format(const char *name, const char **regex, int64_t *max_len);

#endif
