/* Hostile input: every parser refuses bad input with the documented error code and a message
 * that says what and where, within bounded time, and never crashes (run it under `make asan`).
 *
 *   regress   replays every input in tests/fuzz/regress/<target>/ through that fuzz target's own
 *             invariants (the tests/fuzz/fuzz_*.c files are compiled into this suite); a failed
 *             invariant aborts, which Check reports as the failing iteration (the file is named
 *             on stderr).
 *   table     one row per class of bad input and parser: expected code and message substring.
 *             CF_HOSTILE_PRINT=1 (or CINFER_TEST_VERBOSE=1), with CK_FORK=no, prints the table as
 *             markdown (class, code, actual message).
 *   pathological   inputs built to blow up (deep nesting, huge enums, {1000} repetitions,
 *             oversized texts) are refused or compiled within PATHOLOGICAL_MAX_S of CPU time.
 *   tokenizer / constraint / sampler  API-level misuse with real vocabularies. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <fcntl.h>
#include <unistd.h>

#include "model/context.h"
#include "model/engine.h"
#include "model/gguf.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "sampler/constraint.h"
#include "sampler/gbnf.h"
#include "sampler/json.h"
#include "sampler/regex.h"
#include "sampler/sampler.h"
#include "sampler/schema.h"
#include "sampler/validate.h"
#include "tests/testutil.h"

/* ---- the fuzz targets, each under its own entry-point name ---------------------------------- */
#define LLVMFuzzerTestOneInput fz_gguf_one
#include "tests/fuzz/fuzz_gguf.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_tokenizer_one
#include "tests/fuzz/fuzz_tokenizer.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_json_one
#include "tests/fuzz/fuzz_json.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_regex_one
#include "tests/fuzz/fuzz_regex.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_validate_one
#include "tests/fuzz/fuzz_validate.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_schema_one
#include "tests/fuzz/fuzz_schema.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_gbnf_one
#include "tests/fuzz/fuzz_gbnf.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_constraint_one
#include "tests/fuzz/fuzz_constraint.c"
#undef LLVMFuzzerTestOneInput

/* CPU seconds one pathological input may take to be refused or compiled (the machine is shared;
 * sanitizers slow compilation ~10x). */
#if defined(__SANITIZE_ADDRESS__)
#define PATHOLOGICAL_SLOW 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PATHOLOGICAL_SLOW 1
#endif
#endif
#ifdef PATHOLOGICAL_SLOW
#define PATHOLOGICAL_MAX_S 60.0
#else
#define PATHOLOGICAL_MAX_S 10.0
#endif

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- regression replay ------------------------------------------------------------------ */

typedef int (*fuzz_fn)(const uint8_t *, size_t);
static const struct {
    const char *name;
    fuzz_fn fn;
    int needs_shared;
} g_targets[] = {
    {"fuzz_gguf", fz_gguf_one, 0},         {"fuzz_tokenizer", fz_tokenizer_one, 1},
    {"fuzz_json", fz_json_one, 0},         {"fuzz_regex", fz_regex_one, 0},
    {"fuzz_validate", fz_validate_one, 0}, {"fuzz_schema", fz_schema_one, 0},
    {"fuzz_gbnf", fz_gbnf_one, 0},         {"fuzz_constraint", fz_constraint_one, 1},
};
#define NTARGETS (int)(sizeof g_targets / sizeof g_targets[0])
#define MAX_REGRESS 4096

typedef struct {
    int target;
    char path[512];
} regress_input;
static regress_input g_reg[MAX_REGRESS];
static int g_nreg;

static int cmp_reg(const void *a, const void *b) {
    return strcmp(((const regress_input *)a)->path, ((const regress_input *)b)->path);
}

static void scan_regress(void) {
    for (int t = 0; t < NTARGETS; t++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tests/fuzz/regress/%s", g_targets[t].name);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *de;
        while ((de = readdir(d)) && g_nreg < MAX_REGRESS) {
            if (de->d_name[0] == '.') continue;
            g_reg[g_nreg].target = t;
            snprintf(g_reg[g_nreg].path, sizeof g_reg[g_nreg].path, "%s/%s", dir, de->d_name);
            struct stat st;
            if (stat(g_reg[g_nreg].path, &st) == 0 && S_ISREG(st.st_mode)) g_nreg++;
        }
        closedir(d);
    }
    qsort(g_reg, (size_t)g_nreg, sizeof g_reg[0], cmp_reg);
}

START_TEST(test_regress) {
    int t = g_reg[_i].target;
    if (g_targets[t].needs_shared && !tu_have_shared()) return;
    size_t len = 0;
    char *buf = tu_read_file(g_reg[_i].path, &len);
    ck_assert_msg(buf != NULL, "cannot read %s", g_reg[_i].path);
    fprintf(stderr, "replaying %s (%zu bytes)\n", g_reg[_i].path, len);
    /* an exact-size copy, so ASan sees reads past the end as the fuzzer would */
    uint8_t *data = malloc(len ? len : 1);
    memcpy(data, buf, len);
    g_targets[t].fn(data, len);
    free(data);
    free(buf);
}
END_TEST

