/* String frames: a JSON string literal, byte by byte, with UTF-8 validation, escapes (surrogate
 * pairs checked), code-point counting, and the decoded value fed to a literal trie (enum / object
 * property names) and regex DFAs (pattern, format, patternProperties, propertyNames).
 *
 * Packed state (aux): bits 0-15 count, 16-19 phase, 20-22 UTF-8 state, 23-30 hex, 32-63 the regex
 * state (one regex, no trie) or a blob id holding {trie node, regex states, seen bitset}.
 * When the decoded value is needed (trie or regex), \u escapes are limited to ASCII (\u0000-\u007F):
 * every string still has an accepted spelling (raw UTF-8), and decoding stays one byte per escape. */
#include <stdlib.h>
#include <string.h>

#include "sampler/cons_int.h"

enum { U8_NONE = 0, U8_C1, U8_C2, U8_C3, U8_E0, U8_ED, U8_F0, U8_F4 };

static inline int hexval(uint8_t b) {
    if (b >= '0' && b <= '9') return b - '0';
    if (b >= 'a' && b <= 'f') return b - 'a' + 10;
    if (b >= 'A' && b <= 'F') return b - 'A' + 10;
    return -1;
}

int32_t ltrie_next(const ltrie *t, int32_t node, uint8_t b) {
    int32_t f = t->first[node], n = t->nedge[node];
    if (n <= 8) {
        for (int32_t i = 0; i < n; i++)
            if (t->ebyte[f + i] == b) return t->eto[f + i];
        return -1;
    }
    int32_t lo = 0, hi = n;
    while (lo < hi) {
        int32_t m = (lo + hi) / 2;
        if (t->ebyte[f + m] < b) lo = m + 1;
        else hi = m;
    }
    return lo < n && t->ebyte[f + lo] == b ? t->eto[f + lo] : -1;
}

/* lits must be sorted (bytewise, shorter first on ties) and unique; literal i gets term = i. */
int sprog_build_trie(ltrie *t, char **lits, const size_t *lens, int n) {
    memset(t, 0, sizeof *t);
    size_t total = 1;
    for (int i = 0; i < n; i++) total += lens[i];
    if (total > (1u << 28)) return -1;
    int32_t cap = (int32_t)total;
    t->first = malloc((size_t)cap * sizeof *t->first);
    t->nedge = calloc((size_t)cap, sizeof *t->nedge);
    t->term = malloc((size_t)cap * sizeof *t->term);
    t->lo = malloc((size_t)cap * sizeof *t->lo);
    t->hi = malloc((size_t)cap * sizeof *t->hi);
    /* children are created in sorted order, so edges of a node are contiguous if we lay them out
     * after building a parent/child list: build with a temporary parent array first */
    int32_t *par = malloc((size_t)cap * sizeof *par);
    uint8_t *pb = malloc((size_t)cap);
    int32_t *path = malloc((total + 1) * sizeof *path);
    if (!t->first || !t->nedge || !t->term || !t->lo || !t->hi || !par || !pb || !path) {
        free(par);
        free(pb);
        free(path);
        return -1;
    }
    int32_t nn = 1;
    t->term[0] = -1;
    t->lo[0] = 0;
    t->hi[0] = n;
    par[0] = -1;
    path[0] = 0;
    size_t plen = 0;
    const char *prev = NULL;
    size_t prevlen = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *b = (const uint8_t *)lits[i];
        size_t l = lens[i], lcp = 0;
        if (prev)
            while (lcp < l && lcp < prevlen && (uint8_t)prev[lcp] == b[lcp]) lcp++;
        while (plen > lcp) t->hi[path[plen--]] = i;
        for (size_t d = lcp; d < l; d++) {
            int32_t id = nn++;
            t->term[id] = -1;
            t->lo[id] = i;
            par[id] = path[plen];
            pb[id] = b[d];
            path[++plen] = id;
        }
        t->term[path[plen]] = i;
        prev = lits[i];
        prevlen = l;
    }
    while (plen > 0) t->hi[path[plen--]] = n;
    /* edges: nodes were created in preorder, so the children of each node appear in byte order */
    t->ebyte = malloc((size_t)nn);
    t->eto = malloc((size_t)nn * sizeof *t->eto);
    if (!t->ebyte || !t->eto) {
        free(par);
        free(pb);
        free(path);
        return -1;
    }
    for (int32_t i = 1; i < nn; i++) t->nedge[par[i]]++;
    int32_t o = 0;
    for (int32_t i = 0; i < nn; i++) {
        t->first[i] = o;
        o += t->nedge[i];
        t->nedge[i] = 0;
    }
    for (int32_t i = 1; i < nn; i++) {
        int32_t p = par[i];
        int32_t k = t->first[p] + t->nedge[p]++;
        t->ebyte[k] = pb[i];
        t->eto[k] = i;
    }
    t->nnodes = nn;
    t->nedges = nn - 1;
    free(par);
    free(pb);
    free(path);
    return 0;
}

