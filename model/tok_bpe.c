/* Byte-level BPE encoding (tokenizer.ggml.model = "gpt2"), as llama.cpp's BPE tokenizer: the
 * text is decoded to code points (invalid bytes -> U+FFFD), split into pieces by the
 * pre-tokenizer, each piece re-encoded as UTF-8 and every byte mapped to its byte-level code
 * point; then within a piece adjacent symbols are merged lowest merge rank first (ties: leftmost)
 * until no adjacent pair has a rank.  A final symbol that is not a token is emitted as the tokens
 * of its single bytes where such tokens exist (others are dropped, as llama.cpp does). */
#define CF_TOK_INTERNAL
#include <stdlib.h>
#include <string.h>

#include "model/pretok.h"
#include "model/tokenizer.h"
#include "model/unicode.h"

typedef struct {
    int32_t rank, left, right;
    uint32_t size;
} bigram;

/* min-heap on (rank, left) */
static int before(const bigram *a, const bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
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
    uint32_t start, n; /* byte span in the word; n = 0 once merged away */
    int32_t prev, next;
    int32_t id;        /* the token whose text this is, -1 if none */
} sym;

typedef struct {
    const cf_tokenizer *t;
    char *word;
    size_t wcap;
    sym *sy;
    size_t scap;
    heap h;
    uint8_t map[256][2]; /* byte -> UTF-8 of its byte-level code point */
    uint8_t maplen[256];
    int32_t charid[256]; /* byte -> token of that single code point, -1 if none */
} ctx;

/* Rank of merging symbols l and r (-1: none); *merged = id of the result.  Pairs of tokens go
 * through the id-keyed table (no string hashing); anything else by text, as llama.cpp does. */
static int pair_rank(ctx *c, int32_t l, int32_t r, int32_t *merged) {
    const sym *L = &c->sy[l], *R = &c->sy[r];
    if (L->id >= 0 && R->id >= 0) return cf_tok_bpe_rank_ids(c->t, L->id, R->id, merged);
    int rank = cf_tok_bpe_rank(c->t, c->word + L->start, L->n, c->word + R->start, R->n);
    if (rank >= 0) *merged = cf_tok_lookup(c->t, c->word + L->start, L->n + R->n);
    return rank;
}

static int try_pair(ctx *c, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return 0;
    int32_t merged;
    int rank = pair_rank(c, l, r, &merged);
    if (rank < 0) return 0;
    return heap_push(&c->h, (bigram){rank, l, r, c->sy[l].n + c->sy[r].n});
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

/* BPE over one piece (code points cps[0..n)), appending ids to out. */
static int encode_piece(ctx *c, const uint32_t *cps, size_t n, cf_ivec *out) {
    const cf_tokenizer *t = c->t;
    if (grow((void **)&c->word, &c->wcap, n * 8, 1) || grow((void **)&c->sy, &c->scap, n * 4, sizeof *c->sy))
        return -1;
    size_t m = 0;
    int32_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t u[4];
        int k = cf_utf8_encode(cps[i], u);
        for (int j = 0; j < k; j++) {
            uint8_t b = u[j];
            c->sy[ns] = (sym){(uint32_t)m, c->maplen[b], ns - 1, ns + 1, c->charid[b]};
            ns++;
            memcpy(c->word + m, c->map[b], c->maplen[b]);
            m += c->maplen[b];
        }
    }
    if (ns == 0) return 0;
    c->sy[ns - 1].next = -1;
    if (t->ignore_merges) {
        int32_t id = cf_tok_lookup(t, c->word, m);
        if (id >= 0) return cf_ivec_push(out, id);
    }
    c->h.n = 0;
    for (int32_t i = 1; i < ns; i++)
        if (try_pair(c, i - 1, i)) return -1;
    while (c->h.n) {
        bigram b = heap_pop(&c->h);
        sym *L = &c->sy[b.left], *R = &c->sy[b.right];
        if (L->n == 0 || R->n == 0 || L->n + R->n != b.size) continue; /* outdated */
        int32_t merged = -1;
        pair_rank(c, b.left, b.right, &merged);
        L->id = merged;
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0) c->sy[R->next].prev = b.left;
        if (try_pair(c, L->prev, b.left) || try_pair(c, b.left, L->next)) return -1;
    }
    for (int32_t i = 0; i != -1; i = c->sy[i].next) {
        const sym *s = &c->sy[i];
        int32_t id = s->id;
        if (id >= 0) {
            if (cf_ivec_push(out, id)) return -1;
            continue;
        }
        for (uint32_t j = 0; j < s->n; j++) {
            int32_t bid = t->bpe_byte[(uint8_t)c->word[s->start + j]];
            if (bid >= 0 && cf_ivec_push(out, bid)) return -1;
        }
    }
    return 0;
}

int cf_bpe_encode_fragment(const cf_tokenizer *t, const char *s, size_t n, cf_ivec *out, cf_err *err) {
    ctx c;
    memset(&c, 0, sizeof c);
    c.t = t;
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        c.maplen[b] = (uint8_t)cf_utf8_encode(keep ? (uint32_t)b : next++, c.map[b]);
        c.charid[b] = cf_tok_lookup(t, (const char *)c.map[b], c.maplen[b]);
    }
    uint32_t *cps = malloc((n ? n : 1) * sizeof *cps);
    uint32_t *lens = NULL;
    size_t lcap = 0;
    int rc = 0;
    if (!cps) goto oom;
    size_t ncp = cf_utf8_decode_lenient((const uint8_t *)s, n, cps);
    long np = cf_pretok_split((cf_pre_type)t->pre, cps, ncp, &lens, &lcap);
    if (np < 0) goto oom;
    size_t off = 0;
    for (long k = 0; k < np; k++) {
        if (encode_piece(&c, cps + off, lens[k], out)) goto oom;
        off += lens[k];
    }
    goto done;
oom:
    rc = cf_errf(err, CF_ENOMEM, "tokenize (bpe): out of memory for a %zu-byte fragment", n);
done:
    free(cps);
    free(lens);
    free(c.word);
    free(c.sy);
    free(c.h.v);
    return rc;
}