/* ---- generated inputs ---------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
} sb;

static void sb_add(sb *b, const void *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sb *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_rep(sb *b, const char *s, int k) {
    for (int i = 0; i < k; i++) sb_str(b, s);
}
static void sb_zero(sb *b, size_t n) {
    for (size_t i = 0; i < n; i++) sb_add(b, "", 1);
}
static void sb_fmt(sb *b, const char *fmt, long v) {
    char t[64];
    snprintf(t, sizeof t, fmt, v);
    sb_str(b, t);
}

static char *gen_deep_json(size_t *n) {   /* 513 nested arrays */
    sb b = {0};
    sb_rep(&b, "[", CF_JSON_MAX_DEPTH + 1);
    sb_rep(&b, "]", CF_JSON_MAX_DEPTH + 1);
    *n = b.n;
    return b.p;
}
static char *gen_deep_regex(size_t *n) {
    sb b = {0};
    sb_rep(&b, "(", CF_RE_MAX_DEPTH + 1);
    sb_str(&b, "a");
    sb_rep(&b, ")", CF_RE_MAX_DEPTH + 1);
    *n = b.n;
    return b.p;
}
static char *gen_long_pattern(size_t *n) {
    sb b = {0};
    sb_rep(&b, "a", CF_RE_MAX_PATTERN + 1);
    *n = b.n;
    return b.p;
}
static char *gen_big_enum(size_t *n) {
    sb b = {0};
    sb_str(&b, "{\"enum\":[0");
    for (long i = 1; i <= CF_SCHEMA_MAX_ENUM; i++) sb_fmt(&b, ",%ld", i);
    sb_str(&b, "]}");
    *n = b.n;
    return b.p;
}
static char *gen_deep_gbnf(size_t *n) {
    sb b = {0};
    sb_str(&b, "root ::= ");
    sb_rep(&b, "(", CF_GBNF_MAX_DEPTH + 1);
    sb_str(&b, "\"a\"");
    sb_rep(&b, ")", CF_GBNF_MAX_DEPTH + 1);
    *n = b.n;
    return b.p;
}
static char *gen_big_gbnf(size_t *n) {
    sb b = {0};
    sb_str(&b, "root ::= \"a\"\n");
    while (b.n <= CF_GBNF_MAX_TEXT) sb_str(&b, "# padding padding padding padding padding padding padding\n");
    *n = b.n;
    return b.p;
}
static char *gen_items_chain(size_t *n, int depth) {
    sb b = {0};
    sb_rep(&b, "{\"items\":", depth);
    sb_str(&b, "true");
    sb_rep(&b, "}", depth);
    *n = b.n;
    return b.p;
}
static char *gen_deep_schema(size_t *n) { return gen_items_chain(n, CF_JSON_MAX_DEPTH + 1); }
static char *gen_deep_schema512(size_t *n) { return gen_items_chain(n, CF_JSON_MAX_DEPTH); }
static char *gen_nested_items_schema(size_t *n) {   /* deep but parseable: 250 nested arrays */
    sb b = {0};
    sb_rep(&b, "{\"type\":\"array\",\"items\":", 250);
    sb_str(&b, "{\"type\":\"integer\"}");
    sb_rep(&b, "}", 250);
    *n = b.n;
    return b.p;
}
static char *gen_many_rules_schema(size_t *n) {   /* distinct subschemas beyond CF_SCHEMA_MAX_RULES */
    sb b = {0};
    sb_str(&b, "{\"type\":\"object\",\"properties\":{");
    for (long i = 0; i <= CF_SCHEMA_MAX_RULES; i++) {
        if (i) sb_str(&b, ",");
        sb_fmt(&b, "\"p%ld\":", i);
        sb_fmt(&b, "{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"minimum\":%ld}}", i);
    }
    sb_str(&b, "}}");
    *n = b.n;
    return b.p;
}
static char *gen_huge_validate_schema(size_t *n) {   /* a $ref chain deeper than the evaluation cap */
    sb b = {0};
    sb_str(&b, "{\"$defs\":{");
    for (long i = 0; i <= CF_SCHEMA_MAX_DEPTH; i++) {
        if (i) sb_str(&b, ",");
        sb_fmt(&b, "\"d%ld\":", i);
        sb_fmt(&b, "{\"$ref\":\"#/$defs/d%ld\"}", i + 1);
    }
    sb_fmt(&b, ",\"d%ld\":true},\"$ref\":\"#/$defs/d0\"}", CF_SCHEMA_MAX_DEPTH + 1);
    *n = b.n;
    return b.p;
}

/* ---- GGUF images ------------------------------------------------------------------------- */

enum { GT_U8 = 0, GT_U32 = 4, GT_BOOL = 7, GT_STRING = 8, GT_ARRAY = 9, GT_U64 = 10 };

static void g_u32(sb *b, uint32_t v) { sb_add(b, &v, 4); }
static void g_u64(sb *b, uint64_t v) { sb_add(b, &v, 8); }
static void g_str(sb *b, const char *s) {
    g_u64(b, strlen(s));
    sb_add(b, s, strlen(s));
}
static void g_head(sb *b, uint64_t nt, uint64_t nkv) {
    sb_add(b, "GGUF", 4);
    g_u32(b, 3);
    g_u64(b, nt);
    g_u64(b, nkv);
}
static void g_pad(sb *b, size_t align) {
    while (b->n % align) sb_add(b, "", 1);
}
/* One F32 tensor "t" of ne0 x 1 at offset off (no data appended). */
static void g_tensor(sb *b, const char *name, uint32_t ndim, uint64_t ne0, uint64_t ne1, uint32_t type, uint64_t off) {
    g_str(b, name);
    g_u32(b, ndim);
    g_u64(b, ne0);
    for (uint32_t d = 1; d < ndim; d++) g_u64(b, ne1);
    g_u32(b, type);
    g_u64(b, off);
}

/* Each builder returns a malloc'ed image (n = size). */
static char *gguf_empty(size_t *n) {
    *n = 0;
    return calloc(1, 1);
}
#define GGUF_BUILDER(fn, body)    \
    static char *fn(size_t *n) {  \
        sb b = {0};               \
        body;                     \
        *n = b.n;                 \
        return b.p;               \
    }
