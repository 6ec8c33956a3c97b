/* Grammar IR: the common target of the GBNF parser (gbnf.h) and the JSON Schema compiler
 * (schema.h), and the input of the constraint engine (constraint.h).
 *
 * A grammar is a set of named rules; rule 0 is the root.  A rule body is an expression over
 * bytes: byte strings, code-point classes (matched as UTF-8), sequence, alternation, bounded or
 * unbounded repetition, references to rules, and "natives": JSON-aware terminals that the
 * constraint engine runs as frames with their own state instead of expanding them into rules:
 *   STRING  a JSON string literal whose decoded value matches regexes / a literal set / a length
 *   NUMBER  a JSON number with exact bounds, multipleOf, integer-ness or a value set
 *   OBJECT  a JSON object: properties in any order, required, additional/pattern properties,
 *           min/maxProperties, dependentRequired, propertyNames
 *   ARRAY   a JSON array: prefixItems, items, min/maxItems, contains (+min/max)
 *   COMBO   a value that must satisfy a combination of rules decided when the value ends:
 *           ONE (oneOf), ALL (allOf that could not be merged), NOT, IF (if/then/else)
 * Natives refer to rules for their children (property values, items, combo branches); every
 * such rule must derive JSON values only (the schema compiler guarantees it).
 *
 * Expressions are handles (int32 indices; -1 = error/OOM).  Builders never fail loudly: on OOM
 * they return -1 and set a sticky flag that cf_grammar_check reports.  The grammar owns every
 * array and compiled regex given to it. */
#ifndef CF_GRAMMAR_H
#define CF_GRAMMAR_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "sampler/regex.h"

typedef int32_t cf_gx;   /* expression handle */

enum {
    CF_GX_FAIL = 0,  /* matches nothing */
    CF_GX_EMPTY,     /* matches the empty string */
    CF_GX_BYTES,     /* a byte string */
    CF_GX_CLASS,     /* one code point in (or not in) a set of ranges, as UTF-8 */
    CF_GX_SEQ,
    CF_GX_ALT,
    CF_GX_REPEAT,    /* kid{min,max}; max < 0 = unbounded */
    CF_GX_REF,       /* rule reference */
    CF_GX_NATIVE,    /* a native (index into the natives table) */
};

typedef struct {
    int kind;
    int32_t a;       /* BYTES: offset in byte pool; CLASS: offset in range pool; SEQ/ALT: offset in
                        kid pool; REPEAT: kid; REF: rule; NATIVE: native id */
    int32_t n;       /* BYTES: length; CLASS: number of ranges; SEQ/ALT: number of kids */
    int32_t min, max;/* REPEAT bounds */
    int neg;         /* CLASS: negated */
} cf_gx_node;

enum { CF_NAT_STRING = 1, CF_NAT_NUMBER, CF_NAT_OBJECT, CF_NAT_ARRAY, CF_NAT_COMBO };
enum { CF_COMBO_ONE = 1, CF_COMBO_ALL, CF_COMBO_NOT, CF_COMBO_IF };

#define CF_GR_NONE (-1)   /* "no rule": e.g. additionalProperties false, no more items */

/* A string: the decoded value must match every regex (each compiled with its own mode), be one
 * of the literals when has_lits, and have min_len <= code points <= max_len (max < 0: none). */
typedef struct {
    cf_regex **re;
    int nre;
    int re_borrowed;      /* the regexes belong to the grammar's pool (not freed with the native) */
    int always_live;      /* every regex is a search that any prefix can still satisfy (unanchored) */
    int has_lits;
    char **lits;          /* decoded values (may contain NUL: use lit_lens) */
    size_t *lit_lens;
    int nlit;
    int64_t min_len, max_len;
} cf_nat_string;

/* A number; bounds and multipleOf as exact decimal lexemes (NULL = none).  int_only: the value
 * must be an integer (1.0 counts; no_frac: written without fraction or exponent, as draft-04
 * wants).  mults: the value must be a multiple of each.  has_vals: the value must equal one of
 * vals (numerically). */
typedef struct {
    int int_only, no_frac;
    char *lo, *hi;
    int lo_excl, hi_excl;
    char **mults;
    int nmult;
    int has_vals;
    char **vals;
    int nval;
} cf_nat_number;

