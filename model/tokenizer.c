/* Tokenizer: loading from GGUF metadata, token tables, special tokens, encode driver (splitting
 * user-defined / special tokens out of the text), whole and incremental decode. */
#define _GNU_SOURCE /* qsort_r */
#define CF_TOK_INTERNAL
#include "model/tokenizer.h"

#include <ctype.h>
#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/pretok.h"
#include "model/unicode.h"

/* ---------------------------------------------------------------- small helpers */

int cf_ivec_push(cf_ivec *a, int32_t x) {
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        int32_t *nv = realloc(a->v, nc * sizeof *nv);
        if (!nv) return -1;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = x;
    return 0;
}

uint64_t cf_tok_hash(const void *p, size_t n, uint64_t seed) {
    const uint8_t *s = p;
    uint64_t h = seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w ^ ((uint64_t)n << 56)) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 32;
    return h;
}

#define HASH_SEED 0x5bd1e9955bd1e995ull

static const char *tok_str(const cf_tokenizer *t, int32_t id) { return t->pool + t->off[id]; }

int32_t cf_tok_lookup(const cf_tokenizer *t, const char *s, size_t n) {
    uint64_t i = cf_tok_hash(s, n, HASH_SEED) & t->hmask;
    for (;;) {
        uint32_t v = t->hslot[i];
        if (!v) return -1;
        int32_t id = (int32_t)(v - 1);
        if (t->len[id] == n && !memcmp(tok_str(t, id), s, n)) return id;
        i = (i + 1) & t->hmask;
    }
}

static uint64_t merge_hash(const char *a, size_t na, const char *b, size_t nb) {
    return cf_tok_hash(b, nb, cf_tok_hash(a, na, HASH_SEED) ^ 0xA5A5A5A5u);
}

int cf_tok_bpe_rank(const cf_tokenizer *t, const char *a, size_t na, const char *b, size_t nb) {
    if (!t->mslot) return -1;
    uint64_t i = merge_hash(a, na, b, nb) & t->mmask;
    for (;;) {
        uint32_t v = t->mslot[i];
        if (!v) return -1;
        uint32_t r = v - 1;
        const char *m = t->mpool + t->moff[r];
        if (t->mleft[r] == na && t->mright[r] == nb && !memcmp(m, a, na) && !memcmp(m + na + 1, b, nb))
            return (int)r;
        i = (i + 1) & t->mmask;
    }
}

