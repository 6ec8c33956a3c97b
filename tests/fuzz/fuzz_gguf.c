/* libFuzzer target: the GGUF parser on arbitrary bytes, plus every accessor on what it accepts. */
#include <stddef.h>
#include <stdint.h>

#include "model/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_gguf g;
    cf_err e;
    if (cf_gguf_open_mem(&g, data, size, &e)) return 0;
    char buf[256];
    for (int64_t i = 0; i < g.n_kv; i++) {
        const cf_gguf_kv *kv = &g.kv[i];
        cf_gguf_format_value(&g, kv, buf, sizeof buf, 40);
        int64_t iv;
        double dv;
        cf_sv sv;
        cf_gguf_get_int(&g, kv->key, &iv, &e);
        cf_gguf_get_float(&g, kv->key, &dv, &e);
        cf_gguf_get_str(&g, kv->key, &sv, &e);
        for (uint64_t j = 0; j < kv->n && j < 64; j++) {
            cf_sv s = cf_gguf_arr_str(&g, kv, j);
            (void)s;
            (void)cf_gguf_arr_num(kv, j);
        }
    }
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const uint8_t *p = g.t[i].data;
        if (g.t[i].size) sink ^= p[0] ^ p[g.t[i].size - 1];
    }
    (void)sink;
    cf_gguf_close(&g);
    return 0;
}
