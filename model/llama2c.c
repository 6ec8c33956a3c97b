/* llama2.c checkpoint + tokenizer reader and GGUF conversion (see llama2c.h). */
#include "model/llama2c.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/quant.h"
#include "model/gguf_write.h"

#define CONVERT_ROWS 256   /* rows converted per write when the output type is not f32 */

static int map_file(const char *path, const void **map, size_t *size, cf_err *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return cf_errf(err, CF_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return cf_errf(err, CF_EIO, "'%s' is not a regular file", path);
    }
    *size = (size_t)st.st_size;
    if (*size == 0) {
        close(fd);
        *map = NULL;
        return 0;
    }
    void *m = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return cf_errf(err, CF_EIO, "cannot mmap '%s': %s", path, strerror(errno));
    *map = m;
    return 0;
}

static int check_range(const char *path, const char *what, int64_t v, int64_t lo, int64_t hi, int at, cf_err *err) {
    if (v < lo)
        return cf_errf(err, CF_EFORMAT, "%s: llama2.c header field %s = %" PRId64 " (offset %d) must be >= %" PRId64,
                       path, what, v, at, lo);
    if (v > hi)
        return cf_errf(err, CF_ELIMIT, "%s: llama2.c header field %s = %" PRId64 " (offset %d) exceeds the cap %" PRId64,
                       path, what, v, at, hi);
    return 0;
}

int cf_l2c_open(cf_l2c_model *m, const char *path, cf_err *err) {
    memset(m, 0, sizeof *m);
    const void *map;
    size_t size;
    if (map_file(path, &map, &size, err)) return err->code;
    m->map = map;
    m->size = size;
    int rc = 0;
    int32_t h[7];
    if (size >= 4 && !memcmp(map, "GGUF", 4)) {
        rc = cf_errf(err, CF_EFORMAT, "%s is a GGUF file, not a llama2.c checkpoint", path);
        goto fail;
    }
    if (size >= 4 && !memcmp(map, "ak42", 4)) {
        rc = cf_errf(err, CF_EUNSUPPORTED, "%s: a llama2.c export with the 'ak42' header (version 1/2) is not "
                     "supported; export with the legacy format", path);
        goto fail;
    }
    if (size < sizeof h) {
        rc = cf_errf(err, CF_EFORMAT, "%s: %zu bytes is too short for the 28-byte llama2.c header", path, size);
        goto fail;
    }
    memcpy(h, map, sizeof h);
    int64_t vocab = h[5];
    if ((rc = check_range(path, "dim", h[0], 1, CF_L2C_MAX_DIM, 0, err)) ||
        (rc = check_range(path, "hidden_dim", h[1], 1, CF_L2C_MAX_HIDDEN, 4, err)) ||
        (rc = check_range(path, "n_layers", h[2], 1, CF_L2C_MAX_LAYERS, 8, err)) ||
        (rc = check_range(path, "n_heads", h[3], 1, CF_L2C_MAX_HEADS, 12, err)) ||
        (rc = check_range(path, "|vocab_size|", vocab < 0 ? -vocab : vocab, 1, CF_L2C_MAX_VOCAB, 20, err)) ||
        (rc = check_range(path, "seq_len", h[6], 1, CF_L2C_MAX_SEQ, 24, err)))
        goto fail;
    if (h[4] < 1 || h[4] > h[3]) {
        rc = cf_errf(err, CF_EFORMAT, "%s: llama2.c header field n_kv_heads = %d (offset 16) is not in [1, n_heads = %d]",
                     path, h[4], h[3]);
        goto fail;
    }
    m->dim = h[0];
    m->hidden_dim = h[1];
    m->n_layers = h[2];
    m->n_heads = h[3];
    m->n_kv_heads = h[4];
    m->shared = vocab > 0;
    m->vocab_size = (int)(vocab < 0 ? -vocab : vocab);
    m->seq_len = h[6];
    if (m->dim % m->n_heads || (m->dim / m->n_heads) % 2) {
        rc = cf_errf(err, CF_EFORMAT, "%s: dim %d is not n_heads (%d) times an even head size", path, m->dim, m->n_heads);
        goto fail;
    }
    if (m->n_heads % m->n_kv_heads) {
        rc = cf_errf(err, CF_EFORMAT, "%s: n_heads %d is not a multiple of n_kv_heads %d", path, m->n_heads,
                     m->n_kv_heads);
        goto fail;
    }
    m->head_dim = m->dim / m->n_heads;
    m->kv_dim = m->head_dim * m->n_kv_heads;
    /* float counts (all < 2^63 given the caps) */
    uint64_t D = (uint64_t)m->dim, H = (uint64_t)m->hidden_dim, L = (uint64_t)m->n_layers,
             V = (uint64_t)m->vocab_size, KV = (uint64_t)m->kv_dim, S = (uint64_t)m->seq_len;
    /* sections in file order; [11] is freq_cis real + imag ([seq_len][head_dim/2] each) */
    uint64_t sec[13] = {V * D, L * D, L * D * D, L * KV * D, L * KV * D, L * D * D, L * D,
                        L * H * D, L * D * H, L * H * D, D, S * (D / (uint64_t)m->n_heads), m->shared ? 0 : V * D};
    uint64_t total = 0;
    for (int i = 0; i < 13; i++) total += sec[i];
    uint64_t want = 28 + 4 * total;
    if ((uint64_t)size != want) {
        rc = cf_errf(err, CF_EFORMAT, "%s: file has %zu bytes but the header (dim %d, hidden %d, %d layers, %d/%d heads, "
                     "vocab %" PRId64 ", seq_len %d) needs %" PRIu64 " (%s)", path, size, m->dim, m->hidden_dim,
                     m->n_layers, m->n_heads, m->n_kv_heads, vocab, m->seq_len, want,
                     (uint64_t)size < want ? "truncated" : "trailing bytes or wrong header");
        goto fail;
    }
    const float *p = (const float *)((const uint8_t *)map + 28);
    const float **dst[11] = {&m->tok_embd, &m->rms_att, &m->wq, &m->wk, &m->wv, &m->wo, &m->rms_ffn,
                             &m->w1, &m->w2, &m->w3, &m->rms_final};
    for (int i = 0; i < 11; i++) {
        *dst[i] = p;
        p += sec[i];
    }
    p += sec[11];
    m->wcls = m->shared ? m->tok_embd : p;
    return 0;
fail:
    cf_l2c_close(m);
    return rc;
}

