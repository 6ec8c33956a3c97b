/* Model quantization (see quantize_model.h). */
#include "model/quantize_model.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/parallel.h"
#include "kernels/quant.h"

#define CHUNK_ELEMS (4l << 20)   /* elements converted per parallel step (16 MiB of f32) */

static const struct {
    const char *name;
    int type;          /* matrix type */
    uint32_t ftype;    /* general.file_type */
} k_mix[] = {
    [CF_QMIX_F32] = {"f32", CF_T_F32, 0},   [CF_QMIX_F16] = {"f16", CF_T_F16, 1},
    [CF_QMIX_BF16] = {"bf16", CF_T_BF16, 32}, [CF_QMIX_Q8_0] = {"q8_0", CF_T_Q8_0, 7},
    [CF_QMIX_Q4_0] = {"q4_0", CF_T_Q4_0, 2}, [CF_QMIX_Q4_K] = {"q4_k", CF_T_Q4_K, 15},
};
#define N_MIX ((int)(sizeof k_mix / sizeof k_mix[0]))

int cf_qmix_parse(const char *s) {
    char low[16];
    size_t n = strlen(s);
    if (n >= sizeof low) return -1;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)s[i]);
    if (!strcmp(low, "q4_k_m")) return CF_QMIX_Q4_K;
    for (int i = 0; i < N_MIX; i++)
        if (!strcmp(low, k_mix[i].name)) return i;
    return -1;
}

const char *cf_qmix_name(int mix) { return mix >= 0 && mix < N_MIX ? k_mix[mix].name : "?"; }
uint32_t cf_qmix_file_type(int mix) { return mix >= 0 && mix < N_MIX ? k_mix[mix].ftype : 0; }

/* Layer index of "blk.N.<rest>" when rest equals `suffix`; -1 otherwise. */
static int layer_of(const char *name, const char *suffix) {
    if (strncmp(name, "blk.", 4)) return -1;
    char *end;
    long l = strtol(name + 4, &end, 10);
    if (end == name + 4 || *end != '.' || l < 0 || l > 1000000) return -1;
    return strcmp(end + 1, suffix) ? -1 : (int)l;
}

static int use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static int fits(int type, int64_t ne0) {
    const cf_dtype_info *t = cf_dtype_get(type);
    return t && ne0 % t->block == 0;
}

int cf_qmix_type(int mix, const char *name, const int64_t *ne, int n_dims, int n_layer, int has_output) {
    if (n_dims < 2 || mix < 0 || mix >= N_MIX) return CF_T_F32;
    int type = k_mix[mix].type;
    int is_out = !strcmp(name, "output.weight") || (!has_output && !strcmp(name, "token_embd.weight"));
    if ((mix == CF_QMIX_Q4_0 || mix == CF_QMIX_Q4_K) && is_out) type = CF_T_Q6_K;
    if (mix == CF_QMIX_Q4_K) {
        int l = layer_of(name, "attn_v.weight");
        if (l < 0) l = layer_of(name, "ffn_down.weight");
        if (l >= 0 && use_more_bits(l, n_layer > 0 ? n_layer : 1)) type = CF_T_Q6_K;
    }
    if (!fits(type, ne[0])) {
        if (type == CF_T_Q6_K) type = CF_T_Q8_0;
        else if (type == CF_T_Q4_K) type = CF_T_Q4_0;
    }
    if (!fits(type, ne[0])) type = CF_T_F16;
    return type;
}

/* ---- the row pipeline ---- */

typedef struct {
    int type;
    int64_t n, r0, nr;
    size_t rb;
    uint8_t *out;
    cf_row_fn fn;
    void *ctx;
    float **scratch;
    int bad;
} chunk_job;

static void chunk_fn(const cf_par *p, void *arg) {
    chunk_job *j = arg;
    long lo, hi;
    cf_split(p, (long)j->nr, (long)j->n, 0, 1, &lo, &hi);
    float *tmp = j->scratch[p->ith];
    for (long r = lo; r < hi; r++) {
        j->fn(j->ctx, j->r0 + r, tmp, j->n);
        if (cf_quantize_row(j->type, tmp, j->out + (size_t)r * j->rb, j->n)) j->bad = 1;
    }
}

int cf_write_rows(cf_gguf_writer *w, int type, int64_t rows, int64_t n, cf_row_fn fn, void *ctx, int nth,
                  cf_err *err) {
    size_t rb = cf_row_bytes(type, n);
    if (!rb || rows < 1) return cf_errf(err, CF_EINVAL, "cannot convert rows of %" PRId64 " to %s", n,
                                        cf_dtype_get(type) ? cf_dtype_get(type)->name : "?");
    if (nth <= 0) nth = cf_default_threads();
    int64_t per = CHUNK_ELEMS / n > 0 ? CHUNK_ELEMS / n : 1;
    if (per > rows) per = rows;
    chunk_job j = {type, n, 0, 0, rb, malloc((size_t)per * rb), fn, ctx, calloc((size_t)nth, sizeof(float *)), 0};
    int rc = 0;
    if (!j.out || !j.scratch) rc = cf_errf(err, CF_ENOMEM, "out of memory");
    for (int t = 0; t < nth && !rc; t++)
        if (!(j.scratch[t] = malloc((size_t)n * sizeof(float)))) rc = cf_errf(err, CF_ENOMEM, "out of memory");
    for (int64_t r = 0; r < rows && !rc; r += per) {
        j.r0 = r;
        j.nr = rows - r < per ? rows - r : per;
        if (nth == 1) chunk_fn(&cf_par_serial, &j);
        else cf_parallel_run(nth, chunk_fn, &j);
        if (j.bad) rc = cf_errf(err, CF_EUNSUPPORTED, "no quantizer for type %s", cf_dtype_get(type)->name);
        else rc = cf_gguf_w_write(w, j.out, (size_t)j.nr * rb, err);
    }
    if (j.scratch)
        for (int t = 0; t < nth; t++) free(j.scratch[t]);
    free(j.scratch);
    free(j.out);
    return rc;
}

