/* ECMA-262 regular expressions as JSON Schema `pattern` uses them, compiled to an automaton over
 * UTF-8 bytes.  Supported: literals and escapes, `.`, classes `[...]` with ranges and negation,
 * `\d \D \w \W \s \S`, `\p{..}`/`\P{..}` (general categories), quantifiers `* + ? {m} {m,} {m,n}`
 * (greedy and lazy: same language), groups `(...)`, `(?:...)`, named groups, alternation `|`,
 * anchors `^ $` (at pattern start/end), `\b` only where it can be decided (else refused).
 * Refused with CF_EUNSUPPORTED and the column: backreferences, lookaround.
 * Limits (CF_ELIMIT): pattern length, repetition counts, NFA size, DFA states (see .c).
 *
 * Semantics: CF_RE_SEARCH (JSON Schema): the pattern matches if it matches anywhere in the
 * string (unanchored parts behave as if wrapped in .*); CF_RE_FULL: the whole string must match.
 *
 * The DFA is built lazily and cached inside the cf_regex (not thread-safe: one user at a time). */
#ifndef CF_REGEX_H
#define CF_REGEX_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"

enum { CF_RE_SEARCH = 0, CF_RE_FULL = 1 };

typedef struct cf_regex cf_regex;

/* On error: CF_EFORMAT / CF_EUNSUPPORTED / CF_ELIMIT with "column N: what". */
int cf_regex_compile(const char *pattern, size_t len, int mode, cf_regex **out, cf_err *err);
void cf_regex_free(cf_regex *re);
/* 1 if s (UTF-8) matches under the compiled mode. */
int cf_regex_match(cf_regex *re, const char *s, size_t n);

/* Byte-level DFA: states are small non-negative ints; -1 is the dead state. */
int32_t cf_regex_start(cf_regex *re);
int32_t cf_regex_next(cf_regex *re, int32_t state, uint8_t byte);
int cf_regex_accepting(cf_regex *re, int32_t state);   /* the input so far matches */
int cf_regex_live(cf_regex *re, int32_t state);        /* some continuation can still match */

#endif
