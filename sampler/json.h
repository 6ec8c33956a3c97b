/* JSON (RFC 8259) parser into an immutable DOM, with positions for error messages, a serializer,
 * and JSON-pointer lookup.  Bad input gives CF_EFORMAT with "line L column C (offset O): what".
 * Strict: no comments, trailing commas, NaN/Infinity, leading zeros, raw control characters or
 * invalid UTF-8 in strings; `\u` escapes must pair surrogates (a lone surrogate is an error).
 * A leading UTF-8 byte order mark is skipped (RFC 8259 8.1 allows it).  Parsing is O(n); objects
 * with many members get a hash index so cf_json_get stays O(1).
 * Limits (CF_ELIMIT): nesting depth CF_JSON_MAX_DEPTH, document size CF_JSON_MAX_BYTES. */
#ifndef CF_JSON_H
#define CF_JSON_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"

#define CF_JSON_MAX_DEPTH 512
#define CF_JSON_MAX_BYTES (256u << 20)

typedef enum {
    CF_JSON_NULL = 0, CF_JSON_BOOL, CF_JSON_NUMBER, CF_JSON_STRING, CF_JSON_ARRAY, CF_JSON_OBJECT
} cf_json_type;

typedef struct cf_json cf_json;
struct cf_json {
    cf_json_type type;
    int b;                 /* BOOL */
    double num;            /* NUMBER (nearest double) */
    int is_int;            /* NUMBER written without fraction/exponent and fits int64 */
    int64_t i;             /* NUMBER when is_int */
    const char *num_text;  /* NUMBER: the original lexeme (NUL-terminated), for exact checks */
    char *str;             /* STRING: decoded UTF-8, NUL-terminated (may contain NUL: use len) */
    size_t len;            /* STRING: bytes; ARRAY/OBJECT: number of items / members */
    cf_json **items;       /* ARRAY items; OBJECT member values (in document order) */
    char **keys;           /* OBJECT member keys (decoded, NUL-terminated) */
    size_t *key_lens;      /* OBJECT key lengths in bytes */
    size_t offset;         /* byte offset of the value in the source text */
    const uint32_t *index; /* OBJECT: private key hash (NULL = linear scan); [0] = mask, then slots */
};

typedef struct cf_json_doc cf_json_doc;   /* owns every node (arena) */

int cf_json_parse(const char *text, size_t len, cf_json_doc **out, cf_err *err);
const cf_json *cf_json_root(const cf_json_doc *d);
void cf_json_free(cf_json_doc *d);

/* Object member by key (last one wins on duplicates); NULL if absent or not an object. */
const cf_json *cf_json_get(const cf_json *obj, const char *key);
/* RFC 6901 pointer ("" = root, "/a/0/b~1c"); NULL if it does not resolve. */
const cf_json *cf_json_pointer(const cf_json *root, const char *ptr);
/* A `$ref` fragment ("#/definitions/a%20b" or "/definitions/a%20b"; leading '#' optional):
 * percent-decodes (%XX) and then resolves it as an RFC 6901 pointer.  NULL if malformed/absent. */
const cf_json *cf_json_pointer_uri(const cf_json *root, const char *frag);
/* Exact numeric comparison of two JSON number lexemes (any size/precision): <0, 0, >0.
 * Non-numbers (or NULL lexemes) compare by the nearest double. */
int cf_json_num_cmp(const cf_json *a, const cf_json *b);
/* Line and column (1-based; column counts code points) of byte offset `off` in text. */
void cf_json_linecol(const char *text, size_t len, size_t off, size_t *line, size_t *col);
/* Deep equality as JSON Schema defines it (1 == 1.0, object member order irrelevant). */
int cf_json_equal(const cf_json *a, const cf_json *b);
/* Compact serialization (RFC 8259, non-ASCII kept as UTF-8); returns a malloc'ed string. */
char *cf_json_write(const cf_json *v, size_t *len);
/* Escapes s as a JSON string literal (with quotes) into a malloc'ed string. */
char *cf_json_quote(const char *s, size_t n, size_t *out_len);

#endif
