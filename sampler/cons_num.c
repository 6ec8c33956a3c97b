/* Number frames: the JSON number grammar, and when bounds / multipleOf / a value set / integer-ness
 * apply, exact decimal tracking of the value so far (scaled by 1e12 in an int128).
 *
 * Exact mode limits: integer part < 1e24, at most 12 fraction digits (after applying an
 * exponent); numbers beyond them are rejected (never wrongly accepted).  A prefix is kept only if
 * some completion (without exponent) can still satisfy the constraints: the set of values a
 * prefix can reach is a union of intervals ("12" -> [12,13) u [120,130) u ...), checked against
 * the allowed set.  Exponents are allowed after a live mantissa and checked exactly at the end.
 *
 * Generic state (aux): phase (4 bits) | length << 4.  Exact state: a blob holding `nex`. */
#include <stdlib.h>
#include <string.h>

#include "sampler/cons_int.h"

enum { N_START = 0, N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };

typedef __int128 i128;
#define SCALE ((i128)1000000000000LL)       /* 1e12 */
#define CAP (SCALE * SCALE * SCALE)          /* 1e36: |scaled value| must stay below */
#define INF128 ((i128)1 << 125)

typedef struct {
    uint8_t phase, neg, len, expneg;
    int16_t nint, nfrac;
    int32_t exp;
    i128 x;                                  /* |mantissa| scaled by 1e12 */
} nex;

static i128 pow10i(int k) {
    i128 r = 1;
    while (k-- > 0) r *= 10;
    return r;
}

int num_parse_scaled(const char *s, int dir, i128 *out, int *inf) {
    *inf = 0;
    *out = 0;
    int neg = 0;
    if (*s == '-') {
        neg = 1;
        s++;
    } else if (*s == '+') s++;
    i128 d = 0;
    int ndig = 0, sticky = 0;
    long e = 0;
    int any = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        any = 1;
        if (ndig == 0 && *s == '0') continue;
        if (ndig < 36) {
            d = d * 10 + (*s - '0');
            ndig++;
        } else {
            e++;
            if (*s != '0') sticky = 1;
        }
    }
    if (*s == '.') {
        s++;
        for (; *s >= '0' && *s <= '9'; s++) {
            any = 1;
            if (ndig == 0 && *s == '0') {
                e--;
                continue;
            }
            if (ndig < 36) {
                d = d * 10 + (*s - '0');
                ndig++;
                e--;
            } else if (*s != '0') sticky = 1;
        }
    }
    if (!any) return -1;
    if (*s == 'e' || *s == 'E') {
        s++;
        int en = 0;
        if (*s == '-') {
            en = 1;
            s++;
        } else if (*s == '+') s++;
        long ev = 0;
        if (!(*s >= '0' && *s <= '9')) return -1;
        for (; *s >= '0' && *s <= '9'; s++)
            if (ev < 100000) ev = ev * 10 + (*s - '0');
        e += en ? -ev : ev;
    }
    if (*s) return -1;
    if (d == 0) {
        *out = 0;
        return sticky && dir == 0 ? -1 : 0;
    }
    /* value = d * 10^e; scaled = d * 10^(e + 12) */
    long sh = e + 12;
    int sgn = neg ? -1 : 1;
    if (sh >= 0) {
        if (sh > 40 || (ndig + sh) > 37) {
            *inf = sgn;
            return 0;
        }
        i128 v = d * pow10i((int)sh);
        if (v >= CAP) {
            *inf = sgn;
            return 0;
        }
        if (sticky && dir == 0) return -1;
        /* sticky digits below the kept ones: value is slightly larger in magnitude */
        if (sticky) {
            if ((dir > 0) != neg) v += 1;   /* round away from zero toward dir */
        }
        *out = neg ? -v : v;
        return 0;
    }
    long dv = -sh;
    i128 q, r;
    if (dv > 38) {
        q = 0;
        r = 1;
    } else {
        i128 p = pow10i((int)dv);
        q = d / p;
        r = d % p;
    }
    if (r || sticky) {
        if (dir == 0) return -1;
        /* magnitude lies strictly between q and q + 1 */
        if ((dir > 0) != neg) q += 1;
    }
    *out = neg ? -q : q;
    return 0;
}

