#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attn.h"
#include "kernels/quant.h"
#include "kernels/rope.h"

/* Caps on hyperparameters (beyond them a file is refused as absurd, before any allocation). */
#define MAX_EMBD 65536
#define MAX_LAYERS 1024
#define MAX_HEADS 1024
#define MAX_HEAD_DIM CF_ATTN_MAX_HEAD_DIM   /* what the attention kernel handles */
#define MAX_FF (1 << 20)
#define MAX_VOCAB (1 << 24)

typedef struct {
    cf_model *m;
    cf_err *err;
    char prefix[64];
} loader;

/* Reads <arch>.<suffix> as an integer in [lo, hi]; missing: *out = def, or an error if def < 0. */
static int hp_int(loader *L, const char *suffix, int64_t def, int64_t lo, int64_t hi, int64_t *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", L->prefix, suffix);
    int rc = cf_gguf_get_int(&L->m->gguf, key, out, L->err);
    if (rc == -1) {
        if (def < 0) return cf_errf(L->err, CF_EFORMAT, "metadata key '%s' is missing", key);
        *out = def;
        return 0;
    }
    if (rc) return rc;
    if (*out < lo || *out > hi)
        return cf_errf(L->err, CF_EFORMAT, "metadata '%s' = %lld is out of range [%lld, %lld]", key,
                       (long long)*out, (long long)lo, (long long)hi);
    return 0;
}

static int hp_float(loader *L, const char *suffix, double def, double lo, double hi, float *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", L->prefix, suffix);
    double v;
    int rc = cf_gguf_get_float(&L->m->gguf, key, &v, L->err);
    if (rc == -1) v = def;
    else if (rc) return rc;
    if (!(v >= lo && v <= hi))
        return cf_errf(L->err, CF_EFORMAT, "metadata '%s' = %g is out of range [%g, %g]", key, v, lo, hi);
    *out = (float)v;
    return 0;
}

static const char *shape_str(const cf_gguf_tensor *t, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "[");
    for (int d = 0; d < t->n_dims && n > 0 && (size_t)n < cap; d++)
        n += snprintf(buf + n, cap - (size_t)n, "%s%lld", d ? ", " : "", (long long)t->ne[d]);
    if (n > 0 && (size_t)n < cap) snprintf(buf + n, cap - (size_t)n, "]");
    return buf;
}

/* Finds a tensor and checks its shape (ne1 = 0: a vector). */
static const cf_gguf_tensor *find(loader *L, const char *name, int64_t ne0, int64_t ne1, int optional) {
    const cf_gguf_tensor *t = cf_gguf_tensor_get(&L->m->gguf, name);
    if (!t) {
        if (!optional) cf_errf(L->err, CF_EFORMAT, "tensor '%s' is missing", name);
        return NULL;
    }
    int ok = t->ne[0] == ne0 && t->ne[1] == (ne1 ? ne1 : 1) && t->ne[2] == 1 && t->ne[3] == 1;
    if (!ok) {
        char got[96];
        if (ne1)
            cf_errf(L->err, CF_EFORMAT, "tensor '%s' has shape %s, expected [%lld, %lld]", name,
                    shape_str(t, got, sizeof got), (long long)ne0, (long long)ne1);
        else
            cf_errf(L->err, CF_EFORMAT, "tensor '%s' has shape %s, expected [%lld]", name,
                    shape_str(t, got, sizeof got), (long long)ne0);
        return NULL;
    }
    return t;
}

static void count(cf_model *m, const cf_gguf_tensor *t) {
    m->weight_bytes += t->size;
    m->n_params += t->ne[0] * t->ne[1];
}

