/* Internals of the regex compiler (not an API): code-point sets, the pattern AST and the parser.
 * regex.c turns the AST into a byte-level NFA and a lazily built DFA. */
#ifndef CF_RE_INTERNAL_H
#define CF_RE_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "sampler/regex.h"

#define RE_MAX_CP 0x10FFFFu

/* A set of code points: sorted, disjoint, non-adjacent closed ranges. */
typedef struct {
    uint32_t lo, hi;
} re_range;
typedef struct {
    re_range *r;
    size_t n, cap;
} re_set;

int re_set_add(re_set *s, uint32_t lo, uint32_t hi);        /* unnormalized append; -1 on OOM */
int re_set_addset(re_set *s, const re_set *o);
void re_set_norm(re_set *s);                                 /* sort + merge */
int re_set_negate(re_set *s);                                /* complement in [0, U+10FFFF] */
void re_set_free(re_set *s);
/* The ECMA sets: 'd' 'w' 's' '.' (dot: all but line terminators); upper case = complement. */
int re_set_class(re_set *s, char which);
/* Unicode \p{name}: adds the property's code points (negate for \P); 0, or -1 if unknown. */
int re_set_property(re_set *s, const char *name, size_t n);

typedef enum {
    RN_EMPTY,     /* matches "" */
    RN_SET,       /* one code point from set */
    RN_CAT,       /* children in order */
    RN_ALT,       /* one of the children */
    RN_REP,       /* child {min,max}; max < 0 = unbounded */
    RN_BEGIN,     /* ^ */
    RN_END,       /* $ */
    RN_WORDB,     /* \b */
    RN_NWORDB,    /* \B */
    RN_GROUP,     /* capturing group: child; set = group number (1-based) */
    RN_LOOK,      /* lookaround: child; min = 1 behind / 0 ahead; max = 1 negative */
    RN_BACKREF,   /* backreference: set = group number */
} re_kind;

typedef struct {
    re_kind kind;
    int32_t child, next;   /* first child; next sibling (-1 = none) */
    int32_t min, max;      /* REP */
    int32_t set;           /* SET: index into re_ast.sets */
    int32_t col;           /* 1-based column in the pattern (for messages) */
} re_node;

typedef struct {
    re_node *nodes;
    size_t n, cap;
    re_set *sets;
    size_t nsets, capsets;
    int32_t root;
    int has_wordb;
    int has_bt;        /* lookaround or backreferences (only with RE_PARSE_BACKTRACK) */
    int ngroups;
} re_ast;

/* Parses an ECMA-262 pattern (UTF-8).  Errors: "column N: what" with CF_EFORMAT (syntax),
 * CF_EUNSUPPORTED (backreference, lookaround, inline flags, unknown \p), CF_ELIMIT (caps). */
#define RE_PARSE_BACKTRACK 1   /* accept lookaround and backreferences */
int re_parse(const char *pat, size_t len, unsigned flags, re_ast *ast, cf_err *err);
/* Backtracking matcher over the AST (any node kind), on UTF-8 text: 1 match, 0 no match (also
 * for invalid UTF-8), -1 if CF_RE_BT_MAX_STEPS or CF_RE_BT_MAX_DEPTH was hit. */
int re_bt_match(const re_ast *a, int full, const char *s, size_t n);
void re_ast_free(re_ast *ast);

#endif