void cf_l2c_close(cf_l2c_model *m) {
    if (m->map) munmap((void *)m->map, m->size);
    memset(m, 0, sizeof *m);
}

void cf_l2c_vocab_free(cf_l2c_vocab *v) {
    if (v->text)
        for (int i = 0; i < v->n; i++) free(v->text[i]);
    free(v->text);
    free(v->score);
    free(v->type);
    memset(v, 0, sizeof *v);
}

static int is_byte_token(const uint8_t *s, uint32_t n) {
    static const char hex[] = "0123456789ABCDEFabcdef";
    return n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && s[3] && s[4] && strchr(hex, s[3]) && strchr(hex, s[4]);
}

int cf_l2c_vocab_load(cf_l2c_vocab *v, const char *path, int n_vocab, cf_err *err) {
    memset(v, 0, sizeof *v);
    const void *map;
    size_t size;
    if (map_file(path, &map, &size, err)) return err->code;
    const uint8_t *b = map;
    int rc = 0;
    uint64_t pos = 4;
    if (size < 4) {
        rc = cf_errf(err, CF_EFORMAT, "%s: %zu bytes is too short for a llama2.c tokenizer", path, size);
        goto done;
    }
    int32_t mtl;
    memcpy(&mtl, b, 4);
    if (mtl < 1 || mtl > CF_L2C_MAX_TOKEN) {
        rc = cf_errf(err, CF_EFORMAT, "%s: max_token_length %d at offset 0 is not in [1, %d]", path, mtl, CF_L2C_MAX_TOKEN);
        goto done;
    }
    v->max_token_length = mtl;
    v->text = calloc((size_t)n_vocab, sizeof *v->text);
    v->score = calloc((size_t)n_vocab, sizeof *v->score);
    v->type = calloc((size_t)n_vocab, sizeof *v->type);
    if (!v->text || !v->score || !v->type) {
        rc = cf_errf(err, CF_ENOMEM, "out of memory for %d tokens", n_vocab);
        goto done;
    }
    for (int id = 0; id < n_vocab; id++) {
        if (size - pos < 8) {
            rc = cf_errf(err, CF_EFORMAT, "%s: truncated at token %d of %d (offset %" PRIu64 ", file size %zu)", path, id,
                         n_vocab, pos, size);
            goto done;
        }
        float score;
        int32_t len;
        memcpy(&score, b + pos, 4);
        memcpy(&len, b + pos + 4, 4);
        if (len < 0 || len > mtl || (uint64_t)len > size - pos - 8) {
            rc = cf_errf(err, CF_EFORMAT, "%s: token %d at offset %" PRIu64 " has length %d (max_token_length %d, %"
                         PRIu64 " bytes left)", path, id, pos, len, mtl, (uint64_t)(size - pos - 8));
            goto done;
        }
        const uint8_t *s = b + pos + 8;
        pos += 8 + (uint64_t)len;
        const char *fixed = id == 0 ? "<unk>" : id == 1 ? "<s>" : id == 2 ? "</s>" : NULL;
        int32_t type = id == 0 ? 2 : id <= 2 ? 3 : len == 0 ? 3 : is_byte_token(s, (uint32_t)len) ? 6 : 1;
        /* spaces become U+2581 (3 bytes) */
        size_t nsp = 0;
        for (int32_t k = 0; k < len; k++) nsp += s[k] == ' ';
        size_t olen = fixed ? strlen(fixed) : (size_t)len + 2 * nsp;
        char *t = malloc(olen + 1);
        if (!t) {
            rc = cf_errf(err, CF_ENOMEM, "out of memory");
            goto done;
        }
        if (fixed) memcpy(t, fixed, olen);
        else
            for (int32_t k = 0, o = 0; k < len; k++) {
                if (s[k] == ' ') {
                    memcpy(t + o, "\xe2\x96\x81", 3);
                    o += 3;
                } else {
                    t[o++] = (char)s[k];
                }
            }
        t[olen] = 0;
        v->text[id] = t;
        v->score[id] = score;
        v->type[id] = type;
        v->n = id + 1;
    }
    if (pos != size)
        rc = cf_errf(err, CF_EFORMAT, "%s: %" PRIu64 " trailing bytes after token %d at offset %" PRIu64
                     " (the tokenizer has more tokens than the model's vocab_size %d?)", path, (uint64_t)size - pos,
                     n_vocab - 1, pos, n_vocab);
done:
    if (map) munmap((void *)map, size);
    if (rc) cf_l2c_vocab_free(v);
    return rc;
}