/* ---- minimum code points to a match, per regex DFA state ---- */

#define MIND_UNKNOWN 0xFFFF
#define MIND_BFS_CAP 512   /* DFA states explored per query; beyond: unknown (no pruning) */

struct mindc {
    uint16_t *d[CF_MAX_STR_RE];
    int32_t n[CF_MAX_STR_RE];
};

/* 0-1 BFS: a byte that starts a code point costs 1, a continuation byte 0.  Every byte a string
 * can decode to counts, control bytes included (escapes: \n, \u0001); only bytes that never occur
 * in UTF-8 are skipped.  The result must not exceed the true distance: str_step_u refuses on it. */
static uint16_t mind_bfs(cf_regex *re, int32_t s0) {
    if (cf_regex_accepting(re, s0)) return 0;
    int32_t st[MIND_BFS_CAP];
    uint16_t ds[MIND_BFS_CAP];
    int32_t dq[2 * MIND_BFS_CAP];   /* deque of indices into st */
    int n = 0, head = MIND_BFS_CAP, tail = MIND_BFS_CAP;
    st[n] = s0;
    ds[n] = 0;
    dq[tail++] = n++;
    uint16_t best = MIND_UNKNOWN;
    while (head < tail) {
        int i = dq[head++];
        if (ds[i] >= best) continue;
        for (int b = 0; b < 256; b++) {
            if (b >= 0xF5) continue;
            int32_t t = cf_regex_next(re, st[i], (uint8_t)b);
            if (t < 0 && cf_regex_overflowed(re, NULL)) return 0;   /* DFA cap: unknown, no pruning */
            if (t < 0 || !cf_regex_live(re, t)) continue;
            uint16_t nd = (uint16_t)(ds[i] + ((b & 0xC0) == 0x80 ? 0 : 1));
            if (cf_regex_accepting(re, t) && nd < best) best = nd;
            int k = 0;
            while (k < n && st[k] != t) k++;
            if (k < n) {
                if (nd < ds[k]) {
                    ds[k] = nd;
                    if (head > 0 && nd == ds[i]) dq[--head] = k;
                    else if (tail < 2 * MIND_BFS_CAP) dq[tail++] = k;
                }
                continue;
            }
            if (n == MIND_BFS_CAP || tail >= 2 * MIND_BFS_CAP || head == 0) return best == MIND_UNKNOWN ? 0 : best;
            st[n] = t;
            ds[n] = nd;
            if (nd == ds[i]) dq[--head] = n;
            else dq[tail++] = n;
            n++;
        }
    }
    return best == MIND_UNKNOWN ? 0 : best;
}

static uint32_t mind_of(const sprog *p, int i, int32_t state) {
    struct mindc *m = p->mind;
    if (!m || state < 0) return 0;
    if (state >= m->n[i]) {
        int32_t nc = m->n[i] ? m->n[i] : 64;
        while (nc <= state) nc *= 2;
        uint16_t *a = realloc(m->d[i], (size_t)nc * sizeof *a);
        if (!a) return 0;
        for (int32_t k = m->n[i]; k < nc; k++) a[k] = MIND_UNKNOWN;
        m->d[i] = a;
        m->n[i] = nc;
    }
    if (m->d[i][state] == MIND_UNKNOWN) {
        uint16_t v = mind_bfs(p->re[i], state);
        m->d[i][state] = v == MIND_UNKNOWN ? 0 : v;
    }
    return m->d[i][state];
}

