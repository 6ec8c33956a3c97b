/* Synthetic model generation (see synth.h). */
#include "model/synth.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quant.h"
#include "model/gguf_write.h"
#include "model/quantize_model.h"

#define EMBD_STD 0.02      /* token_embd */
#define NORM_STD 0.1       /* norms: 1 + N(0, NORM_STD) */
#define GAUSS_BITS 16      /* a sample = one 16-bit uniform through the inverse normal CDF */

/* ---- Gaussian samples: inverse-CDF table of 2^16 equiprobable cells ---- */

static float g_gauss[1 << GAUSS_BITS];
static int g_gauss_ready;

static double phi_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

/* z with Phi(z) = p for p in (0, 0.5]: Newton from 0 (Phi is convex there, so it converges
 * monotonically). */
static double inv_cdf_lower(double p) {
    double z = 0;
    for (int it = 0; it < 100; it++) {
        double f = phi_cdf(z) - p, d = exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
        double step = f / d;
        z -= step;
        if (fabs(step) < 1e-12) break;
    }
    return z;
}

/* Built once, before any thread uses it (cf_synth_write calls it serially). */
static void gauss_init(void) {
    if (g_gauss_ready) return;
    int n = 1 << GAUSS_BITS;
    for (int i = 0; i < n / 2; i++) {
        float z = (float)inv_cdf_lower((i + 0.5) / n);
        g_gauss[i] = z;
        g_gauss[n - 1 - i] = -z;
    }
    g_gauss_ready = 1;
}

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t seed;
    uint32_t id;     /* tensor index: each (tensor, row) has its own stream */
    float mean, std;
} gen_ctx;

static void gen_row(void *vctx, int64_t row, float *dst, int64_t n) {
    const gen_ctx *c = vctx;
    uint64_t s = mix64(c->seed ^ mix64(((uint64_t)c->id << 40) ^ (uint64_t)row ^ 0x5eed5eed00000000ull));
    int64_t i = 0;
    while (i < n) {
        uint64_t r = mix64(s += 0x9e3779b97f4a7c15ull);
        for (int k = 0; k < 4 && i < n; k++, i++, r >>= 16) dst[i] = c->mean + c->std * g_gauss[r & 0xffff];
    }
}

/* ---- the model layout ---- */

enum { K_EMBD, K_NORM, K_OUT, K_MAT };

typedef struct {
    char name[64];
    int kind, n_dims;
    int64_t ne[2];
} tdesc;

typedef struct {
    int head_dim, n_vocab;
    double rope_base, norm_eps;
    int64_t ctx;
} shape;

static int check_shape(const cf_synth_opts *o, shape *sh, cf_err *err) {
    if (!o->arch || (strcmp(o->arch, "llama") && strcmp(o->arch, "qwen3")))
        return cf_errf(err, CF_EINVAL, "--arch: '%s' is not llama or qwen3", o->arch ? o->arch : "");
    struct { const char *flag; int v, cap; } f[] = {{"--dim", o->dim, CF_SYNTH_MAX_DIM},
        {"--layers", o->layers, CF_SYNTH_MAX_LAYERS}, {"--heads", o->heads, CF_SYNTH_MAX_HEADS},
        {"--kv-heads", o->kv_heads, CF_SYNTH_MAX_HEADS}, {"--ffn", o->ffn, 16 * CF_SYNTH_MAX_DIM}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (f[i].v < 1) return cf_errf(err, CF_EINVAL, "%s must be given and >= 1 (got %d)", f[i].flag, f[i].v);
        if (f[i].v > f[i].cap) return cf_errf(err, CF_ELIMIT, "%s %d exceeds the cap %d", f[i].flag, f[i].v, f[i].cap);
    }
    if (o->heads % o->kv_heads)
        return cf_errf(err, CF_EINVAL, "--heads %d is not a multiple of --kv-heads %d", o->heads, o->kv_heads);
    sh->head_dim = o->head_dim;
    if (sh->head_dim == 0) {
        if (o->dim % o->heads)
            return cf_errf(err, CF_EINVAL, "--dim %d is not a multiple of --heads %d (give --head-dim)", o->dim, o->heads);
        sh->head_dim = o->dim / o->heads;
    }
    if (sh->head_dim < 2 || sh->head_dim % 2 || sh->head_dim > CF_SYNTH_MAX_DIM)
        return cf_errf(err, CF_EINVAL, "head dim %d must be even and in [2, %d]", sh->head_dim, CF_SYNTH_MAX_DIM);
    if ((int64_t)sh->head_dim * o->heads > CF_SYNTH_MAX_DIM * 4)
        return cf_errf(err, CF_ELIMIT, "heads x head dim = %lld is too large", (long long)sh->head_dim * o->heads);
    if (o->mix < CF_QMIX_F32 || o->mix > CF_QMIX_Q4_K) return cf_errf(err, CF_EINVAL, "--type: unknown mix");
    sh->ctx = o->ctx ? o->ctx : 4096;
    if (sh->ctx < 1 || sh->ctx > INT32_MAX) return cf_errf(err, CF_EINVAL, "--ctx %lld is out of range", (long long)sh->ctx);
    sh->rope_base = o->rope_base ? o->rope_base : !strcmp(o->arch, "qwen3") ? 1000000.0 : 10000.0;
    sh->norm_eps = o->norm_eps ? o->norm_eps : 1e-6;
    if (!(sh->rope_base > 0) || !(sh->norm_eps > 0) || !isfinite(sh->rope_base))
        return cf_errf(err, CF_EINVAL, "--rope-base and the norm epsilon must be positive");
    return 0;
}