/* Streams rows x cols float32 values, converted to type. */
static int put_matrix(cf_gguf_writer *w, const float *src, int64_t rows, int64_t cols, int type, cf_err *err) {
    if (type == CF_T_F32) return cf_gguf_w_write(w, src, (size_t)(rows * cols) * sizeof(float), err);
    uint16_t *buf = malloc((size_t)(CONVERT_ROWS * cols) * sizeof *buf);
    if (!buf) return cf_errf(err, CF_ENOMEM, "out of memory");
    int rc = 0;
    for (int64_t r = 0; r < rows && !rc; r += CONVERT_ROWS) {
        int64_t nr = rows - r < CONVERT_ROWS ? rows - r : CONVERT_ROWS;
        for (int64_t i = 0; i < nr * cols; i++) buf[i] = cf_f32_to_f16(src[r * cols + i]);
        rc = cf_gguf_w_write(w, buf, (size_t)(nr * cols) * sizeof *buf, err);
    }
    free(buf);
    return rc;
}

int cf_l2c_write_gguf(const cf_l2c_model *m, const cf_l2c_vocab *v, const cf_l2c_opts *o, const char *path,
                      cf_err *err) {
    int wt = o && o->type ? o->type : CF_T_F32;
    if (wt != CF_T_F32 && wt != CF_T_F16)
        return cf_errf(err, CF_EINVAL, "llama2.c conversion writes f32 or f16 weights, not %s",
                       cf_dtype_get(wt) ? cf_dtype_get(wt)->name : "?");
    if (v->n != m->vocab_size)
        return cf_errf(err, CF_EINVAL, "tokenizer has %d tokens, the model %d", v->n, m->vocab_size);
    int64_t ctx = o && o->ctx > 0 ? o->ctx : m->seq_len;
    if (ctx > UINT32_MAX) return cf_errf(err, CF_EINVAL, "context length %" PRId64 " does not fit in u32", ctx);
    cf_gguf_writer *w = cf_gguf_w_new();
    if (!w) return cf_errf(err, CF_ENOMEM, "out of memory");
    int rc = 0;
#define TRY(x) do { if (!rc) rc = (x); } while (0)
    TRY(cf_gguf_w_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->text, NULL, (uint64_t)v->n, err));
    TRY(cf_gguf_w_set_arr(w, "tokenizer.ggml.scores", CF_GGUF_F32, v->score, (uint64_t)v->n, err));
    TRY(cf_gguf_w_set_arr(w, "tokenizer.ggml.token_type", CF_GGUF_I32, v->type, (uint64_t)v->n, err));
    TRY(cf_gguf_w_set_str(w, "tokenizer.ggml.model", "llama", err));
    TRY(cf_gguf_w_set_str(w, "general.architecture", "llama", err));
    TRY(cf_gguf_w_set_str(w, "general.name", "llama", err));
    TRY(cf_gguf_w_set_u32(w, "tokenizer.ggml.unknown_token_id", 0, err));
    TRY(cf_gguf_w_set_u32(w, "tokenizer.ggml.bos_token_id", 1, err));
    TRY(cf_gguf_w_set_u32(w, "tokenizer.ggml.eos_token_id", 2, err));
    TRY(cf_gguf_w_set_u32(w, "tokenizer.ggml.seperator_token_id", UINT32_MAX, err));   /* sic: GGUF's spelling */
    TRY(cf_gguf_w_set_u32(w, "tokenizer.ggml.padding_token_id", UINT32_MAX, err));
    TRY(cf_gguf_w_set_u32(w, "llama.context_length", (uint32_t)ctx, err));
    TRY(cf_gguf_w_set_u32(w, "llama.embedding_length", (uint32_t)m->dim, err));
    TRY(cf_gguf_w_set_u32(w, "llama.feed_forward_length", (uint32_t)m->hidden_dim, err));
    TRY(cf_gguf_w_set_u32(w, "llama.attention.head_count", (uint32_t)m->n_heads, err));
    TRY(cf_gguf_w_set_u32(w, "llama.attention.head_count_kv", (uint32_t)m->n_kv_heads, err));
    TRY(cf_gguf_w_set_u32(w, "llama.block_count", (uint32_t)m->n_layers, err));
    TRY(cf_gguf_w_set_u32(w, "llama.rope.dimension_count", (uint32_t)m->head_dim, err));
    TRY(cf_gguf_w_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f, err));
    if (wt != CF_T_F32) TRY(cf_gguf_w_set_u32(w, "general.file_type", 1, err));

    int64_t D = m->dim, H = m->hidden_dim, V = m->vocab_size, KV = m->kv_dim;
    int64_t ne_emb[2] = {D, V}, ne_d[1] = {D}, ne_dd[2] = {D, D}, ne_dkv[2] = {D, KV}, ne_dh[2] = {D, H},
            ne_hd[2] = {H, D};
    char name[64];
    TRY(cf_gguf_w_add_tensor(w, "token_embd.weight", wt, ne_emb, 2, err));
    TRY(cf_gguf_w_add_tensor(w, "output_norm.weight", CF_T_F32, ne_d, 1, err));
    TRY(cf_gguf_w_add_tensor(w, "output.weight", wt, ne_emb, 2, err));
    static const char *const lname[9] = {"attn_q", "attn_k", "attn_v", "attn_output", "attn_norm",
                                         "ffn_gate", "ffn_down", "ffn_up", "ffn_norm"};
    const int64_t *lne[9] = {ne_dd, ne_dkv, ne_dkv, ne_dd, ne_d, ne_dh, ne_hd, ne_dh, ne_d};
    for (int l = 0; l < m->n_layers && !rc; l++)
        for (int k = 0; k < 9 && !rc; k++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, lname[k]);
            int is_norm = k == 4 || k == 8;
            rc = cf_gguf_w_add_tensor(w, name, is_norm ? CF_T_F32 : wt, lne[k], is_norm ? 1 : 2, err);
        }
    if (!rc && path) rc = cf_gguf_w_begin_file(w, path, err);
    TRY(put_matrix(w, m->tok_embd, V, D, wt, err));
    TRY(put_matrix(w, m->rms_final, 1, D, CF_T_F32, err));
    TRY(put_matrix(w, m->wcls, V, D, wt, err));
    for (int64_t l = 0; l < m->n_layers && !rc; l++) {
        TRY(put_matrix(w, m->wq + l * D * D, D, D, wt, err));
        TRY(put_matrix(w, m->wk + l * KV * D, KV, D, wt, err));
        TRY(put_matrix(w, m->wv + l * KV * D, KV, D, wt, err));
        TRY(put_matrix(w, m->wo + l * D * D, D, D, wt, err));
        TRY(put_matrix(w, m->rms_att + l * D, 1, D, CF_T_F32, err));
        TRY(put_matrix(w, m->w1 + l * H * D, H, D, wt, err));
        TRY(put_matrix(w, m->w2 + l * D * H, D, H, wt, err));
        TRY(put_matrix(w, m->w3 + l * H * D, H, D, wt, err));
        TRY(put_matrix(w, m->rms_ffn + l * D, 1, D, CF_T_F32, err));
    }
    TRY(cf_gguf_w_finish(w, err));
#undef TRY
    cf_gguf_w_free(w);
    return rc;
}
