/* Backtracking matcher over the regex AST, for patterns the automaton cannot express
 * (lookahead, lookbehind, backreferences).  Used for matching only (the validator); it works on
 * code points, explores every path (so greedy/lazy order does not matter for the answer), and is
 * bounded: CF_RE_BT_MAX_STEPS steps and CF_RE_BT_MAX_DEPTH nested calls per match, else -1.
 *
 * The continuation is an immutable list of work items (cells in a growable array, addressed by
 * index), so a choice point costs nothing to save: each alternative gets its own pushed cells,
 * and everything pushed in a call is released when it returns. */
#include <stdlib.h>
#include <string.h>

#include "sampler/re_internal.h"

enum {
    K_NODE = 0,   /* AST node (aux: repetition count) */
    K_PROGRESS,   /* fail unless pos moved past aux (empty-iteration guard) */
    K_CAPEND,     /* set the end of group aux */
    K_ACCEPT,     /* success */
    K_ENDAT,      /* success iff pos == aux */
};

typedef struct {
    int32_t kind, node, aux, next;
} cell;

typedef struct {
    const re_ast *a;
    const uint32_t *cp;
    int n;
    long steps;
    int depth;
    int over;
    cell *c;
    size_t nc, capc;
    int *caps;   /* 2 per group: start, end (-1 unset) */
} bt;

static int32_t push(bt *b, int32_t kind, int32_t node, int32_t aux, int32_t next) {
    if (b->nc == b->capc) {
        size_t nc = b->capc ? b->capc * 2 : 256;
        cell *n = realloc(b->c, nc * sizeof *n);
        if (!n) {
            b->over = 1;
            return -1;
        }
        b->c = n;
        b->capc = nc;
    }
    b->c[b->nc] = (cell){kind, node, aux, next};
    return (int32_t)b->nc++;
}

static int in_set(const re_set *s, uint32_t c) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (c < s->r[m].lo) hi = m;
        else if (c > s->r[m].hi) lo = m + 1;
        else return 1;
    }
    return 0;
}

