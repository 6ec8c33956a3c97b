/* libFuzzer target: the token-level constraint walker (sampler/constraint.h) with real
 * vocabularies (../shared/models/vocab) and a fixed set of compiled schemas (the handwritten
 * ones below, which cover the cases users reported, and MaskBench schemas from ../shared).
 * Input: byte 0 picks the schema, byte 1 the vocabulary; then 2 bytes per step choose a token:
 *   hi < 0xC0: the k-th allowed token (k = (hi << 8 | lo) mod allowed count)
 *   hi < 0xF0: an arbitrary id (usually not allowed: exercises refusal)
 *   else     : EOS.
 * Invariants (abort on violation), at every step:
 *   - cf_matcher_mask's count equals the bits it set; EOS is set iff cf_matcher_is_complete;
 *   - cf_matcher_accepts agrees with the mask on the chosen token and on sampled others;
 *   - cf_matcher_advance succeeds iff the token is allowed; a refused token leaves the mask as it was;
 *   - a byte-level matcher fed the same token bytes accepts them and agrees on completeness;
 *   - after EOS the output parses as JSON and the validator does not call it invalid.
 * Never a crash, leak or hang (libFuzzer's -timeout). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "sampler/constraint.h"
#include "sampler/json.h"
#include "sampler/schema.h"
#include "sampler/validate.h"

#define FZC_MAX_STEPS 256      /* tokens per input */
#define FZC_SPOT_CHECKS 16     /* extra ids compared between accepts() and the mask per step */
#define FZC_OUT_CAP (1 << 16)  /* output bytes kept for the final validation */

static const char *const fzc_k_vocab[] = {"llama-spm", "gpt-2"};
#define FZC_NV (int)(sizeof fzc_k_vocab / sizeof fzc_k_vocab[0])

static const char *const fzc_k_inline[] = {
    "{\"type\":\"object\",\"properties\":{\"time\":{\"type\":\"string\",\"pattern\":\"^\\\\d{2}:\\\\d{2}(:\\\\d{2})?$\"}},"
    "\"required\":[\"time\"],\"additionalProperties\":false}",
    "{\"type\":\"object\",\"properties\":{\"user\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\","
    "\"pattern\":\"^[a-z]{2,4}-[0-9]+$\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"pattern\":"
    "\"x+\"},\"maxItems\":3}},\"required\":[\"id\"]}},\"required\":[\"user\"]}",
    "{\"enum\":[\"apple\",\"apples\",\"applesauce\",\"apricot\",\"app\",1,1.5,null,true,[1,2],{\"a\":\"b\"}]}",
    "{\"type\":\"array\",\"prefixItems\":[{\"type\":\"integer\",\"minimum\":-5,\"exclusiveMaximum\":100,"
    "\"multipleOf\":3},{\"type\":\"number\",\"minimum\":0.5,\"maximum\":2.25}],\"items\":{\"type\":\"boolean\"},"
    "\"minItems\":1,\"maxItems\":5}",
    "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},\"next\":{\"anyOf\":["
    "{\"$ref\":\"#/$defs/node\"},{\"type\":\"null\"}]}},\"required\":[\"v\"],\"additionalProperties\":false}},"
    "\"$ref\":\"#/$defs/node\"}",
    "{\"oneOf\":[{\"type\":\"string\",\"format\":\"date\"},{\"type\":\"string\",\"format\":\"uuid\"},{\"type\":"
    "\"integer\",\"minimum\":10}]}",
    "{\"type\":\"object\",\"patternProperties\":{\"^x-\":{\"type\":\"string\",\"maxLength\":4}},"
    "\"additionalProperties\":{\"type\":\"number\"},\"minProperties\":1,\"maxProperties\":3}",
    "{\"type\":\"string\",\"minLength\":2,\"maxLength\":6,\"pattern\":\"[\\u00e9\\u4e2d]\"}",
    "{\"allOf\":[{\"type\":\"object\",\"required\":[\"a\"]},{\"properties\":{\"a\":{\"const\":\"k\"},\"b\":{"
    "\"type\":\"array\",\"contains\":{\"const\":7},\"minContains\":2}}}]}",
    "{\"not\":{\"type\":\"string\"}}",
    "{\"if\":{\"properties\":{\"k\":{\"const\":1}}},\"then\":{\"required\":[\"t\"]},\"else\":{\"required\":[\"e\"]},"
    "\"type\":\"object\"}",
    "{\"type\":\"string\",\"format\":\"date-time\"}",
    "{\"type\":\"string\",\"format\":\"email\"}",
    "{\"type\":\"string\",\"format\":\"ipv6\"}",
    "true",
};
#define FZC_NINLINE (int)(sizeof fzc_k_inline / sizeof fzc_k_inline[0])

