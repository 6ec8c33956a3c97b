/* The sampler chain (see sampler.h). */
#include "sampler/sampler.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"

typedef struct {
    float l;
    int32_t id;
} cand;

struct cf_sampler {
    cf_sampler_params p;
    int32_t n_vocab;
    cf_logit_bias *bias;
    /* penalty history: ring of the last penalty_last_n tokens, counts per token */
    int32_t *ring;
    int32_t ring_n, ring_pos;
    int32_t *count;
    uint32_t *stamp;   /* de-duplicates tokens while applying penalties */
    uint32_t stamp_now;
    /* work */
    cand *c;
    float *w;   /* unnormalized probabilities of the survivors */
    float *sub; /* the logits of a candidate subset (cf_sampler_sample_ids) */
    uint32_t *bits;
    uint64_t rng[4];
    uint64_t n_samples, n_masked;
};

cf_sampler_params cf_sampler_defaults(void) {
    cf_sampler_params p = {0};
    p.temperature = 0;
    p.top_p = 1;
    p.repeat_penalty = 1;
    return p;
}

/* ---- RNG: xoshiro256** seeded by splitmix64 -------------------------------------------- */

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t rng_next(uint64_t *s) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }   /* [0, 1) */

static void seed_rng(cf_sampler *s) {
    uint64_t x = s->p.seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix(&x);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

void cf_sampler_free(cf_sampler *s) {
    if (!s) return;
    free(s->bias), free(s->ring), free(s->count), free(s->stamp), free(s->c), free(s->w), free(s->sub), free(s->bits);
    free(s);
}

void cf_sampler_reset(cf_sampler *s) {
    s->ring_n = s->ring_pos = 0;
    if (s->count) memset(s->count, 0, (size_t)s->n_vocab * sizeof *s->count);
    seed_rng(s);
}

int cf_sampler_new(const cf_sampler_params *p, int32_t n_vocab, cf_sampler **out, cf_err *err) {
    *out = NULL;
    if (n_vocab <= 0 || n_vocab > CF_SAMPLER_MAX_VOCAB)
        return cf_errf(err, CF_EINVAL, "sampler: n_vocab %d outside [1, %d]", n_vocab, CF_SAMPLER_MAX_VOCAB);
    if (!(p->temperature >= 0) || !isfinite(p->temperature))
        return cf_errf(err, CF_EINVAL, "sampler: temperature %g must be finite and >= 0", p->temperature);
    if (!(p->top_p > 0) || p->top_p != p->top_p)
        return cf_errf(err, CF_EINVAL, "sampler: top_p %g must be in (0, 1] (>= 1 = off)", p->top_p);
    if (!(p->min_p >= 0 && p->min_p <= 1)) return cf_errf(err, CF_EINVAL, "sampler: min_p %g must be in [0, 1]", p->min_p);
    if (!(p->repeat_penalty > 0) || !isfinite(p->repeat_penalty))
        return cf_errf(err, CF_EINVAL, "sampler: repeat_penalty %g must be finite and > 0 (1 = off)", p->repeat_penalty);
    if (!isfinite(p->freq_penalty) || !isfinite(p->presence_penalty))
        return cf_errf(err, CF_EINVAL, "sampler: frequency/presence penalties must be finite");
    if (p->penalty_last_n < 0 || p->penalty_last_n > CF_SAMPLER_MAX_LAST_N)
        return cf_errf(err, CF_EINVAL, "sampler: penalty_last_n %d outside [0, %d]", p->penalty_last_n,
                       CF_SAMPLER_MAX_LAST_N);
    if (p->n_bias < 0 || p->n_bias > CF_SAMPLER_MAX_BIAS || (p->n_bias && !p->bias))
        return cf_errf(err, CF_EINVAL, "sampler: %d logit-bias entries (cap %d)", p->n_bias, CF_SAMPLER_MAX_BIAS);
    for (int32_t i = 0; i < p->n_bias; i++) {
        if (p->bias[i].tok < 0 || p->bias[i].tok >= n_vocab)
            return cf_errf(err, CF_EINVAL, "sampler: logit bias %d names token %d, outside [0, %d)", i, p->bias[i].tok,
                           n_vocab);
        if (p->bias[i].bias != p->bias[i].bias || p->bias[i].bias == INFINITY)
            return cf_errf(err, CF_EINVAL, "sampler: logit bias for token %d must be a number or -inf", p->bias[i].tok);
    }
    cf_sampler *s = calloc(1, sizeof *s);
    if (!s) return cf_errf(err, CF_ENOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->c = malloc((size_t)n_vocab * sizeof *s->c);
    s->w = malloc((size_t)n_vocab * sizeof *s->w);
    s->bits = malloc(((size_t)n_vocab + 31) / 32 * sizeof *s->bits);
    s->sub = malloc((size_t)n_vocab * sizeof *s->sub);
    int ok = s->c && s->w && s->bits && s->sub;
    if (ok && p->n_bias) {
        s->bias = malloc((size_t)p->n_bias * sizeof *s->bias);
        ok = s->bias != NULL;
        if (ok) memcpy(s->bias, p->bias, (size_t)p->n_bias * sizeof *s->bias);
    }
    s->p.bias = s->bias;
    int pen = p->penalty_last_n > 0 && (p->repeat_penalty != 1 || p->freq_penalty != 0 || p->presence_penalty != 0);
    if (ok && pen) {
        s->ring = malloc((size_t)p->penalty_last_n * sizeof *s->ring);
        s->count = calloc((size_t)n_vocab, sizeof *s->count);
        s->stamp = calloc((size_t)n_vocab, sizeof *s->stamp);
        ok = s->ring && s->count && s->stamp;
    }
    if (!ok) {
        cf_sampler_free(s);
        return cf_errf(err, CF_ENOMEM, "sampler: out of memory for a vocabulary of %d", n_vocab);
    }
    seed_rng(s);
    *out = s;
    return 0;
}

void cf_sampler_accept(cf_sampler *s, int32_t tok) {
    if (!s->ring || tok < 0 || tok >= s->n_vocab) return;
    int32_t cap = s->p.penalty_last_n;
    if (s->ring_n == cap) {   /* the oldest falls out of the window */
        int32_t old = s->ring[s->ring_pos];
        s->count[old]--;
    } else {
        s->ring_n++;
    }
    s->ring[s->ring_pos] = tok;
    s->ring_pos = (s->ring_pos + 1) % cap;
    s->count[tok]++;
}

void cf_sampler_stats(const cf_sampler *s, uint64_t *samples, uint64_t *masked) {
    if (samples) *samples = s->n_samples;
    if (masked) *masked = s->n_masked;
}

/* ---- stages ------------------------------------------------------------------------------ */

static void apply_bias_penalties(cf_sampler *s, float *l) {
    for (int32_t i = 0; i < s->p.n_bias; i++) l[s->bias[i].tok] += s->bias[i].bias;
    if (!s->ring || !s->ring_n) return;
    if (++s->stamp_now == 0) {
        memset(s->stamp, 0, (size_t)s->n_vocab * sizeof *s->stamp);
        s->stamp_now = 1;
    }
    float r = s->p.repeat_penalty, fq = s->p.freq_penalty, pr = s->p.presence_penalty;
    for (int32_t i = 0; i < s->ring_n; i++) {
        int32_t t = s->ring[i];
        if (s->stamp[t] == s->stamp_now) continue;
        s->stamp[t] = s->stamp_now;
        float x = l[t];
        if (r != 1) x = x > 0 ? x / r : x * r;
        x -= (float)s->count[t] * fq + pr;
        l[t] = x;
    }
}

#define HEAP_TOPK_MAX 2048   /* top-k up to this uses a heap; above, quickselect */

/* Better candidate: higher logit, then lower id (deterministic ties). */
static int better(const cand *a, const cand *b) { return a->l > b->l || (a->l == b->l && a->id < b->id); }

/* Argmax, ties to the lowest id; -1 if no finite value.  Two passes: a max reduction the
 * compiler can vectorize, then the first index holding it. */
static int32_t argmax(const float *l, int32_t n) {
    float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int32_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) m[k] = l[i + k] > m[k] ? l[i + k] : m[k];
    float mx = -INFINITY;
    for (int k = 0; k < 8; k++) mx = m[k] > mx ? m[k] : mx;
    for (; i < n; i++) mx = l[i] > mx ? l[i] : mx;
    if (mx == -INFINITY) return -1;
    for (i = 0; i < n; i++)
        if (l[i] == mx) return i;
    return -1;
}

/* The k best of l[0..n) (finite only) into c[0..k) (unordered): a min-heap of size k, so most
 * elements cost one comparison against the heap's worst.  Returns how many were found. */
static int32_t heap_top(const float *l, int32_t n, int32_t k, cand *c) {
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++) {
        float x = l[i];
        if (!(x > -INFINITY)) continue;
        cand e = {x, i};
        if (m < k) {   /* sift up */
            int32_t j = m++;
            while (j > 0) {
                int32_t par = (j - 1) / 2;
                if (!better(&c[par], &e)) break;   /* parent is worse: stop (min-heap of "better") */
                c[j] = c[par];
                j = par;
            }
            c[j] = e;
            continue;
        }
        if (!better(&e, &c[0])) continue;
        int32_t j = 0;   /* replace the root, sift down */
        for (;;) {
            int32_t a = 2 * j + 1, b = a + 1, w = j;
            const cand *wc = &e;
            if (a < m && better(wc, &c[a])) w = a, wc = &c[a];
            if (b < m && better(wc, &c[b])) w = b, wc = &c[b];
            if (w == j) break;
            c[j] = c[w];
            j = w;
        }
        c[j] = e;
    }
    return m;
}

