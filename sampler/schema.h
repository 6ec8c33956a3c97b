/* JSON Schema (draft 2020-12 semantics; draft-04/06/07/2019-09 spellings honoured as the root's
 * `$schema` says) -> grammar IR (grammar.h), for constrained decoding (constraint.h).
 *
 * Enforced exactly: type (incl. lists; integer = integral value, draft-04: no fraction),
 * enum, const (JSON equality), properties (any order), required, additionalProperties (default
 * true; opts.strict: false when `properties` is given), patternProperties, propertyNames
 * (string constraints), min/maxProperties, dependentRequired / dependencies, items, prefixItems,
 * additionalItems / array-form items, min/maxItems, contains + min/maxContains, minLength /
 * maxLength (code points), pattern (ECMA-262 via regex.h; unanchored = "contains"), format
 * (date, time, date-time, duration, uuid, email, hostname, ipv4, ipv6, uri, uri-reference,
 * json-pointer), minimum / maximum / exclusiveMinimum / exclusiveMaximum (exact decimals),
 * multipleOf (exact, at most 12 decimals), $ref / $defs / definitions / $id / $anchor (local:
 * JSON pointers, anchors, ids in the document) incl. recursion, allOf (merged into one schema
 * where possible), anyOf (distributed), oneOf (as anyOf when the branches are provably
 * disjoint), not, if / then / else, dependentSchemas.
 * oneOf / not / if and allOf parts that cannot be merged are decided when the value ends
 * ("combos", constraint.h): acceptance is exact; instances that can no longer pass are pruned at
 * every byte, but a prefix can still (rarely) have no valid ending, e.g. under `not`.
 *
 * Spellings accepted (the value set is exact; some spellings of a value are refused):
 *   - numbers with bounds / multipleOf / const / enum, and integers, are tracked exactly; values
 *     with an integer part beyond 1e24 or more than 12 decimals are refused; an exponent is
 *     accepted after a mantissa that can still lead to an allowed value (1e1 is an integer;
 *     1.5e1 is refused for integers); draft-04 integers are digits only; at most 40 bytes;
 *   - strings with a pattern, format, enum or const (and object keys) accept \u escapes only
 *     for ASCII (write other characters as UTF-8);
 *   - a named property may appear once (duplicate keys are refused; keys only
 *     additionalProperties governs are not tracked).
 *
 * Relaxations: a time with a leap second is accepted only at 23:59:60 UTC with a whole-hour offset;
 * hostname labels with "--" in positions 3-4 (punycode) are refused; email domains are not
 * length-checked.  These only refuse valid strings, never accept invalid ones (except the email
 * domain length).
 *
 * Not enforceable (refused with CF_EUNSUPPORTED naming the JSON pointer; opts.lenient drops them
 * with a warning in the grammar's warnings instead): uniqueItems, unevaluatedProperties /
 * unevaluatedItems, $dynamicRef / $recursiveRef, remote $ref, formats the validator asserts but
 * this compiler cannot (regex, uri-template, iri, iri-reference, idn-email, idn-hostname,
 * relative-json-pointer), multipleOf with more than 12 decimals, propertyNames beyond string
 * constraints.  Annotations and unknown keywords (title, description, default, examples,
 * $comment, deprecated, readOnly, x-*, unknown formats...) are ignored.
 *
 * Errors (the message starts with the JSON pointer): CF_EFORMAT malformed JSON (line/column),
 * invalid schema (a keyword with the wrong type) or bad regex (pattern column); CF_EINVAL
 * unresolvable $ref; CF_EUNSUPPORTED as above; CF_ELIMIT past the caps below. */
#ifndef CF_SCHEMA_H
#define CF_SCHEMA_H
#include <stddef.h>

#include "kernels/err.h"
#include "sampler/grammar.h"
#include "sampler/json.h"

#define CF_SCHEMA_MAX_RULES 20000     /* grammar rules one schema may produce */
#define CF_SCHEMA_MAX_ENUM 100000     /* enum values */
#define CF_SCHEMA_MAX_TEXT (16u << 20) /* schema bytes */

typedef struct {
    int max_ws;     /* whitespace bytes allowed between tokens (0 = compact JSON only); default 16 */
    int strict;     /* additionalProperties defaults to false where `properties` is given */
    int lenient;    /* drop unenforceable keywords with a warning instead of failing */
} cf_schema_opts;

void cf_schema_opts_default(cf_schema_opts *o);

/* Compiles schema text; *out gets a new grammar (rule 0 = root: leading whitespace, one value). */
int cf_schema_compile(const char *json, size_t len, const cf_schema_opts *o, cf_grammar **out, cf_err *err);
/* Same from a parsed document (the document may be freed afterwards). */
int cf_schema_compile_json(const cf_json *schema, const cf_schema_opts *o, cf_grammar **out, cf_err *err);

#endif
