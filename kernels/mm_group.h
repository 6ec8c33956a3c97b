/* Blocked GEMM over GROUP-layout activations (see mm_priv.h), written once for any vector width.
 *
 * The including file defines the vector vocabulary (G_* macros below) and includes this file
 * once: AVX2 with 256-bit vectors (G_ROWS = 8), AVX-512 with 512-bit vectors (G_ROWS = 16),
 * AVX-512 VNNI likewise with G_VNNI = 1 (vpdpbusd replaces maddubs + add).
 *
 * Loop nest (per thread, over its rows [m0, m1) and weight rows [n0, n1)):
 *   for each cache block of tile_mm_mc activation rows
 *     for each register tile of NR (tile_mm_nr) weight rows
 *       for each chunk of K (bounded so the panel stays in L1)
 *         unpack the NR weight rows' blocks into a panel: bytes in natural element order, block
 *         scales as f32, sub-block scales as ready-to-broadcast words (once per cache block, not
 *         once per row group)
 *         for each group of G_ROWS activation rows in the cache block: the register tile.
 * Register tile: G_MG(NR) row groups x NR weight rows, one vector lane per activation row.  For each
 * 4-byte chunk c of a block, one vector load gives chunk c of every row of a group and a 32-bit
 * broadcast from the panel gives chunk c of a weight row, so one maddubs yields a 4-element
 * partial dot product for all G_ROWS rows (no horizontal reduction), and each broadcast serves
 * G_MG(NR) groups.  The int16 partials of a
 * block (bounded: see each kernel) are widened once with vpmaddwd into the exact integer block
 * sums of matmul.h, then accumulated with the canonical float operations, lane-wise; the float
 * accumulators carry over from one K chunk to the next, so the operation order is unchanged.
 *
 * Required macros: G_ROWS, gvi, gvf, G_LOADI(p), G_BCAST32(p), G_ZERO(), G_MADDUBS(u,s),
 * G_MADD(a,b), G_ADD16, G_ADD32, G_SUB32, G_SLLI32(a,n), G_MULLO32(a,b), G_SET1_16(v), G_SET1_32(v),
 * G_SIGN8(x,w), G_LOADF(p), G_ZEROF(), G_SET1F(v), G_BCASTF(p), G_MULF, G_FMADD(a,b,c),
 * G_FNMADD(a,b,c), G_CVT(a), G_STOREF(p,v), G_KEEP(v) (an empty asm naming v as a register
 * operand), G_MG(NR) (row groups per register tile for NR weight rows: 1 or 2, as registers
 * allow), G_VNNI (0/1), G_DPBUSD(acc,u,s) when G_VNNI. */
#ifndef CF_MM_GROUP_H
#define CF_MM_GROUP_H
#include "kernels/mm_simd256.h"
#include "kernels/tuning.h"

#define G_NRMAX 4
#define G_PANEL_BYTES (48 * 1024) /* weight panel (stack), per register tile and K chunk */
#define G_MB_GROUPS 64            /* most row groups per cache block (accumulators on the stack) */

/* G_KEEP(v) materialises v at that point, so an accumulation chain is evaluated in order, chunk
 * by chunk, in registers (left alone, GCC computes every product first, spills them and sums
 * them as a tree). */

/* Sum over chunks [c0, c0 + n) of one block, for MG row groups x NR weight rows:
 * s[g * NR + i] = sum_c maddubs(panel row i chunk c, group g chunk c) (int16 without VNNI:
 * callers bound n so that cannot overflow; int32 with VNNI).  Each weight broadcast feeds MG
 * maddubs. */
