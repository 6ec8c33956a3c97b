/* libFuzzer target: tokenizers.  Byte 0 picks a vocabulary (../shared/models/vocab) and a mode;
 * the rest is text to encode (both special-token modes) or, in mode 3, little-endian u16/u32 ids
 * to decode.  Invariants: encode never fails on any bytes, decode of its ids never fails, and
 * the incremental decoder only ever emits valid UTF-8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "model/unicode.h"

static const char *const k_vocab[] = {"llama-spm", "phi-3", "gpt-2", "starcoder", "falcon", "deepseek-llm"};
#define NV (int)(sizeof k_vocab / sizeof k_vocab[0])
static cf_gguf g_g[NV];
static cf_tokenizer *g_t[NV];

static cf_tokenizer *vocab(int v) {
    if (!g_t[v]) {
        char path[512];
        cf_err e;
        const char *root = getenv("CINFER_SHARED");
        snprintf(path, sizeof path, "%s/models/vocab/ggml-vocab-%s.gguf", root && *root ? root : "../shared", k_vocab[v]);
        if (cf_gguf_open(&g_g[v], path, &e) || cf_tok_load(&g_t[v], &g_g[v], &e)) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", e.msg);
            abort();
        }
    }
    return g_t[v];
}

static void check_detok(cf_tokenizer *t, const int32_t *ids, int n) {
    cf_detok d;
    size_t cap = cf_detok_max_out(t);
    char *o = malloc(cap);
    cf_detok_init(&d, t);
    for (int i = 0; i < n; i++) {
        size_t w = cf_detok_push(&d, ids[i], o, cap);
        if (!cf_utf8_valid((const uint8_t *)o, w)) abort();
    }
    size_t w = cf_detok_flush(&d, o, cap);
    if (!cf_utf8_valid((const uint8_t *)o, w)) abort();
    free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    cf_tokenizer *t = vocab(data[0] % NV);
    int mode = (data[0] / NV) % 4;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    static int32_t ids[8192];
    static char buf[1 << 16];
    cf_err e;
    if (mode == 3) {   /* arbitrary ids, some out of range */
        int k = 0;
        for (size_t i = 0; i + 4 <= n && k < 8192; i += 4) {
            uint32_t v;
            memcpy(&v, p + i, 4);
            ids[k++] = (int32_t)(v % (uint32_t)(cf_tok_n_vocab(t) + 16)) - 8;
        }
        (void)cf_tok_decode(t, ids, k, buf, sizeof buf, &e);
        check_detok(t, ids, k);
        return 0;
    }
    int flags = mode == 2 ? CF_TOK_PARSE_SPECIAL : 0;
    int k = cf_tok_encode_ex(t, (const char *)p, n, mode == 1 ? 1 : 0, flags, ids, 8192, &e);
    if (k < 0) abort();
    if (k > 8192) k = 8192;
    if (cf_tok_decode(t, ids, k, buf, sizeof buf, &e) < 0) abort();
    check_detok(t, ids, k);
    return 0;
}