static uint64_t pair_hash(int32_t a, int32_t b) {
    uint64_t h = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

int cf_tok_bpe_rank_ids(const cf_tokenizer *t, int32_t a, int32_t b, int32_t *merged) {
    if (!t->pslot) return -1;
    uint64_t i = pair_hash(a, b) & t->pmask;
    for (;;) {
        uint32_t v = t->pslot[i];
        if (!v) return -1;
        uint32_t r = v - 1;
        if (t->pair_l[r] == a && t->pair_r[r] == b) {
            *merged = t->pair_m[r];
            return (int)r;
        }
        i = (i + 1) & t->pmask;
    }
}

static uint64_t pow2_at_least(uint64_t n) {
    uint64_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

/* ---------------------------------------------------------------- byte-level map (GPT-2) */

/* byte -> code point: printable Latin-1 bytes map to themselves, the other 68 to 256.. in order */
static void byte_to_cp_table(uint32_t map[256]) {
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        map[b] = keep ? (uint32_t)b : next++;
    }
}

/* code point -> byte (-1 if not in the table), for code points < 324 */
static void cp_to_byte_table(int16_t inv[324]) {
    uint32_t map[256];
    byte_to_cp_table(map);
    for (int i = 0; i < 324; i++) inv[i] = -1;
    for (int b = 0; b < 256; b++) inv[map[b]] = (int16_t)b;
}

/* ---------------------------------------------------------------- loading */

static int get_i32_key(const cf_gguf *g, const char *key, int32_t *id, int n_vocab, cf_err *err) {
    int64_t v;
    int rc = cf_gguf_get_int(g, key, &v, err);
    if (rc == -1) return 0; /* absent: keep default */
    if (rc) return rc;
    if (v >= 0 && v < n_vocab) *id = (int32_t)v; /* out of range: llama.cpp keeps the default */
    return 0;
}

static int get_bool_key(const cf_gguf *g, const char *key, int *flag, cf_err *err) {
    int64_t v;
    int rc = cf_gguf_get_int(g, key, &v, err);
    if (rc == -1) return 0;
    if (rc) return rc;
    *flag = v != 0;
    return 0;
}

static const cf_gguf_kv *get_array(const cf_gguf *g, const char *key, int required, cf_err *err, int *rc) {
    const cf_gguf_kv *kv = cf_gguf_get(g, key);
    *rc = 0;
    if (!kv) {
        if (required) *rc = cf_errf(err, CF_EFORMAT, "tokenizer: required key '%s' is missing", key);
        return NULL;
    }
    if (kv->type != CF_GGUF_ARRAY) {
        *rc = cf_errf(err, CF_EFORMAT, "tokenizer: key '%s' (offset %" PRIu64 ") should be an array but is %s",
                      key, kv->off, cf_gguf_type_name(kv->type));
        return NULL;
    }
    return kv;
}

static int is_numeric_type(int t) {
    return t != CF_GGUF_STRING && t != CF_GGUF_ARRAY && t != CF_GGUF_BOOL && cf_gguf_type_size(t) > 0;
}

static int sv_eq(const char *s, size_t n, const char *lit) { return strlen(lit) == n && !memcmp(s, lit, n); }

static int load_tokens(cf_tokenizer *t, const cf_gguf *g, cf_err *err) {
    int rc;
    const cf_gguf_kv *kv = get_array(g, "tokenizer.ggml.tokens", 1, err, &rc);
    if (!kv) return rc;
    if (kv->arr_type != CF_GGUF_STRING)
        return cf_errf(err, CF_EFORMAT, "tokenizer: 'tokenizer.ggml.tokens' should hold strings, not %s",
                       cf_gguf_type_name(kv->arr_type));
    if (kv->n == 0) return cf_errf(err, CF_EFORMAT, "tokenizer: 'tokenizer.ggml.tokens' is empty");
    if (kv->n > CF_TOK_MAX_VOCAB)
        return cf_errf(err, CF_ELIMIT, "tokenizer: 'tokenizer.ggml.tokens' has %" PRIu64 " tokens (cap %d)", kv->n,
                       CF_TOK_MAX_VOCAB);
    int n = (int)kv->n;
    t->n_vocab = n;
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        cf_sv s = cf_gguf_arr_str(g, kv, (uint64_t)i);
        if (s.len > CF_TOK_MAX_TOKEN)
            return cf_errf(err, CF_ELIMIT, "tokenizer: 'tokenizer.ggml.tokens'[%d] is %" PRIu64 " bytes (cap %d)", i,
                           s.len, CF_TOK_MAX_TOKEN);
        total += (s.len ? s.len : 24) + 1;
    }
    t->pool = malloc(total ? total : 1);
    t->off = malloc((size_t)n * sizeof *t->off);
    t->len = malloc((size_t)n * sizeof *t->len);
    t->score = calloc((size_t)n, sizeof *t->score);
    t->ttype = malloc((size_t)n);
    t->attr = calloc((size_t)n, 1);
    if (!t->pool || !t->off || !t->len || !t->score || !t->ttype || !t->attr)
        return cf_errf(err, CF_ENOMEM, "tokenizer: out of memory for %d tokens", n);
    uint64_t p = 0;
    for (int i = 0; i < n; i++) {
        cf_sv s = cf_gguf_arr_str(g, kv, (uint64_t)i);
        t->off[i] = p;
        if (s.len == 0) { /* llama.cpp renames empty tokens */
            int k = snprintf(t->pool + p, 24, "[EMPTY_%d]", i);
            t->len[i] = (uint32_t)k;
            p += (uint64_t)k + 1;
        } else {
            memcpy(t->pool + p, s.ptr, s.len);
            t->pool[p + s.len] = 0;
            t->len[i] = (uint32_t)s.len;
            p += s.len + 1;
        }
        t->ttype[i] = CF_TOKT_NORMAL;
    }

    kv = get_array(g, "tokenizer.ggml.scores", 0, err, &rc);
    if (rc) return rc;
    if (kv) {
        if (!is_numeric_type(kv->arr_type) || kv->n != (uint64_t)n)
            return cf_errf(err, CF_EFORMAT,
                           "tokenizer: 'tokenizer.ggml.scores' should be %d numbers, has %" PRIu64 " of type %s", n,
                           kv->n, cf_gguf_type_name(kv->arr_type));
        for (int i = 0; i < n; i++) {
            double v = cf_gguf_arr_num(kv, (uint64_t)i);
            t->score[i] = v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : (float)v; /* NaN stays NaN */
        }
    }
    kv = get_array(g, "tokenizer.ggml.token_type", 0, err, &rc);
    if (rc) return rc;
    if (kv) {
        if (!is_numeric_type(kv->arr_type) || kv->n != (uint64_t)n)
            return cf_errf(err, CF_EFORMAT,
                           "tokenizer: 'tokenizer.ggml.token_type' should be %d integers, has %" PRIu64 " of type %s",
                           n, kv->n, cf_gguf_type_name(kv->arr_type));
        for (int i = 0; i < n; i++) {
            double v = cf_gguf_arr_num(kv, (uint64_t)i);
            t->ttype[i] = (v >= 1 && v <= 6 && v == (int)v) ? (uint8_t)v : CF_TOKT_UNDEFINED;
        }
    }

    /* text -> id (duplicates: the last id wins, as in llama.cpp) */
    t->hmask = pow2_at_least((uint64_t)n * 2) - 1;
    t->hslot = calloc(t->hmask + 1, sizeof *t->hslot);
    if (!t->hslot) return cf_errf(err, CF_ENOMEM, "tokenizer: out of memory for the token hash");
    for (int i = 0; i < n; i++) {
        uint64_t h = cf_tok_hash(tok_str(t, i), t->len[i], HASH_SEED) & t->hmask;
        for (;;) {
            uint32_t v = t->hslot[h];
            if (!v) {
                t->hslot[h] = (uint32_t)i + 1;
                break;
            }
            int32_t o = (int32_t)(v - 1);
            if (t->len[o] == t->len[i] && !memcmp(tok_str(t, o), tok_str(t, i), t->len[i])) {
                t->hslot[h] = (uint32_t)i + 1;
                break;
            }
            h = (h + 1) & t->hmask;
        }
    }
    return 0;
}