int sprog_mind_init(sprog *p) {
    p->mind = calloc(1, sizeof *p->mind);
    return p->mind ? 0 : -1;
}

uint32_t str_mind(const sprog *p, const sstate *s) {
    if (!p->mind) return 0;
    int n = p->key_mode ? p->nmust : p->nre;
    uint32_t best = 0;
    for (int i = 0; i < n; i++) {
        uint32_t d = mind_of(p, i, s->re[i]);
        if (d > best) best = d;
    }
    return best;
}

void sprog_free(sprog *p) {
    if (p->mind) {
        for (int i = 0; i < CF_MAX_STR_RE; i++) free(p->mind->d[i]);
        free(p->mind);
        p->mind = NULL;
    }
    free(p->trie.first);
    free(p->trie.nedge);
    free(p->trie.ebyte);
    free(p->trie.eto);
    free(p->trie.term);
    free(p->trie.lo);
    free(p->trie.hi);
    memset(&p->trie, 0, sizeof p->trie);
}

/* ---- packing ---- */

#define BLOB_BIT (1ull << 31)

void str_unpack(const cf_constraint *K, const sprog *p, uint64_t aux, sstate *s, uint32_t *seen) {
    s->count = (uint32_t)(aux & 0xFFFF);
    s->phase = (uint8_t)((aux >> 16) & 15);
    s->utf8 = (uint8_t)((aux >> 20) & 7);
    s->hex = (uint8_t)((aux >> 23) & 255);
    s->trie = -1;
    if (aux & BLOB_BIT) {
        uint32_t n;
        const int32_t *b = cons_blob_ptr(K, (uint32_t)(aux >> 32), &n);
        s->trie = b[0];
        for (int i = 0; i < p->nre; i++) s->re[i] = b[1 + i];
        if (seen && p->seen_words) memcpy(seen, b + 1 + p->nre, (size_t)p->seen_words * 4);
    } else if (p->nre == 1) {
        s->re[0] = (int32_t)(uint32_t)(aux >> 32);
    }
}

uint64_t str_pack(cf_constraint *K, const sprog *p, const sstate *s, const uint32_t *seen) {
    uint64_t a = (uint64_t)(s->count & 0xFFFF) | (uint64_t)s->phase << 16 | (uint64_t)s->utf8 << 20 |
                 (uint64_t)s->hex << 23;
    if (p->blob) {
        int32_t buf[1 + CF_MAX_STR_RE + 64];
        int32_t *b = buf;
        int n = 1 + p->nre + p->seen_words;
        if (n > (int)(sizeof buf / sizeof buf[0])) {
            b = malloc((size_t)n * sizeof *b);
            if (!b) return UINT64_MAX;
        }
        b[0] = s->trie;
        for (int i = 0; i < p->nre; i++) b[1 + i] = s->re[i];
        if (p->seen_words) memcpy(b + 1 + p->nre, seen, (size_t)p->seen_words * 4);
        uint32_t id = cons_blob(K, b, (uint32_t)n * 4);
        if (b != buf) free(b);
        if (id == UINT32_MAX) return UINT64_MAX;
        a |= BLOB_BIT | (uint64_t)id << 32;
    } else if (p->nre == 1) {
        a |= (uint64_t)(uint32_t)s->re[0] << 32;
    }
    return a;
}

/* ---- stepping ---- */

static int any_unseen(const sprog *p, const uint32_t *seen, int32_t node) {
    if (!seen || !p->seen_words) return 1;
    int32_t lo = p->trie.lo[node], hi = p->trie.hi[node];
    for (int32_t i = lo; i < hi; i++)
        if (!((seen[i >> 5] >> (i & 31)) & 1)) return 1;
    return 0;
}