static const char *const fzc_k_maskbench[] = {
    "Github_medium---o12077.json", "Github_medium---o17563.json", "Github_medium---o64027.json",
    "Github_medium---o20259.json", "Github_medium---o71300.json", "Github_medium---o41343.json",
    "Handwritten---oneof5.json", "Handwritten---oneof12.json", "Handwritten---dep3.json",
    "Handwritten---key2.json", "Handwritten---itemscontains1.json", "Handwritten---test.json",
    "Kubernetes---kb_1000_Normalized.json", "Snowplow---sp_0_Normalized.json",
    "WashingtonPost---wp_0_Normalized.json", "Glaiveai2K---analyze_health_data_4ad104b4.json",
    "JsonSchemaStore---0.5.2.json", "Github_hard---o10293.json", "Github_easy---o10009.json",
};
#define FZC_NMB (int)(sizeof fzc_k_maskbench / sizeof fzc_k_maskbench[0])

typedef struct {
    cf_json_doc *doc;          /* the schema (oracle) */
    const cf_json *schema;
    cf_constraint *c[FZC_NV];      /* per vocabulary */
    cf_constraint *bytes_c;    /* no vocabulary: byte-level cross-check */
} fzc_entry;

static cf_gguf fzc_g_gguf[FZC_NV];
static cf_tokenizer *fzc_g_tok[FZC_NV];
static cf_cons_vocab *fzc_g_vocab[FZC_NV];
static fzc_entry fzc_g_e[FZC_NINLINE + FZC_NMB];
static int fzc_g_n;

static const char *fzc_shared_root(void) {
    const char *r = getenv("CINFER_SHARED");
    return r && *r ? r : "../shared";
}

static char *fzc_read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = 0;
    *len = b ? (size_t)n : 0;
    return b;
}

static int fzc_compile_for(const cf_json *schema, const cf_cons_vocab *v, cf_constraint **out, cf_err *e) {
    cf_schema_opts o;
    cf_schema_opts_default(&o);
    cf_grammar *g = NULL;
    if (cf_schema_compile_json(schema, &o, &g, e)) return -1;
    return cf_constraint_new(out, g, v, e);
}

/* Takes ownership of doc; keeps the entry if the schema compiles. */
static void fzc_add_schema(cf_json_doc *doc, const cf_json *schema, const char *name) {
    fzc_entry *en = &fzc_g_e[fzc_g_n];
    cf_err e = {0};
    memset(en, 0, sizeof *en);
    int ok = fzc_compile_for(schema, NULL, &en->bytes_c, &e) == 0;
    for (int v = 0; ok && v < FZC_NV; v++) ok = fzc_compile_for(schema, fzc_g_vocab[v], &en->c[v], &e) == 0;
    if (!ok) {
        fprintf(stderr, "fuzz_constraint: skipping %s: %s\n", name, e.msg);
        for (int v = 0; v < FZC_NV; v++) cf_constraint_free(en->c[v]);
        cf_constraint_free(en->bytes_c);
        cf_json_free(doc);
        return;
    }
    en->doc = doc;
    en->schema = schema;
    fzc_g_n++;
}

static void fzc_init(void) {
    cf_err e = {0};
    char path[1024];
    for (int v = 0; v < FZC_NV; v++) {
        snprintf(path, sizeof path, "%s/models/vocab/ggml-vocab-%s.gguf", fzc_shared_root(), fzc_k_vocab[v]);
        if (cf_gguf_open(&fzc_g_gguf[v], path, &e) || cf_tok_load(&fzc_g_tok[v], &fzc_g_gguf[v], &e) ||
            cf_cons_vocab_new(&fzc_g_vocab[v], fzc_g_tok[v], &e)) {
            fprintf(stderr, "fuzz_constraint: %s: %s\n", path, e.msg);
            abort();
        }
    }
    for (int i = 0; i < FZC_NINLINE; i++) {
        cf_json_doc *d = NULL;
        if (cf_json_parse(fzc_k_inline[i], strlen(fzc_k_inline[i]), &d, &e)) {
            fprintf(stderr, "fuzz_constraint: inline schema %d: %s\n", i, e.msg);
            abort();
        }
        char name[32];
        snprintf(name, sizeof name, "inline schema %d", i);
        fzc_add_schema(d, cf_json_root(d), name);
    }
    for (int i = 0; i < FZC_NMB; i++) {
        snprintf(path, sizeof path, "%s/schemas/maskbench-dev/%s", fzc_shared_root(), fzc_k_maskbench[i]);
        size_t len = 0;
        char *txt = fzc_read_all(path, &len);
        cf_json_doc *d = NULL;
        if (!txt || cf_json_parse(txt, len, &d, &e)) {
            fprintf(stderr, "fuzz_constraint: cannot read %s\n", path);
            free(txt);
            continue;
        }
        free(txt);
        const cf_json *s = cf_json_get(cf_json_root(d), "schema");
        if (!s) {
            cf_json_free(d);
            continue;
        }
        fzc_add_schema(d, s, fzc_k_maskbench[i]);
    }
    if (fzc_g_n == 0) abort();
    fprintf(stderr, "fuzz_constraint: %d schemas x %d vocabularies\n", fzc_g_n, FZC_NV);
}