/* ---- cinfer quantize ---- */

typedef struct {
    const cf_gguf_tensor *t;
    size_t src_rb;
} src_rows;

static void dequant_row(void *ctx, int64_t row, float *dst, int64_t n) {
    const src_rows *s = ctx;
    cf_dequantize_row(s->t->type, (const uint8_t *)s->t->data + (size_t)row * s->src_rb, dst, n);
}

static int is_float_type(int type) { return type == CF_T_F32 || type == CF_T_F16 || type == CF_T_BF16; }

int cf_quantize_gguf(const cf_gguf *in, const char *out, const cf_quantize_opts *o, cf_quantize_stats *st,
                     cf_err *err) {
    cf_quantize_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    int mix = o->mix;
    if (mix < 0 || mix >= N_MIX) return cf_errf(err, CF_EINVAL, "unknown quantization mix %d", mix);
    /* layer count: <arch>.block_count, else from the tensor names */
    int64_t n_layer = 0;
    cf_sv arch;
    if (cf_gguf_get_str(in, "general.architecture", &arch, NULL) == 0 && arch.len < 64) {
        char key[96];
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch.len, arch.ptr);
        if (cf_gguf_get_int(in, key, &n_layer, NULL) != 0) n_layer = 0;
    }
    if (n_layer <= 0)
        for (int64_t i = 0; i < in->n_tensors; i++) {
            long l = !strncmp(in->t[i].name, "blk.", 4) ? strtol(in->t[i].name + 4, NULL, 10) : -1;
            if (l + 1 > n_layer) n_layer = l + 1;
        }
    int has_output = cf_gguf_tensor_get(in, "output.weight") != NULL;
    int *types = malloc((size_t)(in->n_tensors ? in->n_tensors : 1) * sizeof *types);
    cf_gguf_writer *w = cf_gguf_w_new();
    if (!types || !w) {
        free(types);
        cf_gguf_w_free(w);
        return cf_errf(err, CF_ENOMEM, "out of memory");
    }
    int rc = 0, any_q = 0;
    for (int64_t i = 0; i < in->n_tensors && !rc; i++) {
        const cf_gguf_tensor *t = &in->t[i];
        int ty = cf_qmix_type(mix, t->name, t->ne, t->n_dims, (int)n_layer, has_output);
        const cf_dtype_info *si = cf_dtype_get(t->type);
        if (ty != t->type && !is_float_type(t->type)) {
            if (!o->allow_requantize)
                rc = cf_errf(err, CF_EUNSUPPORTED, "tensor '%s' is already %s: quantize needs f32/f16/bf16 sources "
                             "(--allow-requantize dequantizes it first)", t->name, si->name);
            else if (!si->compute)
                rc = cf_errf(err, CF_EUNSUPPORTED, "tensor '%s': cannot dequantize %s", t->name, si->name);
        }
        types[i] = ty;
        any_q |= !is_float_type(ty);
    }
    for (int64_t i = 0; i < in->n_kv && !rc; i++) rc = cf_gguf_w_copy_kv(w, in, &in->kv[i], err);
    if (!rc) rc = cf_gguf_w_set_u32(w, "general.file_type", cf_qmix_file_type(mix), err);
    if (!rc && any_q) rc = cf_gguf_w_set_u32(w, "general.quantization_version", 2, err);
    for (int64_t i = 0; i < in->n_tensors && !rc; i++)
        rc = cf_gguf_w_add_tensor(w, in->t[i].name, types[i], in->t[i].ne, in->t[i].n_dims, err);
    if (!rc) rc = cf_gguf_w_begin_file(w, out, err);
    for (int64_t i = 0; i < in->n_tensors && !rc; i++) {
        const cf_gguf_tensor *t = &in->t[i];
        int64_t n = t->ne[0], rows = cf_gguf_tensor_nelements(t) / n;
        if (types[i] == t->type) {
            rc = cf_gguf_w_write(w, t->data, (size_t)t->size, err);
        } else {
            src_rows s = {t, cf_row_bytes(t->type, n)};
            rc = cf_write_rows(w, types[i], rows, n, dequant_row, &s, o->nth, err);
            st->n_quantized += !is_float_type(types[i]);
        }
        if (rc) {
            cf_err_prefix(err, "tensor '%s'", t->name);
            break;
        }
        st->n_tensors++;
        st->bytes_in += t->size;
        st->bytes_out += cf_gguf_w_tensor_bytes(w, i);
        st->count[types[i]]++;
        if (o->verbose)
            fprintf(stderr, "  %-32s %-5s -> %-5s %12" PRIu64 " -> %12" PRIu64 " bytes\n", t->name,
                    cf_dtype_get(t->type)->name, cf_dtype_get(types[i])->name, t->size, cf_gguf_w_tensor_bytes(w, i));
    }
    if (!rc) rc = cf_gguf_w_finish(w, err);
    cf_gguf_w_free(w);
    free(types);
    return rc;
}