static int load_merges(cf_tokenizer *t, const cf_gguf *g, cf_err *err) {
    int rc;
    const cf_gguf_kv *kv = get_array(g, "tokenizer.ggml.merges", 1, err, &rc);
    if (!kv) return rc;
    if (kv->arr_type != CF_GGUF_STRING)
        return cf_errf(err, CF_EFORMAT, "tokenizer: 'tokenizer.ggml.merges' should hold strings, not %s",
                       cf_gguf_type_name(kv->arr_type));
    if (kv->n > (uint64_t)CF_TOK_MAX_VOCAB * 4)
        return cf_errf(err, CF_ELIMIT, "tokenizer: 'tokenizer.ggml.merges' has %" PRIu64 " entries (cap %d)", kv->n,
                       CF_TOK_MAX_VOCAB * 4);
    int64_t n = (int64_t)kv->n;
    uint64_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        cf_sv s = cf_gguf_arr_str(g, kv, (uint64_t)i);
        if (s.len > 2 * (uint64_t)CF_TOK_MAX_TOKEN + 1)
            return cf_errf(err, CF_ELIMIT, "tokenizer: 'tokenizer.ggml.merges'[%" PRId64 "] is %" PRIu64 " bytes", i,
                           s.len);
        total += s.len + 2;
    }
    t->n_merges = n;
    t->mpool = malloc(total ? total : 1);
    t->moff = malloc((size_t)(n ? n : 1) * sizeof *t->moff);
    t->mleft = malloc((size_t)(n ? n : 1) * sizeof *t->mleft);
    t->mright = malloc((size_t)(n ? n : 1) * sizeof *t->mright);
    t->mmask = pow2_at_least((uint64_t)n * 2) - 1;
    t->mslot = calloc(t->mmask + 1, sizeof *t->mslot);
    t->pmask = t->mmask;
    t->pslot = calloc(t->pmask + 1, sizeof *t->pslot);
    t->pair_l = malloc((size_t)(n ? n : 1) * sizeof *t->pair_l);
    t->pair_r = malloc((size_t)(n ? n : 1) * sizeof *t->pair_r);
    t->pair_m = malloc((size_t)(n ? n : 1) * sizeof *t->pair_m);
    if (!t->mpool || !t->moff || !t->mleft || !t->mright || !t->mslot || !t->pslot || !t->pair_l || !t->pair_r ||
        !t->pair_m)
        return cf_errf(err, CF_ENOMEM, "tokenizer: out of memory for %" PRId64 " merges", n);
    uint64_t p = 0;
    for (int64_t i = 0; i < n; i++) {
        cf_sv s = cf_gguf_arr_str(g, kv, (uint64_t)i);
        /* "left right", split at the first ' ' after position 0; none: both halves empty */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        size_t nl = 0, nr = 0;
        char *dst = t->mpool + p;
        if (sp) {
            nl = (size_t)(sp - s.ptr);
            nr = s.len - nl - 1;
            memcpy(dst, s.ptr, s.len);
        }
        dst[nl] = ' ';
        dst[nl + 1 + nr] = 0;
        t->moff[i] = p;
        t->mleft[i] = (uint32_t)nl;
        t->mright[i] = (uint32_t)nr;
        p += nl + nr + 2;
        /* first occurrence of a pair keeps its rank */
        t->pair_l[i] = t->pair_r[i] = t->pair_m[i] = -1;
        if (cf_tok_bpe_rank(t, dst, nl, dst + nl + 1, nr) >= 0) continue;
        uint64_t h = merge_hash(dst, nl, dst + nl + 1, nr) & t->mmask;
        while (t->mslot[h]) h = (h + 1) & t->mmask;
        t->mslot[h] = (uint32_t)(i + 1);
        /* by ids: token texts are unique keys, so this is the same first-rank rule */
        int32_t a = cf_tok_lookup(t, dst, nl), b = cf_tok_lookup(t, dst + nl + 1, nr);
        if (a < 0 || b < 0) continue;
        t->pair_l[i] = a;
        t->pair_r[i] = b;
        /* (temporarily) join the halves to look the merged text up */
        memmove(dst + nl, dst + nl + 1, nr);
        t->pair_m[i] = nl + nr <= CF_TOK_MAX_TOKEN ? cf_tok_lookup(t, dst, nl + nr) : -1;
        memmove(dst + nl + 1, dst + nl, nr);
        dst[nl] = ' ';
        h = pair_hash(a, b) & t->pmask;
        while (t->pslot[h]) h = (h + 1) & t->pmask;
        t->pslot[h] = (uint32_t)(i + 1);
    }
    return 0;
}

/* The bytes token i stands for in decoded text (see cf_tok_bytes). */
static size_t token_bytes(const cf_tokenizer *t, int32_t i, const int16_t inv[324], uint8_t *out) {
    const uint8_t *s = (const uint8_t *)tok_str(t, i);
    size_t n = t->len[i], k = 0;
    int ty = t->ttype[i];
    if (t->attr[i] & CF_TA_CONTROL) return 0;
    if (ty == CF_TOKT_USER) {
        memcpy(out, s, n);
        return n;
    }
    if (t->type == CF_TOK_SPM) {
        if (ty == CF_TOKT_BYTE) {
            unsigned v;
            char hex[3] = {0};
            if (n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && isxdigit(s[3]) && isxdigit(s[4])) {
                hex[0] = (char)s[3];
                hex[1] = (char)s[4];
                v = (unsigned)strtoul(hex, NULL, 16);
                out[0] = (uint8_t)v;
                return 1;
            }
            memcpy(out, s, n); /* malformed byte token: its text */
            return n;
        }
        for (size_t j = 0; j < n;) { /* U+2581 -> ' ' */
            if (j + 3 <= n && s[j] == 0xE2 && s[j + 1] == 0x96 && s[j + 2] == 0x81) {
                out[k++] = ' ';
                j += 3;
            } else out[k++] = s[j++];
        }
        return k;
    }
    /* BPE: byte-level code points back to bytes; others kept as their UTF-8 */
    for (size_t j = 0; j < n;) {
        uint32_t cp;
        int m = cf_utf8_next(s + j, n - j, &cp);
        if (m <= 0) { /* invalid UTF-8 in the vocabulary: copy the byte */
            out[k++] = s[j++];
            continue;
        }
        int b = cp < 324 ? inv[cp] : -1;
        if (b >= 0) out[k++] = (uint8_t)b;
        else {
            memcpy(out + k, s + j, (size_t)m);
            k += (size_t)m;
        }
        j += (size_t)m;
    }
    return k;
}