int cf_synth_check(const cf_synth_opts *o, cf_err *err) {
    shape sh;
    return check_shape(o, &sh, err);
}

/* Tensor list in file order; returns the count (n_out must hold 3 + 11 * layers entries). */
static int layout(const cf_synth_opts *o, const shape *sh, tdesc *t) {
    int n = 0, D = o->dim, Q = o->heads * sh->head_dim, KV = o->kv_heads * sh->head_dim, F = o->ffn;
    int qwen3 = !strcmp(o->arch, "qwen3");
#define ADD(kind_, n0, n1, nd, ...) do { \
        snprintf(t[n].name, sizeof t[n].name, __VA_ARGS__); \
        t[n].kind = kind_; t[n].ne[0] = n0; t[n].ne[1] = n1; t[n].n_dims = nd; n++; } while (0)
    ADD(K_EMBD, D, sh->n_vocab, 2, "token_embd.weight");
    ADD(K_NORM, D, 1, 1, "output_norm.weight");
    if (!o->tied) ADD(K_OUT, D, sh->n_vocab, 2, "output.weight");
    for (int l = 0; l < o->layers; l++) {
        ADD(K_NORM, D, 1, 1, "blk.%d.attn_norm.weight", l);
        ADD(K_MAT, D, Q, 2, "blk.%d.attn_q.weight", l);
        ADD(K_MAT, D, KV, 2, "blk.%d.attn_k.weight", l);
        ADD(K_MAT, D, KV, 2, "blk.%d.attn_v.weight", l);
        if (qwen3) {
            ADD(K_NORM, sh->head_dim, 1, 1, "blk.%d.attn_q_norm.weight", l);
            ADD(K_NORM, sh->head_dim, 1, 1, "blk.%d.attn_k_norm.weight", l);
        }
        ADD(K_MAT, Q, D, 2, "blk.%d.attn_output.weight", l);
        ADD(K_NORM, D, 1, 1, "blk.%d.ffn_norm.weight", l);
        ADD(K_MAT, D, F, 2, "blk.%d.ffn_gate.weight", l);
        ADD(K_MAT, D, F, 2, "blk.%d.ffn_up.weight", l);
        ADD(K_MAT, F, D, 2, "blk.%d.ffn_down.weight", l);
    }
#undef ADD
    return n;
}