GGUF_BUILDER(gguf_bad_magic, { sb_add(&b, "GGML\3\0\0\0", 8); g_u64(&b, 0); g_u64(&b, 0); })
GGUF_BUILDER(gguf_v1, { sb_add(&b, "GGUF", 4); g_u32(&b, 1); g_u64(&b, 0); g_u64(&b, 0); })
GGUF_BUILDER(gguf_big_endian, { sb_add(&b, "GGUF\0\0\0\3", 8); g_u64(&b, 0); g_u64(&b, 0); })
GGUF_BUILDER(gguf_truncated_header, { sb_add(&b, "GGUF\3\0\0\0\0\0", 10); })
GGUF_BUILDER(gguf_many_tensors, { g_head(&b, (uint64_t)CF_GGUF_MAX_TENSORS + 1, 0); })
GGUF_BUILDER(gguf_many_kv, { g_head(&b, 0, (uint64_t)CF_GGUF_MAX_KV + 1); })
GGUF_BUILDER(gguf_key_len_huge, { g_head(&b, 0, 1); g_u64(&b, 1ull << 40); sb_str(&b, "k"); })
GGUF_BUILDER(gguf_key_len_huge2, { g_head(&b, 0, 1); g_u64(&b, 1ull << 40); sb_zero(&b, 64); })
GGUF_BUILDER(gguf_key_ctrl, { g_head(&b, 0, 1); g_str(&b, "a\nb"); g_u32(&b, GT_U32); g_u32(&b, 1); })
GGUF_BUILDER(gguf_key_empty, { g_head(&b, 0, 1); g_str(&b, ""); g_u32(&b, GT_U32); g_u32(&b, 1); })
GGUF_BUILDER(gguf_dup_key, {
    g_head(&b, 0, 2);
    g_str(&b, "a.b"); g_u32(&b, GT_U32); g_u32(&b, 1);
    g_str(&b, "a.b"); g_u32(&b, GT_U32); g_u32(&b, 2);
})
GGUF_BUILDER(gguf_bad_type, { g_head(&b, 0, 1); g_str(&b, "k"); g_u32(&b, 99); g_u32(&b, 1); })
GGUF_BUILDER(gguf_string_past_end, { g_head(&b, 0, 1); g_str(&b, "k"); g_u32(&b, GT_STRING); g_u64(&b, 1000); sb_str(&b, "abc"); })
GGUF_BUILDER(gguf_bad_bool, { g_head(&b, 0, 1); g_str(&b, "k"); g_u32(&b, GT_BOOL); sb_add(&b, "\2", 1); })
GGUF_BUILDER(gguf_array_of_arrays, {
    g_head(&b, 0, 1); g_str(&b, "k"); g_u32(&b, GT_ARRAY); g_u32(&b, GT_ARRAY); g_u64(&b, 1);
    g_u32(&b, GT_U8); g_u64(&b, 1); sb_add(&b, "\1", 1);
})
GGUF_BUILDER(gguf_array_huge, { g_head(&b, 0, 1); g_str(&b, "k"); g_u32(&b, GT_ARRAY); g_u32(&b, GT_U8); g_u64(&b, (1ull << 32) + 1); })
GGUF_BUILDER(gguf_array_past_end, { g_head(&b, 0, 1); g_str(&b, "k"); g_u32(&b, GT_ARRAY); g_u32(&b, GT_U64); g_u64(&b, 1000); g_u64(&b, 1); })
GGUF_BUILDER(gguf_bad_alignment, { g_head(&b, 0, 1); g_str(&b, "general.alignment"); g_u32(&b, GT_U32); g_u32(&b, 7); })
GGUF_BUILDER(gguf_tensor_5d, { g_head(&b, 1, 0); g_tensor(&b, "t", 5, 4, 1, 0, 0); g_pad(&b, 32); sb_zero(&b, 16); })
GGUF_BUILDER(gguf_tensor_zero_dim, { g_head(&b, 1, 0); g_tensor(&b, "t", 2, 4, 0, 0, 0); g_pad(&b, 32); sb_zero(&b, 16); })
GGUF_BUILDER(gguf_tensor_bad_type, { g_head(&b, 1, 0); g_tensor(&b, "t", 1, 4, 1, 200, 0); g_pad(&b, 32); sb_zero(&b, 16); })
GGUF_BUILDER(gguf_tensor_iq2, { g_head(&b, 1, 0); g_tensor(&b, "t", 1, 256, 1, 16, 0); g_pad(&b, 32); sb_zero(&b, 128); })
GGUF_BUILDER(gguf_tensor_misaligned, { g_head(&b, 1, 0); g_tensor(&b, "t", 1, 4, 1, 0, 4); g_pad(&b, 32); sb_zero(&b, 32); })
GGUF_BUILDER(gguf_tensor_past_end, { g_head(&b, 1, 0); g_tensor(&b, "t", 1, 1024, 1, 0, 0); g_pad(&b, 32); sb_zero(&b, 16); })
GGUF_BUILDER(gguf_tensor_overlap, {
    g_head(&b, 2, 0); g_tensor(&b, "a", 1, 16, 1, 0, 0); g_tensor(&b, "b", 1, 16, 1, 0, 32);
    g_pad(&b, 32); sb_zero(&b, 96);
})
GGUF_BUILDER(gguf_tensor_dup_name, {
    g_head(&b, 2, 0); g_tensor(&b, "a", 1, 8, 1, 0, 0); g_tensor(&b, "a", 1, 8, 1, 0, 32);
    g_pad(&b, 32); sb_zero(&b, 64);
})
GGUF_BUILDER(gguf_tensor_long_name, {
    g_head(&b, 1, 0);
    g_tensor(&b, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1, 4, 1, 0, 0);
    g_pad(&b, 32); sb_zero(&b, 16);
})
GGUF_BUILDER(gguf_tensor_count_overflow, { g_head(&b, 1, 0); g_tensor(&b, "t", 2, 1ull << 40, 1ull << 40, 0, 0); g_pad(&b, 32); })
GGUF_BUILDER(gguf_tensor_partial_block, { g_head(&b, 1, 0); g_tensor(&b, "t", 1, 31, 1, 2 /* Q4_0 */, 0); g_pad(&b, 32); sb_zero(&b, 32); })

/* ---- the table ------------------------------------------------------------------------ */

enum {
    K_JSON = 1,    /* a: JSON text */
    K_RE_SEARCH,   /* a: pattern, CF_RE_SEARCH */
    K_RE_FULL,     /* a: pattern, CF_RE_FULL */
    K_SCHEMA,      /* a: schema text -> grammar -> constraint (no vocabulary) */
    K_VALIDATE,    /* a: schema, b: instance; code of cf_validator_new or of the check */
    K_GBNF,        /* a: grammar -> constraint */
    K_GGUF,        /* gen: file image */
    K_SCHEMA_FEED, /* a: schema, b: bytes; code of the feed (0 with `complete` = accepted) */
    K_GBNF_FEED,   /* a: grammar, b: bytes */
};

typedef struct {
    const char *what;     /* class of bad input */
    int kind;
    const char *a, *b;
    char *(*gen)(size_t *n);   /* replaces a when set */
    int code;             /* expected code; for *_FEED: -1 = "not accepted" (feed refused or incomplete) */
    const char *needle;   /* message substring ("" = any non-empty message) */
} hcase;

#define J(w, a, code, needle) {w, K_JSON, a, NULL, NULL, code, needle}
#define RS(w, a, code, needle) {w, K_RE_SEARCH, a, NULL, NULL, code, needle}
#define RF(w, a, code, needle) {w, K_RE_FULL, a, NULL, NULL, code, needle}
#define S(w, a, code, needle) {w, K_SCHEMA, a, NULL, NULL, code, needle}
#define V(w, a, b, code, needle) {w, K_VALIDATE, a, b, NULL, code, needle}
#define G(w, a, code, needle) {w, K_GBNF, a, NULL, NULL, code, needle}
#define GG(w, gen, code, needle) {w, K_GGUF, NULL, NULL, gen, code, needle}
#define SF(w, a, b, code, needle) {w, K_SCHEMA_FEED, a, b, NULL, code, needle}
#define GF(w, a, b, code, needle) {w, K_GBNF_FEED, a, b, NULL, code, needle}
#define NOT_ACCEPTED (-1)

