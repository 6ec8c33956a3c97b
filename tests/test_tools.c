/* Model-file tools: llama2.c conversion (against ../shared/models/stories260K.gguf), synthetic
 * models (against the shared synth-*.gguf layouts, weight statistics, determinism), model
 * quantization (type rule, error against the source), and the CLIs' exit codes. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/quant.h"
#include "model/gguf.h"
#include "model/llama2c.h"
#include "model/model.h"
#include "model/quantize_model.h"
#include "model/synth.h"
#include "tests/testutil.h"
#include "tools/cli.h"

/* Tolerances. */
#define STD_REL_TOL   0.05   /* measured std of a synth tensor vs the intended one (relative) */
#define NORM_MEAN_TOL 0.03   /* |mean - 1| of a 256-long synth norm vector (std 0.1: ~5 sigma) */
#define NORM_STD_TOL  0.25   /* relative error of its std (256 samples: ~5 sigma); both scale as 1/sqrt(n) */
#define NMSE_Q8_0     1e-4   /* quantized vs source, Gaussian weights */
#define NMSE_Q6_K     1e-3
#define NMSE_Q4_K     1e-2
#define NMSE_Q4_0     1.5e-2

static char g_dir[64];

static const char *tmp_path(const char *name) {
    static char buf[8][256];
    static int k;
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/cf_tools_XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(g_dir));
    }
    char *b = buf[k++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", g_dir, name);
    return b;
}

/* Removes the scratch directory (flat: only files the tests wrote). */
static void cleanup(void) {
    if (!g_dir[0]) return;
    DIR *d = opendir(g_dir);
    struct dirent *de;
    char path[512];
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", g_dir, de->d_name);
            unlink(path);
        }
    if (d) closedir(d);
    rmdir(g_dir);
    g_dir[0] = 0;
}

static float *dequant(const cf_gguf_tensor *t) {
    int64_t n = cf_gguf_tensor_nelements(t), r = t->ne[0];
    size_t rb = cf_row_bytes(t->type, r);
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n / r; i++) cf_dequantize_row_ref(t->type, (const uint8_t *)t->data + i * rb, x + i * r, r);
    return x;
}

/* Same tensor table (names, types, shapes, offsets) and the same metadata values, except keys
 * listed in `skip`. */
static void same_layout(const cf_gguf *a, const cf_gguf *b, const char *const *skip) {
    ck_assert_int_eq(a->n_tensors, b->n_tensors);
    ck_assert_int_eq(a->data_off, b->data_off);
    for (int64_t i = 0; i < a->n_tensors; i++) {
        ck_assert_str_eq(a->t[i].name, b->t[i].name);
        ck_assert_msg(a->t[i].type == b->t[i].type, "%s: %s vs %s", a->t[i].name, cf_dtype_get(a->t[i].type)->name,
                      cf_dtype_get(b->t[i].type)->name);
        ck_assert_int_eq(a->t[i].n_dims, b->t[i].n_dims);
        for (int d = 0; d < 4; d++) ck_assert_int_eq(a->t[i].ne[d], b->t[i].ne[d]);
        ck_assert_int_eq(a->t[i].offset, b->t[i].offset);
    }
    ck_assert_int_eq(a->n_kv, b->n_kv);
    for (int64_t i = 0; i < a->n_kv; i++) {
        const cf_gguf_kv *x = &a->kv[i], *y = &b->kv[i];
        ck_assert_str_eq(x->key, y->key);
        ck_assert_int_eq(x->type, y->type);
        int skipped = 0;
        for (int s = 0; skip && skip[s]; s++) skipped |= !strcmp(skip[s], x->key);
        if (skipped) continue;
        char bx[512], by[512];
        cf_gguf_format_value(a, x, bx, sizeof bx, 400);
        cf_gguf_format_value(b, y, by, sizeof by, 400);
        ck_assert_msg(!strcmp(bx, by), "%s: %s vs %s", x->key, bx, by);
        if (x->type == CF_GGUF_ARRAY) {   /* arrays: every element */
            ck_assert_int_eq(x->n, y->n);
            ck_assert_int_eq(x->arr_type, y->arr_type);
            for (uint64_t k = 0; k < x->n; k++) {
                if (x->arr_type == CF_GGUF_STRING) {
                    cf_sv p = cf_gguf_arr_str(a, x, k), q = cf_gguf_arr_str(b, y, k);
                    ck_assert(p.len == q.len && !memcmp(p.ptr, q.ptr, p.len));
                } else {
                    ck_assert(cf_gguf_arr_num(x, k) == cf_gguf_arr_num(y, k));
                }
            }
        }
    }
}