#define G_CHUNKS_U(MG, NR, s, wp, xb, c0, n)                                                 \
    do {                                                                                     \
        for (int c_ = 0; c_ < (n); c_++) {                                                   \
            gvi x_[2];                                                                       \
            for (int g_ = 0; g_ < (MG); g_++) x_[g_] = G_LOADI((xb)[g_] + (int64_t)((c0) + c_) * 4 * G_ROWS); \
            for (int i_ = 0; i_ < (NR); i_++) {                                              \
                gvi w_ = G_BCAST32((wp)[i_] + 4 * ((c0) + c_));                              \
                for (int g_ = 0; g_ < (MG); g_++) {                                          \
                    gvi *s_ = &(s)[g_ * (NR) + i_];                                          \
                    if (G_VNNI) *s_ = G_DPBUSD(c_ ? *s_ : G_ZERO(), w_, x_[g_]);             \
                    else {                                                                   \
                        gvi p_ = G_MADDUBS(w_, x_[g_]);                                      \
                        *s_ = c_ ? G_ADD16(*s_, p_) : p_;                                    \
                    }                                                                        \
                    G_KEEP(*s_);                                                             \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    } while (0)

/* Widens the int16 partials of G_CHUNKS_U to int32 (no-op with VNNI, which accumulates int32). */
#define G_WIDEN(v) (G_VNNI ? (v) : G_MADD((v), G_SET1_16(1)))

/* ---- panels: per weight row i of the tile, kc blocks from block b0 ---- */

typedef struct {
    int NR;
    int64_t kc;            /* blocks in this panel */
    uint8_t *q[G_NRMAX];   /* unpacked bytes, kc * block */
    uint8_t *a[G_NRMAX];   /* Q8_0: |w| (q holds w itself) */
    float *d[G_NRMAX];     /* block scale (f32) */
    float *dm[G_NRMAX];    /* Q4_K: block min scale */
    uint32_t *s1[G_NRMAX]; /* Q4_K: scale words sc|sc<<16 [kc][8]; Q6_K: [kc][16] */
    uint32_t *s2[G_NRMAX]; /* Q4_K: min words [kc][8]; Q6_K: scale pairs sc[2p]|sc[2p+1]<<16 [kc][8] */
} g_panel;

/* Bytes of panel per block per weight row. */
static int64_t g_panel_blk_bytes(int wt) {
    switch (wt) {
    case CF_T_Q4_0: return 32 + 4;
    case CF_T_Q8_0: return 64 + 4;
    case CF_T_Q4_K: return 256 + 8 + 64;
    default: return 256 + 4 + 96;
    }
}

/* Carves the panel buffer for NR rows of kc blocks. */
static void g_panel_init(g_panel *p, int wt, int NR, int64_t kc, uint8_t *buf) {
    int64_t blk = wt == CF_T_Q4_0 || wt == CF_T_Q8_0 ? 32 : 256;
    p->NR = NR;
    p->kc = kc;
    for (int i = 0; i < NR; i++) {
        p->q[i] = buf, buf += kc * blk;
        if (wt == CF_T_Q8_0) p->a[i] = buf, buf += kc * blk;
        p->d[i] = (float *)buf, buf += kc * 4;
        if (wt == CF_T_Q4_K) p->dm[i] = (float *)buf, buf += kc * 4;
        if (wt == CF_T_Q4_K) p->s1[i] = (uint32_t *)buf, buf += kc * 32, p->s2[i] = (uint32_t *)buf, buf += kc * 32;
        if (wt == CF_T_Q6_K) p->s1[i] = (uint32_t *)buf, buf += kc * 64, p->s2[i] = (uint32_t *)buf, buf += kc * 32;
    }
}

static void g_pack(g_panel *p, int wt, const uint8_t *const *w, int64_t b0) {
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int i = 0; i < p->NR; i++)
        for (int64_t k = 0; k < p->kc; k++) {
            int64_t b = b0 + k;
            if (wt == CF_T_Q4_0) {
                const cf_blk_q4_0 *wb = (const cf_blk_q4_0 *)w[i] + b;
                __m128i t = _mm_loadu_si128((const __m128i *)wb->qs);
                _mm256_storeu_si256((__m256i *)(p->q[i] + 32 * k), _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), m4));
                p->d[i][k] = _cvtsh_ss(wb->d);
            } else if (wt == CF_T_Q8_0) {
                const cf_blk_q8_0 *wb = (const cf_blk_q8_0 *)w[i] + b;
                __m256i t = _mm256_loadu_si256((const __m256i *)wb->qs);
                _mm256_storeu_si256((__m256i *)(p->q[i] + 32 * k), t);
                _mm256_storeu_si256((__m256i *)(p->a[i] + 32 * k), _mm256_abs_epi8(t));
                p->d[i][k] = _cvtsh_ss(wb->d);
            } else if (wt == CF_T_Q4_K) {
                const cf_blk_q4_k *wb = (const cf_blk_q4_k *)w[i] + b;
                uint8_t sm[16];
                _mm_storeu_si128((__m128i *)sm, mm_q4k_scmn(wb->scales));
                for (int j = 0; j < 8; j++) p->s1[i][8 * k + j] = sm[j] * 0x10001u, p->s2[i][8 * k + j] = sm[8 + j] * 0x10001u;
                for (int c = 0; c < 4; c++) {
                    __m256i t = _mm256_loadu_si256((const __m256i *)(wb->qs + 32 * c));
                    _mm256_storeu_si256((__m256i *)(p->q[i] + 256 * k + 64 * c), _mm256_and_si256(t, m4));
                    _mm256_storeu_si256((__m256i *)(p->q[i] + 256 * k + 64 * c + 32), _mm256_and_si256(_mm256_srli_epi16(t, 4), m4));
                }
                p->d[i][k] = _cvtsh_ss(wb->d);
                p->dm[i][k] = _cvtsh_ss(wb->dmin);
            } else {
                const cf_blk_q6_k *wb = (const cf_blk_q6_k *)w[i] + b;
                for (int j = 0; j < 16; j++) p->s1[i][16 * k + j] = (uint16_t)wb->scales[j] * 0x10001u;
                for (int j = 0; j < 8; j++)
                    p->s2[i][8 * k + j] = (uint16_t)wb->scales[2 * j] | (uint32_t)(uint16_t)wb->scales[2 * j + 1] << 16;
                for (int h = 0; h < 2; h++) {
                    __m256i q[4];
                    mm_q6k_unpack(wb->ql + 64 * h, wb->qh + 32 * h, q);
                    for (int c = 0; c < 4; c++) _mm256_storeu_si256((__m256i *)(p->q[i] + 256 * k + 128 * h + 32 * c), q[c]);
                }
                p->d[i][k] = _cvtsh_ss(wb->d);
            }
        }
}