static const hcase g_cases[] = {
    /* JSON (sampler/json.h) */
    J("JSON: empty document", "", CF_EFORMAT, "line 1 column 1"),
    J("JSON: truncated object", "{\"a\":", CF_EFORMAT, "line 1 column 6"),
    J("JSON: trailing comma", "[1,2,]", CF_EFORMAT, "column 6"),
    J("JSON: comment", "{} // x", CF_EFORMAT, "end of input"),
    J("JSON: single quotes", "{'a':1}", CF_EFORMAT, "column 2"),
    J("JSON: NaN", "[NaN]", CF_EFORMAT, "column 2"),
    J("JSON: leading zero", "[01]", CF_EFORMAT, "column 2 (offset 1): leading zeros"),
    J("JSON: bare minus", "-", CF_EFORMAT, "line 1"),
    J("JSON: raw control character in string", "\"a\tb\"", CF_EFORMAT, "column 3"),
    J("JSON: invalid UTF-8 in string", "\"\xc3\x28\"", CF_EFORMAT, "UTF-8"),
    J("JSON: overlong UTF-8", "\"\xc0\xaf\"", CF_EFORMAT, "UTF-8"),
    J("JSON: lone high surrogate escape", "\"\\ud800\"", CF_EFORMAT, "surrogate"),
    J("JSON: lone low surrogate escape", "\"\\udc00x\"", CF_EFORMAT, "surrogate"),
    J("JSON: bad escape", "\"\\x41\"", CF_EFORMAT, "escape"),
    J("JSON: two values", "1 2", CF_EFORMAT, "end of input"),
    J("JSON: error on a later line", "{\n  \"a\": [1,\n   }", CF_EFORMAT, "line 3"),
    {"JSON: nesting deeper than CF_JSON_MAX_DEPTH", K_JSON, NULL, NULL, gen_deep_json, CF_ELIMIT, "nesting deeper than 512"},
    /* regex (sampler/regex.h) */
    RS("regex: unbalanced (", "(ab", CF_EFORMAT, "column"),
    RS("regex: unbalanced )", "ab)", CF_EFORMAT, "column 3"),
    RS("regex: nothing to repeat", "*a", CF_EFORMAT, "column 1"),
    RS("regex: unterminated class", "[abc", CF_EFORMAT, "column 1"),
    RS("regex: class range out of order", "[z-a]", CF_EFORMAT, "column"),
    RS("regex: {m,n} with n < m", "a{3,2}", CF_EFORMAT, "column"),
    RS("regex: Python named group", "(?P<n>a)", CF_EFORMAT, "column"),
    RS("regex: inline flags", "(?i)a", CF_EFORMAT, "column"),
    RS("regex: \\Z", "a\\Z", CF_EFORMAT, "column"),
    RS("regex: unknown letter escape", "\\q", CF_EFORMAT, "column"),
    RS("regex: bad \\u escape", "\\u12", CF_EFORMAT, "column"),
    RS("regex: code point above U+10FFFF", "\\u{110000}", CF_EFORMAT, "column"),
    RS("regex: unknown \\p name", "\\p{NoSuchProperty}", CF_EUNSUPPORTED, "column"),
    RS("regex: backreference", "(a)\\1", CF_EUNSUPPORTED, "column"),
    RS("regex: lookahead", "a(?=b)", CF_EUNSUPPORTED, "column"),
    RS("regex: lookbehind", "(?<=a)b", CF_EUNSUPPORTED, "column"),
    RS("regex: repetition count above CF_RE_MAX_REPEAT", "a{1001}", CF_ELIMIT, "repetition count above the cap of 1000"),
    RF("regex: nested repetitions beyond CF_RE_MAX_NFA", "(a{1000}){1000}", CF_ELIMIT, "NFA states"),
    {"regex: groups nested deeper than CF_RE_MAX_DEPTH", K_RE_SEARCH, NULL, NULL, gen_deep_regex, CF_ELIMIT, "nested deeper than 200"},
    {"regex: pattern longer than CF_RE_MAX_PATTERN", K_RE_SEARCH, NULL, NULL, gen_long_pattern, CF_ELIMIT, "exceeds the cap"},
    /* JSON Schema compiler (sampler/schema.h) */
    S("schema: malformed JSON", "{\"type\": }", CF_EFORMAT, "line 1 column 10"),
    S("schema: not an object or boolean", "[1]", CF_EFORMAT, "schema at (root)"),
    S("schema: keyword with the wrong type", "{\"properties\":{\"a\":{\"minLength\":\"3\"}}}", CF_EFORMAT,
      "schema at /properties/a: invalid schema: minLength"),
    S("schema: unknown type name", "{\"items\":{\"type\":\"strin\"}}", CF_EFORMAT, "schema at /items: invalid schema: type"),
    S("schema: negative maxItems", "{\"maxItems\":-1}", CF_EFORMAT, "maxItems must be a non-negative integer"),
    S("schema: bad regex in pattern", "{\"properties\":{\"t\":{\"pattern\":\"a(b\"}}}", CF_EFORMAT,
      "schema at /properties/t: pattern: column 2"),
    S("schema: unsupported regex in pattern", "{\"pattern\":\"(a)\\\\1\"}", CF_EUNSUPPORTED, "pattern: column 4: backreferences"),
    S("schema: unresolvable $ref", "{\"$ref\":\"#/$defs/missing\"}", CF_EINVAL, "#/$defs/missing"),
    S("schema: remote $ref", "{\"$ref\":\"https://example.com/s.json\"}", CF_EUNSUPPORTED, "example.com"),
    S("schema: uniqueItems (not enforceable)", "{\"items\":{\"uniqueItems\":true}}", CF_EUNSUPPORTED,
      "schema at /items: uniqueItems cannot be enforced"),
    S("schema: unevaluatedProperties", "{\"unevaluatedProperties\":false}", CF_EUNSUPPORTED, "unevaluatedProperties cannot"),
    S("schema: $dynamicRef", "{\"$dynamicRef\":\"#a\"}", CF_EUNSUPPORTED, "$dynamicRef"),
    S("schema: format not enforceable", "{\"type\":\"string\",\"format\":\"uri-template\"}", CF_EUNSUPPORTED,
      "format 'uri-template' cannot be enforced"),
    S("schema: multipleOf with more than 12 decimals", "{\"multipleOf\":0.0000000000001}", CF_EUNSUPPORTED, "multipleOf"),
    S("schema: pattern with a {1000}{1000} blow-up", "{\"type\":\"string\",\"pattern\":\"^(a{1000}){1000}$\"}", CF_ELIMIT,
      "pattern: column 2: repetition expands to more than 200000 NFA states"),
    {"schema: JSON nesting deeper than CF_JSON_MAX_DEPTH", K_SCHEMA, NULL, NULL, gen_deep_schema, CF_ELIMIT, "nesting deeper than 512"},
    {"schema: 512 nested subschemas (within the JSON cap)", K_SCHEMA, NULL, NULL, gen_deep_schema512, CF_ELIMIT, "/items/items: schema nested too deeply"},
    {"schema: enum longer than CF_SCHEMA_MAX_ENUM", K_SCHEMA, NULL, NULL, gen_big_enum, CF_ELIMIT, "enum with 100001 values"},
    {"schema: more grammar rules than CF_SCHEMA_MAX_RULES", K_SCHEMA, NULL, NULL, gen_many_rules_schema, CF_ELIMIT, "grammar rules"},
    /* validator (sampler/validate.h) */
    V("validate: instance invalid (reason and place)", "{\"properties\":{\"a\":{\"minLength\":3}}}", "{\"a\":\"xy\"}", CF_EINVAL, "at /a: minLength"),
    V("validate: bad regex in schema", "{\"pattern\":\"(\"}", "\"x\"", CF_EFORMAT, "/pattern"),
    V("validate: unresolvable $ref", "{\"$ref\":\"#/nope\"}", "1", CF_EFORMAT, "unresolvable reference '#/nope'"),
    V("validate: remote $ref", "{\"$ref\":\"https://example.com/x\"}", "1", CF_EUNSUPPORTED, "https://example.com/x"),
    V("validate: $ref cycle", "{\"$ref\":\"#\"}", "1", CF_ELIMIT, "a $ref cycle?"),
    {"validate: $ref chain deeper than CF_SCHEMA_MAX_DEPTH", K_VALIDATE, NULL, "1", gen_huge_validate_schema, CF_ELIMIT, "deeper than 512"},
    /* GBNF (sampler/gbnf.h) */
    G("GBNF: no root rule", "item ::= \"a\"", CF_EFORMAT, "no 'root' rule"),
    G("GBNF: undefined rule", "root ::= item", CF_EFORMAT, "'item' is used but never defined"),
    G("GBNF: left recursion", "root ::= root \"a\" | \"b\"", CF_EFORMAT, "left recursion"),
    G("GBNF: indirect left recursion", "root ::= a\na ::= b \"x\"\nb ::= a | \"y\"", CF_EFORMAT, "left recursion"),
    G("GBNF: missing ::=", "root = \"a\"", CF_EFORMAT, "line 1 column 6: expected '::='"),
    G("GBNF: unterminated literal", "root ::= \"abc", CF_EFORMAT, "unterminated literal"),
    G("GBNF: unterminated class", "root ::= [a-z", CF_EFORMAT, "unterminated character class"),
    G("GBNF: bad escape", "root ::= \"\\q\"", CF_EFORMAT, "unknown escape"),
    G("GBNF: class range out of order", "root ::= [z-a]", CF_EFORMAT, "out of order"),
    G("GBNF: repetition {m,n} with n < m", "root ::= \"a\"{3,2}", CF_EFORMAT, "n < m"),
    G("GBNF: repetition count above CF_GBNF_MAX_REPEAT", "root ::= \"a\"{10001}", CF_ELIMIT, "repetition count too large"),
    G("GBNF: unbalanced parenthesis", "root ::= (\"a\"", CF_EFORMAT, "expected ')'"),
    G("GBNF: error on a later line", "root ::= a\na ::= \"x\" )", CF_EFORMAT, "line 2"),
    G("GBNF: nested repetitions beyond the automaton cap", "root ::= ((\"ab\"{1000}){1000}){1000}", CF_ELIMIT,
      "more than 2000000 automaton states"),
    {"GBNF: parentheses deeper than CF_GBNF_MAX_DEPTH", K_GBNF, NULL, NULL, gen_deep_gbnf, CF_ELIMIT, "nested too deeply"},
    {"GBNF: text longer than CF_GBNF_MAX_TEXT", K_GBNF, NULL, NULL, gen_big_gbnf, CF_ELIMIT, "exceeds the cap"},
    /* bytes against a compiled constraint (constraint.h) */
    SF("constraint: byte not allowed (offset and byte)", "{\"type\":\"integer\"}", "12a", CF_EINVAL, "byte 2"),
    SF("constraint: timestamp pattern rejects a bad time", "{\"type\":\"string\",\"pattern\":\"^\\\\d{2}:\\\\d{2}(:\\\\d{2})?$\"}",
       "\"12:3x\"", CF_EINVAL, "byte 5"),
    SF("constraint: whitespace beyond max_ws (16)", "{\"type\":\"array\"}", "[1,                        2]", CF_EINVAL,
       "byte 19"),
    SF("constraint: maximum beyond the exact range (regress)", "{\"maximum\":1e30}", "1e31", NOT_ACCEPTED, ""),
    SF("constraint: minimum beyond the exact range (regress)", "{\"minimum\":-1e30}", "-1e31", NOT_ACCEPTED, ""),
    SF("constraint: exclusiveMaximum with 27 digits (regress)", "{\"exclusiveMaximum\":972783798187987100000000000}",
       "972783798187987100000000000", NOT_ACCEPTED, ""),
    SF("constraint: $id inside an unknown keyword is not an identifier (regress)",
       "{\"$defs\":{\"a\":{\"unknown\":{\"$id\":\"https://e.com/a.json\",\"type\":\"null\"}},\"real\":{\"$id\":"
       "\"https://e.com/a.json\",\"type\":\"string\"}},\"$ref\":\"https://e.com/a.json\"}",
       "null", NOT_ACCEPTED, ""),
    GF("constraint: GBNF byte not allowed", "root ::= [a-c]+", "abd", CF_EINVAL, "byte 2"),
    /* GGUF (model/gguf.h) */
    GG("GGUF: empty file", gguf_empty, CF_EFORMAT, ""),
    GG("GGUF: bad magic", gguf_bad_magic, CF_EFORMAT, "magic"),
    GG("GGUF: version 1", gguf_v1, CF_EUNSUPPORTED, "version"),
    GG("GGUF: big-endian file", gguf_big_endian, CF_EUNSUPPORTED, "big-endian"),
    GG("GGUF: truncated header", gguf_truncated_header, CF_EFORMAT, "offset"),
    GG("GGUF: tensor count above CF_GGUF_MAX_TENSORS", gguf_many_tensors, CF_ELIMIT, "tensor count 1048577"),
    GG("GGUF: metadata count above CF_GGUF_MAX_KV", gguf_many_kv, CF_ELIMIT, "metadata"),
    GG("GGUF: counts larger than the file can hold", gguf_key_len_huge, CF_EFORMAT, "truncated file or corrupt counts"),
    GG("GGUF: key length beyond the file", gguf_key_len_huge2, CF_EFORMAT, "offset 24"),
    GG("GGUF: key with a control character", gguf_key_ctrl, CF_EFORMAT, "offset 24"),
    GG("GGUF: empty key", gguf_key_empty, CF_EFORMAT, "offset 24"),
    GG("GGUF: duplicate key", gguf_dup_key, CF_EFORMAT, "a.b"),
    GG("GGUF: unknown value type", gguf_bad_type, CF_EFORMAT, "type"),
    GG("GGUF: string value past the end", gguf_string_past_end, CF_EFORMAT, "offset"),
    GG("GGUF: bool value 2", gguf_bad_bool, CF_EFORMAT, "bool"),
    GG("GGUF: array of arrays", gguf_array_of_arrays, CF_EUNSUPPORTED, "array"),
    GG("GGUF: array count above CF_GGUF_MAX_ARRAY", gguf_array_huge, CF_ELIMIT, "elements"),
    GG("GGUF: array past the end", gguf_array_past_end, CF_EFORMAT, "offset"),
    GG("GGUF: alignment not a power of two", gguf_bad_alignment, CF_EFORMAT, "power of two"),
    GG("GGUF: tensor with 5 dimensions", gguf_tensor_5d, CF_EFORMAT, "'t'"),
    GG("GGUF: tensor dimension 0", gguf_tensor_zero_dim, CF_EFORMAT, "'t'"),
    GG("GGUF: unknown tensor type", gguf_tensor_bad_type, CF_EFORMAT, "unknown tensor type 200"),
    GG("GGUF: tensor type without a size in cinfer (IQ2_XXS)", gguf_tensor_iq2, CF_EUNSUPPORTED, "'t'"),
    GG("GGUF: misaligned tensor offset", gguf_tensor_misaligned, CF_EFORMAT, "'t'"),
    GG("GGUF: tensor data past the end", gguf_tensor_past_end, CF_EFORMAT, "'t'"),
    GG("GGUF: overlapping tensors", gguf_tensor_overlap, CF_EFORMAT, "overlap"),
    GG("GGUF: duplicate tensor name", gguf_tensor_dup_name, CF_EFORMAT, "'a'"),
    GG("GGUF: tensor name longer than CF_GGUF_MAX_NAME", gguf_tensor_long_name, CF_EFORMAT, "64 bytes"),
    GG("GGUF: element count overflow", gguf_tensor_count_overflow, CF_EFORMAT, "'t'"),
    GG("GGUF: row not a whole number of blocks", gguf_tensor_partial_block, CF_EFORMAT, "'t'"),
};
#define NCASES (int)(sizeof g_cases / sizeof g_cases[0])