/* ---- llama2.c ---- */

START_TEST(test_convert_stories) {
    if (!tu_have_shared()) return;
    cf_err e;
    cf_l2c_model m;
    cf_l2c_vocab v;
    ck_assert_msg(cf_l2c_open(&m, tu_shared("models/stories260K.l2c.bin"), &e) == 0, "%s", e.msg);
    ck_assert_int_eq(m.dim, 64);
    ck_assert_int_eq(m.n_layers, 5);
    ck_assert_int_eq(m.n_kv_heads, 4);
    ck_assert(m.shared);
    ck_assert_msg(cf_l2c_vocab_load(&v, tu_shared("models/stories260K.tok512.bin"), m.vocab_size, &e) == 0, "%s", e.msg);
    /* llama.cpp's converter recorded context_length 2048 (its own default, not seq_len 512) */
    cf_l2c_opts o = {2048, CF_T_F32};
    const char *out = tmp_path("stories.gguf");
    ck_assert_msg(cf_l2c_write_gguf(&m, &v, &o, out, &e) == 0, "%s", e.msg);
    cf_gguf a, b;
    ck_assert_msg(cf_gguf_open(&a, out, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(cf_gguf_open(&b, tu_shared("models/stories260K.gguf"), &e), 0);
    same_layout(&a, &b, NULL);
    for (int64_t i = 0; i < a.n_tensors; i++)
        ck_assert_msg(!memcmp(a.t[i].data, b.t[i].data, a.t[i].size), "tensor %s differs", a.t[i].name);
    /* in fact the whole file is byte-identical */
    ck_assert_int_eq(a.size, b.size);
    ck_assert(!memcmp(a.map, b.map, a.size));
    cf_gguf_close(&a);
    cf_gguf_close(&b);
    /* default context length: the checkpoint's seq_len */
    o.ctx = 0;
    ck_assert_int_eq(cf_l2c_write_gguf(&m, &v, &o, out, &e), 0);
    ck_assert_int_eq(cf_gguf_open(&a, out, &e), 0);
    int64_t ctx;
    ck_assert_int_eq(cf_gguf_get_int(&a, "llama.context_length", &ctx, &e), 0);
    ck_assert_int_eq(ctx, 512);
    cf_gguf_close(&a);
    /* f16 weights: each value the f16 rounding of the f32 one */
    o.type = CF_T_F16;
    ck_assert_int_eq(cf_l2c_write_gguf(&m, &v, &o, out, &e), 0);
    ck_assert_int_eq(cf_gguf_open(&a, out, &e), 0);
    const cf_gguf_tensor *t = cf_gguf_tensor_get(&a, "blk.2.ffn_down.weight");
    ck_assert_int_eq(t->type, CF_T_F16);
    const float *w2 = m.w2 + 2 * (int64_t)m.dim * m.hidden_dim;
    for (int64_t k = 0; k < cf_gguf_tensor_nelements(t); k++)
        ck_assert_int_eq(((const uint16_t *)t->data)[k], cf_f32_to_f16(w2[k]));
    ck_assert_int_eq(cf_gguf_tensor_get(&a, "blk.2.ffn_norm.weight")->type, CF_T_F32);
    cf_gguf_close(&a);
    cf_l2c_vocab_free(&v);
    cf_l2c_close(&m);
    cleanup();
}
END_TEST

START_TEST(test_convert_aidreams) {
    if (!tu_have_shared()) return;
    cf_err e;
    cf_l2c_model m;
    cf_l2c_vocab v;
    ck_assert_msg(cf_l2c_open(&m, tu_shared("models/aidreams260K.bin"), &e) == 0, "%s", e.msg);
    ck_assert_int_eq(m.n_layers, 4);
    ck_assert_int_eq(m.n_heads, 4);
    ck_assert_msg(cf_l2c_vocab_load(&v, tu_shared("models/aidreams260K.tok512.bin"), m.vocab_size, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(v.text[0], "<unk>");
    ck_assert_int_eq(v.type[1], 3);
    int n_byte = 0, n_space = 0;
    for (int i = 0; i < v.n; i++) {
        n_byte += v.type[i] == 6;
        n_space += strstr(v.text[i], "\xe2\x96\x81") != NULL;
        ck_assert(strchr(v.text[i], ' ') == NULL);
    }
    ck_assert_int_eq(n_byte, 256);
    ck_assert_int_gt(n_space, 0);
    const char *out = tmp_path("aidreams.gguf");
    ck_assert_msg(cf_l2c_write_gguf(&m, &v, NULL, out, &e) == 0, "%s", e.msg);
    cf_model mod;
    ck_assert_msg(cf_model_load(&mod, out, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(mod.hp.n_layer, 4);
    ck_assert_int_eq(mod.hp.n_vocab, 512);
    ck_assert_int_eq(mod.hp.head_dim, 16);
    cf_model_free(&mod);
    cf_l2c_vocab_free(&v);
    cf_l2c_close(&m);
    cleanup();
}
END_TEST

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

START_TEST(test_llama2c_malformed) {
    if (!tu_have_shared()) return;
    size_t size, tsize;
    char *ck = tu_read_file(tu_shared("models/stories260K.l2c.bin"), &size);
    char *tok = tu_read_file(tu_shared("models/stories260K.tok512.bin"), &tsize);
    ck_assert(ck && tok);
    const char *p = tmp_path("bad.bin");
    cf_err e;
    cf_l2c_model m;
    cf_l2c_vocab v;
    static const struct { int field, value; size_t cut; int code; const char *expect; } cases[] = {
        {-1, 0, 1000, CF_EFORMAT, "truncated"},
        {-1, 0, 20, CF_EFORMAT, "too short"},
        {0, 0, 0, CF_EFORMAT, "dim = 0"},
        {0, 1 << 30, 0, CF_ELIMIT, "exceeds the cap"},
        {4, 16, 0, CF_EFORMAT, "n_kv_heads = 16"},
        {4, 3, 0, CF_EFORMAT, "not a multiple of n_kv_heads"},
        {3, 5, 0, CF_EFORMAT, "even head size"},
        {5, -512, 0, CF_EFORMAT, "(truncated)"},   /* claims an unshared classifier the file lacks */
        {5, (int)0x80000000u, 0, CF_ELIMIT, "vocab_size"},
        {6, 513, 0, CF_EFORMAT, "needs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *b = malloc(size);
        memcpy(b, ck, size);
        if (cases[i].field >= 0) memcpy(b + 4 * cases[i].field, &cases[i].value, 4);
        write_file(p, b, cases[i].cut ? cases[i].cut : size);
        free(b);
        int rc = cf_l2c_open(&m, p, &e);
        ck_assert_msg(rc == cases[i].code, "case %zu: %d %s", i, rc, e.msg);
        ck_assert_msg(strstr(e.msg, cases[i].expect), "case %zu: '%s' lacks '%s'", i, e.msg, cases[i].expect);
    }
    ck_assert_int_eq(cf_l2c_open(&m, tu_shared("models/stories260K.gguf"), &e), CF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "GGUF file"));
    write_file(p, "ak42\1\0\0\0", 8);
    ck_assert_int_eq(cf_l2c_open(&m, p, &e), CF_EUNSUPPORTED);
    ck_assert_int_eq(cf_l2c_open(&m, tmp_path("missing.bin"), &e), CF_EIO);
    /* tokenizers */
    ck_assert_int_eq(cf_l2c_vocab_load(&v, tu_shared("models/stories260K.tok512.bin"), 500, &e), CF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "trailing bytes"));
    ck_assert_int_eq(cf_l2c_vocab_load(&v, tu_shared("models/stories260K.tok512.bin"), 600, &e), CF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "truncated at token 512"));
    char *tb = malloc(tsize);
    memcpy(tb, tok, tsize);
    int32_t neg = -5;
    memcpy(tb + 8, &neg, 4);   /* token 0's length */
    write_file(p, tb, tsize);
    ck_assert_int_eq(cf_l2c_vocab_load(&v, p, 512, &e), CF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "token 0 at offset 4 has length -5"));
    int32_t zero = 0;
    memcpy(tb, &zero, 4);
    write_file(p, tb, tsize);
    ck_assert_int_eq(cf_l2c_vocab_load(&v, p, 512, &e), CF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "max_token_length 0"));
    free(tb);
    free(ck);
    free(tok);
    cleanup();
}
END_TEST

/* ---- synth ---- */

static cf_synth_opts small_opts(const char *arch, int mix) {
    cf_synth_opts o = {0};
    o.arch = arch;
    o.dim = 256;
    o.layers = 8;
    o.heads = 4;
    o.kv_heads = 2;
    o.ffn = 512;
    o.mix = mix;
    o.seed = 7;
    o.tied = 1;
    o.nth = 1;
    return o;
}

START_TEST(test_synth_matches_shared_layout) {
    if (!tu_have_shared()) return;
    static const struct { const char *vocab, *ref, *arch; int mix; uint64_t seed; } cases[] = {
        {"models/vocab/ggml-vocab-llama-spm.gguf", "models/synth-llama-spm32k-f16.gguf", "llama", CF_QMIX_F16, 1234},
        {"models/vocab/ggml-vocab-llama-spm.gguf", "models/synth-llama-spm32k-q8_0.gguf", "llama", CF_QMIX_Q8_0, 1234},
        {"models/vocab/ggml-vocab-gpt-2.gguf", "models/synth-qwen3-gpt2-50k-q8_0.gguf", "qwen3", CF_QMIX_Q8_0, 4321},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cf_err e;
        cf_gguf voc, a, b;
        ck_assert_int_eq(cf_gguf_open(&voc, tu_shared(cases[i].vocab), &e), 0);
        cf_synth_opts o = {0};
        o.arch = cases[i].arch;
        o.dim = 256, o.layers = 4, o.heads = 4, o.kv_heads = 2, o.ffn = 768, o.mix = cases[i].mix;
        o.seed = cases[i].seed, o.tied = 1, o.nth = 2;
        const char *out = tmp_path("synth.gguf");
        cf_synth_stats st;
        ck_assert_msg(cf_synth_write(&voc, &o, out, &st, &e) == 0, "%s", e.msg);
        cf_gguf_close(&voc);
        ck_assert_int_eq(cf_gguf_open(&a, out, &e), 0);
        ck_assert_int_eq(cf_gguf_open(&b, tu_shared(cases[i].ref), &e), 0);
        ck_assert_int_eq(a.size, b.size);
        same_layout(&a, &b, NULL);   /* names, types, shapes, offsets, every metadata value */
        int64_t params = 0;
        for (int64_t k = 0; k < b.n_tensors; k++) params += cf_gguf_tensor_nelements(&b.t[k]);
        ck_assert_int_eq(st.n_params, params);
        /* weight statistics close to the shared file's */
        for (int64_t k = 0; k < a.n_tensors; k++) {
            const cf_gguf_tensor *x = &a.t[k], *y = &b.t[k];
            int64_t n = cf_gguf_tensor_nelements(x);
            float *u = dequant(x), *w = dequant(y);
            double su = 0, s2u = 0, sw = 0, s2w = 0;
            for (int64_t j = 0; j < n; j++) su += u[j], s2u += (double)u[j] * u[j], sw += w[j], s2w += (double)w[j] * w[j];
            double mu = su / n, mw = sw / n, sdu = sqrt(s2u / n - mu * mu), sdw = sqrt(s2w / n - mw * mw);
            if (x->n_dims == 1) {   /* few samples: compare with the intended N(1, 0.1) */
                double scale = sqrt(256.0 / (double)n);
                ck_assert_msg(fabs(mu - 1) < NORM_MEAN_TOL * scale, "%s: mean %g", x->name, mu);
                ck_assert_msg(fabs(sdu - 0.1) < NORM_STD_TOL * scale * 0.1, "%s: std %g", x->name, sdu);
            } else {
                ck_assert_msg(fabs(sdu - sdw) < STD_REL_TOL * sdw, "%s: std %g vs %g", x->name, sdu, sdw);
            }
            free(u);
            free(w);
        }
        cf_gguf_close(&a);
        cf_gguf_close(&b);
    }
    cleanup();
}
END_TEST

START_TEST(test_synth_determinism_and_stats) {
    if (!tu_have_shared()) return;
    cf_err e;
    cf_gguf voc;
    ck_assert_int_eq(cf_gguf_open(&voc, tu_shared("models/stories260K.gguf"), &e), 0);
    for (int q = 0; q < 2; q++) {
        cf_synth_opts o = small_opts(q ? "qwen3" : "llama", q ? CF_QMIX_Q8_0 : CF_QMIX_F16);
        if (q) o.head_dim = 128, o.tied = 0;   /* qwen3 with head_dim * heads != dim, untied */
        const char *p1 = tmp_path("s1.gguf"), *p2 = tmp_path("s2.gguf"), *p3 = tmp_path("s3.gguf");
        ck_assert_msg(cf_synth_write(&voc, &o, p1, NULL, &e) == 0, "%s", e.msg);
        o.nth = 2;
        ck_assert_int_eq(cf_synth_write(&voc, &o, p2, NULL, &e), 0);
        o.seed = 8;
        ck_assert_int_eq(cf_synth_write(&voc, &o, p3, NULL, &e), 0);
        size_t n1, n2, n3;
        char *f1 = tu_read_file(p1, &n1), *f2 = tu_read_file(p2, &n2), *f3 = tu_read_file(p3, &n3);
        ck_assert(n1 == n2 && n1 == n3);
        ck_assert_msg(!memcmp(f1, f2, n1), "thread count changed the weights");
        ck_assert_msg(memcmp(f1, f3, n1), "seed did not change the weights");
        free(f2);
        free(f3);
        free(f1);
        cf_gguf g;
        ck_assert_int_eq(cf_gguf_open(&g, p1, &e), 0);
        /* every tokenizer.* key of the vocab, unchanged */
        int64_t ntok = 0;
        for (int64_t k = 0; k < voc.n_kv; k++) {
            if (strncmp(voc.kv[k].key, "tokenizer.", 10)) continue;
            const cf_gguf_kv *x = cf_gguf_get(&g, voc.kv[k].key);
            ck_assert_ptr_nonnull(x);
            ck_assert_int_eq(x->type, voc.kv[k].type);
            ck_assert_int_eq(x->n, voc.kv[k].n);
            ntok++;
        }
        ck_assert_int_ge(ntok, 5);
        cf_sv s;
        ck_assert_int_eq(cf_gguf_get_str(&g, "general.architecture", &s, &e), 0);
        ck_assert(s.len == strlen(o.arch) && !memcmp(s.ptr, o.arch, s.len));
        int64_t v;
        char key[96];
        snprintf(key, sizeof key, "%s.attention.head_count_kv", o.arch);
        ck_assert_int_eq(cf_gguf_get_int(&g, key, &v, &e), 0);
        ck_assert_int_eq(v, 2);
        if (q) {
            ck_assert_int_eq(cf_gguf_get_int(&g, "qwen3.attention.key_length", &v, &e), 0);
            ck_assert_int_eq(v, 128);
            ck_assert_ptr_nonnull(cf_gguf_tensor_get(&g, "output.weight"));
            ck_assert_int_eq(cf_gguf_tensor_get(&g, "blk.7.attn_q_norm.weight")->ne[0], 128);
            ck_assert_int_eq(cf_gguf_tensor_get(&g, "blk.0.attn_q.weight")->ne[1], 512);
            ck_assert_int_eq(cf_gguf_tensor_get(&g, "blk.0.attn_output.weight")->ne[0], 512);
        } else {
            ck_assert_ptr_null(cf_gguf_tensor_get(&g, "output.weight"));
        }
        /* statistics of the intended distributions */
        for (int64_t k = 0; k < g.n_tensors; k++) {
            const cf_gguf_tensor *t = &g.t[k];
            int64_t n = cf_gguf_tensor_nelements(t);
            float *x = dequant(t);
            double sum = 0, s2 = 0;
            for (int64_t j = 0; j < n; j++) sum += x[j], s2 += (double)x[j] * x[j];
            double mean = sum / n, sd = sqrt(s2 / n - mean * mean);
            double want = !strcmp(t->name, "token_embd.weight") ? 0.02
                          : !strcmp(t->name, "output.weight") ? 1 / sqrt(256.0)
                          : t->n_dims == 1 ? 0.1 : 1 / sqrt((double)t->ne[0]);
            double scale = sqrt(256.0 / (double)n);
            double tol = t->n_dims == 1 ? NORM_STD_TOL * scale : STD_REL_TOL;
            ck_assert_msg(fabs(sd - want) < tol * want, "%s: std %g, want %g", t->name, sd, want);
            if (t->n_dims == 1) ck_assert_msg(fabs(mean - 1) < NORM_MEAN_TOL * scale, "%s: mean %g", t->name, mean);
            else ck_assert_msg(fabs(mean) < 4 * want / sqrt((double)n), "%s: mean %g", t->name, mean);
            free(x);
        }
        cf_gguf_close(&g);
        cf_model mod;
        ck_assert_msg(cf_model_load(&mod, p1, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(mod.hp.n_layer, 8);
        ck_assert_int_eq(mod.tied, !!o.tied);
        cf_model_free(&mod);
    }
    cf_gguf_close(&voc);
    cleanup();
}
END_TEST

START_TEST(test_synth_bad_options) {
    static const struct { const char *arch; int dim, layers, heads, kv, ffn, hd; const char *expect; } cases[] = {
        {"gpt2", 256, 2, 4, 2, 512, 0, "--arch"},
        {"llama", 0, 2, 4, 2, 512, 0, "--dim must be given"},
        {"llama", 256, 2, 4, 3, 512, 0, "not a multiple of --kv-heads"},
        {"llama", 250, 2, 4, 2, 512, 0, "give --head-dim"},
        {"qwen3", 256, 2, 4, 2, 512, 63, "must be even"},
        {"llama", 256, 2000, 4, 2, 512, 0, "exceeds the cap"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cf_synth_opts o = small_opts(cases[i].arch, CF_QMIX_F16);
        o.dim = cases[i].dim, o.layers = cases[i].layers, o.heads = cases[i].heads, o.kv_heads = cases[i].kv;
        o.ffn = cases[i].ffn, o.head_dim = cases[i].hd;
        cf_err e;
        ck_assert_int_ne(cf_synth_check(&o, &e), 0);
        ck_assert_msg(strstr(e.msg, cases[i].expect), "case %zu: '%s' lacks '%s'", i, e.msg, cases[i].expect);
    }
}
END_TEST

/* ---- quantization ---- */

START_TEST(test_qmix_rule) {
    int64_t ne[2] = {1024, 1024}, ne576[2] = {576, 1536}, ne100[2] = {100, 4}, vec[1] = {1024};
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_K, "blk.0.attn_norm.weight", vec, 1, 28, 1), CF_T_F32);
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_K, "blk.5.attn_q.weight", ne, 2, 28, 1), CF_T_Q4_K);
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_K, "output.weight", ne, 2, 28, 1), CF_T_Q6_K);
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_K, "token_embd.weight", ne, 2, 28, 1), CF_T_Q4_K);
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_K, "token_embd.weight", ne, 2, 28, 0), CF_T_Q6_K);
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_0, "token_embd.weight", ne, 2, 28, 0), CF_T_Q6_K);
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_0, "blk.0.ffn_down.weight", ne, 2, 28, 0), CF_T_Q4_0);
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q8_0, "token_embd.weight", ne, 2, 28, 0), CF_T_Q8_0);
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_F16, "output.weight", ne, 2, 28, 1), CF_T_F16);
    /* use_more_bits for 28 layers: i < 3, i >= 24 (7 * 28 / 8) and (i - 3) % 3 == 2 */
    static const int more28[] = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27};
    char name[64];
    for (int l = 0; l < 28; l++) {
        int want = 0;
        for (size_t k = 0; k < sizeof more28 / sizeof more28[0]; k++) want |= more28[k] == l;
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", l);
        ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_K, name, ne, 2, 28, 1), want ? CF_T_Q6_K : CF_T_Q4_K);
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_K, name, ne, 2, 28, 1), want ? CF_T_Q6_K : CF_T_Q4_K);
        snprintf(name, sizeof name, "blk.%d.ffn_up.weight", l);
        ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_K, name, ne, 2, 28, 1), CF_T_Q4_K);
    }
    /* rows that are not a multiple of the block fall back */
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_K, "blk.1.attn_q.weight", ne576, 2, 30, 1), CF_T_Q4_0);
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_K, "token_embd.weight", ne576, 2, 30, 0), CF_T_Q8_0);
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q4_K, "blk.1.attn_q.weight", ne100, 2, 30, 1), CF_T_F16);
    ck_assert_int_eq(cf_qmix_type(CF_QMIX_Q8_0, "blk.1.attn_q.weight", ne100, 2, 30, 1), CF_T_F16);
    ck_assert_int_eq(cf_qmix_parse("Q4_K_M"), CF_QMIX_Q4_K);
    ck_assert_int_eq(cf_qmix_parse("q5_1"), -1);
    ck_assert_int_eq(cf_qmix_file_type(CF_QMIX_Q4_K), 15);
}
END_TEST