/* Feeds one decoded byte; returns 0 if the string can no longer be accepted. */
static int feed(const sprog *p, sstate *s, const uint32_t *seen, uint8_t b) {
    if (p->has_trie && s->trie >= 0) s->trie = ltrie_next(&p->trie, s->trie, b);
    for (int i = 0; i < p->nre; i++) {
        if (s->re[i] < 0) continue;
        int32_t r = cf_regex_next(p->re[i], s->re[i], b);
        /* A DFA cap hit (-1 with cf_regex_overflowed) says nothing about the string: refuse it
         * rather than read it as "no match" (for a patternProperties key that would skip the
         * pattern's schema).  The matcher then reports the cap (cons_regex_overflow). */
        if (r < 0 && cf_regex_overflowed(p->re[i], NULL)) return 0;
        if (r >= 0 && !cf_regex_live(p->re[i], r)) r = -1;
        s->re[i] = r;
    }
    if (!p->key_mode) {
        if (p->has_trie && s->trie < 0) return 0;
        for (int i = 0; i < p->nre; i++)
            if (s->re[i] < 0) return 0;
        return 1;
    }
    for (int i = 0; i < p->nmust; i++)
        if (s->re[i] < 0) return 0;
    if (!p->closed) return 1;
    if (p->has_trie && s->trie >= 0 && any_unseen(p, seen, s->trie)) return 1;
    for (int i = p->nmust; i < p->nre; i++)
        if (s->re[i] >= 0) return 1;
    return 0;
}

/* Some byte in [lo, hi], fed next, keeps the string acceptable (escapes decode to one byte only
 * once their last hex digit is read: reject an escape no ending of which can be accepted). */
static int any_live(const sprog *p, const sstate *s, const uint32_t *seen, unsigned lo, unsigned hi) {
    if (!p->has_trie && !p->nre) return 1;
    for (unsigned b = lo; b <= hi; b++) {
        sstate t = *s;
        if (feed(p, &t, seen, (uint8_t)b)) return 1;
    }
    return 0;
}

static int can_close(const sprog *p, const sstate *s, int rel) {
    if (s->utf8 != U8_NONE) return 0;
    if (!rel && p->counted && (int64_t)s->count < p->min_len) return 0;
    if (!p->key_mode) {
        if (p->has_trie && (s->trie < 0 || p->trie.term[s->trie] < 0)) return 0;
        for (int i = 0; i < p->nre; i++)
            if (s->re[i] < 0 || !cf_regex_accepting(p->re[i], s->re[i])) return 0;
        return 1;
    }
    for (int i = 0; i < p->nmust; i++)
        if (s->re[i] < 0 || !cf_regex_accepting(p->re[i], s->re[i])) return 0;
    if (!p->closed) return 1;
    if (p->has_trie && s->trie >= 0 && p->trie.term[s->trie] >= 0) return 1;
    for (int i = p->nmust; i < p->nre; i++)
        if (s->re[i] >= 0 && cf_regex_accepting(p->re[i], s->re[i])) return 1;
    return 0;
}

static int count_char(const sprog *p, sstate *s, int rel) {
    if (!p->counted) return 1;
    if (s->count >= CF_STR_COUNT_CAP) return 0;
    s->count++;
    if (!rel && p->max_len >= 0 && (int64_t)s->count > p->max_len) return 0;
    return 1;
}

static int str_step_raw(const sprog *p, sstate *s, const uint32_t *seen, uint8_t b, int rel);

int str_step_u(const sprog *p, sstate *s, const uint32_t *seen, uint8_t b, int rel) {
    if (!str_step_raw(p, s, seen, b, rel)) return 0;
    /* with a maxLength, the regexes must still be able to match in the code points left (a string
     * never counts past CF_STR_COUNT_CAP either: the mask entries filter against the smaller one) */
    if (!rel && p->mind && p->max_len >= 0 && s->phase == SP_BODY) {
        int64_t lim = p->max_len < CF_STR_COUNT_CAP ? p->max_len : CF_STR_COUNT_CAP;
        if ((int64_t)s->count + (int64_t)str_mind(p, s) > lim) return 0;
    }
    return 1;
}