static int print_mode(void) {   /* CF_HOSTILE_PRINT=1 or CINFER_TEST_VERBOSE=1 */
    const char *s = getenv("CF_HOSTILE_PRINT"), *v = getenv("CINFER_TEST_VERBOSE");
    return (s && *s == '1') || (v && *v == '1');
}

/* Compiles a grammar-producing input to a constraint; returns the code, e filled. */
static int compile_any(int kind, const char *a, size_t al, cf_constraint **c, cf_err *e) {
    cf_grammar *g = NULL;
    int rc;
    *c = NULL;
    if (kind == K_GBNF || kind == K_GBNF_FEED) rc = cf_gbnf_parse(a, al, &g, e);
    else {
        cf_schema_opts o;
        cf_schema_opts_default(&o);
        rc = cf_schema_compile(a, al, &o, &g, e);
    }
    if (rc) return rc;
    return cf_constraint_new(c, g, NULL, e);
}

/* Runs one case; returns the code and fills e.  *accepted for feeds. */
static int run_case(const hcase *hc, cf_err *e, int *accepted) {
    size_t al = 0;
    char *gen = hc->gen ? hc->gen(&al) : NULL;
    const char *a = gen ? gen : hc->a;
    if (!gen && a) al = strlen(a);
    int rc = 0;
    *accepted = 0;
    switch (hc->kind) {
    case K_JSON: {
        cf_json_doc *d = NULL;
        rc = cf_json_parse(a, al, &d, e);
        ck_assert(rc == 0 || d == NULL);
        cf_json_free(d);
        break;
    }
    case K_RE_SEARCH:
    case K_RE_FULL: {
        cf_regex *re = NULL;
        rc = cf_regex_compile(a, al, hc->kind == K_RE_FULL ? CF_RE_FULL : CF_RE_SEARCH, &re, e);
        ck_assert(rc == 0 || re == NULL);
        cf_regex_free(re);
        break;
    }
    case K_SCHEMA:
    case K_GBNF: {
        cf_constraint *c = NULL;
        rc = compile_any(hc->kind, a, al, &c, e);
        cf_constraint_free(c);
        break;
    }
    case K_VALIDATE: {
        cf_json_doc *sd = NULL, *id = NULL;
        ck_assert_int_eq(cf_json_parse(a, al, &sd, e), 0);
        ck_assert_int_eq(cf_json_parse(hc->b, strlen(hc->b), &id, e), 0);
        cf_validator *v = NULL;
        rc = cf_validator_new(cf_json_root(sd), &v, e);
        if (!rc) rc = cf_validator_check(v, cf_json_root(id), e);
        cf_validator_free(v);
        cf_json_free(id);
        cf_json_free(sd);
        break;
    }
    case K_SCHEMA_FEED:
    case K_GBNF_FEED: {
        cf_constraint *c = NULL;
        rc = compile_any(hc->kind, a, al, &c, e);
        ck_assert_msg(rc == 0, "%s: does not compile: %s", hc->what, e->msg);
        cf_matcher *m = NULL;
        ck_assert_int_eq(cf_matcher_new(&m, c, e), 0);
        rc = cf_matcher_feed(m, hc->b, strlen(hc->b), e);
        *accepted = rc == 0 && cf_matcher_is_complete(m);
        cf_matcher_free(m);
        cf_constraint_free(c);
        break;
    }
    case K_GGUF: {
        cf_gguf g;
        char *img = malloc(al ? al : 1);   /* exact size: reads past the end are caught by ASan */
        memcpy(img, a, al);
        rc = cf_gguf_open_mem(&g, img, al, e);
        if (!rc) cf_gguf_close(&g);
        free(img);
        break;
    }
    default: ck_abort_msg("bad kind");
    }
    free(gen);
    return rc;
}