START_TEST(test_quantize_model) {
    if (!tu_have_shared()) return;
    cf_err e;
    cf_gguf voc, src;
    ck_assert_int_eq(cf_gguf_open(&voc, tu_shared("models/stories260K.gguf"), &e), 0);
    cf_synth_opts o = small_opts("llama", CF_QMIX_F32);
    const char *sp = tmp_path("src.gguf"), *qp = tmp_path("q.gguf");
    ck_assert_int_eq(cf_synth_write(&voc, &o, sp, NULL, &e), 0);
    cf_gguf_close(&voc);
    ck_assert_int_eq(cf_gguf_open(&src, sp, &e), 0);
    static const struct { int mix; double tol_main; } mixes[] = {
        {CF_QMIX_Q8_0, NMSE_Q8_0}, {CF_QMIX_Q4_0, NMSE_Q4_0}, {CF_QMIX_Q4_K, NMSE_Q4_K}, {CF_QMIX_F16, 1e-6}};
    for (size_t mi = 0; mi < sizeof mixes / sizeof mixes[0]; mi++) {
        cf_quantize_opts qo = {mixes[mi].mix, 2, 0, 0};
        cf_quantize_stats st;
        ck_assert_msg(cf_quantize_gguf(&src, qp, &qo, &st, &e) == 0, "%s", e.msg);
        cf_gguf q;
        ck_assert_int_eq(cf_gguf_open(&q, qp, &e), 0);
        ck_assert_int_eq(q.n_tensors, src.n_tensors);
        ck_assert_int_eq(st.n_tensors, src.n_tensors);
        /* metadata: all copied; file type updated; quantization_version added when quantized */
        for (int64_t k = 0; k < src.n_kv; k++) ck_assert_ptr_nonnull(cf_gguf_get(&q, src.kv[k].key));
        int64_t ft;
        ck_assert_int_eq(cf_gguf_get_int(&q, "general.file_type", &ft, &e), 0);
        ck_assert_int_eq(ft, cf_qmix_file_type(mixes[mi].mix));
        ck_assert((cf_gguf_get(&q, "general.quantization_version") != NULL) == (mixes[mi].mix != CF_QMIX_F16));
        for (int64_t k = 0; k < q.n_tensors; k++) {
            const cf_gguf_tensor *t = &q.t[k], *s = &src.t[k];
            ck_assert_str_eq(t->name, s->name);
            int want = cf_qmix_type(mixes[mi].mix, t->name, t->ne, t->n_dims, 8, 0);
            ck_assert_int_eq(t->type, want);
            int64_t n = cf_gguf_tensor_nelements(t);
            float *x = dequant(t), *y = dequant(s);
            double nmse = tu_nmse(x, y, (size_t)n);
            double tol = t->type == CF_T_Q6_K ? NMSE_Q6_K : t->type == CF_T_F32 ? 0 : mixes[mi].tol_main;
            ck_assert_msg(nmse <= tol, "%s (%s): nmse %g > %g", t->name, cf_dtype_get(t->type)->name, nmse, tol);
            free(x);
            free(y);
        }
        if (mixes[mi].mix == CF_QMIX_Q4_K) {
            /* n_layer 8: Q6_K attn_v / ffn_down in layers 0, 3, 6, 7 */
            ck_assert_int_eq(cf_gguf_tensor_get(&q, "blk.3.attn_v.weight")->type, CF_T_Q6_K);
            ck_assert_int_eq(cf_gguf_tensor_get(&q, "blk.4.attn_v.weight")->type, CF_T_Q4_K);
            ck_assert_int_eq(cf_gguf_tensor_get(&q, "token_embd.weight")->type, CF_T_Q6_K);
        }
        cf_gguf_close(&q);
    }
    /* a quantized source is refused unless requantization is asked for */
    cf_quantize_opts qo = {CF_QMIX_Q8_0, 1, 0, 0};
    ck_assert_int_eq(cf_quantize_gguf(&src, qp, &qo, NULL, &e), 0);
    cf_gguf q8;
    ck_assert_int_eq(cf_gguf_open(&q8, qp, &e), 0);
    const char *q4p = tmp_path("q4.gguf");
    qo.mix = CF_QMIX_Q4_0;
    ck_assert_int_eq(cf_quantize_gguf(&q8, q4p, &qo, NULL, &e), CF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "already q8_0"));
    ck_assert_int_ne(access(q4p, F_OK), 0);                 /* no partial output */
    qo.allow_requantize = 1;
    ck_assert_msg(cf_quantize_gguf(&q8, q4p, &qo, NULL, &e) == 0, "%s", e.msg);
    qo.mix = CF_QMIX_Q8_0;                                     /* same type: bytes copied */
    qo.allow_requantize = 0;
    const char *q8b = tmp_path("q8b.gguf");
    ck_assert_int_eq(cf_quantize_gguf(&q8, q8b, &qo, NULL, &e), 0);
    cf_gguf q8c;
    ck_assert_int_eq(cf_gguf_open(&q8c, q8b, &e), 0);
    ck_assert_int_eq(q8c.size, q8.size);
    ck_assert(!memcmp(q8c.map, q8.map, q8.size));
    cf_gguf_close(&q8c);
    cf_gguf_close(&q8);
    cf_gguf_close(&src);
    cleanup();
}
END_TEST