int num_prog_init(nprog *p, const cf_nat_number *n, cf_err *err) {
    memset(p, 0, sizeof *p);
    p->int_only = n->int_only;
    p->no_frac = n->int_only && n->no_frac;
    int inf;
    i128 v;
    if (n->lo) {
        int dir = 1;
        if (num_parse_scaled(n->lo, 0, &v, &inf) == 0) {
            if (!inf && n->lo_excl) v += 1;
        } else if (num_parse_scaled(n->lo, dir, &v, &inf)) {
            return cf_errf(err, CF_EINVAL, "bad number bound '%s'", n->lo);
        }
        if (inf < 0) p->has_lo = 0;
        else if (inf > 0) {
            p->has_lo = 1;
            p->lo = INF128;
        } else {
            p->has_lo = 1;
            p->lo = v;
        }
    }
    if (n->hi) {
        if (num_parse_scaled(n->hi, 0, &v, &inf) == 0) {
            if (!inf && n->hi_excl) v -= 1;
        } else if (num_parse_scaled(n->hi, -1, &v, &inf)) {
            return cf_errf(err, CF_EINVAL, "bad number bound '%s'", n->hi);
        }
        if (inf > 0) p->has_hi = 0;
        else if (inf < 0) {
            p->has_hi = 1;
            p->hi = -INF128;
        } else {
            p->has_hi = 1;
            p->hi = v;
        }
    }
    for (int i = 0; i < n->nmult; i++) {
        if (num_parse_scaled(n->mults[i], 0, &v, &inf) || inf || v <= 0)
            return cf_errf(err, CF_EUNSUPPORTED, "multipleOf %s: needs a positive value with at most 12 decimals",
                           n->mults[i]);
        /* several: the least common multiple */
        if (!p->mult) p->mult = v;
        else {
            i128 a = p->mult, b = v;
            while (b) {
                i128 t = a % b;
                a = b;
                b = t;
            }
            i128 l = p->mult / a;
            if (l > CAP / v) return cf_errf(err, CF_ELIMIT, "multipleOf values: common multiple too large");
            p->mult = l * v;
        }
    }
    if (n->has_vals) {
        p->has_vals = 1;
        p->vals = malloc(((size_t)n->nval + 1) * sizeof *p->vals);
        if (!p->vals) return cf_errf(err, CF_ENOMEM, "out of memory");
        for (int i = 0; i < n->nval; i++)
            if (num_parse_scaled(n->vals[i], 0, &v, &inf) == 0 && !inf) p->vals[p->nval++] = v;
        /* sort (insertion: value sets are small) and dedup */
        for (int i = 1; i < p->nval; i++) {
            i128 x = p->vals[i];
            int j = i - 1;
            while (j >= 0 && p->vals[j] > x) {
                p->vals[j + 1] = p->vals[j];
                j--;
            }
            p->vals[j + 1] = x;
        }
        int k = 0;
        for (int i = 0; i < p->nval; i++)
            if (!k || p->vals[k - 1] != p->vals[i]) p->vals[k++] = p->vals[i];
        p->nval = k;
    }
    /* integers are tracked too: 1.0 and 1e1 are integers, 1.5 is not.  A bound beyond the exact
     * range (|bound| >= 1e24, e.g. maximum 1e30) leaves has_lo/has_hi clear but still needs exact
     * mode: it limits numbers to the exact range, so 1e31 is refused rather than accepted unchecked. */
    p->exact = p->has_lo || p->has_hi || n->lo || n->hi || p->mult || p->has_vals || (p->int_only && !p->no_frac);
    return 0;
}

void num_prog_free(nprog *p) {
    free(p->vals);
    p->vals = NULL;
}