static int build_bytes(cf_tokenizer *t, cf_err *err) {
    int n = t->n_vocab;
    uint64_t total = 0;
    for (int i = 0; i < n; i++) total += t->len[i];
    t->bpool = malloc(total ? total : 1);
    t->boff = malloc((size_t)n * sizeof *t->boff);
    t->blen = malloc((size_t)n * sizeof *t->blen);
    if (!t->bpool || !t->boff || !t->blen) return cf_errf(err, CF_ENOMEM, "tokenizer: out of memory for token bytes");
    int16_t inv[324];
    cp_to_byte_table(inv);
    uint64_t p = 0;
    t->max_bytes = 0;
    for (int i = 0; i < n; i++) {
        size_t k = token_bytes(t, i, inv, t->bpool + p); /* never longer than the text */
        t->boff[i] = p;
        t->blen[i] = (uint32_t)k;
        p += k;
        if (k > t->max_bytes) t->max_bytes = k;
    }
    return 0;
}

static const char *const k_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
};

static int cmp_special(const void *a, const void *b, void *ctx) {
    const cf_tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->len[x] != t->len[y]) return t->len[x] > t->len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int32_t find_lit(const cf_tokenizer *t, const char *s) { return cf_tok_lookup(t, s, strlen(s)); }

static int setup_special(cf_tokenizer *t, const cf_gguf *g, cf_err *err) {
    int n = t->n_vocab;
    for (int i = 0; i < n; i++) {
        int ty = t->ttype[i];
        if (ty == CF_TOKT_CONTROL || ty == CF_TOKT_UNKNOWN || ty == CF_TOKT_UNUSED || ty == CF_TOKT_UNDEFINED ||
            (ty == CF_TOKT_BYTE && t->type == CF_TOK_BPE))
            t->attr[i] |= CF_TA_CONTROL;
    }
    /* end-of-generation: llama.cpp's marker texts (forced to control type), EOS, EOT */
    for (size_t k = 0; k < sizeof k_eog_texts / sizeof k_eog_texts[0]; k++) {
        int32_t id = find_lit(t, k_eog_texts[k]);
        if (id < 0) continue;
        t->attr[id] |= CF_TA_EOG | CF_TA_CONTROL;
        t->ttype[id] = CF_TOKT_CONTROL;
    }
    if (t->eos >= 0) t->attr[t->eos] |= CF_TA_EOG;
    int32_t eot = -1;
    int rc = get_i32_key(g, "tokenizer.ggml.eot_token_id", &eot, n, err);
    if (rc) return rc;
    if (eot >= 0) t->attr[eot] |= CF_TA_EOG;
    int32_t eom = -1;
    rc = get_i32_key(g, "tokenizer.ggml.eom_token_id", &eom, n, err);
    if (rc) return rc;
    if (eom >= 0) t->attr[eom] |= CF_TA_EOG;

    /* phi-3 GGUFs: special tokens strip following whitespace (llama.cpp sets this by model name) */
    cf_sv name;
    if (cf_gguf_get_str(g, "general.name", &name, NULL) == 0) {
        char low[256];
        size_t m = name.len < sizeof low - 1 ? (size_t)name.len : sizeof low - 1;
        for (size_t i = 0; i < m; i++) low[i] = (char)tolower((unsigned char)name.ptr[i]);
        low[m] = 0;
        if (strstr(low, "phi-3") || strstr(low, "phi3")) {
            for (int i = 0; i < n; i++) {
                int ty = t->ttype[i];
                if (ty == CF_TOKT_CONTROL || ty == CF_TOKT_USER || ty == CF_TOKT_UNKNOWN) t->attr[i] |= CF_TA_RSTRIP;
            }
            int32_t id = find_lit(t, "</s>");
            if (id >= 0) t->attr[id] |= CF_TA_RSTRIP;
            static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
            for (int k = 0; k < 3; k++)
                if ((id = find_lit(t, keep[k])) >= 0) t->attr[id] &= (uint8_t)~CF_TA_RSTRIP;
        }
    }

    /* tokens split out of the text before tokenizing: control, user-defined, unknown */
    int ns = 0;
    for (int i = 0; i < n; i++) {
        int ty = t->ttype[i];
        if (ty == CF_TOKT_CONTROL || ty == CF_TOKT_USER || ty == CF_TOKT_UNKNOWN) ns++;
    }
    if (ns) {
        t->special = malloc((size_t)ns * sizeof *t->special);
        if (!t->special) return cf_errf(err, CF_ENOMEM, "tokenizer: out of memory");
        ns = 0;
        for (int i = 0; i < n; i++) {
            int ty = t->ttype[i];
            if (ty == CF_TOKT_CONTROL || ty == CF_TOKT_USER || ty == CF_TOKT_UNKNOWN) t->special[ns++] = i;
        }
        qsort_r(t->special, (size_t)ns, sizeof *t->special, cmp_special, t);
    }
    t->n_special = ns;

    /* SPM: can words be merged independently? (see spm_word_split) */
    t->spm_word_split = t->type == CF_TOK_SPM;
    for (int i = 0; i < n && t->spm_word_split; i++) {
        const char *s = tok_str(t, i);
        size_t m = t->len[i], j = 0;
        while (j + 3 <= m && !memcmp(s + j, "\xe2\x96\x81", 3)) j += 3;
        if (m - j >= 3 && memmem(s + j, m - j, "\xe2\x96\x81", 3)) t->spm_word_split = 0;
    }

    /* byte fallbacks */
    for (int b = 0; b < 256; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        int32_t id = find_lit(t, buf);
        char one = (char)b;
        if (id < 0) id = cf_tok_lookup(t, &one, 1);
        t->spm_byte[b] = id;
        t->bpe_byte[b] = cf_tok_lookup(t, &one, 1);
    }
    return 0;
}