/* A norm vector as f32: F32 is viewed in place (if 4-byte aligned), F16/BF16 widened. */
static int bind_vec(loader *L, const char *name, int64_t n, const float **out) {
    const cf_gguf_tensor *t = find(L, name, n, 0, 0);
    if (!t) return L->err->code ? L->err->code : CF_EFORMAT;
    cf_model *m = L->m;
    count(m, t);
    if (t->type == CF_T_F32 && ((uintptr_t)t->data & 3) == 0) {
        *out = t->data;
        return 0;
    }
    if (t->type != CF_T_F32 && t->type != CF_T_F16 && t->type != CF_T_BF16) {
        const cf_dtype_info *di = cf_dtype_get(t->type);
        return cf_errf(L->err, CF_EUNSUPPORTED, "tensor '%s' has type %s; a norm weight must be f32, f16 or bf16",
                       name, di ? di->name : "unknown");
    }
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 16;
        float **p = realloc(m->owned, (size_t)cap * sizeof *p);
        if (!p) return cf_errf(L->err, CF_ENOMEM, "out of memory widening '%s'", name);
        m->owned = p;
        m->cap_owned = cap;
    }
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return cf_errf(L->err, CF_ENOMEM, "out of memory widening '%s'", name);
    m->owned[m->n_owned++] = v;
    const uint8_t *src = t->data;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        float f;
        if (t->type == CF_T_F32) {
            memcpy(&f, src + 4 * i, 4);
            v[i] = f;
            continue;
        }
        memcpy(&h, src + 2 * i, 2);
        v[i] = t->type == CF_T_F16 ? cf_f16_to_f32(h) : cf_bf16_to_f32(h);
    }
    *out = v;
    return 0;
}

/* A matmul weight: N rows of K, a type the matmul kernels compute, K a multiple of its block. */
static int wmat_from(loader *L, const cf_gguf_tensor *t, cf_wmat *w) {
    const cf_dtype_info *di = cf_dtype_get(t->type);
    if (!di || !di->compute)
        return cf_errf(L->err, CF_EUNSUPPORTED, "tensor '%s' has type %s, which cinfer cannot multiply",
                       t->name, di ? di->name : "unknown");
    if (t->ne[0] % di->block)
        return cf_errf(L->err, CF_EFORMAT, "tensor '%s': row length %lld is not a multiple of the %s block (%d)",
                       t->name, (long long)t->ne[0], di->name, di->block);
    w->data = t->data;
    w->type = t->type;
    w->k = t->ne[0];
    w->n = t->ne[1];
    w->row_bytes = cf_row_bytes(t->type, t->ne[0]);
    return 0;
}

static int bind_mat(loader *L, const char *name, int64_t k, int64_t n, cf_wmat *w) {
    const cf_gguf_tensor *t = find(L, name, k, n, 0);
    if (!t) return L->err->code ? L->err->code : CF_EFORMAT;
    count(L->m, t);
    return wmat_from(L, t, w);
}

static int read_hparams(loader *L) {
    cf_model *m = L->m;
    cf_hparams *hp = &m->hp;
    int64_t v;
    int rc;
    if ((rc = hp_int(L, "embedding_length", -1, 1, MAX_EMBD, &v))) return rc;
    hp->n_embd = (int)v;
    if ((rc = hp_int(L, "block_count", -1, 1, MAX_LAYERS, &v))) return rc;
    hp->n_layer = (int)v;
    if ((rc = hp_int(L, "attention.head_count", -1, 1, MAX_HEADS, &v))) return rc;
    hp->n_head = (int)v;
    if ((rc = hp_int(L, "attention.head_count_kv", hp->n_head, 1, hp->n_head, &v))) return rc;
    hp->n_head_kv = (int)v;
    if (hp->n_head % hp->n_head_kv)
        return cf_errf(L->err, CF_EFORMAT, "%s.attention.head_count (%d) is not a multiple of head_count_kv (%d)",
                       L->prefix, hp->n_head, hp->n_head_kv);
    if ((rc = hp_int(L, "feed_forward_length", -1, 1, MAX_FF, &v))) return rc;
    hp->n_ff = (int)v;
    int64_t def_hd = m->arch->head_dim_key ? -1 : hp->n_embd / hp->n_head;
    if (!m->arch->head_dim_key && hp->n_embd % hp->n_head)
        def_hd = -1; /* no sensible default: the key must say it */
    if ((rc = hp_int(L, "attention.key_length", def_hd, 2, MAX_HEAD_DIM, &v))) return rc;
    hp->head_dim = (int)v;
    if ((rc = hp_int(L, "attention.value_length", hp->head_dim, hp->head_dim, hp->head_dim, &v)))
        return cf_err_prefix(L->err, "value_length must equal key_length");
    if (hp->head_dim % 2) return cf_errf(L->err, CF_EFORMAT, "head_dim %d is odd", hp->head_dim);
    if ((rc = hp_int(L, "rope.dimension_count", hp->head_dim, 2, hp->head_dim, &v))) return rc;
    if (v % 2) return cf_errf(L->err, CF_EFORMAT, "%s.rope.dimension_count %lld is odd", L->prefix, (long long)v);
    hp->n_rot = (int)v;
    if ((rc = hp_int(L, "context_length", 0, 0, INT64_MAX / 2, &v))) return rc;
    hp->n_ctx_train = v;
    if ((rc = hp_float(L, "attention.layer_norm_rms_epsilon", m->arch->norm_eps, 0.0, 1.0, &hp->norm_eps)))
        return rc;
    if ((rc = hp_float(L, "rope.freq_base", m->arch->rope_base, 1e-3, 1e12, &hp->rope_base))) return rc;
    hp->rope_scale = 1.0f;
    char key[160];
    cf_sv st;
    snprintf(key, sizeof key, "%s.rope.scaling.type", L->prefix);
    rc = cf_gguf_get_str(&m->gguf, key, &st, L->err);
    if (rc > 0) return rc;
    int linear = rc == 0 && st.len == 6 && !memcmp(st.ptr, "linear", 6);
    if (rc == 0 && !linear && !(st.len == 4 && !memcmp(st.ptr, "none", 4)))
        return cf_errf(L->err, CF_EUNSUPPORTED, "rope scaling type '%.*s' is not supported (none, linear)",
                       (int)(st.len > 32 ? 32 : st.len), st.ptr);
    float factor = 1.0f;
    if ((rc = hp_float(L, "rope.scaling.factor", 1.0, 1e-3, 1e6, &factor))) return rc;
    if (linear && factor > 0) hp->rope_scale = 1.0f / factor;
    return 0;
}

