/* Object and array frames.
 *
 * Object: `{` [key `:` value (`,` key `:` value)*] `}` with bounded whitespace.  Keys are string
 * frames (key mode) pushed as children; their result says which property (or patterns) the key
 * is.  Properties may come in any order; duplicates are refused; `}` only once every required
 * property (and dependentRequired) is present and minProperties is met; `,` only while another
 * member may still be added (maxProperties, remaining names / patterns / additionalProperties).
 * State: a blob {phase, ws, key, patterns, count, seen bitset} when the object has named or
 * pattern properties, else inline (phase 4 bits | ws 8 | count 32).
 *
 * Array: `[` [item (`,` item)*] `]`; item i uses prefixItems[i] or items; contains is counted
 * through the CONTAINS combo's result.  State inline: phase 4 | ws 8 | count 24 | contains 16. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/cons_int.h"

enum { O_START = 0, O_OPEN, O_KEYWAIT, O_AFTER_KEY, O_AFTER_COLON, O_VALWAIT, O_AFTER_VALUE, O_EXPECT_KEY, O_CLOSED };

typedef struct {
    uint8_t phase, ws;
    uint16_t pad;
    int32_t prop;
    uint32_t pats;
    uint32_t count;
    uint32_t seen[];
} ohead;

#define OMAXW 512   /* seen words handled on the stack: 16384 properties */

typedef struct {
    uint8_t phase, ws;
    int32_t prop;
    uint32_t pats;
    uint32_t count;
    uint32_t seen[OMAXW];
} ostate;

static const oprog *OP(const cf_constraint *K, uint32_t node) { return &K->op[K->vn[node].spec]; }

static void ounpack(const cf_constraint *K, const oprog *p, uint64_t aux, ostate *s) {
    if (!p->blob) {
        s->phase = aux & 15;
        s->ws = (aux >> 4) & 255;
        s->count = (uint32_t)(aux >> 12);
        s->prop = -1;
        s->pats = 0;
        return;
    }
    uint32_t n;
    const ohead *h = cons_blob_ptr(K, (uint32_t)aux, &n);
    s->phase = h->phase;
    s->ws = h->ws;
    s->prop = h->prop;
    s->pats = h->pats;
    s->count = h->count;
    memcpy(s->seen, h->seen, (size_t)p->words * 4);
}

static int opack(cf_constraint *K, const oprog *p, const ostate *s, uint64_t *aux) {
    if (!p->blob) {
        *aux = (uint64_t)s->phase | (uint64_t)s->ws << 4 | (uint64_t)s->count << 12;
        return 1;
    }
    uint32_t n = (uint32_t)(sizeof(ohead) + (size_t)p->words * 4);
    uint8_t buf[sizeof(ohead) + 64 * 4];
    uint8_t *b = n <= sizeof buf ? buf : malloc(n);
    if (!b) return 0;
    ohead *h = (ohead *)b;
    memset(h, 0, sizeof *h);
    h->phase = s->phase;
    h->ws = s->ws;
    h->prop = s->prop;
    h->pats = s->pats;
    h->count = s->count;
    memcpy(h->seen, s->seen, (size_t)p->words * 4);
    uint32_t id = cons_blob(K, b, n);
    if (b != buf) free(b);
    if (id == UINT32_MAX) return 0;
    *aux = id;
    return 1;
}

uint64_t obj_init_aux(cf_constraint *K, const oprog *p) {
    ostate s;
    memset(&s, 0, offsetof(ostate, seen) + (size_t)p->words * 4);
    s.phase = O_START;
    s.prop = -1;
    uint64_t a;
    return opack(K, p, &s, &a) ? a : UINT64_MAX;
}

static int seen_has(const ostate *s, int i) { return (s->seen[i >> 5] >> (i & 31)) & 1; }

static int any_unseen_prop(const oprog *p, const ostate *s) {
    for (int w = 0; w < p->words; w++) {
        uint32_t all = (w == p->words - 1 && (p->nprop & 31)) ? ((1u << (p->nprop & 31)) - 1) : 0xFFFFFFFFu;
        if ((s->seen[w] & all) != all) return 1;
    }
    return 0;
}

static int missing_required(const oprog *p, const ostate *s) {
    int m = 0;
    for (int w = 0; w < p->words; w++) m += __builtin_popcount(p->required[w] & ~s->seen[w]);
    return m;
}

static int can_add(const cf_constraint *K, const oprog *p, const ostate *s) {
    (void)K;
    if (p->max_props >= 0 && (int64_t)s->count >= p->max_props) return 0;
    return p->add_tl >= 0 || p->npat > 0 || (p->nprop > 0 && any_unseen_prop(p, s));
}