/* ---- CLIs: exit codes ---- */

static int run_cmd(int (*fn)(int, char **), const char *const *args) {
    char *argv[32];
    int argc = 0;
    for (; args[argc]; argc++) argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    return fn(argc, argv);
}

START_TEST(test_cli_exit_codes) {
    if (!tu_have_shared()) return;
    /* keep the output of the commands out of the test log */
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) ck_abort_msg("freopen");
    const char *stories = tu_shared("models/stories260K.gguf"), *out = tmp_path("cli.gguf");
    const char *ok1[] = {"gguf", stories, NULL}, *ok2[] = {"gguf", stories, "--json", NULL};
    ck_assert_int_eq(run_cmd(cmd_gguf, ok1), CLI_OK);
    ck_assert_int_eq(run_cmd(cmd_gguf, ok2), CLI_OK);
    const char *b1[] = {"gguf", "/nonexistent.gguf", NULL}, *b2[] = {"gguf", stories, "--bogus", NULL},
               *b3[] = {"gguf", NULL}, *b4[] = {"gguf", tu_shared("models/aidreams260K.bin"), NULL};
    ck_assert_int_eq(run_cmd(cmd_gguf, b1), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_gguf, b2), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_gguf, b3), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_gguf, b4), CLI_USAGE);
    const char *s_ok[] = {"synth", stories, out, "--arch", "llama", "--dim", "64", "--layers", "2", "--heads", "4",
                          "--kv-heads", "2", "--ffn", "128", "--type", "q8_0", "-t", "1", NULL};
    ck_assert_int_eq(run_cmd(cmd_synth, s_ok), CLI_OK);
    const char *s1[] = {"synth", stories, out, "--arch", "llama", "--dim", "x64", NULL},
               *s2[] = {"synth", stories, out, "--arch", "mamba", NULL},
               *s3[] = {"synth", stories, out, "--arch", "llama", "--dim", "64", "--layers", "2", "--heads", "4",
                        "--kv-heads", "3", "--ffn", "128", NULL},
               *s4[] = {"synth", stories, out, "--arch", "llama", "--dim", "64", "--layers", "2", "--heads", "4",
                        "--kv-heads", "2", "--ffn", "128", "--type", "q5_1", NULL},
               *s5[] = {"synth", "/nonexistent.gguf", out, "--arch", "llama", "--dim", "64", "--layers", "2",
                        "--heads", "4", "--kv-heads", "2", "--ffn", "128", NULL},
               *s6[] = {"synth", stories, NULL}, *s7[] = {"synth", stories, out, "--dim", NULL};
    ck_assert_int_eq(run_cmd(cmd_synth, s1), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_synth, s2), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_synth, s3), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_synth, s4), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_synth, s5), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_synth, s6), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_synth, s7), CLI_USAGE);
    const char *qout = tmp_path("cliq.gguf");
    const char *q_ok[] = {"quantize", stories, qout, "q8_0", "-t", "1", NULL},
               *q1[] = {"quantize", stories, qout, "q3_k", NULL}, *q2[] = {"quantize", stories, qout, NULL},
               *q3[] = {"quantize", "/nonexistent.gguf", qout, "q8_0", NULL},
               *q4[] = {"quantize", out, qout, "q4_0", NULL},   /* already q8_0 */
               *q5[] = {"quantize", stories, qout, "q8_0", "-t", "0", NULL};
    ck_assert_int_eq(run_cmd(cmd_quantize, q_ok), CLI_OK);
    ck_assert_int_eq(run_cmd(cmd_quantize, q1), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_quantize, q2), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_quantize, q3), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_quantize, q4), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_quantize, q5), CLI_USAGE);
    const char *l2c = tu_shared("models/stories260K.l2c.bin"), *tok = tu_shared("models/stories260K.tok512.bin");
    const char *c_ok[] = {"convert-llama2c", l2c, tok, out, NULL},
               *c1[] = {"convert-llama2c", l2c, tok, NULL}, *c2[] = {"convert-llama2c", tok, l2c, out, NULL},
               *c3[] = {"convert-llama2c", l2c, tok, out, "--ctx", "-1", NULL},
               *c4[] = {"convert-llama2c", l2c, tok, out, "--type", "q4_0", NULL},
               *c5[] = {"convert-llama2c", l2c, tok, "/nonexistent-dir/x.gguf", NULL};
    ck_assert_int_eq(run_cmd(cmd_convert_llama2c, c_ok), CLI_OK);
    ck_assert_int_eq(run_cmd(cmd_convert_llama2c, c1), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_convert_llama2c, c2), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_convert_llama2c, c3), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_convert_llama2c, c4), CLI_USAGE);
    ck_assert_int_eq(run_cmd(cmd_convert_llama2c, c5), CLI_USAGE);
    cleanup();
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("tools");
    TCase *tc = tcase_create("tools");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_convert_stories);
    tcase_add_test(tc, test_convert_aidreams);
    tcase_add_test(tc, test_llama2c_malformed);
    tcase_add_test(tc, test_synth_matches_shared_layout);
    tcase_add_test(tc, test_synth_determinism_and_stats);
    tcase_add_test(tc, test_synth_bad_options);
    tcase_add_test(tc, test_qmix_rule);
    tcase_add_test(tc, test_quantize_model);
    tcase_add_test(tc, test_cli_exit_codes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