int cf_synth_write(const cf_gguf *vocab, const cf_synth_opts *o, const char *path, cf_synth_stats *st,
                   cf_err *err) {
    cf_synth_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    shape sh;
    if (check_shape(o, &sh, err)) return err->code;
    const cf_gguf_kv *toks = cf_gguf_get(vocab, "tokenizer.ggml.tokens");
    if (!toks || toks->type != CF_GGUF_ARRAY || toks->arr_type != CF_GGUF_STRING || toks->n < 1 || toks->n > INT32_MAX)
        return cf_errf(err, CF_EINVAL, "the vocab file has no tokenizer.ggml.tokens string array");
    sh.n_vocab = (int)toks->n;
    st->n_vocab = sh.n_vocab;
    const char *arch = o->arch;
    int qwen3 = !strcmp(arch, "qwen3");

    tdesc *t = malloc((size_t)(3 + 11 * o->layers) * sizeof *t);
    cf_gguf_writer *w = cf_gguf_w_new();
    if (!t || !w) {
        free(t);
        cf_gguf_w_free(w);
        return cf_errf(err, CF_ENOMEM, "out of memory");
    }
    int nt = layout(o, &sh, t);
    int rc = 0;
    char key[128], name[128];
#define TRY(x) do { if (!rc) rc = (x); } while (0)
#define AKEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
    if (o->name) snprintf(name, sizeof name, "%s", o->name);
    else snprintf(name, sizeof name, "synth-%s-%dx%d-v%d-seed%" PRIu64, arch, o->dim, o->layers, sh.n_vocab, o->seed);
    TRY(cf_gguf_w_set_str(w, "general.architecture", arch, err));
    TRY(cf_gguf_w_set_str(w, "general.name", name, err));
    TRY(cf_gguf_w_set_u32(w, "general.file_type", cf_qmix_file_type(o->mix), err));
    TRY(cf_gguf_w_set_u32(w, AKEY("context_length"), (uint32_t)sh.ctx, err));
    TRY(cf_gguf_w_set_u32(w, AKEY("embedding_length"), (uint32_t)o->dim, err));
    TRY(cf_gguf_w_set_u32(w, AKEY("block_count"), (uint32_t)o->layers, err));
    TRY(cf_gguf_w_set_u32(w, AKEY("feed_forward_length"), (uint32_t)o->ffn, err));
    TRY(cf_gguf_w_set_u32(w, AKEY("attention.head_count"), (uint32_t)o->heads, err));
    TRY(cf_gguf_w_set_u32(w, AKEY("attention.head_count_kv"), (uint32_t)o->kv_heads, err));
    TRY(cf_gguf_w_set_f32(w, AKEY("attention.layer_norm_rms_epsilon"), (float)sh.norm_eps, err));
    TRY(cf_gguf_w_set_f32(w, AKEY("rope.freq_base"), (float)sh.rope_base, err));
    if (!qwen3) {
        TRY(cf_gguf_w_set_u32(w, AKEY("rope.dimension_count"), (uint32_t)sh.head_dim, err));
        TRY(cf_gguf_w_set_u32(w, AKEY("vocab_size"), (uint32_t)sh.n_vocab, err));
    }
    if (qwen3 || sh.head_dim * o->heads != o->dim) {
        TRY(cf_gguf_w_set_u32(w, AKEY("attention.key_length"), (uint32_t)sh.head_dim, err));
        TRY(cf_gguf_w_set_u32(w, AKEY("attention.value_length"), (uint32_t)sh.head_dim, err));
    }
    for (int64_t i = 0; i < vocab->n_kv && !rc; i++)
        if (!strncmp(vocab->kv[i].key, "tokenizer.", 10)) rc = cf_gguf_w_copy_kv(w, vocab, &vocab->kv[i], err);
    int *types = malloc((size_t)nt * sizeof *types);
    if (!types && !rc) rc = cf_errf(err, CF_ENOMEM, "out of memory");
    int any_q = 0;
    for (int i = 0; i < nt && !rc; i++) {
        types[i] = cf_qmix_type(o->mix, t[i].name, t[i].ne, t[i].n_dims, o->layers, !o->tied);
        any_q |= types[i] != CF_T_F32 && types[i] != CF_T_F16 && types[i] != CF_T_BF16;
        rc = cf_gguf_w_add_tensor(w, t[i].name, types[i], t[i].ne, t[i].n_dims, err);
    }
    if (any_q) TRY(cf_gguf_w_set_u32(w, "general.quantization_version", 2, err));
#undef AKEY
#undef TRY
    gauss_init();
    if (!rc) rc = cf_gguf_w_begin_file(w, path, err);
    for (int i = 0; i < nt && !rc; i++) {
        gen_ctx g = {o->seed, (uint32_t)i, 0.0f, 0.0f};
        switch (t[i].kind) {
        case K_EMBD: g.std = (float)EMBD_STD; break;
        case K_NORM: g.mean = 1.0f; g.std = (float)NORM_STD; break;
        case K_OUT: g.std = (float)(1.0 / sqrt((double)o->dim)); break;
        default: g.std = (float)(1.0 / sqrt((double)t[i].ne[0])); break;
        }
        rc = cf_write_rows(w, types[i], t[i].n_dims == 2 ? t[i].ne[1] : 1, t[i].ne[0], gen_row, &g, o->nth, err);
        if (rc) cf_err_prefix(err, "tensor '%s'", t[i].name);
        st->n_params += t[i].ne[0] * (t[i].n_dims == 2 ? t[i].ne[1] : 1);
        st->bytes += cf_gguf_w_tensor_bytes(w, i);
        st->n_tensors++;
    }
    if (!rc) rc = cf_gguf_w_finish(w, err);
    cf_gguf_w_free(w);
    free(types);
    free(t);
    return rc;
}
