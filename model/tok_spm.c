/* SentencePiece-style encoding (tokenizer.ggml.model = "llama"), as llama.cpp's SPM tokenizer:
 * the text ("▁" prefix if asked, every ' ' -> U+2581) is cut into UTF-8 characters (length from
 * the lead byte alone, so invalid bytes ride along), then adjacent symbol pairs whose
 * concatenation is a token are merged best score first (ties: leftmost), until no pair is a
 * token.  A final symbol that is not a token is emitted as its bytes' <0xNN> tokens. */
#define CF_TOK_INTERNAL
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer.h"

typedef struct {
    float score;
    int32_t left, right;
    uint32_t size;
} bigram;

/* max-heap: higher score first, then smaller left */
static int before(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct {
    bigram *v;
    size_t n, cap;
} heap;

/* 4-ary heap: half the depth of a binary one, and the children of a node share a cache line */
#define HEAP_D 4

static int heap_push(heap *h, bigram x) {
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 64;
        bigram *nv = realloc(h->v, nc * sizeof *nv);
        if (!nv) return -1;
        h->v = nv;
        h->cap = nc;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / HEAP_D;
        if (!before(&x, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
    return 0;
}

static bigram heap_pop(heap *h) {
    bigram top = h->v[0], x = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = HEAP_D * i + 1;
        if (c >= h->n) break;
        size_t best = c, last = c + HEAP_D < h->n ? c + HEAP_D : h->n;
        for (size_t k = c + 1; k < last; k++)
            if (before(&h->v[k], &h->v[best])) best = k;
        if (!before(&h->v[best], &x)) break;
        h->v[i] = h->v[best];
        i = best;
    }
    if (h->n) h->v[i] = x;
    return top;
}

typedef struct {
    uint32_t start, n; /* byte span in the escaped text; n = 0 once merged away */
    int32_t prev, next;
} sym;

static int try_pair(const cf_tokenizer *t, const char *s, const sym *sy, int32_t l, int32_t r, heap *h) {
    if (l < 0 || r < 0) return 0;
    uint32_t size = sy[l].n + sy[r].n;
    int32_t id = cf_tok_lookup(t, s + sy[l].start, size);
    if (id < 0) return 0;
    return heap_push(h, (bigram){t->score[id], l, r, size});
}

static int is_space_sym(const char *s, const sym *y) {
    return y->n == 3 && !memcmp(s + y->start, "\xe2\x96\x81", 3);
}

/* Merges symbols [a, b) (a chain: the links leaving the range are cut during the merge and
 * restored after, so that no pair crosses the range). */
static int merge_range(const cf_tokenizer *t, const char *s, sym *sy, int32_t a, int32_t b, heap *h) {
    int32_t after = sy[b - 1].next, before = sy[a].prev;
    sy[b - 1].next = -1;
    sy[a].prev = -1;
    h->n = 0;
    for (int32_t i = a + 1; i < b; i++)
        if (try_pair(t, s, sy, i - 1, i, h)) return -1;
    while (h->n) {
        bigram g = heap_pop(h);
        sym *L = &sy[g.left], *R = &sy[g.right];
        if (L->n == 0 || R->n == 0 || L->n + R->n != g.size) continue; /* stale */
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0) sy[R->next].prev = g.left;
        if (try_pair(t, s, sy, L->prev, g.left, h) || try_pair(t, s, sy, g.left, L->next, h)) return -1;
    }
    /* relink: the last live symbol of the range points on to b */
    int32_t last = a;
    while (sy[last].next >= 0) last = sy[last].next;
    sy[last].next = after;
    if (after >= 0) sy[after].prev = last;
    sy[a].prev = before;
    return 0;
}

static unsigned utf8_len_from_lead(uint8_t c) {
    static const uint8_t k[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return k[c >> 4];
}

int cf_spm_encode_fragment(const cf_tokenizer *t, const char *text, size_t n, int space_prefix, cf_ivec *out,
                           cf_err *err) {
    size_t cap = 3 * n + 3;
    char *s = malloc(cap ? cap : 1);
    sym *sy = NULL;
    heap h = {0};
    int rc = 0;
    if (!s) goto oom;
    size_t m = 0;
    static const char k_sp[3] = {(char)0xE2, (char)0x96, (char)0x81};
    if (space_prefix) memcpy(s, k_sp, 3), m = 3;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ' ') memcpy(s + m, k_sp, 3), m += 3;
        else s[m++] = text[i];
    }
    if (m == 0) goto done;
    sy = malloc(m * sizeof *sy);
    if (!sy) goto oom;
    int32_t ns = 0;
    for (size_t off = 0; off < m;) {
        size_t len = utf8_len_from_lead((uint8_t)s[off]);
        if (len > m - off) len = m - off;
        sy[ns] = (sym){(uint32_t)off, (uint32_t)len, ns - 1, off + len == m ? -1 : ns + 1};
        ns++;
        off += len;
    }
    /* merge, word by word when the vocabulary allows it (same result, small heaps) */
    for (int32_t a = 0; a < ns;) {
        int32_t b = a + 1;
        if (t->spm_word_split)
            while (b < ns && !(is_space_sym(s, &sy[b]) && !is_space_sym(s, &sy[b - 1]))) b++;
        else b = ns;
        if (merge_range(t, s, sy, a, b, &h)) goto oom;
        a = b;
    }
    for (int32_t i = 0; i != -1; i = sy[i].next) {
        int32_t id = cf_tok_lookup(t, s + sy[i].start, sy[i].n);
        if (id >= 0) {
            if (cf_ivec_push(out, id)) goto oom;
            continue;
        }
        for (uint32_t j = 0; j < sy[i].n; j++) { /* byte fallback */
            int32_t bid = t->spm_byte[(uint8_t)s[sy[i].start + j]];
            if (bid < 0) bid = t->unk; /* vocabulary without byte tokens */
            if (bid >= 0 && cf_ivec_push(out, bid)) goto oom;
        }
    }
    goto done;
oom:
    rc = cf_errf(err, CF_ENOMEM, "tokenize (spm): out of memory for a %zu-byte fragment", n);
done:
    free(s);
    free(sy);
    free(h.v);
    return rc;
}