static int closable(const oprog *p, const ostate *s) {
    if ((int64_t)s->count < p->min_props) return 0;
    if (p->nreq && missing_required(p, s)) return 0;
    if (p->dep)
        for (int i = 0; i < p->nprop; i++)
            if (p->dep[i] && seen_has(s, i))
                for (int k = 1; k <= p->dep[i][0]; k++)
                    if (!seen_has(s, p->dep[i][k])) return 0;
    return 1;
}

int obj_step(cf_constraint *K, uint32_t node, uint64_t *aux, uint8_t b) {
    const oprog *p = OP(K, node);
    ostate s;
    ounpack(K, p, *aux, &s);
    if (is_ws(b)) {
        if (s.phase != O_OPEN && s.phase != O_AFTER_KEY && s.phase != O_AFTER_COLON && s.phase != O_AFTER_VALUE &&
            s.phase != O_EXPECT_KEY)
            return 0;
        if (s.ws >= K->max_ws) return 0;
        s.ws++;
        return opack(K, p, &s, aux);
    }
    switch (s.phase) {
    case O_START:
        if (b != '{') return 0;
        s.phase = O_OPEN;
        break;
    case O_OPEN:
    case O_AFTER_VALUE:
        if (b == '}' && closable(p, &s)) {
            s.phase = O_CLOSED;
            break;
        }
        if (b == ',' && s.phase == O_AFTER_VALUE && can_add(K, p, &s)) {
            s.phase = O_EXPECT_KEY;
            break;
        }
        return 0;
    case O_AFTER_KEY:
        if (b != ':') return 0;
        s.phase = O_AFTER_COLON;
        break;
    default: return 0;
    }
    s.ws = 0;
    return opack(K, p, &s, aux);
}

int obj_final(cf_constraint *K, uint32_t node, uint64_t aux) {
    const oprog *p = OP(K, node);
    if (!p->blob) return (aux & 15) == O_CLOSED;
    uint32_t n;
    const ohead *h = cons_blob_ptr(K, (uint32_t)aux, &n);
    return h->phase == O_CLOSED;
}

int obj_phase_local(cf_constraint *K, uint32_t node, uint64_t aux) {
    const oprog *p = OP(K, node);
    int ph;
    if (!p->blob) ph = aux & 15;
    else {
        uint32_t n;
        ph = ((const ohead *)cons_blob_ptr(K, (uint32_t)aux, &n))->phase;
    }
    return ph != O_CLOSED && ph != O_KEYWAIT && ph != O_VALWAIT;
}

int obj_has_calls(cf_constraint *K, uint32_t node, uint64_t aux) {
    const oprog *p = OP(K, node);
    ostate s;
    ounpack(K, p, aux, &s);
    if (s.phase == O_AFTER_COLON) return 1;
    if (s.phase == O_OPEN || s.phase == O_EXPECT_KEY) return can_add(K, p, &s);
    return 0;
}

void obj_first(cf_constraint *K, uint32_t node, uint64_t aux, uint32_t fb[8]) {
    const oprog *p = OP(K, node);
    ostate s;
    ounpack(K, p, aux, &s);
    memset(fb, 0, 32);
    int ws = 0;
    switch (s.phase) {
    case O_START: fb_set(fb, '{'); break;
    case O_OPEN:
        ws = 1;
        if (closable(p, &s)) fb_set(fb, '}');
        break;
    case O_AFTER_VALUE:
        ws = 1;
        if (closable(p, &s)) fb_set(fb, '}');
        if (can_add(K, p, &s)) fb_set(fb, ',');
        break;
    case O_AFTER_KEY:
        ws = 1;
        fb_set(fb, ':');
        break;
    case O_AFTER_COLON:
    case O_EXPECT_KEY: ws = 1; break;
    default: break;
    }
    if (ws && s.ws < K->max_ws) {
        fb_set(fb, ' ');
        fb_set(fb, '\t');
        fb_set(fb, '\n');
        fb_set(fb, '\r');
    }
}