/* ---- register tiles: MG (1..2) row groups x NR weight rows over the panel's kc blocks; x*[g]
 * point at group g's data for the panel's first block; acc[g * NR + i] carries the canonical
 * float accumulators in and out ---- */

/* Q8_0 / Q4_0.  Q4_0: maddubs lanes <= 2*15*127, 8 chunks summed in int16 <= 30480.  Q8_0:
 * |w| x sign(x, w) reaches 2*128*127 per chunk, so each chunk is widened on its own. */
MM_INLINE void g_q80(int wt, int MG, int NR, const g_panel *p, const int8_t *const *xq, const float *const *xd,
                     const int32_t *const *xs, gvf *acc) {
    for (int64_t k = 0; k < p->kc; k++) {
        const int8_t *xb[2];
        const uint8_t *wp[G_NRMAX];
        gvi s[2 * G_NRMAX];
        for (int g = 0; g < MG; g++) xb[g] = xq[g] + k * 32 * G_ROWS;
        for (int i = 0; i < NR; i++) wp[i] = p->q[i] + 32 * k;
        if (wt == CF_T_Q4_0) {
            G_CHUNKS_U(MG, NR, s, wp, xb, 0, 8);
            for (int g = 0; g < MG; g++) {
                gvi o = G_LOADI(xs[g] + k * G_ROWS);
                for (int i = 0; i < NR; i++) s[g * NR + i] = G_SUB32(G_WIDEN(s[g * NR + i]), o);
            }
        } else {
            for (int j = 0; j < MG * NR; j++) s[j] = G_ZERO();
            for (int c = 0; c < 8; c++) {
                gvi x[2];
                for (int g = 0; g < MG; g++) x[g] = G_LOADI(xb[g] + c * 4 * G_ROWS);
                for (int i = 0; i < NR; i++) {
                    gvi wv = G_BCAST32(wp[i] + 4 * c), a = G_BCAST32(p->a[i] + 32 * k + 4 * c);
                    for (int g = 0; g < MG; g++) {
                        gvi sx = G_SIGN8(x[g], wv);
                        gvi *t = &s[g * NR + i];
                        if (G_VNNI) *t = G_DPBUSD(*t, a, sx);
                        else *t = G_ADD32(*t, G_MADD(G_MADDUBS(a, sx), G_SET1_16(1)));
                        G_KEEP(*t);
                    }
                }
            }
        }
        for (int g = 0; g < MG; g++) {
            gvf dx = G_LOADF(xd[g] + k * G_ROWS);
            for (int i = 0; i < NR; i++)
                acc[g * NR + i] = G_FMADD(G_MULF(dx, G_BCASTF(p->d[i] + k)), G_CVT(s[g * NR + i]), acc[g * NR + i]);
        }
    }
}