START_TEST(test_table) {
    const hcase *hc = &g_cases[_i];
    cf_err e = {0};
    int accepted = 0;
    double t0 = cpu_s();
    int rc = run_case(hc, &e, &accepted);
    double dt = cpu_s() - t0;
    if (print_mode()) {
        char msg[sizeof e.msg];
        snprintf(msg, sizeof msg, "%s", rc ? e.msg : accepted ? "(accepted)" : "(not accepted)");
        for (char *p = msg; *p; p++)
            if (*p == '|' || *p == '\n') *p = ' ';
        printf("| %s | %s | %s |\n", hc->what, rc ? cf_err_name(rc) : "-", msg);
    }
    ck_assert_msg(dt < PATHOLOGICAL_MAX_S, "%s: took %.1f s of CPU", hc->what, dt);
    if (hc->code == NOT_ACCEPTED) {
        ck_assert_msg(!accepted, "%s: the constraint accepted an invalid document", hc->what);
        return;
    }
    ck_assert_msg(rc == hc->code, "%s: code %s, want %s (%s)", hc->what, cf_err_name(rc), cf_err_name(hc->code), e.msg);
    ck_assert_msg(e.msg[0] != 0, "%s: no message", hc->what);
    ck_assert_msg(strstr(e.msg, hc->needle) != NULL, "%s: message '%s' lacks '%s'", hc->what, e.msg, hc->needle);
}
END_TEST

