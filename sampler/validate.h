/* JSON Schema validator (draft 2020-12 semantics; draft 4-7 spellings accepted where they do not
 * clash: `definitions`, `dependencies`, array-form `items` + `additionalItems`, boolean
 * `exclusiveMinimum`/`exclusiveMaximum`, `id`/`$id` with a fragment as an anchor).  It is the
 * oracle for the constraint engine, so it aims to be exact rather than fast.
 *
 * Vocabulary: type, enum, const, multipleOf (exact decimal), minimum/maximum/exclusive* (exact
 * decimal comparison), minLength/maxLength (code points), pattern (ECMA, sampler/regex.h),
 * format (asserted: date, time, date-time, duration, uuid, email, idn-email, hostname, ipv4,
 * ipv6, uri, uri-reference, iri, iri-reference, uri-template, json-pointer,
 * relative-json-pointer, regex; other names are annotations), items, prefixItems,
 * additionalItems, contains/minContains/maxContains, minItems/maxItems, uniqueItems, properties,
 * patternProperties, additionalProperties, propertyNames, required, minProperties/maxProperties,
 * dependentRequired, dependentSchemas, allOf/anyOf/oneOf/not, if/then/else, unevaluatedItems,
 * unevaluatedProperties, $ref/$dynamicRef/$defs/$id/$anchor/$dynamicAnchor, boolean schemas.
 * Dialect: the root's `$schema` picks draft-04/06/07/2019-09/2020-12 rules (default 2020-12):
 * before 2019-09 a `$ref` makes its siblings ignored; keywords are only honoured from the draft
 * that introduced them (const/contains/propertyNames 6, if/then/else 7, dependentRequired/
 * dependentSchemas, unevaluated*, minContains, maxContains 2019-09, prefixItems 2020-12); in draft-04 an
 * integer is a number written without fraction or exponent.  `dependencies` and array-form
 * `items` are honoured in every dialect.
 * Not supported: references to documents other than the schema itself (remote $ref, including
 * the meta-schemas): CF_EUNSUPPORTED naming the URI.  Unknown keywords are ignored.
 *
 * Results: 0 = valid; CF_EINVAL = the instance is invalid, and `why` says where and why:
 *   "at /items/2/name: minLength (schema /properties/items/items/properties/name/minLength):
 *    2 code points, fewer than 3";
 * anything else = the schema itself is unusable (bad regex, unresolvable $ref, recursion cap),
 * with the schema location in the message. */
#ifndef CF_VALIDATE_H
#define CF_VALIDATE_H
#include <stddef.h>

#include "kernels/err.h"
#include "sampler/json.h"

#define CF_SCHEMA_MAX_DEPTH 512   /* nested schema evaluations (catches $ref cycles) */

typedef struct cf_validator cf_validator;

/* Indexes the schema ($id, anchors); the schema document must outlive the validator. */
int cf_validator_new(const cf_json *schema_root, cf_validator **out, cf_err *err);
/* Options: format is an assertion by default; this flag makes it an annotation (the spec's
 * default for 2019-09 / 2020-12 without the format-assertion vocabulary). */
#define CF_VALIDATE_FORMAT_ANNOTATION 1u
int cf_validator_new_opts(const cf_json *schema_root, unsigned flags, cf_validator **out, cf_err *err);
/* Validates one instance (compiled regexes and resolved refs are cached across calls). */
int cf_validator_check(cf_validator *v, const cf_json *instance, cf_err *why);
void cf_validator_free(cf_validator *v);

/* One-shot: cf_validator_new + check + free. */
int cf_schema_validate(const cf_json *schema_root, const cf_json *instance, cf_err *why);

/* 1 if s (UTF-8, n bytes) is valid for the named format, 0 if not, -1 if the format is unknown
 * (unknown formats are not asserted). */
int cf_format_check(const char *format, const char *s, size_t n);

#endif
