/* ECMA-262 regular expressions as JSON Schema `pattern` uses them (unicode mode: code points),
 * compiled to an automaton over UTF-8 bytes.  Supported: literals and escapes (\t \n \v \f \r \0
 * \cX \xHH \uHHHH incl. surrogate pairs, \u{...}), `.` (not \n \r U+2028 U+2029), classes `[...]`
 * with ranges and negation (`[]` matches nothing, `[^]` anything), `\d \D \w \W` (ASCII),
 * `\s \S` (ECMA white space incl. Unicode spaces and U+FEFF), `\p{..}`/`\P{..}` (general
 * categories and long aliases, White_Space, Any, ASCII), quantifiers `* + ? {m} {m,} {m,n}`
 * (greedy and lazy: same language), groups `(...)`, `(?:...)`, named groups, alternation `|`,
 * anchors `^ $` anywhere (assertions, honoured in both modes), `\b \B` (exact, in the DFA).
 * Annex-B leniencies: `\` before any ASCII punctuation is that character; a `{` that does not
 * start a quantifier, and a lone `]` or `}`, are literals.
 * Refused with CF_EUNSUPPORTED and the column (valid ECMA an automaton cannot do): backreferences
 * and lookahead/lookbehind (unless CF_RE_BACKTRACK), octal escapes, unknown \p names.  Syntax
 * errors are CF_EFORMAT, including Python-isms ((?P<n>..), (?i), (?#..), \Z) and unknown letter
 * escapes.
 *
 * Semantics: CF_RE_SEARCH (JSON Schema): the pattern matches if it matches anywhere in the
 * string (compiled as [\s\S]*(?:P)[\s\S]*); CF_RE_FULL: the whole string must match.  Input is
 * UTF-8; a string with invalid UTF-8 never matches.
 *
 * The DFA is built lazily and cached inside the cf_regex (not thread-safe: one user at a time).
 * cf_regex_live is exact: NFA states that cannot reach acceptance are pruned from every DFA
 * state, so every state but -1 and the start state is live (with \b/\B a forward search decides,
 * memoized; it expands at most CF_RE_LIVE_SEARCH_MAX DFA states, beyond which the state is
 * called live: never wrongly dead, possibly a dead end called live). */
#ifndef CF_REGEX_H
#define CF_REGEX_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"

enum { CF_RE_SEARCH = 0, CF_RE_FULL = 1 };
/* Mode flag: accept lookahead, lookbehind and backreferences; such patterns compile to a bounded
 * backtracking matcher (cf_regex_match only: no DFA, cf_regex_is_dfa() = 0, cf_regex_start = -1).
 * Patterns without them still get the automaton.  For validators, not for constrained decoding. */
#define CF_RE_BACKTRACK 4

/* Caps (CF_ELIMIT when exceeded).  DFA caps are hit while stepping, not at compile time:
 * cf_regex_next then returns -1 and cf_regex_overflowed() says so (cf_regex_match falls back to
 * an uncached NFA simulation and stays exact). */
#define CF_RE_MAX_PATTERN    32768      /* pattern bytes */
#define CF_RE_MAX_DEPTH      200        /* group nesting */
#define CF_RE_MAX_REPEAT     1000       /* m and n in {m,n} */
#define CF_RE_MAX_NFA        200000     /* NFA states after expanding repetitions */
#define CF_RE_MAX_DFA_STATES 50000      /* lazily built DFA states per regex */
#define CF_RE_MAX_DFA_BYTES  (64u << 20) /* transition tables + state sets per regex */
#define CF_RE_LIVE_SEARCH_MAX 512      /* DFA states one \b/\B liveness search expands */
#define CF_RE_BT_MAX_STEPS   2000000    /* CF_RE_BACKTRACK matcher: steps per match */
#define CF_RE_BT_MAX_DEPTH   20000      /* ... and nested choice points (~ string length) */

typedef struct cf_regex cf_regex;

/* On error: CF_EFORMAT / CF_EUNSUPPORTED / CF_ELIMIT with "column N: what". */
int cf_regex_compile(const char *pattern, size_t len, int mode, cf_regex **out, cf_err *err);
void cf_regex_free(cf_regex *re);
/* 1 if s (UTF-8) matches under the compiled mode, 0 if not; -1 only for a backtracking regex
 * that hit CF_RE_BT_MAX_STEPS or CF_RE_BT_MAX_DEPTH. */
int cf_regex_match(cf_regex *re, const char *s, size_t n);
/* 0 for a backtracking (CF_RE_BACKTRACK with lookaround/backrefs) regex: the DFA API is unusable. */
int cf_regex_is_dfa(const cf_regex *re);

/* Byte-level DFA: states are small non-negative ints; -1 is the dead state. */
int32_t cf_regex_start(cf_regex *re);
int32_t cf_regex_next(cf_regex *re, int32_t state, uint8_t byte);
int cf_regex_accepting(cf_regex *re, int32_t state);   /* the input so far matches */
int cf_regex_live(cf_regex *re, int32_t state);        /* some continuation can still match */
/* 1 if a DFA cap was hit (some cf_regex_next returned -1 for that reason); err gets the message. */
int cf_regex_overflowed(const cf_regex *re, cf_err *err);
/* Sizes for diagnostics: NFA states, DFA states built so far, bytes held by the DFA cache. */
void cf_regex_stats(const cf_regex *re, size_t *nfa_states, size_t *dfa_states, size_t *dfa_bytes);

#endif