/* Q4_K: sub-block j = chunks 8j..8j+7; maddubs lanes <= 2*15*127, 8 summed <= 30480. */
MM_INLINE void g_q4k(int MG, int NR, const g_panel *p, const int8_t *const *xq, const float *const *xd,
                     const int16_t *const *xbp, gvf *acc) {
    for (int64_t k = 0; k < p->kc; k++) {
        const int8_t *xb[2];
        const uint8_t *wp[G_NRMAX];
        gvi s1[2 * G_NRMAX];
        for (int g = 0; g < MG; g++) xb[g] = xq[g] + k * 256 * G_ROWS;
        for (int i = 0; i < NR; i++) wp[i] = p->q[i] + 256 * k;
        for (int j = 0; j < 8; j++) {
            gvi s[2 * G_NRMAX];
            G_CHUNKS_U(MG, NR, s, wp, xb, 8 * j, 8);
            for (int i = 0; i < NR; i++) {
                uint32_t sc = p->s1[i][8 * k + j];
                for (int g = 0; g < MG; g++) {
                    gvi t = G_VNNI ? G_MULLO32(s[g * NR + i], G_SET1_32(sc & 0xffff)) : G_MADD(s[g * NR + i], G_SET1_32(sc));
                    s1[g * NR + i] = j ? G_ADD32(s1[g * NR + i], t) : t;
                }
            }
        }
        for (int g = 0; g < MG; g++) {
            const int16_t *bp = xbp[g] + k * 16 * G_ROWS;
            gvf dx = G_LOADF(xd[g] + k * G_ROWS);
            for (int i = 0; i < NR; i++) {
                gvi s2 = G_ZERO();
                for (int j = 0; j < 8; j++) s2 = G_ADD32(s2, G_MADD(G_LOADI(bp + j * 2 * G_ROWS), G_SET1_32(p->s2[i][8 * k + j])));
                gvf a = G_FMADD(G_MULF(dx, G_BCASTF(p->d[i] + k)), G_CVT(s1[g * NR + i]), acc[g * NR + i]);
                acc[g * NR + i] = G_FNMADD(G_MULF(dx, G_BCASTF(p->dm[i] + k)), G_CVT(s2), a);
            }
        }
    }
}

/* Q6_K: sub-block j = chunks 4j..4j+3; maddubs lanes <= 2*63*127, so int16 sums of two chunks at
 * most (<= 32004) before widening. */