static int str_step_raw(const sprog *p, sstate *s, const uint32_t *seen, uint8_t b, int rel) {
    switch (s->phase) {
    case SP_START:
        if (b != '"') return 0;
        s->phase = SP_BODY;
        return 1;
    case SP_BODY:
        if (s->utf8 != U8_NONE) {
            uint8_t lo = 0x80, hi = 0xBF;
            if (s->utf8 == U8_E0) lo = 0xA0;
            else if (s->utf8 == U8_ED) hi = 0x9F;
            else if (s->utf8 == U8_F0) lo = 0x90;
            else if (s->utf8 == U8_F4) hi = 0x8F;
            if (b < lo || b > hi) return 0;
            switch (s->utf8) {
            case U8_C1: s->utf8 = U8_NONE; break;
            case U8_C2: case U8_E0: case U8_ED: s->utf8 = U8_C1; break;
            default: s->utf8 = U8_C2; break;   /* C3, F0, F4 */
            }
            return p->decode ? feed(p, s, seen, b) : 1;
        }
        if (b == '"') {
            if (!can_close(p, s, rel)) return 0;
            s->phase = SP_CLOSED;
            return 1;
        }
        if (b == '\\') {
            if (!count_char(p, s, rel)) return 0;
            if (p->decode && !any_live(p, s, seen, 0, 127)) return 0;
            s->phase = SP_ESC;
            return 1;
        }
        if (b < 0x20) return 0;
        if (b >= 0x80) {
            if (b < 0xC2 || b > 0xF4) return 0;
            if (b <= 0xDF) s->utf8 = U8_C1;
            else if (b == 0xE0) s->utf8 = U8_E0;
            else if (b == 0xED) s->utf8 = U8_ED;
            else if (b <= 0xEF) s->utf8 = U8_C2;
            else if (b == 0xF0) s->utf8 = U8_F0;
            else if (b == 0xF4) s->utf8 = U8_F4;
            else s->utf8 = U8_C3;
        }
        if (!count_char(p, s, rel)) return 0;
        return p->decode ? feed(p, s, seen, b) : 1;
    case SP_ESC: {
        uint8_t d;
        switch (b) {
        case '"': d = '"'; break;
        case '\\': d = '\\'; break;
        case '/': d = '/'; break;
        case 'b': d = 8; break;
        case 'f': d = 12; break;
        case 'n': d = 10; break;
        case 'r': d = 13; break;
        case 't': d = 9; break;
        case 'u':
            s->phase = SP_U1;
            s->hex = 0;
            return 1;
        default: return 0;
        }
        s->phase = SP_BODY;
        return p->decode ? feed(p, s, seen, d) : 1;
    }
    case SP_U1:
    case SP_U2:
    case SP_U3:
    case SP_U4: {
        int h = hexval(b);
        if (h < 0) return 0;
        if (p->decode) {
            if (s->phase == SP_U1 || s->phase == SP_U2) {
                if (h != 0) return 0;
                s->phase++;
                return 1;
            }
            if (s->phase == SP_U3) {
                if (h > 7) return 0;
                if (!any_live(p, s, seen, (unsigned)h << 4, ((unsigned)h << 4) + 15)) return 0;
                s->hex = (uint8_t)(h << 4);
                s->phase = SP_U4;
                return 1;
            }
            s->hex |= (uint8_t)h;
            s->phase = SP_BODY;
            uint8_t d = s->hex;
            s->hex = 0;
            return feed(p, s, seen, d);
        }
        if (s->phase == SP_U1) {
            s->hex = (h == 0xD) ? 1 : 0;
            s->phase = SP_U2;
            return 1;
        }
        if (s->phase == SP_U2) {
            if (s->hex == 1) {
                if (h >= 0xC) return 0;          /* lone low surrogate */
                s->hex = h >= 0x8 ? 2 : 0;       /* high surrogate: a low one must follow */
            }
            s->phase = SP_U3;
            return 1;
        }
        if (s->phase == SP_U3) {
            s->phase = SP_U4;
            return 1;
        }
        s->phase = s->hex == 2 ? SP_LBS : SP_BODY;
        s->hex = 0;
        return 1;
    }
    case SP_LBS:
        if (b != '\\') return 0;
        s->phase = SP_LU;
        return 1;
    case SP_LU:
        if (b != 'u') return 0;
        s->phase = SP_L1;
        return 1;
    case SP_L1:
        if (b != 'd' && b != 'D') return 0;
        s->phase = SP_L2;
        return 1;
    case SP_L2: {
        int h = hexval(b);
        if (h < 0xC) return 0;
        s->phase = SP_L3;
        return 1;
    }
    case SP_L3:
        if (hexval(b) < 0) return 0;
        s->phase = SP_L4;
        return 1;
    case SP_L4:
        if (hexval(b) < 0) return 0;
        s->phase = SP_BODY;
        return 1;
    default: return 0;
    }
}