/* Target list for the value of the current key (several schemas apply: an ALL combo). */
static int32_t value_tl(cf_constraint *K, uint32_t node, const ostate *s) {
    oprog *p = &K->op[K->vn[node].spec];
    int32_t one = -1;
    int n = 0;
    if (s->prop >= 0) {
        one = p->prop_tl[s->prop];
        n++;
    }
    for (int j = 0; j < p->npat; j++)
        if ((s->pats >> j) & 1) {
            one = p->pat_tl[j];
            n++;
        }
    if (n == 0) return p->add_tl;
    if (n == 1) return one;
    for (int i = 0; i < p->nmulti; i++)
        if (p->multi[i].prop == s->prop && p->multi[i].pats == s->pats) return p->multi[i].tl;
    int32_t br[CF_MAX_COMBO];
    int nb = 0;
    if (s->prop >= 0) br[nb++] = p->prop_tl[s->prop];
    for (int j = 0; j < p->npat && nb < CF_MAX_COMBO; j++)
        if ((s->pats >> j) & 1) br[nb++] = p->pat_tl[j];
    int32_t tl = cons_combo_tl(K, CF_COMBO_ALL, br, nb);
    if (tl < 0) return -1;
    p = &K->op[K->vn[node].spec];   /* cons_combo_tl may grow tables, not op[]: re-read anyway */
    if (p->nmulti == p->capmulti) {
        int nc = p->capmulti ? p->capmulti * 2 : 8;
        void *np = realloc(p->multi, (size_t)nc * sizeof *p->multi);
        if (!np) return -1;
        p->multi = np;
        p->capmulti = nc;
    }
    p->multi[p->nmulti].prop = s->prop;
    p->multi[p->nmulti].pats = s->pats;
    p->multi[p->nmulti].tl = tl;
    p->nmulti++;
    return tl;
}

int obj_calls(cf_constraint *K, uint32_t node, uint64_t aux, int32_t *tl, uint64_t *ret_aux, uint64_t *init_aux) {
    const oprog *p = OP(K, node);
    ostate s;
    ounpack(K, p, aux, &s);
    *init_aux = UINT64_MAX;   /* default init of the target */
    if (s.phase == O_OPEN || s.phase == O_EXPECT_KEY) {
        if (!can_add(K, p, &s)) return 0;
        const sprog *kp = &K->sp[K->vn[p->key_vn].spec];
        if (kp->seen_words) {
            sstate ks;
            memset(&ks, 0, sizeof ks);
            str_unpack(K, kp, kp->init_aux, &ks, NULL);
            uint64_t a = str_pack(K, kp, &ks, s.seen);
            if (a == UINT64_MAX) return 0;
            *init_aux = a;
        }
        tl[0] = -2 - (int32_t)p->key_vn;   /* a single vnode, encoded */
        s.phase = O_KEYWAIT;
        s.ws = 0;
        return opack(K, p, &s, ret_aux) ? 1 : 0;
    }
    if (s.phase == O_AFTER_COLON) {
        int32_t t = value_tl(K, node, &s);
        if (t < 0) return 0;
        tl[0] = t;
        s.phase = O_VALWAIT;
        s.ws = 0;
        p = OP(K, node);
        return opack(K, p, &s, ret_aux) ? 1 : 0;
    }
    return 0;
}

int obj_resume(cf_constraint *K, uint32_t node, uint64_t *aux, uint64_t result) {
    const oprog *p = OP(K, node);
    ostate s;
    ounpack(K, p, *aux, &s);
    if (s.phase == O_KEYWAIT) {
        int32_t prop = (int32_t)(uint32_t)(result & 0xFFFFFFFFu) - 1;
        uint32_t pats = (uint32_t)(result >> 32);
        if (prop >= p->nprop) return 0;
        if (prop >= 0 && seen_has(&s, prop)) return 0;   /* duplicate key */
        if (prop < 0 && !pats && p->add_tl < 0) return 0;
        if (p->max_props >= 0) {
            if ((int64_t)s.count + 1 > p->max_props) return 0;
            int missing = p->nreq ? missing_required(p, &s) : 0;
            if (prop >= 0 && ((p->required[prop >> 5] >> (prop & 31)) & 1)) missing--;
            if ((int64_t)s.count + 1 + missing > p->max_props) return 0;
        }
        s.prop = prop;
        s.pats = pats;
        s.phase = O_AFTER_KEY;
        s.ws = 0;
        return opack(K, p, &s, aux);
    }
    if (s.phase == O_VALWAIT) {
        if (s.prop >= 0) s.seen[s.prop >> 5] |= 1u << (s.prop & 31);
        if (s.count < 0x7FFFFFFF) s.count++;
        s.prop = -1;
        s.pats = 0;
        s.phase = O_AFTER_VALUE;
        s.ws = 0;
        return opack(K, p, &s, aux);
    }
    return 0;
}

/* ---- arrays ---- */

enum { A_START = 0, A_OPEN, A_ITEMWAIT, A_AFTER_ITEM, A_EXPECT_ITEM, A_CLOSED };

#define A_PH(a) ((int)((a) & 15))
#define A_WS(a) ((int)(((a) >> 4) & 255))
#define A_CNT(a) ((int64_t)(((a) >> 12) & 0xFFFFFF))
#define A_CON(a) ((int64_t)(((a) >> 36) & 0xFFFF))
static uint64_t apack(int ph, int ws, int64_t cnt, int64_t con) {
    return (uint64_t)ph | (uint64_t)ws << 4 | (uint64_t)cnt << 12 | (uint64_t)con << 36;
}