static int bind_weights(loader *L) {
    cf_model *m = L->m;
    cf_hparams *hp = &m->hp;
    int rc;
    const cf_gguf_tensor *te = cf_gguf_tensor_get(&m->gguf, "token_embd.weight");
    if (!te) return cf_errf(L->err, CF_EFORMAT, "tensor 'token_embd.weight' is missing");
    if (te->ne[0] != hp->n_embd || te->ne[1] < 1 || te->ne[1] > MAX_VOCAB || te->ne[2] != 1 || te->ne[3] != 1) {
        char got[96];
        return cf_errf(L->err, CF_EFORMAT, "tensor 'token_embd.weight' has shape %s, expected [%d, n_vocab]",
                       shape_str(te, got, sizeof got), hp->n_embd);
    }
    hp->n_vocab = (int)te->ne[1];
    char key[160];
    int64_t vs;
    snprintf(key, sizeof key, "%s.vocab_size", L->prefix);
    rc = cf_gguf_get_int(&m->gguf, key, &vs, L->err);
    if (rc > 0) return rc;
    if (rc == 0 && vs != hp->n_vocab)
        return cf_errf(L->err, CF_EFORMAT, "'%s' = %lld but token_embd.weight has %d rows", key, (long long)vs,
                       hp->n_vocab);
    const cf_dtype_info *di = cf_dtype_get(te->type);
    if (!di || !di->compute || hp->n_embd % di->block)
        return cf_errf(L->err, CF_EUNSUPPORTED, "tensor 'token_embd.weight': type %s cannot be used as an embedding table",
                       di ? di->name : "unknown");
    m->tok_embd = te->data;
    m->tok_embd_type = te->type;
    count(m, te);
    if ((rc = bind_vec(L, "output_norm.weight", hp->n_embd, &m->output_norm))) return rc;
    const cf_gguf_tensor *to = find(L, "output.weight", hp->n_embd, hp->n_vocab, 1);
    if (!to && cf_gguf_tensor_get(&m->gguf, "output.weight")) return L->err->code;
    m->tied = !to;
    if ((rc = wmat_from(L, to ? to : te, &m->output))) return rc;
    if (to) count(m, to);

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return cf_errf(L->err, CF_ENOMEM, "out of memory for %d layers", hp->n_layer);
    int64_t d = hp->n_embd, q = (int64_t)hp->n_head * hp->head_dim, kv = (int64_t)hp->n_head_kv * hp->head_dim;
    for (int l = 0; l < hp->n_layer; l++) {
        cf_layer *ly = &m->layers[l];
        char nm[96];
#define NM(s) (snprintf(nm, sizeof nm, "blk.%d." s ".weight", l), nm)
        if ((rc = bind_vec(L, NM("attn_norm"), d, &ly->attn_norm))) return rc;
        if ((rc = bind_vec(L, NM("ffn_norm"), d, &ly->ffn_norm))) return rc;
        if (m->arch->qk_norm) {
            if ((rc = bind_vec(L, NM("attn_q_norm"), hp->head_dim, &ly->q_norm))) return rc;
            if ((rc = bind_vec(L, NM("attn_k_norm"), hp->head_dim, &ly->k_norm))) return rc;
        }
        if ((rc = bind_mat(L, NM("attn_q"), d, q, &ly->wq))) return rc;
        if ((rc = bind_mat(L, NM("attn_k"), d, kv, &ly->wk))) return rc;
        if ((rc = bind_mat(L, NM("attn_v"), d, kv, &ly->wv))) return rc;
        if ((rc = bind_mat(L, NM("attn_output"), q, d, &ly->wo))) return rc;
        if ((rc = bind_mat(L, NM("ffn_gate"), d, hp->n_ff, &ly->w_gate))) return rc;
        if ((rc = bind_mat(L, NM("ffn_up"), d, hp->n_ff, &ly->w_up))) return rc;
        if ((rc = bind_mat(L, NM("ffn_down"), hp->n_ff, d, &ly->w_down))) return rc;
#undef NM
    }
    return 0;
}