int str_final(const sprog *p, const sstate *s, uint64_t *result) {
    if (s->phase != SP_CLOSED) return 0;
    uint64_t r = 0;
    if (p->key_mode) {
        int32_t prop = (p->has_trie && s->trie >= 0) ? p->trie.term[s->trie] : -1;
        uint64_t bits = 0;
        for (int i = p->nmust; i < p->nre; i++)
            if (s->re[i] >= 0 && cf_regex_accepting(p->re[i], s->re[i])) bits |= 1ull << (i - p->nmust);
        r = (uint64_t)(uint32_t)(prop + 1) | bits << 32;
    }
    if (result) *result = r;
    return 1;
}

static void hexfb(uint32_t *fb) {
    fb_range(fb, '0', '9');
    fb_range(fb, 'a', 'f');
    fb_range(fb, 'A', 'F');
}

void str_first(const sprog *p, const sstate *s, uint32_t fb[8]) {
    memset(fb, 0, 32);
    switch (s->phase) {
    case SP_START: fb_set(fb, '"'); break;
    case SP_BODY:
        if (s->utf8 != U8_NONE) {
            fb_range(fb, 0x80, 0xBF);
            break;
        }
        fb_range(fb, 0x20, 0x7F);
        fb_range(fb, 0xC2, 0xF4);
        break;
    case SP_ESC: {
        const char *e = "\"\\/bfnrtu";
        for (; *e; e++) fb_set(fb, (uint8_t)*e);
        break;
    }
    case SP_U1:
    case SP_U2:
        if (p->decode) fb_set(fb, '0');
        else hexfb(fb);
        break;
    case SP_U3:
        if (p->decode) fb_range(fb, '0', '7');
        else hexfb(fb);
        break;
    case SP_U4:
    case SP_L3:
    case SP_L4: hexfb(fb); break;
    case SP_LBS: fb_set(fb, '\\'); break;
    case SP_LU: fb_set(fb, 'u'); break;
    case SP_L1:
        fb_set(fb, 'd');
        fb_set(fb, 'D');
        break;
    case SP_L2:
        fb_range(fb, 'c', 'f');
        fb_range(fb, 'C', 'F');
        break;
    default: break;
    }
}

int str_rebase(cf_constraint *K, const sprog *p, uint64_t rel_aux, uint32_t count0, uint64_t *abs_aux) {
    (void)K;
    if (!p->counted) {
        *abs_aux = rel_aux & ~0xFFFFull;
        return 1;
    }
    uint32_t c = count0 + (uint32_t)(rel_aux & 0xFFFF);
    if (c > CF_STR_COUNT_CAP) return 0;
    if (p->max_len >= 0 && (int64_t)c > p->max_len) return 0;
    if ((int)((rel_aux >> 16) & 15) == SP_CLOSED && (int64_t)c < p->min_len) return 0;
    *abs_aux = (rel_aux & ~0xFFFFull) | c;
    return 1;
}