MM_INLINE void g_q6k(int MG, int NR, const g_panel *p, const int8_t *const *xq, const float *const *xd,
                     const int16_t *const *xbp, gvf *acc) {
    for (int64_t k = 0; k < p->kc; k++) {
        const int8_t *xb[2];
        const uint8_t *wp[G_NRMAX];
        gvi sa[2 * G_NRMAX];
        for (int g = 0; g < MG; g++) xb[g] = xq[g] + k * 256 * G_ROWS;
        for (int i = 0; i < NR; i++) wp[i] = p->q[i] + 256 * k;
        for (int j = 0; j < 16; j++) {
            for (int h = 0; h < (G_VNNI ? 1 : 2); h++) {
                gvi s[2 * G_NRMAX];
                G_CHUNKS_U(MG, NR, s, wp, xb, 4 * j + 2 * h, G_VNNI ? 4 : 2);
                for (int i = 0; i < NR; i++) {
                    uint32_t sc = p->s1[i][16 * k + j];
                    for (int g = 0; g < MG; g++) {
                        gvi t = G_VNNI ? G_MULLO32(s[g * NR + i], G_SET1_32((int16_t)(sc & 0xffff)))
                                       : G_MADD(s[g * NR + i], G_SET1_32(sc));
                        sa[g * NR + i] = j || h ? G_ADD32(sa[g * NR + i], t) : t;
                    }
                }
            }
        }
        for (int g = 0; g < MG; g++) {
            const int16_t *bp = xbp[g] + k * 16 * G_ROWS;
            gvf dx = G_LOADF(xd[g] + k * G_ROWS);
            for (int i = 0; i < NR; i++) {
                gvi o = G_ZERO();
                for (int j = 0; j < 8; j++) o = G_ADD32(o, G_MADD(G_LOADI(bp + j * 2 * G_ROWS), G_SET1_32(p->s2[i][8 * k + j])));
                gvi tot = G_SUB32(sa[g * NR + i], G_SLLI32(o, 5));
                acc[g * NR + i] = G_FMADD(G_MULF(dx, G_BCASTF(p->d[i] + k)), G_CVT(tot), acc[g * NR + i]);
            }
        }
    }
}

/* Register tile for groups g0 .. g0 + MG - 1 over the panel (blocks b0 .. b0 + kc). */
MM_INLINE void g_tile(int wt, int MG, int NR, const g_panel *p, const cf_act_hdr *h, const void *act, int64_t g0,
                      int64_t b0, gvf *acc) {
    const int8_t *xq[2];
    const float *xd[2];
    const void *xc[2];
    for (int g = 0; g < MG; g++) {
        int64_t gb = (g0 + g) * h->nb + b0; /* (group, block) index */
        xq[g] = (const int8_t *)act + CF_ACT_HDR + gb * h->blk * G_ROWS;
        xd[g] = (const float *)((const char *)act + h->off_b) + gb * G_ROWS;
        xc[g] = (const char *)act + h->off_c + gb * (wt == CF_T_Q8_0 || wt == CF_T_Q4_0 ? 4 : 32) * G_ROWS;
    }
    if (wt == CF_T_Q8_0 || wt == CF_T_Q4_0) g_q80(wt, MG, NR, p, xq, xd, (const int32_t *const *)xc, acc);
    else if (wt == CF_T_Q4_K) g_q4k(MG, NR, p, xq, xd, (const int16_t *const *)xc, acc);
    else g_q6k(MG, NR, p, xq, xd, (const int16_t *const *)xc, acc);
}

MM_INLINE void g_store(const gvf *acc, int NR, int64_t row0, int64_t rows, int64_t n0, int64_t nvalid, float *Y,
                       int64_t ldy) {
    float t[G_NRMAX][G_ROWS];
    for (int i = 0; i < NR; i++) G_STOREF(t[i], acc[i]);
    float *y = Y + row0 * ldy + n0;
    if (rows == G_ROWS && nvalid >= NR) { /* the common case, fully unrolled */
        for (int r = 0; r < G_ROWS; r++)
            for (int i = 0; i < NR; i++) y[r * ldy + i] = t[i][r];
        return;
    }
    for (int64_t r = 0; r < rows; r++)
        for (int i = 0; i < NR && i < nvalid; i++) y[r * ldy + i] = t[i][r];
}

/* One NR-specialised sweep over this thread's rows [m0, m1) (whole groups) and weight rows
 * [n0, n1). */