/* ---- tokenizer, constraint with a vocabulary, sampler -------------------------------------- */

START_TEST(test_tokenizer_misuse) {
    if (!tu_have_shared()) return;
    cf_gguf g;
    cf_tokenizer *t = NULL;
    cf_err e = {0};
    ck_assert_int_eq(cf_gguf_open(&g, tu_shared("models/vocab/ggml-vocab-llama-spm.gguf"), &e), 0);
    ck_assert_int_eq(cf_tok_load(&t, &g, &e), 0);
    int32_t n = cf_tok_n_vocab(t);
    char out[64];
    int32_t bad[][1] = {{-1}, {n}, {INT32_MAX}};
    for (int i = 0; i < 3; i++) {
        memset(&e, 0, sizeof e);
        ck_assert_int_lt(cf_tok_decode(t, bad[i], 1, out, sizeof out, &e), 0);
        ck_assert_msg(strstr(e.msg, "id") != NULL, "decode of %d: '%s'", bad[i][0], e.msg);
    }
    /* over-long text: refused before any byte is read */
    char one = 'a';
    ck_assert_int_lt(cf_tok_encode(t, &one, (size_t)CF_TOK_MAX_TEXT + 1, 0, NULL, 0, &e), 0);
    ck_assert_int_eq(e.code, CF_ELIMIT);
    ck_assert_msg(strstr(e.msg, "exceeds the cap") != NULL, "%s", e.msg);
    /* a GGUF without a vocabulary */
    cf_tok_free(t);
    cf_gguf_close(&g);
    sb b = {0};   /* a GGUF file without tokenizer keys */
    g_head(&b, 0, 1);
    g_str(&b, "general.architecture");
    g_u32(&b, GT_STRING);
    g_str(&b, "llama");
    ck_assert_int_eq(cf_gguf_open_mem(&g, b.p, b.n, &e), 0);
    ck_assert_int_ne(cf_tok_load(&t, &g, &e), 0);
    ck_assert_msg(strstr(e.msg, "tokenizer") != NULL, "%s", e.msg);
    cf_gguf_close(&g);
    free(b.p);
}
END_TEST

START_TEST(test_constraint_tokens) {
    if (!tu_have_shared()) return;
    cf_gguf g;
    cf_tokenizer *t = NULL;
    cf_cons_vocab *v = NULL;
    cf_err e = {0};
    ck_assert_int_eq(cf_gguf_open(&g, tu_shared("models/vocab/ggml-vocab-gpt-2.gguf"), &e), 0);
    ck_assert_int_eq(cf_tok_load(&t, &g, &e), 0);
    ck_assert_int_eq(cf_cons_vocab_new(&v, t, &e), 0);
    const char *schema = "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},\"required\":[\"n\"],"
                         "\"additionalProperties\":false}";
    cf_schema_opts o;
    cf_schema_opts_default(&o);
    cf_grammar *gr = NULL;
    cf_constraint *c = NULL;
    cf_matcher *m = NULL;
    ck_assert_int_eq(cf_schema_compile(schema, strlen(schema), &o, &gr, &e), 0);
    ck_assert_int_eq(cf_constraint_new(&c, gr, v, &e), 0);
    ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
    /* a token that cannot start the document, EOS before completion, ids out of range */
    int32_t tok_x = -1;
    ck_assert_int_eq(cf_tok_encode(t, "x", 1, 0, &tok_x, 1, &e), 1);
    int32_t refused[] = {tok_x, cf_cons_vocab_eos(v), -1, cf_cons_vocab_size(v), INT32_MAX};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_int_eq(cf_matcher_accepts(m, refused[i]), 0);
        memset(&e, 0, sizeof e);
        ck_assert_int_eq(cf_matcher_advance(m, refused[i], &e), CF_EINVAL);
        ck_assert_msg(e.msg[0] != 0, "advance(%d): no message", refused[i]);
    }
    ck_assert(!cf_matcher_is_finished(m));
    cf_matcher_free(m);
    cf_constraint_free(c);
    cf_cons_vocab_free(v);
    cf_tok_free(t);
    cf_gguf_close(&g);
}
END_TEST

START_TEST(test_sampler_misuse) {
    cf_sampler_params p = cf_sampler_defaults();
    cf_sampler *s = NULL;
    cf_err e = {0};
    ck_assert_int_eq(cf_sampler_new(&p, 0, &s, &e), CF_EINVAL);
    ck_assert_msg(strstr(e.msg, "n_vocab") != NULL, "%s", e.msg);
    ck_assert_int_eq(cf_sampler_new(&p, CF_SAMPLER_MAX_VOCAB + 1, &s, &e), CF_EINVAL);
    p.penalty_last_n = CF_SAMPLER_MAX_LAST_N + 1;
    ck_assert_int_eq(cf_sampler_new(&p, 100, &s, &e), CF_EINVAL);
    p = cf_sampler_defaults();
    p.n_bias = CF_SAMPLER_MAX_BIAS + 1;
    ck_assert_int_eq(cf_sampler_new(&p, 100, &s, &e), CF_EINVAL);
    ck_assert_msg(strstr(e.msg, "logit-bias") != NULL, "%s", e.msg);
    ck_assert_ptr_null(s);
}
END_TEST

/* A nested schema within the caps compiles in bounded time, and a document nested as deep is
 * either accepted or refused cleanly (the matcher's frame cap), never a crash. */