int cf_tok_load(cf_tokenizer **out, const cf_gguf *g, cf_err *err) {
    *out = NULL;
    cf_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return cf_errf(err, CF_ENOMEM, "tokenizer: out of memory");
    int rc;
    cf_sv model;
    rc = cf_gguf_get_str(g, "tokenizer.ggml.model", &model, err);
    if (rc == -1) rc = cf_errf(err, CF_EFORMAT, "tokenizer: required key 'tokenizer.ggml.model' is missing");
    if (rc) goto fail;
    cf_pre_info pre = {CF_PRE_DEFAULT, 0, 0, 0, 0};
    if (sv_eq(model.ptr, model.len, "llama")) {
        t->type = CF_TOK_SPM;
        t->bos = 1, t->eos = 2, t->unk = 0, t->pad = -1;
        t->add_bos = 1, t->add_space_prefix = 1;
    } else if (sv_eq(model.ptr, model.len, "gpt2")) {
        t->type = CF_TOK_BPE;
        t->bos = 11, t->eos = 11, t->unk = -1, t->pad = -1;
        cf_sv pn;
        rc = cf_gguf_get_str(g, "tokenizer.ggml.pre", &pn, err);
        if (rc > 0) goto fail;
        if (rc == -1) pn.ptr = "default", pn.len = 7;
        if (cf_pre_lookup(pn.ptr, (size_t)pn.len, &pre)) {
            rc = cf_errf(err, CF_EUNSUPPORTED, "tokenizer: tokenizer.ggml.pre = '%.*s' is not supported",
                         (int)(pn.len > 64 ? 64 : pn.len), pn.ptr);
            goto fail;
        }
        snprintf(t->pre_name, sizeof t->pre_name, "%.*s", (int)(pn.len > 31 ? 31 : pn.len), pn.ptr);
        t->pre = pre.type;
        t->ignore_merges = pre.ignore_merges;
        t->add_bos = pre.add_bos;
        if (pre.no_bos) t->bos = -1;
    } else {
        rc = cf_errf(err, CF_EUNSUPPORTED, "tokenizer: tokenizer.ggml.model = '%.*s' is not supported (llama, gpt2)",
                     (int)(model.len > 64 ? 64 : model.len), model.ptr);
        goto fail;
    }
    if ((rc = load_tokens(t, g, err))) goto fail;
    if (t->type == CF_TOK_BPE && (rc = load_merges(t, g, err))) goto fail;
    int n = t->n_vocab;
    if (t->bos >= n) t->bos = -1;
    if (t->eos >= n) t->eos = -1;
    if (t->unk >= n) t->unk = -1;
    if ((rc = get_i32_key(g, "tokenizer.ggml.bos_token_id", &t->bos, n, err))) goto fail;
    if ((rc = get_i32_key(g, "tokenizer.ggml.eos_token_id", &t->eos, n, err))) goto fail;
    if ((rc = get_i32_key(g, "tokenizer.ggml.unknown_token_id", &t->unk, n, err))) goto fail;
    if ((rc = get_i32_key(g, "tokenizer.ggml.padding_token_id", &t->pad, n, err))) goto fail;
    if ((rc = get_bool_key(g, "tokenizer.ggml.add_bos_token", &t->add_bos, err))) goto fail;
    if ((rc = get_bool_key(g, "tokenizer.ggml.add_eos_token", &t->add_eos, err))) goto fail;
    if ((rc = get_bool_key(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix, err))) goto fail;
    if ((rc = setup_special(t, g, err))) goto fail;
    if ((rc = build_bytes(t, err))) goto fail;
    *out = t;
    return 0;
fail:
    cf_tok_free(t);
    return rc;
}

void cf_tok_free(cf_tokenizer *t) {
    if (!t) return;
    free(t->pool);
    free(t->off);
    free(t->len);
    free(t->score);
    free(t->ttype);
    free(t->attr);
    free(t->bpool);
    free(t->boff);
    free(t->blen);
    free(t->hslot);
    free(t->mpool);
    free(t->moff);
    free(t->mleft);
    free(t->mright);
    free(t->mslot);
    free(t->pslot);
    free(t->pair_l);
    free(t->pair_r);
    free(t->pair_m);
    free(t->special);
    free(t);
}