/* Moves the k best candidates of c[0..n) to the front (unordered); deterministic quickselect. */
static void select_top(cand *c, int32_t n, int32_t k) {
    int32_t lo = 0, hi = n - 1;
    while (lo < hi && k > lo && k <= hi) {
        /* median of three as pivot */
        int32_t mid = lo + (hi - lo) / 2;
        cand a = c[lo], b = c[mid], d = c[hi], piv;
        if (better(&a, &b)) {
            piv = better(&b, &d) ? b : (better(&a, &d) ? d : a);
        } else {
            piv = better(&a, &d) ? a : (better(&b, &d) ? d : b);
        }
        int32_t i = lo, j = hi;
        while (i <= j) {
            while (better(&c[i], &piv)) i++;
            while (better(&piv, &c[j])) j--;
            if (i <= j) {
                cand t = c[i];
                c[i] = c[j];
                c[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j + 1) hi = j;
        else if (k >= i) lo = i;
        else break;
    }
}

/* Candidates with finite logits >= thr; returns the count. */
static int32_t gather(cf_sampler *s, const float *l, int32_t n, float thr) {
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++)
        if (l[i] > -INFINITY && l[i] >= thr) s->c[m].l = l[i], s->c[m++].id = i;
    return m;
}

/* top-p without sorting: a quickselect on probability mass.  c[0..m) with weights w (kept in
 * step) is reordered so that its first k entries are the k best (in `better` order) with k the
 * smallest count whose mass reaches `need`; returns k.  Expected O(m). */
static int32_t nucleus(cand *c, float *w, int32_t m, double need) {
    int32_t lo = 0, hi = m - 1;
    while (lo <= hi) {
        if (lo == hi) return lo + 1;
        int32_t mid = lo + (hi - lo) / 2, pv;
        /* median of three by `better`, moved to hi */
        const cand *a = &c[lo], *b = &c[mid], *d = &c[hi];
        if (better(a, b)) pv = better(b, d) ? mid : (better(a, d) ? hi : lo);
        else pv = better(a, d) ? lo : (better(b, d) ? hi : mid);
        cand tc = c[pv];
        c[pv] = c[hi];
        c[hi] = tc;
        float tw = w[pv];
        w[pv] = w[hi];
        w[hi] = tw;
        const cand piv = c[hi];
        int32_t i = lo;
        double up = 0;
        for (int32_t j = lo; j < hi; j++) {
            if (better(&c[j], &piv)) {
                cand x = c[i];
                c[i] = c[j];
                c[j] = x;
                float y = w[i];
                w[i] = w[j];
                w[j] = y;
                up += w[i];
                i++;
            }
        }
        c[hi] = c[i];
        c[i] = piv;
        tw = w[hi];
        w[hi] = w[i];
        w[i] = tw;
        if (up >= need) {
            hi = i - 1;
        } else if (up + w[i] >= need) {
            return i + 1;
        } else {
            need -= up + w[i];
            lo = i + 1;
        }
    }
    return lo > m ? m : (lo < 1 ? 1 : lo);
}

/* Inverse-CDF pick from weights w[0..m) (sum > 0). */
static int32_t pick(cf_sampler *s, const float *w, int32_t m, double sum) {
    double u = rng_unit(s->rng) * sum, acc = 0;
    for (int32_t i = 0; i < m; i++) {
        acc += w[i];
        if (u < acc) return i;
    }
    for (int32_t i = m; i-- > 0;)   /* rounding at the top end: the last non-zero weight */
        if (w[i] > 0) return i;
    return m - 1;
}

/* Runs top-k -> top-p -> min-p -> temperature -> pick on the finite logits of l. */
static int32_t chain(cf_sampler *s, const float *l, int32_t n) {
    const cf_sampler_params *p = &s->p;
    if (p->temperature <= 0) return argmax(l, n);   /* truncation never removes the argmax */
    float inv_t = 1.0f / p->temperature;
    float *w = s->w;
    if (p->top_k <= 0 && p->top_p >= 1 && p->min_p <= 0) {   /* temperature only: no candidates */
        int32_t a = argmax(l, n);
        if (a < 0) return -1;
        float mx = l[a];
        /* the whole vocabulary: the SIMD softmax kernel, not expf per token (32K libm calls took
         * ~130 us, paid once or twice per token with a schema); w[i] = e^((l[i] - mx) / T) / sum,
         * -inf logits (masked) give exactly 0 */
        for (int32_t i = 0; i < n; i++) w[i] = (l[i] - mx) * inv_t;
        cf_softmax(&cf_par_serial, w, 1, n);
        return pick(s, w, n, 1.0);
    }
    cand *c = s->c;
    int32_t m;
    if (p->top_k > 0 && p->top_k <= HEAP_TOPK_MAX) {
        m = heap_top(l, n, p->top_k, c);
    } else {
        /* without top-p, min-p can filter while gathering */
        float thr = -INFINITY;
        if (p->min_p > 0 && p->top_p >= 1 && p->top_k <= 0) {
            int32_t a = argmax(l, n);
            if (a < 0) return -1;
            thr = l[a] + logf(p->min_p);
        }
        m = gather(s, l, n, thr);
        if (p->top_k > 0 && p->top_k < m) {
            select_top(c, m, p->top_k);
            m = p->top_k;
        }
    }
    if (m == 0) return -1;
    float mx = -INFINITY;
    for (int32_t i = 0; i < m; i++)
        if (c[i].l > mx) mx = c[i].l;
    if (p->top_p < 1) {
        float *w = s->w;
        double sum = 0;
        for (int32_t i = 0; i < m; i++) sum += w[i] = expf(c[i].l - mx);
        m = nucleus(c, w, m, p->top_p * sum);
    }
    if (p->min_p > 0) {
        float thr = mx + logf(p->min_p);
        int32_t o = 0;
        for (int32_t i = 0; i < m; i++)
            if (c[i].l >= thr) c[o++] = c[i];
        m = o;
    }
    /* temperature + pick over the survivors, in their current (deterministic) order */
    double sum = 0;
    for (int32_t i = 0; i < m; i++) sum += w[i] = expf((c[i].l - mx) * inv_t);
    return c[pick(s, w, m, sum)].id;
}

/* NaN would poison comparisons, +inf the softmax: NaN -> -inf, +inf -> FLT_MAX. */
static inline float finite_logit(float x) { return x != x ? -INFINITY : x == INFINITY ? FLT_MAX : x; }

int32_t cf_sampler_sample(cf_sampler *s, float *logits, int32_t n_vocab, const cf_token_filter *f) {
    if (n_vocab != s->n_vocab || !logits) return -1;
    s->n_samples++;
    apply_bias_penalties(s, logits);
    for (int32_t i = 0; i < n_vocab; i++) logits[i] = finite_logit(logits[i]);
    if (!f || (!f->accepts && !f->mask)) return chain(s, logits, n_vocab);
    if (f->accepts) {
        int32_t t = chain(s, logits, n_vocab);
        if (t >= 0 && f->accepts(f->ctx, t)) return t;
    }
    s->n_masked++;
    size_t nw = ((size_t)n_vocab + 31) / 32;
    memset(s->bits, 0, nw * sizeof *s->bits);
    if (f->mask) {
        f->mask(f->ctx, s->bits);
    } else {   /* no mask function: ask about every token that is still a candidate */
        for (int32_t i = 0; i < n_vocab; i++)
            if (logits[i] > -INFINITY && f->accepts(f->ctx, i)) s->bits[i >> 5] |= 1u << (i & 31);
    }
    for (int32_t i = 0; i < n_vocab; i++)
        if (!((s->bits[i >> 5] >> (i & 31)) & 1)) logits[i] = -INFINITY;
    return chain(s, logits, n_vocab);
}

int32_t cf_sampler_sample_ids(cf_sampler *s, float *logits, int32_t n_vocab, const int32_t *ids, int32_t n) {
    if (n_vocab != s->n_vocab || !logits || n < 0 || n > n_vocab) return -1;
    s->n_samples++;
    apply_bias_penalties(s, logits);
    for (int32_t k = 0; k < n; k++) {
        s->sub[k] = finite_logit(logits[ids[k]]);
    }
    /* the chain over the subset in ascending id order: its ties (lowest id) and its truncations
     * see the same candidates as over the whole row with -inf elsewhere */
    int32_t t = n > 0 ? chain(s, s->sub, n) : -1;
    return t < 0 ? -1 : ids[t];
}
