/* GBNF grammars as llama.cpp reads them, into the grammar IR (grammar.h).
 *
 *   root   ::= item ("," item)*          # rules; `root` is the start rule
 *   item   ::= [a-z]+ | "lit\"eral" | (x | y)? | z{2,5} | [^"\\] | .
 *
 * Rule names [A-Za-z0-9_-]+.  Terminals: "..." literals and [...] classes (with ^ negation and
 * ranges) over code points (matched as UTF-8); escapes \n \r \t \\ \" \[ \] \- \xHH \uHHHH
 * \UHHHHHHHH; `.` any code point.  Postfix * + ? {m} {m,} {m,n} {,n}.  Comments # to end of line.
 * Newlines end a rule except after `::=`, after `|`, and inside parentheses (as in llama.cpp).
 *
 * Errors (CF_EFORMAT) say "line L column C: what": missing root, undefined rule (named, at its
 * first use), bad escape, unterminated literal/class, bad repetition.  Left recursion is refused
 * naming the rule (CF_EFORMAT).  Caps (CF_ELIMIT): CF_GBNF_MAX_TEXT bytes of grammar, repetition
 * counts <= CF_GBNF_MAX_REPEAT, nesting <= CF_GBNF_MAX_DEPTH. */
#ifndef CF_GBNF_H
#define CF_GBNF_H
#include <stddef.h>

#include "kernels/err.h"
#include "sampler/grammar.h"

#define CF_GBNF_MAX_TEXT (4u << 20)
#define CF_GBNF_MAX_REPEAT 10000
#define CF_GBNF_MAX_DEPTH 200

/* Parses text into a new grammar (*out, rule 0 = root). */
int cf_gbnf_parse(const char *text, size_t len, cf_grammar **out, cf_err *err);

#endif