static const aprog *AP(const cf_constraint *K, uint32_t node) { return &K->ap[K->vn[node].spec]; }

static int32_t item_tl(const aprog *p, int64_t i) { return i < p->nprefix ? p->prefix_tl[i] : p->items_tl; }

static int arr_can_add(const aprog *p, uint64_t a) {
    int64_t c = A_CNT(a);
    if (c >= 0xFFFFFF) return 0;
    if (p->max_items >= 0 && c >= p->max_items) return 0;
    return item_tl(p, c) >= 0;
}

static int arr_closable(const aprog *p, uint64_t a) {
    if (A_CNT(a) < p->min_items) return 0;
    if (p->has_contains && A_CON(a) < p->min_contains) return 0;
    return 1;
}

int arr_step(cf_constraint *K, uint32_t node, uint64_t *aux, uint8_t b) {
    const aprog *p = AP(K, node);
    uint64_t a = *aux;
    int ph = A_PH(a);
    if (is_ws(b)) {
        if (ph != A_OPEN && ph != A_AFTER_ITEM && ph != A_EXPECT_ITEM) return 0;
        if (A_WS(a) >= K->max_ws) return 0;
        *aux = apack(ph, A_WS(a) + 1, A_CNT(a), A_CON(a));
        return 1;
    }
    switch (ph) {
    case A_START:
        if (b != '[') return 0;
        *aux = apack(A_OPEN, 0, 0, 0);
        return 1;
    case A_OPEN:
    case A_AFTER_ITEM:
        if (b == ']' && arr_closable(p, a)) {
            *aux = apack(A_CLOSED, 0, A_CNT(a), A_CON(a));
            return 1;
        }
        if (b == ',' && ph == A_AFTER_ITEM && arr_can_add(p, a)) {
            *aux = apack(A_EXPECT_ITEM, 0, A_CNT(a), A_CON(a));
            return 1;
        }
        return 0;
    default: return 0;
    }
}

int arr_final(cf_constraint *K, uint32_t node, uint64_t aux) {
    (void)K;
    (void)node;
    return A_PH(aux) == A_CLOSED;
}

int arr_phase_local(cf_constraint *K, uint32_t node, uint64_t aux) {
    (void)K;
    (void)node;
    int ph = A_PH(aux);
    return ph != A_CLOSED && ph != A_ITEMWAIT;
}

int arr_has_calls(cf_constraint *K, uint32_t node, uint64_t aux) {
    int ph = A_PH(aux);
    return (ph == A_OPEN || ph == A_EXPECT_ITEM) && arr_can_add(AP(K, node), aux);
}

void arr_first(cf_constraint *K, uint32_t node, uint64_t aux, uint32_t fb[8]) {
    const aprog *p = AP(K, node);
    memset(fb, 0, 32);
    int ph = A_PH(aux), ws = 0;
    switch (ph) {
    case A_START: fb_set(fb, '['); break;
    case A_OPEN:
    case A_AFTER_ITEM:
        ws = 1;
        if (arr_closable(p, aux)) fb_set(fb, ']');
        if (ph == A_AFTER_ITEM && arr_can_add(p, aux)) fb_set(fb, ',');
        break;
    case A_EXPECT_ITEM: ws = 1; break;
    default: break;
    }
    if (ws && A_WS(aux) < K->max_ws) {
        fb_set(fb, ' ');
        fb_set(fb, '\t');
        fb_set(fb, '\n');
        fb_set(fb, '\r');
    }
}

int arr_calls(cf_constraint *K, uint32_t node, uint64_t aux, int32_t *tl, uint64_t *ret_aux) {
    const aprog *p = AP(K, node);
    int ph = A_PH(aux);
    if ((ph != A_OPEN && ph != A_EXPECT_ITEM) || !arr_can_add(p, aux)) return 0;
    tl[0] = item_tl(p, A_CNT(aux));
    *ret_aux = apack(A_ITEMWAIT, 0, A_CNT(aux), A_CON(aux));
    return 1;
}

int arr_resume(cf_constraint *K, uint32_t node, uint64_t *aux, uint64_t result) {
    const aprog *p = AP(K, node);
    uint64_t a = *aux;
    if (A_PH(a) != A_ITEMWAIT) return 0;
    int64_t con = A_CON(a);
    if (p->has_contains && (result & 1)) {
        if (con < 0xFFFF) con++;
        if (p->max_contains >= 0 && con > p->max_contains) return 0;
    }
    *aux = apack(A_AFTER_ITEM, 0, A_CNT(a) + 1, con);
    return 1;
}