typedef struct {
    int nprop;
    char **names;         /* decoded property names */
    size_t *name_lens;
    int32_t *rules;       /* value rule per property */
    uint8_t *required;
    int npat;
    cf_regex **pat_re;    /* patternProperties (search semantics) */
    int pat_borrowed;     /* pat_re belong to the grammar's pool */
    int32_t *pat_rules;
    int32_t additional;   /* rule for other keys, CF_GR_NONE = not allowed */
    int64_t min_props, max_props;   /* max < 0: none */
    int32_t key_native;   /* propertyNames: a STRING native every key must satisfy, -1 = none */
    int32_t **dep_req;    /* dependentRequired: per property, indices that become required */
    int *n_dep_req;
} cf_nat_object;

typedef struct {
    int nprefix;
    int32_t *prefix;      /* prefixItems rules */
    int32_t items;        /* rule for items after the prefix; CF_GR_NONE = no more items */
    int64_t min_items, max_items;   /* max < 0: none */
    int32_t contains;     /* rule, CF_GR_NONE = no contains */
    int64_t min_contains, max_contains;   /* max < 0: none */
} cf_nat_array;

typedef struct {
    int kind;             /* CF_COMBO_*; NOT: branches = {any value, S}; IF: {if, then, else} */
    int nb;
    int32_t *branches;    /* rules */
} cf_nat_combo;

typedef struct {
    int kind;             /* CF_NAT_* */
    union {
        cf_nat_string s;
        cf_nat_number num;
        cf_nat_object obj;
        cf_nat_array arr;
        cf_nat_combo combo;
    } u;
} cf_native;

typedef struct {
    char *name;
    cf_gx body;           /* -1 = declared but not defined */
    size_t src_off;       /* where it was defined / referenced first (for messages) */
} cf_rule;

typedef struct cf_grammar {
    cf_rule *rules;
    int nrules, caprules;
    cf_gx_node *nodes;
    int32_t nnodes, capnodes;
    int32_t *kids;
    int32_t nkids, capkids;
    uint8_t *bytes;
    int32_t nbytes, capbytes;
    uint32_t *ranges;     /* CLASS ranges: lo, hi pairs (inclusive code points) */
    int32_t nranges, capranges;
    cf_native *natives;
    int nnatives, capnatives;
    int max_ws;           /* natives: cap on consecutive whitespace bytes between tokens */
    cf_regex **re_pool;   /* regexes shared by several natives (freed with the grammar) */
    int nre_pool, capre_pool;
    int oom;
    char *warnings;       /* newline-separated notes (lenient relaxations), NULL if none */
} cf_grammar;

cf_grammar *cf_grammar_new(void);
void cf_grammar_free(cf_grammar *g);

/* Finds or declares a rule by name; returns its id (-1 on OOM). */
int32_t cf_grammar_rule(cf_grammar *g, const char *name, size_t len);
/* A new rule with a unique name made from prefix. */
int32_t cf_grammar_new_rule(cf_grammar *g, const char *prefix);
void cf_grammar_define(cf_grammar *g, int32_t rule, cf_gx body);

cf_gx cf_gx_fail(cf_grammar *g);
cf_gx cf_gx_empty(cf_grammar *g);
cf_gx cf_gx_bytes(cf_grammar *g, const void *p, size_t n);
cf_gx cf_gx_str(cf_grammar *g, const char *s);
/* ranges: n (lo, hi) pairs of code points, inclusive. */
cf_gx cf_gx_class(cf_grammar *g, const uint32_t *ranges, int n, int negated);
cf_gx cf_gx_seq(cf_grammar *g, const cf_gx *kids, int n);
cf_gx cf_gx_seq2(cf_grammar *g, cf_gx a, cf_gx b);
cf_gx cf_gx_alt(cf_grammar *g, const cf_gx *kids, int n);
cf_gx cf_gx_alt2(cf_grammar *g, cf_gx a, cf_gx b);
cf_gx cf_gx_repeat(cf_grammar *g, cf_gx kid, int min, int max);
cf_gx cf_gx_ref(cf_grammar *g, int32_t rule);
/* Adds a native (copied shallowly: the grammar takes ownership of its arrays/regexes). */
int32_t cf_grammar_add_native(cf_grammar *g, const cf_native *nat);
cf_gx cf_gx_native(cf_grammar *g, int32_t native_id);

/* Hands a compiled regex to the grammar (freed with it); 0, or -1 on OOM (re is freed). */
int cf_grammar_pool_regex(cf_grammar *g, cf_regex *re);

/* Appends a line to g->warnings. */
void cf_grammar_warn(cf_grammar *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checks: OOM, undefined rules (error names the rule), left recursion (error names the rule),
 * dangling rule ids in natives.  0 = ok. */
int cf_grammar_check(const cf_grammar *g, cf_err *err);

/* Debug dump of the rules (GBNF-like) to a malloc'ed string. */
char *cf_grammar_dump(const cf_grammar *g);

#endif