static int wordc(uint32_t c) { return c < 128 && ((c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c == '_'); }

static int run(bt *b, int32_t k, int pos);

/* Runs with the continuation k, releasing cells pushed meanwhile. */
static int run_release(bt *b, int32_t k, int pos) {
    size_t mark = b->nc;
    int r = run(b, k, pos);
    b->nc = mark;
    return r;
}

static int run(bt *b, int32_t k, int pos) {
    if (++b->steps > CF_RE_BT_MAX_STEPS || b->depth >= CF_RE_BT_MAX_DEPTH || b->over) {
        b->over = 1;
        return 0;
    }
    b->depth++;
    int r = 0;
    for (;;) {   /* loop over deterministic items; recurse only at choice points */
        if (k < 0) {
            r = 0;   /* out of memory (push failed) */
            break;
        }
        cell it = b->c[k];
        if (it.kind == K_ACCEPT) {
            r = 1;
            break;
        }
        if (it.kind == K_ENDAT) {
            r = pos == it.aux;
            break;
        }
        if (it.kind == K_PROGRESS) {
            if (pos == it.aux) break;
            k = it.next;
            continue;
        }
        if (it.kind == K_CAPEND) {
            int old = b->caps[2 * it.aux + 1];
            b->caps[2 * it.aux + 1] = pos;
            r = run_release(b, it.next, pos);
            b->caps[2 * it.aux + 1] = old;
            break;
        }
        const re_node *nd = &b->a->nodes[it.node];
        switch (nd->kind) {
        case RN_EMPTY: k = it.next; continue;
        case RN_SET:
            if (pos < b->n && in_set(&b->a->sets[nd->set], b->cp[pos])) {
                pos++;
                k = it.next;
                continue;
            }
            goto done;
        case RN_BEGIN:
            if (pos != 0) goto done;
            k = it.next;
            continue;
        case RN_END:
            if (pos != b->n) goto done;
            k = it.next;
            continue;
        case RN_WORDB:
        case RN_NWORDB: {
            int x = pos > 0 && wordc(b->cp[pos - 1]), y = pos < b->n && wordc(b->cp[pos]);
            if ((x != y) != (nd->kind == RN_WORDB)) goto done;
            k = it.next;
            continue;
        }
        case RN_CAT: {   /* children as consecutive cells, the last one linking to the rest */
            int32_t first = -1, prev = -1;
            for (int32_t c = nd->child; c >= 0; c = b->a->nodes[c].next) {
                int32_t cur = push(b, K_NODE, c, 0, it.next);
                if (cur < 0) break;
                if (prev >= 0) b->c[prev].next = cur;
                else first = cur;
                prev = cur;
            }
            k = first;
            continue;
        }
        case RN_ALT:
            for (int32_t c = nd->child; c >= 0 && !r && !b->over; c = b->a->nodes[c].next)
                r = run_release(b, push(b, K_NODE, c, 0, it.next), pos);
            goto done;
        case RN_GROUP: {
            int g = nd->set, olds = b->caps[2 * g], olde = b->caps[2 * g + 1];
            b->caps[2 * g] = pos;
            b->caps[2 * g + 1] = -1;
            r = run_release(b, push(b, K_NODE, nd->child, 0, push(b, K_CAPEND, 0, g, it.next)), pos);
            b->caps[2 * g] = olds;
            b->caps[2 * g + 1] = olde;
            goto done;
        }
        case RN_REP:
            if (it.aux < nd->min) {
                k = push(b, K_NODE, nd->child, 0, push(b, K_NODE, it.node, it.aux + 1, it.next));
                continue;
            }
            if (nd->max < 0 || it.aux < nd->max) {
                int32_t again = push(b, K_NODE, it.node, it.aux + 1, it.next);
                r = run_release(b, push(b, K_NODE, nd->child, 0, push(b, K_PROGRESS, 0, pos, again)), pos);
                if (r || b->over) goto done;
            }
            k = it.next;
            continue;
        case RN_LOOK: {
            int ok = 0;
            if (!nd->min) {
                ok = run_release(b, push(b, K_NODE, nd->child, 0, push(b, K_ACCEPT, 0, 0, -1)), pos);
            } else {
                for (int q = pos; q >= 0 && !ok && !b->over; q--)
                    ok = run_release(b, push(b, K_NODE, nd->child, 0, push(b, K_ENDAT, 0, pos, -1)), q);
            }
            if (b->over || ok == nd->max) goto done;   /* positive needs ok, negative needs !ok */
            k = it.next;
            continue;
        }
        case RN_BACKREF: {
            int g = nd->set, s0 = b->caps[2 * g], e0 = b->caps[2 * g + 1];
            if (s0 >= 0 && e0 >= s0) {
                int len = e0 - s0;
                if (pos + len > b->n || memcmp(b->cp + s0, b->cp + pos, (size_t)len * sizeof *b->cp)) goto done;
                pos += len;
            }
            k = it.next;
            continue;
        }
        }
        break;
    }
done:
    b->depth--;
    return r;
}

/* Decodes strict UTF-8; -1 if invalid. */
static int decode(const unsigned char *s, size_t n, uint32_t *out) {
    int k = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len;
        uint32_t v, min;
        if (c < 0x80) len = 1, v = c, min = 0;
        else if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
        else return -1;
        if (i + len > n) return -1;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return -1;
            v = (v << 6) | (s[i + j] & 0x3F);
        }
        if (v < min || v > RE_MAX_CP || (v >= 0xD800 && v <= 0xDFFF)) return -1;
        out[k++] = v;
        i += len;
    }
    return k;
}

int re_bt_match(const re_ast *a, int full, const char *s, size_t n) {
    if (n > (size_t)CF_RE_BT_MAX_STEPS) return -1;
    uint32_t *cp = malloc((n + 1) * sizeof *cp);
    int *caps = malloc((size_t)(2 * a->ngroups + 2) * sizeof *caps);
    if (!cp || !caps) {
        free(cp);
        free(caps);
        return -1;
    }
    int len = decode((const unsigned char *)s, n, cp);
    int r = 0;
    bt b = {.a = a, .cp = cp, .n = len, .caps = caps};
    for (int start = 0; len >= 0 && start <= (full ? 0 : len) && !r && !b.over; start++) {
        for (int g = 0; g < 2 * a->ngroups + 2; g++) caps[g] = -1;
        b.nc = 0;
        int32_t end = push(&b, full ? K_ENDAT : K_ACCEPT, 0, full ? len : 0, -1);
        r = run(&b, push(&b, K_NODE, a->root, 0, end), start);
    }
    free(b.c);
    free(cp);
    free(caps);
    return b.over && !r ? -1 : r;
}