static i128 gcd128(i128 a, i128 b) {
    while (b) {
        i128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int ok_value(const nprog *p, i128 v) {
    if (p->has_lo && v < p->lo) return 0;
    if (p->has_hi && v > p->hi) return 0;
    if (p->int_only && v % SCALE) return 0;
    if (p->mult && v % p->mult) return 0;
    return 1;
}

/* Is there an allowed value in [l, h] (inclusive, scaled)? */
static int exists_in(const nprog *p, i128 l, i128 h) {
    if (p->has_lo && l < p->lo) l = p->lo;
    if (p->has_hi && h > p->hi) h = p->hi;
    if (l > h) return 0;
    if (p->has_vals) {
        int lo = 0, hi = p->nval;
        while (lo < hi) {
            int m = (lo + hi) / 2;
            if (p->vals[m] < l) lo = m + 1;
            else hi = m;
        }
        for (int i = lo; i < p->nval && p->vals[i] <= h; i++)
            if (ok_value(p, p->vals[i])) return 1;
        return 0;
    }
    i128 step = 1;
    if (p->int_only) step = SCALE;
    if (p->mult) step = step / gcd128(step, p->mult) * p->mult;
    if (step == 1) return 1;
    if (l <= -INF128 / 2) return 1;   /* unbounded below: some multiple exists */
    i128 r = ((l % step) + step) % step;
    i128 c = r ? l + (step - r) : l;
    return c <= h;
}

/* Magnitudes reachable from the prefix: calls f for each interval [a, b] (inclusive). */
static int live_mag(const nprog *p, const nex *s) {
    int neg = s->neg;
#define CHECK(a, b)                                                                  \
    do {                                                                             \
        i128 a_ = (a), b_ = (b);                                                     \
        if (neg ? exists_in(p, -b_, -a_) : exists_in(p, a_, b_)) return 1;           \
    } while (0)
    switch (s->phase) {
    case N_START:
    case N_MINUS: CHECK(0, CAP - 1); return 0;
    case N_ZERO:
        if (p->int_only) CHECK(0, 0);
        else CHECK(0, SCALE - 1);
        return 0;
    case N_INT: {
        i128 a = s->x, w = SCALE;
        for (int k = 0; a < CAP; k++) {
            i128 b = a + w - 1;
            if (b >= CAP) b = CAP - 1;
            if (p->int_only) CHECK(a, b - (SCALE - 1));
            else CHECK(a, b);
            if (a > CAP / 10) break;
            a *= 10;
            w *= 10;
        }
        return 0;
    }
    case N_DOT:
    case N_FRAC: {
        if (p->int_only) {
            if (s->x % SCALE) return 0;
            CHECK(s->x, s->x);
            return 0;
        }
        i128 w = pow10i(12 - s->nfrac);
        CHECK(s->x, s->x + w - 1);
        return 0;
    }
    default: return 1;   /* exponent: checked at the end */
    }
#undef CHECK
}

static int exact_value(const nex *s, i128 *v) {
    i128 x = s->x;
    int e = s->expneg ? -s->exp : s->exp;
    if (e > 0) {
        for (int i = 0; i < e; i++) {
            if (x > CAP / 10) return 0;
            x *= 10;
        }
    } else if (e < 0) {
        if (-e > 36) {
            if (x) return 0;
        } else {
            i128 d = pow10i(-e);
            if (x % d) return 0;
            x /= d;
        }
    }
    *v = s->neg ? -x : x;
    return 1;
}

/* Exponent phases: is there an exponent this prefix can still end with (leading zeros allowed)
 * that gives an allowed value?  Exponents beyond the caps never do, so 0..48 suffice. */
static int reach_exp(int has_digit, int32_t v, int32_t c) {
    if (has_digit && c == v) return 1;
    for (int32_t k = 1, p10 = 10; k <= 2; k++, p10 *= 10)
        if ((int64_t)v * p10 <= c && c < (int64_t)(v + 1) * p10) return 1;
    return 0;
}

static int live_exp(const nprog *p, const nex *s) {
    int has_digit = s->phase == N_EXP;
    for (int sign = 0; sign < 2; sign++) {
        if (s->phase != N_E && sign != s->expneg) continue;
        for (int32_t c = 0; c <= 48; c++) {
            if (!reach_exp(has_digit, s->exp, c)) continue;
            nex t = *s;
            t.exp = c;
            t.expneg = (uint8_t)sign;
            i128 v;
            if (!exact_value(&t, &v) || !ok_value(p, v)) continue;
            if (p->has_vals) {
                int found = 0;
                for (int i = 0; i < p->nval && !found; i++) found = p->vals[i] == v;
                if (!found) continue;
            }
            return 1;
        }
    }
    return 0;
}

static void unpack_ex(cf_constraint *K, uint64_t aux, nex *s) {
    uint32_t n;
    const void *b = cons_blob_ptr(K, (uint32_t)aux, &n);
    memcpy(s, b, sizeof *s);
}

static int pack_ex(cf_constraint *K, const nex *s, uint64_t *aux) {
    nex t;
    memset(&t, 0, sizeof t);
    t = *s;
    uint32_t id = cons_blob(K, &t, sizeof t);
    if (id == UINT32_MAX) return 0;
    *aux = id;
    return 1;
}

uint64_t num_init_aux(cf_constraint *K, const nprog *p);
uint64_t num_init_aux(cf_constraint *K, const nprog *p) {
    if (!p->exact) return 0;
    nex s;
    memset(&s, 0, sizeof s);
    uint64_t a = 0;
    if (!pack_ex(K, &s, &a)) return UINT64_MAX;
    return a;
}

/* Syntax step shared by both modes: returns the new phase or -1. */
static int syn_step(const nprog *p, int phase, uint8_t b) {
    int dig = b >= '0' && b <= '9';
    switch (phase) {
    case N_START:
        if (b == '-') return N_MINUS;
        /* fall through */
    case N_MINUS:
        if (b == '0') return N_ZERO;
        if (dig) return N_INT;
        return -1;
    case N_ZERO:
    case N_INT:
        if (phase == N_INT && dig) return N_INT;
        if (b == '.' && !p->no_frac) return N_DOT;
        if ((b == 'e' || b == 'E') && !p->no_frac) return N_E;
        return -1;
    case N_DOT:
    case N_FRAC:
        if (dig) {
            if (p->int_only && b != '0') return -1;
            return N_FRAC;
        }
        if (phase == N_FRAC && (b == 'e' || b == 'E') && !p->no_frac) return N_E;
        return -1;
    case N_E:
        if (b == '+' || b == '-') return N_ESIGN;
        /* fall through */
    case N_ESIGN:
    case N_EXP: return dig ? N_EXP : -1;
    }
    return -1;
}

int num_step(cf_constraint *K, const nprog *p, uint64_t *aux, uint8_t b) {
    if (!p->exact) {
        int ph = (int)(*aux & 15), len = (int)(*aux >> 4);
        if (len >= CF_NUM_MAX_LEN) return 0;
        int np = syn_step(p, ph, b);
        if (np < 0) return 0;
        *aux = (uint64_t)np | (uint64_t)(len + 1) << 4;
        return 1;
    }
    nex s;
    unpack_ex(K, *aux, &s);
    if (s.len >= CF_NUM_MAX_LEN) return 0;
    int np = syn_step(p, s.phase, b);
    if (np < 0) return 0;
    int d = b - '0';
    switch (np) {
    case N_MINUS: s.neg = 1; break;
    case N_ZERO: break;
    case N_INT:
        if (s.nint >= 24) return 0;
        s.x = s.x * 10 + (i128)d * SCALE;
        s.nint++;
        break;
    case N_FRAC:
        if (s.nfrac >= 12) {
            if (d) return 0;    /* not representable: rejected */
            /* trailing zeros beyond 12 digits keep the value */
            s.len++;
            s.phase = (uint8_t)np;
            return pack_ex(K, &s, aux);
        }
        s.nfrac++;
        s.x += (i128)d * pow10i(12 - s.nfrac);
        break;
    case N_ESIGN:
        if (b == '-') s.expneg = 1;
        break;
    case N_EXP:
        if (s.exp >= 100) return 0;
        s.exp = s.exp * 10 + d;
        break;
    default: break;
    }
    s.phase = (uint8_t)np;
    s.len++;
    if (np != N_E && np != N_ESIGN && np != N_EXP ? !live_mag(p, &s) : !live_exp(p, &s)) return 0;
    return pack_ex(K, &s, aux);
}

static int final_phase(int ph) { return ph == N_ZERO || ph == N_INT || ph == N_FRAC || ph == N_EXP; }

int num_final(cf_constraint *K, const nprog *p, uint64_t aux) {
    if (!p->exact) return final_phase((int)(aux & 15));
    nex s;
    unpack_ex(K, aux, &s);
    if (!final_phase(s.phase)) return 0;
    i128 v;
    if (!exact_value(&s, &v)) return 0;
    if (!ok_value(p, v)) return 0;
    if (p->has_vals) {
        int lo = 0, hi = p->nval;
        while (lo < hi) {
            int m = (lo + hi) / 2;
            if (p->vals[m] < v) lo = m + 1;
            else hi = m;
        }
        if (lo >= p->nval || p->vals[lo] != v) return 0;
    }
    return 1;
}

void num_first(cf_constraint *K, const nprog *p, uint64_t aux, uint32_t fb[8]) {
    memset(fb, 0, 32);
    int ph;
    if (p->exact) {
        nex s;
        unpack_ex(K, aux, &s);
        ph = s.phase;
        if (s.len >= CF_NUM_MAX_LEN) return;
    } else {
        ph = (int)(aux & 15);
        if ((int)(aux >> 4) >= CF_NUM_MAX_LEN) return;
    }
    switch (ph) {
    case N_START: fb_set(fb, '-'); /* fall through */
    case N_MINUS: fb_range(fb, '0', '9'); break;
    case N_INT: fb_range(fb, '0', '9'); /* fall through */
    case N_ZERO:
        if (!p->no_frac) fb_set(fb, '.');
        if (!p->no_frac) {
            fb_set(fb, 'e');
            fb_set(fb, 'E');
        }
        break;
    case N_DOT: fb_range(fb, '0', '9'); break;
    case N_FRAC:
        fb_range(fb, '0', '9');
        if (!p->no_frac) {
            fb_set(fb, 'e');
            fb_set(fb, 'E');
        }
        break;
    case N_E:
        fb_set(fb, '+');
        fb_set(fb, '-');
        /* fall through */
    case N_ESIGN:
    case N_EXP: fb_range(fb, '0', '9'); break;
    }
}