/* ---------------------------------------------------------------- accessors */

int cf_tok_type(const cf_tokenizer *t) { return t->type; }
const char *cf_tok_pre_name(const cf_tokenizer *t) { return t->pre_name; }
int cf_tok_n_vocab(const cf_tokenizer *t) { return t->n_vocab; }
int32_t cf_tok_bos(const cf_tokenizer *t) { return t->bos; }
int32_t cf_tok_eos(const cf_tokenizer *t) { return t->eos; }
int32_t cf_tok_unk(const cf_tokenizer *t) { return t->unk; }
int32_t cf_tok_pad(const cf_tokenizer *t) { return t->pad; }
int cf_tok_add_bos(const cf_tokenizer *t) { return t->add_bos && t->bos >= 0; }
int cf_tok_add_eos(const cf_tokenizer *t) { return t->add_eos && t->eos >= 0; }
int cf_tok_add_space_prefix(const cf_tokenizer *t) { return t->type == CF_TOK_SPM && t->add_space_prefix; }

static int in_range(const cf_tokenizer *t, int32_t id) { return id >= 0 && id < t->n_vocab; }

int cf_tok_is_control(const cf_tokenizer *t, int32_t id) {
    return in_range(t, id) && (t->attr[id] & CF_TA_CONTROL) != 0;
}
int cf_tok_is_eog(const cf_tokenizer *t, int32_t id) { return in_range(t, id) && (t->attr[id] & CF_TA_EOG) != 0; }
int cf_tok_token_type(const cf_tokenizer *t, int32_t id) { return in_range(t, id) ? t->ttype[id] : -1; }
float cf_tok_score(const cf_tokenizer *t, int32_t id) { return in_range(t, id) ? t->score[id] : 0.0f; }

const uint8_t *cf_tok_bytes(const cf_tokenizer *t, int32_t id, size_t *len) {
    if (!in_range(t, id)) {
        *len = 0;
        return NULL;
    }
    *len = t->blen[id];
    return t->bpool + t->boff[id];
}
size_t cf_tok_max_bytes(const cf_tokenizer *t) { return t->max_bytes; }

const char *cf_tok_text(const cf_tokenizer *t, int32_t id, size_t *len) {
    if (!in_range(t, id)) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->len[id];
    return tok_str(t, id);
}

int32_t cf_tok_find(const cf_tokenizer *t, const char *s, size_t n) {
    if (!s || n > CF_TOK_MAX_TOKEN) return -1;
    return cf_tok_lookup(t, s, n);
}

/* ---------------------------------------------------------------- encode */

/* one step of the special-token split: token `id` claimed text[pos, pos+len) */
typedef struct {
    size_t pos;
    uint32_t len;
    int32_t id;
} occ;

typedef struct {
    occ *v;
    size_t n, cap;
} occ_vec;

static int occ_push(occ_vec *a, occ o) {
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        occ *nv = realloc(a->v, nc * sizeof *nv);
        if (!nv) return -1;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = o;
    return 0;
}

/* Trie over the texts of the special tokens considered (flat arrays, children in linked lists). */
typedef struct {
    int32_t *first, *next, *tok; /* per node: first child, next sibling, token id ending here (-1) */
    uint8_t *byte;               /* per node: edge byte from the parent */
    int32_t n, cap;
} trie;

static int trie_node(trie *tr, uint8_t b) {
    if (tr->n == tr->cap) {
        int32_t nc = tr->cap ? tr->cap * 2 : 256;
        int32_t *f = realloc(tr->first, (size_t)nc * sizeof *f);
        if (f) tr->first = f;
        int32_t *x = realloc(tr->next, (size_t)nc * sizeof *x);
        if (x) tr->next = x;
        int32_t *k = realloc(tr->tok, (size_t)nc * sizeof *k);
        if (k) tr->tok = k;
        uint8_t *y = realloc(tr->byte, (size_t)nc);
        if (y) tr->byte = y;
        if (!f || !x || !k || !y) return -1;
        tr->cap = nc;
    }
    int32_t i = tr->n++;
    tr->first[i] = tr->next[i] = tr->tok[i] = -1;
    tr->byte[i] = b;
    return i;
}

static int32_t trie_child(const trie *tr, int32_t node, uint8_t b) {
    for (int32_t c = tr->first[node]; c >= 0; c = tr->next[c])
        if (tr->byte[c] == b) return c;
    return -1;
}

static void trie_free(trie *tr) {
    free(tr->first);
    free(tr->next);
    free(tr->tok);
    free(tr->byte);
}

