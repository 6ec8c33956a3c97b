/* Token tables for constrained decoding: each token's bytes and a trie over them (preorder). */
#include <stdlib.h>
#include <string.h>

#include "sampler/cons_int.h"

static const cf_cons_vocab *g_sort_v;

static int cmp_tok(const void *a, const void *b) {
    const cf_cons_vocab *v = g_sort_v;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = v->len[x], ly = v->len[y];
    int c = memcmp(v->pool + v->off[x], v->pool + v->off[y], lx < ly ? lx : ly);
    if (c) return c;
    if (lx != ly) return lx < ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

static pthread_mutex_t g_sort_lock = PTHREAD_MUTEX_INITIALIZER;

static int build_trie(cf_cons_vocab *v, cf_err *err) {
    int32_t ns = 0;
    uint64_t total = 0;
    for (int i = 0; i < v->n_vocab; i++)
        if (v->len[i]) {
            ns++;
            total += v->len[i];
        }
    v->sorted = malloc(((size_t)ns + 1) * sizeof *v->sorted);
    if (!v->sorted) return cf_errf(err, CF_ENOMEM, "vocabulary: out of memory");
    ns = 0;
    for (int i = 0; i < v->n_vocab; i++)
        if (v->len[i]) v->sorted[ns++] = i;
    v->nsorted = ns;
    pthread_mutex_lock(&g_sort_lock);
    g_sort_v = v;
    qsort(v->sorted, (size_t)ns, sizeof *v->sorted, cmp_tok);
    g_sort_v = NULL;
    pthread_mutex_unlock(&g_sort_lock);
    uint64_t cap = total + 1;
    if (cap > (1u << 30)) return cf_errf(err, CF_ELIMIT, "vocabulary: token bytes exceed the trie cap");
    v->tbyte = malloc(cap);
    v->tend = malloc(cap * sizeof *v->tend);
    v->ttok = malloc(cap * sizeof *v->ttok);
    v->ttokn = malloc(cap * sizeof *v->ttokn);
    v->tparent = malloc(cap * sizeof *v->tparent);
    if (!v->tbyte || !v->tend || !v->ttok || !v->ttokn || !v->tparent)
        return cf_errf(err, CF_ENOMEM, "vocabulary: out of memory");
    /* path[d] = node at depth d of the current token's path */
    uint32_t maxlen = 0;
    for (int i = 0; i < v->n_vocab; i++)
        if (v->len[i] > maxlen) maxlen = v->len[i];
    int32_t *path = malloc(((size_t)maxlen + 2) * sizeof *path);
    if (!path) return cf_errf(err, CF_ENOMEM, "vocabulary: out of memory");
    int32_t nn = 1;
    v->tbyte[0] = 0;
    v->ttok[0] = -1;
    v->ttokn[0] = 0;
    v->tparent[0] = -1;
    path[0] = 0;
    uint32_t plen = 0;   /* depth of the current path */
    const uint8_t *prev = NULL;
    uint32_t prevlen = 0;
    for (int32_t k = 0; k < ns; k++) {
        int32_t t = v->sorted[k];
        const uint8_t *b = v->pool + v->off[t];
        uint32_t l = v->len[t];
        uint32_t lcp = 0;
        if (prev)
            while (lcp < l && lcp < prevlen && b[lcp] == prev[lcp]) lcp++;
        /* close nodes deeper than lcp */
        while (plen > lcp) {
            v->tend[path[plen]] = nn;
            plen--;
        }
        for (uint32_t d = lcp; d < l; d++) {
            int32_t id = nn++;
            v->tbyte[id] = b[d];
            v->ttok[id] = -1;
            v->ttokn[id] = 0;
            v->tparent[id] = path[plen];
            path[++plen] = id;
        }
        int32_t node = path[plen];
        if (v->ttok[node] < 0) v->ttok[node] = k;
        v->ttokn[node]++;
        prev = b;
        prevlen = l;
    }
    while (plen > 0) {
        v->tend[path[plen]] = nn;
        plen--;
    }
    v->tend[0] = nn;
    v->nnodes = nn;
    free(path);
    for (int i = 0; i < 256; i++) v->root_child[i] = -1;
    for (int32_t c = 1; c < nn; c = v->tend[c]) v->root_child[v->tbyte[c]] = c;
    return 0;
}

static int vocab_alloc(cf_cons_vocab **out, int n, cf_err *err) {
    if (n <= 0 || n > (1 << 24)) return cf_errf(err, CF_EINVAL, "vocabulary: bad size %d", n);
    cf_cons_vocab *v = calloc(1, sizeof *v);
    if (!v) return cf_errf(err, CF_ENOMEM, "vocabulary: out of memory");
    v->n_vocab = n;
    v->words = (n + 31) / 32;
    v->off = calloc((size_t)n, sizeof *v->off);
    v->len = calloc((size_t)n, sizeof *v->len);
    v->excluded = calloc((size_t)n, 1);
    pthread_mutex_init(&v->lock, NULL);
    *out = v;
    if (!v->off || !v->len || !v->excluded) return cf_errf(err, CF_ENOMEM, "vocabulary: out of memory");
    return 0;
}

int cf_cons_vocab_from_bytes(cf_cons_vocab **out, int n, const uint8_t *const *bytes, const size_t *lens, int32_t eos,
                             cf_err *err) {
    *out = NULL;
    cf_cons_vocab *v = NULL;
    int rc = vocab_alloc(&v, n, err);
    if (rc) {
        cf_cons_vocab_free(v);
        return rc;
    }
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        if (i != eos && lens[i] && lens[i] < (1u << 16)) total += lens[i];
    v->pool = malloc(total + 1);
    if (!v->pool) {
        cf_cons_vocab_free(v);
        return cf_errf(err, CF_ENOMEM, "vocabulary: out of memory");
    }
    uint64_t o = 0;
    for (int i = 0; i < n; i++) {
        if (i == eos || !lens[i] || lens[i] >= (1u << 16)) {
            v->excluded[i] = 1;
            continue;
        }
        memcpy(v->pool + o, bytes[i], lens[i]);
        v->off[i] = o;
        v->len[i] = (uint32_t)lens[i];
        o += lens[i];
    }
    v->eos = eos >= 0 && eos < n ? eos : -1;
    rc = build_trie(v, err);
    if (!rc && cons_vocab_warm(v)) rc = cf_errf(err, CF_ENOMEM, "vocabulary: out of memory");
    if (rc) {
        cf_cons_vocab_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int cf_cons_vocab_new(cf_cons_vocab **out, const cf_tokenizer *t, cf_err *err) {
    *out = NULL;
    int n = cf_tok_n_vocab(t);
    const uint8_t **bytes = malloc((size_t)(n > 0 ? n : 1) * sizeof *bytes);
    size_t *lens = malloc((size_t)(n > 0 ? n : 1) * sizeof *lens);
    if (!bytes || !lens) {
        free(bytes);
        free(lens);
        return cf_errf(err, CF_ENOMEM, "vocabulary: out of memory");
    }
    for (int i = 0; i < n; i++) {
        size_t l = 0;
        bytes[i] = cf_tok_bytes(t, i, &l);
        lens[i] = cf_tok_is_control(t, i) || !bytes[i] ? 0 : l;
    }
    int rc = cf_cons_vocab_from_bytes(out, n, bytes, lens, cf_tok_eos(t), err);
    free(bytes);
    free(lens);
    return rc;
}

void cf_cons_vocab_free(cf_cons_vocab *v) {
    if (!v) return;
    for (int i = 0; i < v->ngstr; i++) pc_free(v->gstr[i]);
    free(v->gstr);
    pthread_mutex_destroy(&v->lock);
    free(v->pool);
    free(v->off);
    free(v->len);
    free(v->excluded);
    free(v->tbyte);
    free(v->tend);
    free(v->ttok);
    free(v->ttokn);
    free(v->tparent);
    free(v->sorted);
    free(v);
}

int cf_cons_vocab_size(const cf_cons_vocab *v) { return v ? v->n_vocab : 0; }
int32_t cf_cons_vocab_eos(const cf_cons_vocab *v) { return v ? v->eos : -1; }