MM_INLINE void g_sweep(int wt, int NR, const cf_wmat *W, const cf_act_hdr *h, const void *act, int64_t M,
                       float *Y, int64_t ldy, int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t mc) {
    _Alignas(64) uint8_t buf[G_PANEL_BYTES];
    gvf accs[G_MB_GROUPS][2 * G_NRMAX]; /* per tile (its first group): MG x NR */
    int64_t kc = G_PANEL_BYTES / (NR * g_panel_blk_bytes(wt));
    if (kc > h->nb) kc = h->nb;
    for (int64_t mA = m0; mA < m1; mA += mc) {
        int64_t mB = mA + mc < m1 ? mA + mc : m1;
        int64_t g0 = mA / G_ROWS, g1 = (mB + G_ROWS - 1) / G_ROWS;
        for (int64_t n = n0; n < n1; n += NR) {
            const uint8_t *w[G_NRMAX];
            for (int i = 0; i < NR; i++)
                w[i] = (const uint8_t *)W->data + (n + i < W->n ? n + i : W->n - 1) * W->row_bytes;
            for (int64_t b0 = 0; b0 < h->nb; b0 += kc) {
                g_panel p;
                g_panel_init(&p, wt, NR, b0 + kc <= h->nb ? kc : h->nb - b0, buf);
                g_pack(&p, wt, w, b0);
                for (int64_t g = g0; g < g1; g += G_MG(NR)) {
                    gvf *acc = accs[g - g0];
                    int mg = g1 - g >= G_MG(NR) ? G_MG(NR) : 1;
                    if (b0 == 0)
                        for (int i = 0; i < mg * G_NRMAX; i++) acc[i] = G_ZEROF();
                    if (mg == 2) g_tile(wt, 2, NR, &p, h, act, g, b0, acc);
                    else g_tile(wt, 1, NR, &p, h, act, g, b0, acc);
                }
            }
            for (int64_t g = g0; g < g1; g++) {
                /* tile of groups g .. g + mg - 1 keeps its accumulators at accs[first group] */
                int64_t gt = g0 + (g - g0) / G_MG(NR) * G_MG(NR);
                int64_t rows = M - g * G_ROWS < G_ROWS ? M - g * G_ROWS : G_ROWS;
                g_store(accs[gt - g0] + (g - gt) * NR, NR, g * G_ROWS, rows, n, n1 - n, Y, ldy);
            }
        }
    }
}

#define G_SWEEP_NR(wt, ...)                                                                       \
    switch (NR) {                                                                                 \
    case 1: g_sweep(wt, 1, __VA_ARGS__); break;                                                   \
    case 2: g_sweep(wt, 2, __VA_ARGS__); break;                                                   \
    case 3: g_sweep(wt, 3, __VA_ARGS__); break;                                                   \
    default: g_sweep(wt, 4, __VA_ARGS__); break;                                                  \
    }

static void g_run(const cf_par *p, const cf_wmat *W, const cf_act_hdr *h, const void *act, int64_t M, float *Y,
                  int64_t ldy) {
    const cf_tuning *t = cf_tuning_get();
    int NR = t->tile_mm_nr < 1 ? 1 : t->tile_mm_nr > G_NRMAX ? G_NRMAX : (int)t->tile_mm_nr;
    int64_t m0, m1, n0, n1;
    cf_mm_split(p, M, W->n, W->k, NR, G_ROWS, &m0, &m1, &n0, &n1);
    if (m0 >= m1 || n0 >= n1) return;
    int64_t mc = t->tile_mm_mc > G_ROWS ? t->tile_mm_mc / G_ROWS * G_ROWS : G_ROWS;
    if (mc > G_MB_GROUPS * G_ROWS) mc = G_MB_GROUPS * G_ROWS;
    switch (W->type) {
    case CF_T_Q4_0: G_SWEEP_NR(CF_T_Q4_0, W, h, act, M, Y, ldy, m0, m1, n0, n1, mc); break;
    case CF_T_Q8_0: G_SWEEP_NR(CF_T_Q8_0, W, h, act, M, Y, ldy, m0, m1, n0, n1, mc); break;
    case CF_T_Q4_K: G_SWEEP_NR(CF_T_Q4_K, W, h, act, M, Y, ldy, m0, m1, n0, n1, mc); break;
    default: G_SWEEP_NR(CF_T_Q6_K, W, h, act, M, Y, ldy, m0, m1, n0, n1, mc); break;
    }
}

#endif