/* priority of each special token = its index in t->special (longest text first) */
static int cmp_occ(const void *a, const void *b, void *ctx) {
    const int32_t *prio = ctx;
    const occ *x = a, *y = b;
    if (prio[x->id] != prio[y->id]) return prio[x->id] < prio[y->id] ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_pos(const void *a, const void *b) {
    const occ *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

typedef struct {
    size_t off, len; /* raw text, or */
    int32_t id;      /* a token (id >= 0) */
} frag;

static int is_c_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Splits text into raw fragments and special-token fragments exactly as llama.cpp's
 * tokenizer_st_partition does: for each special token in priority order, every leftmost
 * non-overlapping occurrence lying wholly inside a still-raw fragment is taken (with LSTRIP /
 * RSTRIP removing adjacent whitespace).  Implemented with one trie scan instead of one search per
 * token.  Returns the number of fragments, -1 on allocation failure. */
static long partition(const cf_tokenizer *t, const uint8_t *s, size_t n, int parse_special, frag **out) {
    *out = NULL;
    int32_t *prio = NULL;
    uint8_t *state = NULL; /* 0 raw, 1 special token, 2 stripped */
    trie tr = {0};
    occ_vec occs = {0}, taken = {0};
    frag *fr = NULL;
    long nf = -1;
    int any = 0;
    for (int k = 0; k < t->n_special; k++) {
        int32_t id = t->special[k];
        if (parse_special || t->ttype[id] == CF_TOKT_USER) any = 1;
    }
    if (!any || n == 0) {
        fr = malloc(sizeof *fr);
        if (!fr) return -1;
        fr[0] = (frag){0, n, -1};
        *out = fr;
        return n ? 1 : 0;
    }
    prio = malloc((size_t)t->n_vocab * sizeof *prio);
    state = calloc(n, 1);
    if (!prio || !state || trie_node(&tr, 0) < 0) goto done;
    for (int k = 0; k < t->n_special; k++) {
        int32_t id = t->special[k];
        prio[id] = k;
        if (!parse_special && t->ttype[id] != CF_TOKT_USER) continue;
        const uint8_t *p = (const uint8_t *)tok_str(t, id);
        int32_t node = 0;
        for (uint32_t j = 0; j < t->len[id]; j++) {
            int32_t c = trie_child(&tr, node, p[j]);
            if (c < 0) {
                if ((c = trie_node(&tr, p[j])) < 0) goto done;
                tr.next[c] = tr.first[node];
                tr.first[node] = c;
            }
            node = c;
        }
        if (tr.tok[node] < 0) tr.tok[node] = id; /* same text twice: the higher-priority one */
    }
    for (size_t i = 0; i < n; i++) {
        int32_t node = 0;
        for (size_t j = i; j < n; j++) {
            node = trie_child(&tr, node, s[j]);
            if (node < 0) break;
            if (tr.tok[node] >= 0 && occ_push(&occs, (occ){i, (uint32_t)(j + 1 - i), tr.tok[node]})) goto done;
        }
    }
    if (occs.n) qsort_r(occs.v, occs.n, sizeof *occs.v, cmp_occ, prio);
    size_t next_ok = 0;
    int32_t cur = -1;
    for (size_t k = 0; k < occs.n; k++) {
        occ o = occs.v[k];
        if (o.id != cur) {
            cur = o.id;
            next_ok = 0;
        }
        if (o.pos < next_ok) continue;
        int clear = 1;
        for (uint32_t j = 0; j < o.len && clear; j++) clear = state[o.pos + j] == 0;
        if (!clear) continue;
        memset(state + o.pos, 1, o.len);
        if (occ_push(&taken, o)) goto done;
        size_t end = o.pos + o.len;
        if (t->attr[o.id] & CF_TA_LSTRIP)
            for (size_t j = o.pos; j > 0 && state[j - 1] == 0 && is_c_space(s[j - 1]); j--) state[j - 1] = 2;
        if (t->attr[o.id] & CF_TA_RSTRIP)
            while (end < n && state[end] == 0 && is_c_space(s[end])) state[end++] = 2;
        next_ok = end;
    }
    /* fragments in text order */
    fr = malloc((2 * taken.n + 1) * sizeof *fr);
    if (!fr) goto done;
    if (taken.n) qsort(taken.v, taken.n, sizeof *taken.v, cmp_pos);
    nf = 0;
    size_t i = 0, ti = 0;
    while (i < n) {
        if (state[i] == 0) {
            size_t j = i;
            while (j < n && state[j] == 0) j++;
            fr[nf++] = (frag){i, j - i, -1};
            i = j;
        } else if (state[i] == 2) {
            i++;
        } else {
            occ o = taken.v[ti++]; /* taken is sorted by position: this one starts at i */
            fr[nf++] = (frag){i, o.len, o.id};
            i += o.len;
        }
    }
done:
    free(prio);
    free(state);
    trie_free(&tr);
    free(occs.v);
    free(taken.v);
    if (nf < 0) free(fr);
    else *out = fr;
    return nf;
}

int cf_tok_encode_ex(const cf_tokenizer *t, const char *text, size_t len, int add_bos, int flags, int32_t *out,
                     int cap, cf_err *err) {
    if ((!text && len) || cap < 0 || (!out && cap > 0))
        return cf_errf(err, CF_EINVAL, "tokenize: bad arguments (text %p, len %zu, out %p, cap %d)", (const void *)text,
                       len, (void *)out, cap), -1;
    if (len > CF_TOK_MAX_TEXT)
        return cf_errf(err, CF_ELIMIT, "tokenize: text of %zu bytes exceeds the cap of %u bytes per call", len,
                       CF_TOK_MAX_TEXT), -1;
    int want_bos = add_bos < 0 ? t->add_bos : add_bos != 0;
    int want_eos = add_bos != 0 && t->add_eos;
    cf_ivec ids = {0};
    frag *fr = NULL;
    int rc = 0;
    if (want_bos && t->bos >= 0 && cf_ivec_push(&ids, t->bos)) goto oom;
    long nf = partition(t, (const uint8_t *)text, len, (flags & CF_TOK_PARSE_SPECIAL) != 0, &fr);
    if (nf < 0) goto oom;
    int prev_special = 1; /* SPM: the space prefix goes before the first fragment and after each special */
    for (long k = 0; k < nf; k++) {
        if (fr[k].id >= 0) {
            if (cf_ivec_push(&ids, fr[k].id)) goto oom;
            prev_special = 1;
            continue;
        }
        if (t->type == CF_TOK_SPM)
            rc = cf_spm_encode_fragment(t, text + fr[k].off, fr[k].len, t->add_space_prefix && prev_special, &ids, err);
        else rc = cf_bpe_encode_fragment(t, text + fr[k].off, fr[k].len, &ids, err);
        if (rc) goto fail;
        prev_special = 0;
    }
    if (want_eos && t->eos >= 0 && cf_ivec_push(&ids, t->eos)) goto oom;
    if (ids.n > (size_t)INT32_MAX) {
        cf_errf(err, CF_ELIMIT, "tokenize: %zu tokens do not fit an int", ids.n);
        goto fail;
    }
    int total = (int)ids.n;
    if (cap > 0 && total > 0) memcpy(out, ids.v, (size_t)(total < cap ? total : cap) * sizeof *out);
    free(ids.v);
    free(fr);
    return total;
oom:
    cf_errf(err, CF_ENOMEM, "tokenize: out of memory (%zu bytes of text)", len);
fail:
    free(ids.v);
    free(fr);
    return -1;
}

int cf_tok_encode(const cf_tokenizer *t, const char *text, size_t len, int add_bos, int32_t *out, int cap,
                  cf_err *err) {
    return cf_tok_encode_ex(t, text, len, add_bos, 0, out, cap, err);
}

/* ---------------------------------------------------------------- decode */

long cf_tok_decode(const cf_tokenizer *t, const int32_t *ids, int n, char *out, size_t cap, cf_err *err) {
    size_t k = 0;
    int strip = cf_tok_add_space_prefix(t);
    for (int i = 0; i < n; i++) {
        if (!in_range(t, ids[i]))
            return cf_errf(err, CF_EINVAL, "detokenize: id %" PRId32 " at index %d is out of range [0, %d)", ids[i], i,
                           t->n_vocab), -1;
        size_t m;
        const uint8_t *b = cf_tok_bytes(t, ids[i], &m);
        if (!m) continue;
        if (strip && b[0] == ' ') b++, m--;
        strip = 0;
        for (size_t j = 0; j < m; j++, k++)
            if (k + 1 < cap) out[k] = (char)b[j];
    }
    if (cap) out[k < cap ? k : cap - 1] = 0;
    return (long)k;
}

void cf_detok_init(cf_detok *d, const cf_tokenizer *t) {
    memset(d, 0, sizeof *d);
    d->tok = t;
    d->strip = cf_tok_add_space_prefix(t);
}

void cf_detok_init_mid(cf_detok *d, const cf_tokenizer *t) {
    cf_detok_init(d, t);
    d->strip = 0;
}

size_t cf_detok_max_out(const cf_tokenizer *t) { return 3 * (t->max_bytes + 4) + 8; }

typedef struct {
    char *out;
    size_t cap, k;
} sink;

static void put(sink *o, const uint8_t *b, size_t n) {
    for (size_t j = 0; j < n; j++, o->k++)
        if (o->k < o->cap) o->out[o->k] = (char)b[j];
}

static const uint8_t k_fffd[3] = {0xEF, 0xBF, 0xBD};

/* Feeds bytes through the pending-sequence state machine. */
static void detok_feed(cf_detok *d, const uint8_t *b, size_t n, sink *o) {
    size_t j = 0;
    while (j < n) {
        if (d->npend == 0) {
            uint8_t c = b[j];
            if (c < 0x80) {
                /* fast path: a run of ASCII */
                size_t e = j;
                while (e < n && b[e] < 0x80) e++;
                put(o, b + j, e - j);
                j = e;
                continue;
            }
            uint32_t cp;
            int r = cf_utf8_next(b + j, n - j, &cp);
            if (r > 0) {
                put(o, b + j, (size_t)r);
                j += (size_t)r;
            } else if (r == 0) { /* incomplete at the end of this token: hold it */
                memcpy(d->pend, b + j, n - j);
                d->npend = (int)(n - j);
                j = n;
            } else {
                put(o, k_fffd, 3);
                j++;
            }
            continue;
        }
        /* complete a held sequence */
        uint8_t tmp[4];
        memcpy(tmp, d->pend, (size_t)d->npend);
        tmp[d->npend] = b[j];
        uint32_t cp;
        int r = cf_utf8_next(tmp, (size_t)d->npend + 1, &cp);
        if (r > 0) {
            put(o, tmp, (size_t)r);
            d->npend = 0;
            j++;
        } else if (r == 0) {
            d->pend[d->npend++] = b[j];
            j++;
        } else { /* the held prefix cannot complete: one U+FFFD, then re-read b[j] */
            put(o, k_fffd, 3);
            d->npend = 0;
        }
    }
}

size_t cf_detok_push(cf_detok *d, int32_t id, char *out, size_t cap) {
    size_t m;
    const uint8_t *b = cf_tok_bytes(d->tok, id, &m);
    if (!b || !m) return 0;
    if (d->strip && b[0] == ' ') b++, m--;
    d->strip = 0;
    sink o = {out, cap, 0};
    detok_feed(d, b, m, &o);
    return o.k < cap ? o.k : cap;
}

size_t cf_detok_flush(cf_detok *d, char *out, size_t cap) {
    sink o = {out, cap, 0};
    if (d->npend) put(&o, k_fffd, 3);
    d->npend = 0;
    return o.k < cap ? o.k : cap;
}