int cf_model_from_gguf(cf_model *m, cf_gguf *g, cf_err *err) {
    memset(m, 0, sizeof *m);
    m->gguf = *g;
    memset(g, 0, sizeof *g);
    loader L = {m, err, ""};
    cf_err local;
    if (!L.err) L.err = &local;
    L.err->code = 0;
    cf_sv an;
    int rc = cf_gguf_get_str(&m->gguf, "general.architecture", &an, L.err);
    if (rc == -1) rc = cf_errf(L.err, CF_EFORMAT, "metadata key 'general.architecture' is missing");
    if (!rc) {
        m->arch = cf_arch_find(an.ptr, an.len);
        if (!m->arch)
            rc = cf_errf(L.err, CF_EUNSUPPORTED, "architecture '%.*s' is not supported (supported: %s)",
                         (int)(an.len > 64 ? 64 : an.len), an.ptr, cf_arch_names());
    }
    if (!rc) {
        snprintf(L.prefix, sizeof L.prefix, "%s", m->arch->name);
        rc = read_hparams(&L);
    }
    if (!rc) rc = bind_weights(&L);
    if (!rc) cf_model_pack(m);
    if (rc) {
        if (rc == -1) rc = CF_EFORMAT;
        cf_model_free(m);
        return rc;
    }
    cf_sv nm;
    if (cf_gguf_get_str(&m->gguf, "general.name", &nm, NULL) == 0)
        snprintf(m->name, sizeof m->name, "%.*s", (int)(nm.len > 120 ? 120 : nm.len), nm.ptr);
    int64_t ft;
    m->file_type = cf_gguf_get_int(&m->gguf, "general.file_type", &ft, NULL) == 0 ? (int)ft : -1;
    return 0;
}

int cf_model_load(cf_model *m, const char *path, cf_err *err) {
    cf_gguf g;
    memset(m, 0, sizeof *m);
    int rc = cf_gguf_open(&g, path, err);
    if (rc) return cf_err_prefix(err, "%s", path);
    rc = cf_model_from_gguf(m, &g, err);
    if (rc) return cf_err_prefix(err, "%s", path);
    if (!m->name[0]) {
        const char *b = strrchr(path, '/');
        snprintf(m->name, sizeof m->name, "%s", b ? b + 1 : path);
    }
    return 0;
}

void cf_model_free(cf_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m->pack);
    cf_gguf_close(&m->gguf);
    memset(m, 0, sizeof *m);
}

int cf_model_main_type(const cf_model *m) {
    size_t bytes[CF_T_COUNT] = {0};
    for (int l = 0; l < m->hp.n_layer; l++) {
        const cf_layer *ly = &m->layers[l];
        const cf_wmat *w[] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w_gate, &ly->w_up, &ly->w_down};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
            if (w[i]->type >= 0 && w[i]->type < CF_T_COUNT) bytes[w[i]->type] += w[i]->row_bytes * (size_t)w[i]->n;
    }
    int best = 0;
    for (int t = 1; t < CF_T_COUNT; t++)
        if (bytes[t] > bytes[best]) best = t;
    return best;
}