START_TEST(test_deep_document) {
    size_t al = 0;
    char *a = gen_nested_items_schema(&al);
    cf_schema_opts o;
    cf_schema_opts_default(&o);
    cf_grammar *g = NULL;
    cf_constraint *c = NULL;
    cf_matcher *m = NULL;
    cf_err e = {0};
    double t0 = cpu_s();
    int rc = cf_schema_compile(a, al, &o, &g, &e);
    if (!rc) rc = cf_constraint_new(&c, g, NULL, &e);
    ck_assert_msg(cpu_s() - t0 < PATHOLOGICAL_MAX_S, "compile took too long");
    free(a);
    if (rc) {
        ck_assert_int_eq(rc, CF_ELIMIT);
        return;
    }
    ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
    sb b = {0};
    sb_rep(&b, "[", 250);
    sb_str(&b, "1");
    sb_rep(&b, "]", 250);
    rc = cf_matcher_feed(m, b.p, b.n, &e);
    ck_assert(rc == 0 || (rc == CF_EINVAL && e.msg[0]));
    /* one level deeper than the schema allows is never accepted */
    cf_matcher_reset(m);
    b.n = 0;
    sb_rep(&b, "[", 251);
    sb_str(&b, "1");
    sb_rep(&b, "]", 251);
    ck_assert(cf_matcher_feed(m, b.p, b.n, &e) != 0 || !cf_matcher_is_complete(m));
    free(b.p);
    cf_matcher_free(m);
    cf_constraint_free(c);
}
END_TEST

/* A string regex that hits its DFA cap (CF_RE_MAX_DFA_STATES) while the matcher runs: the bytes it
 * cannot decide are refused with CF_ELIMIT naming the cap, never read as "pattern does not match"
 * (for a patternProperties key that would skip the pattern's schema and accept {"a..": "x"}).
 * "a[ab]{16}$" needs one DFA state per window of the last 17 bytes: a random a/b walk of 100000
 * bytes reaches more than 50000. */
START_TEST(test_regex_dfa_cap) {
    const char *schemas[] = {"{\"type\":\"object\",\"patternProperties\":{\"a[ab]{16}$\":{\"type\":\"integer\"}}}",
                             "{\"type\":\"string\",\"pattern\":\"a[ab]{16}$\"}"};
    for (int k = 0; k < 2; k++) {
        cf_constraint *c = NULL;
        cf_matcher *m = NULL;
        cf_err e = {0};
        ck_assert_int_eq(compile_any(K_SCHEMA, schemas[k], strlen(schemas[k]), &c, &e), 0);
        ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
        sb b = {0};
        sb_str(&b, k == 0 ? "{\"" : "\"");
        uint32_t x = 12345;
        for (int i = 0; i < 100000; i++) {
            x = x * 1664525u + 1013904223u;
            sb_add(&b, (x >> 16) & 1 ? "a" : "b", 1);
        }
        sb_str(&b, k == 0 ? "\":\"x\"}" : "\"");
        int rc = cf_matcher_feed(m, b.p, b.n, &e);
        ck_assert_msg(rc == CF_ELIMIT, "schema %d: code %s (%s)", k, cf_err_name(rc), e.msg);
        ck_assert_msg(strstr(e.msg, "cap of 50000 states") != NULL, "%s", e.msg);
        free(b.p);
        cf_matcher_free(m);
        cf_constraint_free(c);
    }
}
END_TEST

/* CF_GGUF_MAX_FILE: a sparse file one byte over the cap (1 TiB) with a GGUF magic is refused
 * before anything past the header is read.  Skipped where the file system cannot hold it. */
START_TEST(test_gguf_file_cap) {
    char path[] = "/tmp/cinfer-hostile-big-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return;
    int ok = write(fd, "GGUF\3\0\0\0", 8) == 8 && ftruncate(fd, (off_t)CF_GGUF_MAX_FILE + 1) == 0;
    close(fd);
    if (!ok) {
        unlink(path);
        fprintf(stderr, "gguf_file_cap: cannot make a sparse file of 1 TiB in /tmp: skipped\n");
        return;
    }
    cf_gguf g;
    cf_err e = {0};
    int rc = cf_gguf_open(&g, path, &e);
    unlink(path);
    if (rc == CF_EIO) return;   /* mmap of 1 TiB refused (address-space limit): also a refusal */
    ck_assert_msg(rc == CF_ELIMIT, "code %s (%s)", cf_err_name(rc), e.msg);
    ck_assert_msg(strstr(e.msg, "exceeds the cap of 1099511627776 bytes") != NULL, "%s", e.msg);
}
END_TEST

/* Tokens per prompt: the engine refuses a prompt that leaves no position for output (n_prompt
 * >= n_ctx) with CF_ELIMIT, and an empty one with CF_EINVAL, before any forward pass. */
START_TEST(test_prompt_cap) {
    if (!tu_have_shared()) return;
    cf_model m;
    cf_tokenizer *t = NULL;
    cf_err e = {0};
    ck_assert_msg(cf_model_load(&m, tu_shared("models/stories260K.gguf"), &e) == 0, "%s", e.msg);
    ck_assert_int_eq(cf_tok_load(&t, &m.gguf, &e), 0);
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = 8;
    cp.n_threads = 1;
    cf_context c;
    ck_assert_msg(cf_context_init(&c, &m, &cp, &e) == 0, "%s", e.msg);
    cf_engine *en = NULL;
    ck_assert_msg(cf_engine_new(&en, &c, t, NULL, &e) == 0, "%s", e.msg);
    int32_t ids[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cf_gen_req r = {.prompt = ids, .n_prompt = 8, .sp = cf_sampler_defaults(), .max_tokens = 4};
    ck_assert_int_lt(cf_engine_submit(en, &r, &e), 0);
    ck_assert_int_eq(e.code, CF_ELIMIT);
    ck_assert_msg(strstr(e.msg, "the prompt has 8 tokens; the context holds 8") != NULL, "%s", e.msg);
    r.n_prompt = 0;
    ck_assert_int_lt(cf_engine_submit(en, &r, &e), 0);
    ck_assert_int_eq(e.code, CF_EINVAL);
    r.n_prompt = 7;   /* fits with one position for output */
    ck_assert_int_ge(cf_engine_submit(en, &r, &e), 0);
    ck_assert_int_eq(cf_engine_run(en, &e), 0);
    cf_engine_free(en);
    cf_context_free(&c);
    cf_tok_free(t);
    cf_model_free(&m);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_table, 0, NCASES);
    suite_add_tcase(s, tc);
    if (g_nreg) {
        TCase *tr = tcase_create("regress");
        tcase_set_timeout(tr, 300);
        tcase_add_loop_test(tr, test_regress, 0, g_nreg);
        suite_add_tcase(s, tr);
    }
    TCase *ta = tcase_create("api");
    tcase_set_timeout(ta, 300);
    tcase_add_test(ta, test_tokenizer_misuse);
    tcase_add_test(ta, test_constraint_tokens);
    tcase_add_test(ta, test_sampler_misuse);
    tcase_add_test(ta, test_deep_document);
    tcase_add_test(ta, test_regex_dfa_cap);
    tcase_add_test(ta, test_gguf_file_cap);
    tcase_add_test(ta, test_prompt_cap);
    suite_add_tcase(s, ta);
    return s;
}

int main(void) {
    scan_regress();
    return tu_run(suite());
}