static int fzc_bit(const uint32_t *m, int32_t id) { return (int)((m[id >> 5] >> (id & 31)) & 1u); }

static int fzc_popcount_words(const uint32_t *m, size_t words) {
    int n = 0;
    for (size_t i = 0; i < words; i++) n += __builtin_popcount(m[i]);
    return n;
}

static int32_t fzc_kth_set(const uint32_t *m, size_t words, int k) {
    for (size_t i = 0; i < words; i++) {
        int c = __builtin_popcount(m[i]);
        if (k < c) {
            uint32_t w = m[i];
            while (k--) w &= w - 1;
            return (int32_t)(i * 32 + (size_t)__builtin_ctz(w));
        }
        k -= c;
    }
    return -1;
}

static uint64_t fzc_mix(uint64_t x) {
    x ^= x >> 31;
    x *= 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fzc_g_n) fzc_init();
    if (size < 2) return 0;
    fzc_entry *en = &fzc_g_e[data[0] % fzc_g_n];
    int vi = data[1] % FZC_NV;
    cf_constraint *c = en->c[vi];
    const cf_tokenizer *tok = fzc_g_tok[vi];
    int nv = cf_cons_vocab_size(fzc_g_vocab[vi]);
    int32_t eos = cf_cons_vocab_eos(fzc_g_vocab[vi]);
    size_t words = ((size_t)nv + 31) / 32;
    uint32_t *mask = malloc(words * sizeof *mask), *mask2 = malloc(words * sizeof *mask2);
    char *out = malloc(FZC_OUT_CAP);
    size_t outn = 0;
    cf_matcher *m = NULL, *mb = NULL;
    cf_err e = {0};
    if (cf_matcher_new(&m, c, &e) || cf_matcher_new(&mb, en->bytes_c, &e)) abort();
    uint64_t h = 0x1234567ull;
    size_t pos = 2;
    for (int step = 0; step < FZC_MAX_STEPS && pos + 2 <= size && !cf_matcher_is_finished(m); step++, pos += 2) {
        uint8_t hi = data[pos], lo = data[pos + 1];
        h = fzc_mix(h ^ ((uint64_t)hi << 8 | lo));
        int cnt = cf_matcher_mask(m, mask);
        if (cnt < 0) abort();
        if (fzc_popcount_words(mask, words) != cnt) abort();
        if (eos >= 0 && fzc_bit(mask, eos) != cf_matcher_is_complete(m)) abort();
        if (cf_matcher_is_complete(m) != cf_matcher_is_complete(mb)) abort();
        for (int k = 0; k < FZC_SPOT_CHECKS; k++) {
            int32_t id = (int32_t)(fzc_mix(h + (uint64_t)k) % (uint64_t)nv);
            if (cf_matcher_accepts(m, id) != fzc_bit(mask, id)) abort();
        }
        if (cnt == 0) break;   /* dead end: nothing to choose */
        int32_t t;
        if (hi < 0xC0) t = fzc_kth_set(mask, words, (int)(((unsigned)hi << 8 | lo) % (unsigned)cnt));
        else if (hi < 0xF0) t = (int32_t)(h % (uint64_t)nv);
        else t = eos >= 0 ? eos : 0;
        int allowed = fzc_bit(mask, t);
        if (cf_matcher_accepts(m, t) != allowed) abort();
        int rc = cf_matcher_advance(m, t, &e);
        if (allowed != (rc == 0)) abort();
        if (rc) {
            if (rc != CF_EINVAL) {
                fprintf(stderr, "fuzz_constraint: refused token %d: code %s: %s\n", t, cf_err_name(rc), e.msg);
                abort();
            }
            if (cf_matcher_mask(m, mask2) != cnt || memcmp(mask, mask2, words * sizeof *mask)) abort();
            continue;
        }
        if (t == eos) {
            if (!cf_matcher_is_finished(m)) abort();
            break;
        }
        size_t bl = 0;
        const uint8_t *b = cf_tok_bytes(tok, t, &bl);
        if (!b || !bl) abort();   /* an allowed token has bytes */
        if (cf_matcher_feed(mb, b, bl, &e)) abort();
        if (outn + bl <= FZC_OUT_CAP) memcpy(out + outn, b, bl);
        outn += bl;
    }
    if (cf_matcher_is_finished(m) && outn <= FZC_OUT_CAP) {
        cf_json_doc *d = NULL;
        if (cf_json_parse(out, outn, &d, &e)) abort();   /* finished output that is not JSON */
        cf_err why = {0};
        if (cf_schema_validate(en->schema, cf_json_root(d), &why) == CF_EINVAL && !strstr(why.msg, "email")) {
            fprintf(stderr, "invalid output accepted: %.*s\n%s\n", (int)outn, out, why.msg);
            abort();
        }
        cf_json_free(d);
    }
    cf_matcher_free(m);
    cf_matcher_free(mb);
    free(out);
    free(mask);
    free(mask2);
    return 0;
}
