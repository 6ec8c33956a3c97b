/* Kernels over PK16 packed weights (layout in matmul.h), AVX-512 VNNI: one zmm lane per weight
 * row, so a group of 16 weight rows needs no horizontal reduction.
 *
 * Per block b and activation row r: the 4-byte activation chunks are broadcast and vpdpbusd
 * multiplies them with the 16 rows' unsigned weight bytes (Q4_0: the low nibbles v & 0x0f, and
 * the high ones as v & 0xf0 = 16 x nib, their sum shifted right by 4 once; Q8_0: q + 128), then
 * the offset that makes the sum exact is subtracted:
 *   Q4_0: i_b = sum nib*q_x - 8 sum(q_x)         Q8_0: i_b = sum (q_w+128)*q_x - 128 sum(q_x)
 * (sum(q_x) from the activation's s8 = 8 sum(q_x)), i.e. the integer block sums of matmul.h, then
 * acc = fma(dx_b*dw_b, (float)i_b, acc) lane-wise in increasing b: the canonical order, so the
 * results are bitwise those of every other level.
 *   few rows (ROW / ROWPAIR activations, decode): pk_tile, up to 4 rows x 16 weight rows, four
 *     dpbusd chains per row, software prefetch ahead in the packed stream (below);
 *     needs the packed copy (without one the unpacked row kernels run);
 *   many rows (COLB activations, M >= tile_mm_gemm_m): pk_gtile, tile_mm_pkmr rows x 16 weight
 *     rows, cache blocks of tile_mm_mc rows; a group without a packed copy (or a partial last
 *     group) is packed on the fly, its cost shared by all M rows.
 * Prefetch (pk_pf_dist): only the first register tile over a group (the one that streams it
 * from memory) prefetches: tile_mm_pf bytes ahead for one activation row, tile_mm_pf_multi for
 * several (it consumes the stream several times slower, so the prefetches must run farther
 * ahead).  Measured, Q4_0 16384 x 8192 (75 MB) packed, paired runs vs no prefetch: M = 1:
 * 256 B 0.93 (1 thread) / 0.81 (2), 4096 B 0.91 / 0.89; M = 2 (2 threads): 256 B 0.92, 2048 B
 * 0.76; M = 4 (1 thread): 256 B 0.92, 4096 B 0.67; M = 8 (GEMM): 4096 B 0.79 (1) / 0.72 (2);
 * M = 16 (2 threads): 4096 B 0.81; M = 128: no change.
 * Q4_K / Q6_K (ROW activations of the Q8_K kind, M < tile_mm_gemm_m, packed copy): pk_tile_q4k
 * and pk_tile_q6k, up to 4 rows x 16 weight rows per super-block of 256, integer sums as
 * described there, the same prefetch.
 * Included by matmul_avx512vnni.c after mm_simd256.h. */
#ifndef CF_MM_PK16_H
#define CF_MM_PK16_H
#include "kernels/tuning.h"

/* Element offsets of the low (0..15) and high (16..31) halves of block b in one activation row. */
MM_INLINE void pk_halves(int layout, int64_t nb, int64_t b, int64_t *lo, int64_t *hi) {
    if (layout == CF_LAYOUT_ROWPAIR && !((nb & 1) && b == nb - 1)) {
        *lo = (b & ~(int64_t)1) * 32 + (b & 1) * 16;
        *hi = *lo + 32;
    } else {
        *lo = b * 32;
        *hi = *lo + 16;
    }
}

#define PK_BC(p) _mm512_set1_epi32((int)mm_ld32(p))

/* MR activation rows x one group of 16 weight rows over all nb blocks; y[r * ldy + i]. */
MM_INLINE void pk_tile(int wt, int MR, const uint8_t *g, int64_t nb, int layout, const int8_t *const *xq,
                       const float *const *xd, const int32_t *const *xs, float *y, int64_t ldy, int64_t pf) {
    const int64_t qb = cf_pk_qbytes(wt);
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512 acc[4];
    for (int r = 0; r < MR; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = g + cf_pk_q_off(qb, b);
        if (pf)
            for (int l = 0; l < qb / 64; l++) _mm_prefetch((const char *)(wb + pf + 64 * l), _MM_HINT_T0);
        __m512i w[8]; /* w[c]: elements 4c..4c+3 of the low half (c < 4), of the high half (c >= 4) */
        for (int c = 0; c < 4; c++) {
            __m512i v = _mm512_loadu_si512((const void *)(wb + 64 * c));
            if (wt == CF_T_Q4_0) {
                w[c] = _mm512_and_si512(v, m4);
                w[4 + c] = _mm512_andnot_si512(m4, v); /* 16 x the high nibbles */
            } else {
                w[c] = v;
                w[4 + c] = _mm512_loadu_si512((const void *)(wb + 256 + 64 * c));
            }
        }
        __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(g + cf_pk_d_off(qb, b))));
        int64_t lo, hi;
        pk_halves(layout, nb, b, &lo, &hi);
        for (int r = 0; r < MR; r++) {
            const int8_t *xl = xq[r] + lo, *xh = xq[r] + hi;
            /* four independent chains (exact integers: any association gives the same sum) */
            __m512i s0 = _mm512_setzero_si512();
            __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[1], PK_BC(xl + 4));
            __m512i s2 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[4], PK_BC(xh));
            __m512i s3 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[5], PK_BC(xh + 4));
            s0 = _mm512_dpbusd_epi32(s0, w[0], PK_BC(xl));
            s0 = _mm512_dpbusd_epi32(s0, w[2], PK_BC(xl + 8));
            s1 = _mm512_dpbusd_epi32(s1, w[3], PK_BC(xl + 12));
            s2 = _mm512_dpbusd_epi32(s2, w[6], PK_BC(xh + 8));
            s3 = _mm512_dpbusd_epi32(s3, w[7], PK_BC(xh + 12));
            /* Q4_0: the high half's chains summed 16 x the nibbles (|.| <= 16*240*127): one shift */
            __m512i sh = _mm512_add_epi32(s2, s3);
            if (wt == CF_T_Q4_0) sh = _mm512_srai_epi32(sh, 4);
            /* the offset: s8 = 8 sum(q_x) (Q4_0), 16 s8 = 128 sum(q_x) (Q8_0) */
            __m512i o = _mm512_set1_epi32(xs[r][b]);
            __m512i t = _mm512_sub_epi32(_mm512_add_epi32(_mm512_add_epi32(s0, s1), sh),
                                         wt == CF_T_Q4_0 ? o : _mm512_slli_epi32(o, 4));
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(xd[r][b]), dw), _mm512_cvtepi32_ps(t), acc[r]);
        }
    }
    for (int r = 0; r < MR; r++) _mm512_storeu_ps(y + r * ldy, acc[r]);
}

MM_INLINE void pk_tile_mr(int wt, int MR, const uint8_t *g, int64_t nb, int layout, const int8_t *const *xq,
                          const float *const *xd, const int32_t *const *xs, float *y, int64_t ldy, int64_t pf) {
#define PK_CASE(T)                                                                                \
    if (wt == T) {                                                                                \
        switch (MR) {                                                                             \
        case 4: pk_tile(T, 4, g, nb, layout, xq, xd, xs, y, ldy, pf); return;                     \
        case 3: pk_tile(T, 3, g, nb, layout, xq, xd, xs, y, ldy, pf); return;                     \
        case 2: pk_tile(T, 2, g, nb, layout, xq, xd, xs, y, ldy, pf); return;                     \
        default: pk_tile(T, 1, g, nb, layout, xq, xd, xs, y, ldy, pf); return;                    \
        }                                                                                         \
    }
    PK_CASE(CF_T_Q4_0)
    PK_CASE(CF_T_Q8_0)
#undef PK_CASE
}

/* Byte j (0..3) of every dword of v, zero-extended (one vpshufb). */
MM_INLINE __m512i pk_byte_dw(__m512i v, int j) {
    return _mm512_shuffle_epi8(v, _mm512_add_epi32(_mm512_set1_epi32((int)(0x80808000u | (uint32_t)j)),
                                                    _mm512_set4_epi32(12, 8, 4, 0)));
}

/* Q4_K: MR (1..4) activation rows x one group of 16 weight rows over nb super-blocks (Q8_K
 * activations, ROW layout); y[r * ldy + i].  xq[r]: row r's quants (256 per super-block), xd[r]:
 * its scales, xhl[r]: 16 bytes per super-block from pk_q4k_hl.  Per super-block b and row:
 *   sub-block 2p (low nibbles of quant dwords 8p..8p+7): dot = sum dpbusd(v & 0x0f, x), 8 chunks;
 *   sub-block 2p+1 (high nibbles): dot16 = sum dpbusd(v & 0xf0, x) = 16 * dot (no shift per chunk);
 *   i1 = sum_p sc_2p * dot_2p + (sum_p sc_2p+1 * dot16_2p+1) >> 4   (|.| < 2^28: exact in int32)
 *   i2 = 64 * sum_j m_j * h_j + sum_j m_j * l_j = sum_j m_j * bsum_j   (dpbusd on the 6-bit mins)
 * then the canonical float steps of matmul.h.  The 6-bit scales and mins are decoded lane-wise
 * from the three packed dwords (cf_q4k_scales), so the packed copy is no larger than the GGUF. */
MM_INLINE void pk_tile_q4k(int MR, const uint8_t *g, int64_t nb, const int8_t *const *xq, const float *const *xd,
                           const uint8_t *const *xhl, float *y, int64_t ldy, int64_t pf) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), m6 = _mm512_set1_epi8(0x3f), m30 = _mm512_set1_epi8(0x30);
    const int NC = MR <= 2 ? 2 : 1; /* independent dpbusd chains per sub-block and row */
    __m512 acc[4];
    for (int r = 0; r < MR; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = g + b * CF_PK_Q4K_BLK;
        if (pf)
            for (int l = 0; l < CF_PK_Q4K_BLK / 64; l++) _mm_prefetch((const char *)(wb + pf + 64 * l), _MM_HINT_T0);
        __m512i a0 = _mm512_loadu_si512((const void *)(wb + 64)), a1 = _mm512_loadu_si512((const void *)(wb + 128));
        __m512i a2 = _mm512_loadu_si512((const void *)(wb + 192));
        __m512i sc[2] = {_mm512_and_si512(a0, m6),
                         _mm512_or_si512(_mm512_and_si512(a2, m4), _mm512_and_si512(_mm512_srli_epi32(a0, 2), m30))};
        __m512i mn_lo = _mm512_and_si512(a1, m6);
        __m512i mn_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(a2, 4), m4),
                                        _mm512_and_si512(_mm512_srli_epi32(a1, 2), m30));
        __m512i se[4], so[4];
        for (int p = 0; p < 4; p++) {
            __m512i e[4][2], o[4][2];
            for (int r = 0; r < MR; r++)
                for (int k = 0; k < NC; k++) e[r][k] = o[r][k] = _mm512_setzero_si512();
            for (int hh = 0; hh < 2; hh++) {
                __m512i lo[4], hi[4];
                for (int c = 0; c < 4; c++) {
                    __m512i v = _mm512_loadu_si512((const void *)(wb + 256 + 64 * (8 * p + 4 * hh + c)));
                    lo[c] = _mm512_and_si512(v, m4);
                    hi[c] = _mm512_andnot_si512(m4, v);
                }
                for (int r = 0; r < MR; r++) {
                    const int8_t *x = xq[r] + b * 256 + 64 * p + 16 * hh;
                    int k = hh % NC;
                    for (int c = 0; c < 4; c++) {
                        e[r][k] = _mm512_dpbusd_epi32(e[r][k], lo[c], PK_BC(x + 4 * c));
                        o[r][k] = _mm512_dpbusd_epi32(o[r][k], hi[c], PK_BC(x + 32 + 4 * c));
                    }
                }
            }
            __m512i sce = pk_byte_dw(sc[p / 2], (2 * p) % 4), sco = pk_byte_dw(sc[p / 2], (2 * p + 1) % 4);
            for (int r = 0; r < MR; r++) {
                __m512i de = NC == 2 ? _mm512_add_epi32(e[r][0], e[r][1]) : e[r][0];
                __m512i dd = NC == 2 ? _mm512_add_epi32(o[r][0], o[r][1]) : o[r][0];
                __m512i te = _mm512_mullo_epi32(de, sce), to = _mm512_mullo_epi32(dd, sco);
                se[r] = p ? _mm512_add_epi32(se[r], te) : te;
                so[r] = p ? _mm512_add_epi32(so[r], to) : to;
            }
        }
        __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)wb));
        __m512 dm = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(wb + 32)));
        for (int r = 0; r < MR; r++) {
            const uint8_t *hl = xhl[r] + b * 16;
            __m512i i1 = _mm512_add_epi32(se[r], _mm512_srai_epi32(so[r], 4));
            __m512i h = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), mn_lo, PK_BC(hl)), mn_hi, PK_BC(hl + 4));
            __m512i l = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), mn_lo, PK_BC(hl + 8)), mn_hi, PK_BC(hl + 12));
            __m512i i2 = _mm512_add_epi32(_mm512_slli_epi32(h, 6), l);
            __m512 dx = _mm512_set1_ps(xd[r][b]);
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(dx, d), _mm512_cvtepi32_ps(i1), acc[r]);
            acc[r] = _mm512_fnmadd_ps(_mm512_mul_ps(dx, dm), _mm512_cvtepi32_ps(i2), acc[r]);
        }
    }
    for (int r = 0; r < MR; r++) _mm512_storeu_ps(y + r * ldy, acc[r]);
}

MM_INLINE void pk_tile_q4k_mr(int MR, const uint8_t *g, int64_t nb, const int8_t *const *xq, const float *const *xd,
                              const uint8_t *const *xhl, float *y, int64_t ldy, int64_t pf) {
    switch (MR) {
    case 4: pk_tile_q4k(4, g, nb, xq, xd, xhl, y, ldy, pf); return;
    case 3: pk_tile_q4k(3, g, nb, xq, xd, xhl, y, ldy, pf); return;
    case 2: pk_tile_q4k(2, g, nb, xq, xd, xhl, y, ldy, pf); return;
    default: pk_tile_q4k(1, g, nb, xq, xd, xhl, y, ldy, pf); return;
    }
}

/* The mins' activation side of one Q8_K row for pk_tile_q4k: per super-block, the 32-element
 * sums s_j = bsums[2j] + bsums[2j+1] (|s_j| <= 4064) split as s_j = 64 h_j + l_j with
 * l_j in 0..63 and h_j in -64..63, stored as bytes h_0..h_7, l_0..l_7. */
static void pk_q4k_hl(const int16_t *bsums, int64_t nb, uint8_t *hl) {
    for (int64_t b = 0; b < nb; b++)
        for (int j = 0; j < 8; j++) {
            int s = bsums[16 * b + 2 * j] + bsums[16 * b + 2 * j + 1], l = s & 63;
            hl[16 * b + j] = (uint8_t)(int8_t)((s - l) / 64);
            hl[16 * b + 8 + j] = (uint8_t)l;
        }
}

/* Q6_K: MR (1..4) activation rows x one group of 16 weight rows over nb super-blocks (Q8_K
 * activations, ROW layout); y[r * ldy + i].  xq[r], xd[r]: row r's quants and scales; xo[r]: 16
 * dwords per super-block from pk_q6k_off (-32 x the sub-blocks' activation sums).  Per super-block
 * and row, sub-block j (16 elements, 4 chunks of 4):
 *   s_j = -32 bsum_j + sum dpbusd(q6, x)  (q6 = low nibble | 2-bit field << 4, 0..63),
 *   i = sum_j sc_j * s_j (vpmulld by the sign-extended scale; |i| < 2^29, exact)
 * then acc = fma(dx*d, (float)i, acc): matmul.h's Q6_K sums and float steps. */
MM_INLINE void pk_tile_q6k(int MR, const uint8_t *g, int64_t nb, const int8_t *const *xq, const float *const *xd,
                           const int32_t *const *xo, float *y, int64_t ldy, int64_t pf) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
    __m512 acc[4];
    for (int r = 0; r < MR; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = g + cf_pk_q_off(CF_PK_Q6K_BLK, b);
        if (pf)
            for (int l = 0; l < CF_PK_Q6K_BLK / 64; l++) _mm_prefetch((const char *)(wb + pf + 64 * l), _MM_HINT_T0);
        __m512i si[4];
        for (int r = 0; r < MR; r++) si[r] = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++)
            for (int cg = 0; cg < 2; cg++) {
                /* chunks 4cg..4cg+3 of half h feed sub-blocks j = 8h + 2k + cg, k = 0..3 */
                __m512i s[4][4];
                for (int r = 0; r < MR; r++)
                    for (int k = 0; k < 4; k++) s[r][k] = _mm512_set1_epi32(xo[r][16 * b + 8 * h + 2 * k + cg]);
                for (int c = 4 * cg; c < 4 * cg + 4; c++) {
                    const uint8_t *q = wb + 256 + (8 * h + c) * 192;
                    __m512i A = _mm512_loadu_si512((const void *)q), B = _mm512_loadu_si512((const void *)(q + 64));
                    __m512i H = _mm512_loadu_si512((const void *)(q + 128));
                    __m512i w[4];
                    /* (lo & 0x0f) | (hi & 0x30): vpternlogd 0xf8 = a | (b & c) */
                    w[0] = _mm512_ternarylogic_epi32(_mm512_and_si512(A, m4), _mm512_slli_epi32(H, 4), m30, 0xf8);
                    w[1] = _mm512_ternarylogic_epi32(_mm512_and_si512(B, m4), _mm512_slli_epi32(H, 2), m30, 0xf8);
                    w[2] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi32(A, 4), m4), H, m30, 0xf8);
                    w[3] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi32(B, 4), m4), _mm512_srli_epi32(H, 2),
                                                     m30, 0xf8);
                    for (int r = 0; r < MR; r++) {
                        const int8_t *x = xq[r] + b * 256 + 128 * h + 4 * c;
                        for (int k = 0; k < 4; k++) s[r][k] = _mm512_dpbusd_epi32(s[r][k], w[k], PK_BC(x + 32 * k));
                    }
                }
                for (int k = 0; k < 4; k++) {
                    int j = 8 * h + 2 * k + cg;
                    __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(wb + 16 * j)));
                    for (int r = 0; r < MR; r++) {
                        si[r] = _mm512_add_epi32(si[r], _mm512_mullo_epi32(s[r][k], sc));
                    }
                }
            }
        __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(g + cf_pk_d_off(CF_PK_Q6K_BLK, b))));
        for (int r = 0; r < MR; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(xd[r][b]), d), _mm512_cvtepi32_ps(si[r]), acc[r]);
    }
    for (int r = 0; r < MR; r++) _mm512_storeu_ps(y + r * ldy, acc[r]);
}

MM_INLINE void pk_tile_q6k_mr(int MR, const uint8_t *g, int64_t nb, const int8_t *const *xq, const float *const *xd,
                              const int32_t *const *xo, float *y, int64_t ldy, int64_t pf) {
    switch (MR) {
    case 4: pk_tile_q6k(4, g, nb, xq, xd, xo, y, ldy, pf); return;
    case 3: pk_tile_q6k(3, g, nb, xq, xd, xo, y, ldy, pf); return;
    case 2: pk_tile_q6k(2, g, nb, xq, xd, xo, y, ldy, pf); return;
    default: pk_tile_q6k(1, g, nb, xq, xd, xo, y, ldy, pf); return;
    }
}

/* The offsets of one Q8_K row for pk_tile_q6k: -32 x each 16-element sum, 16 dwords per
 * super-block. */
static void pk_q6k_off(const int16_t *bsums, int64_t nb, int32_t *o) {
    for (int64_t i = 0; i < nb * 16; i++) o[i] = -32 * bsums[i];
}

/* GEMM register tile over COLB activations: MR (1..8) rows x one group of 16 weight rows over
 * all nb blocks, one dpbusd chain per row, chunk-major so consecutive dpbusd are independent; the
 * group's unpacked weights serve all MR rows.  q, d, s8: this tile's first row in block 0; rows
 * of a block are adjacent, blocks Mp rows apart.  Stores nvalid (<= 16) columns of each row. */
MM_INLINE void pk_gtile(int wt, int MR, const uint8_t *g, int64_t nb, const int8_t *q, const float *d,
                        const int32_t *s8, int64_t Mp, float *y, int64_t ldy, int nvalid, int64_t pf) {
    const int64_t qb = cf_pk_qbytes(wt);
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512 acc[8];
    for (int r = 0; r < MR; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++, q += Mp * 32, d += Mp, s8 += Mp) {
        const uint8_t *wb = g + cf_pk_q_off(qb, b);
        if (pf)
            for (int l = 0; l < qb / 64; l++) _mm_prefetch((const char *)(wb + pf + 64 * l), _MM_HINT_T0);
        __m512i w[8];
        for (int c = 0; c < 4; c++) {
            __m512i v = _mm512_loadu_si512((const void *)(wb + 64 * c));
            if (wt == CF_T_Q4_0) {
                w[c] = _mm512_and_si512(v, m4);
                w[4 + c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            } else {
                w[c] = v;
                w[4 + c] = _mm512_loadu_si512((const void *)(wb + 256 + 64 * c));
            }
        }
        __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(g + cf_pk_d_off(qb, b))));
        __m512i t[8];
        for (int r = 0; r < MR; r++) t[r] = _mm512_set1_epi32(wt == CF_T_Q4_0 ? -s8[r] : -16 * s8[r]);
        for (int c = 0; c < 8; c++)
            for (int r = 0; r < MR; r++) {
                t[r] = _mm512_dpbusd_epi32(t[r], w[c], PK_BC(q + 32 * r + (c < 4 ? 0 : 16) + 4 * (c & 3)));
                __asm__("" : "+v"(t[r])); /* keep the chunk-major order */
            }
        for (int r = 0; r < MR; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(d[r]), dw), _mm512_cvtepi32_ps(t[r]), acc[r]);
    }
    __mmask16 k = (__mmask16)((1u << nvalid) - 1);
    for (int r = 0; r < MR; r++) _mm512_mask_storeu_ps(y + r * ldy, k, acc[r]);
}

MM_INLINE void pk_gtile_mr(int wt, int MR, const uint8_t *g, int64_t nb, const int8_t *q, const float *d,
                           const int32_t *s8, int64_t Mp, float *y, int64_t ldy, int nvalid, int64_t pf) {
#define PK_G(T)                                                                                   \
    switch (MR) {                                                                                 \
    case 8: pk_gtile(T, 8, g, nb, q, d, s8, Mp, y, ldy, nvalid, pf); return;                      \
    case 7: pk_gtile(T, 7, g, nb, q, d, s8, Mp, y, ldy, nvalid, pf); return;                      \
    case 6: pk_gtile(T, 6, g, nb, q, d, s8, Mp, y, ldy, nvalid, pf); return;                      \
    case 5: pk_gtile(T, 5, g, nb, q, d, s8, Mp, y, ldy, nvalid, pf); return;                      \
    case 4: pk_gtile(T, 4, g, nb, q, d, s8, Mp, y, ldy, nvalid, pf); return;                      \
    case 3: pk_gtile(T, 3, g, nb, q, d, s8, Mp, y, ldy, nvalid, pf); return;                      \
    case 2: pk_gtile(T, 2, g, nb, q, d, s8, Mp, y, ldy, nvalid, pf); return;                      \
    default: pk_gtile(T, 1, g, nb, q, d, s8, Mp, y, ldy, nvalid, pf); return;                     \
    }
    if (wt == CF_T_Q4_0) PK_G(CF_T_Q4_0)
    else PK_G(CF_T_Q8_0)
#undef PK_G
}

/* Prefetch distance in bytes for the first register tile over a group, by activation rows. */
static inline int64_t pk_pf_dist(int64_t rows) {
    return rows > 1 ? cf_tuning_get()->tile_mm_pf_multi : cf_tuning_get()->tile_mm_pf;
}

/* Whether matmul_act takes the packed path: COLB activations (any Q4_0 / Q8_0 weights: a group
 * without a packed copy is packed on the fly, its cost shared by all M rows), or the row layouts
 * with a packed copy. */
static inline int pk_usable(const cf_wmat *W, const cf_act_hdr *h, int64_t M) {
    if (W->type == CF_T_Q4_K || W->type == CF_T_Q6_K) return h->layout == CF_LAYOUT_ROW && W->pack && W->n >= CF_PACK_ROWS;
    if (!(W->type == CF_T_Q4_0 || W->type == CF_T_Q8_0) || h->kind != CF_ACT_Q8_0) return 0;
    if (h->layout == CF_LAYOUT_COLB) return 1;
    return h->layout != CF_LAYOUT_GROUP && W->pack && W->n >= CF_PACK_ROWS;
}

/* Rows [n0, n1) of W that the packed tiles do not cover (a range not starting on a group, the
 * partial last group), by the unpacked row kernels. */
static void pk_run_unpacked(const cf_wmat *W, const cf_act_hdr *h, const void *act, int64_t M, float *Y, int64_t ldy,
                            int64_t n0, int64_t n1) {
    if (n0 >= n1) return;
    cf_wmat t = cf_wmat_rows(W, n0, n1 - n0);
    t.pack = NULL;
    mm_row_run(&cf_par_serial, &t, h, act, M, Y + n0, ldy);
}

/* Row layouts (few rows), packed copy: groups of this thread's range by pk_tile, a partial last
 * group by the unpacked row kernels. */
static void pk_run_rows(const cf_wmat *W, const cf_act_hdr *h, const void *act, int64_t M, float *Y, int64_t ldy,
                        int64_t n0, int64_t n1) {
    int64_t n16 = W->n / CF_PACK_ROWS * CF_PACK_ROWS, pe = n1 < n16 ? n1 : n16;
    int64_t tail = n0 % CF_PACK_ROWS ? n0 : pe; /* splits land on groups; anything else goes unpacked */
    const int8_t *q = (const int8_t *)act + CF_ACT_HDR;
    const float *d = (const float *)((const char *)act + h->off_b);
    const int32_t *s8 = (const int32_t *)((const char *)act + h->off_c);
    size_t stride = cf_wmat_pack_stride(W);
    const int64_t pf = pk_pf_dist(M);
    for (int64_t n = n0; n < tail; n += CF_PACK_ROWS) {
        const uint8_t *g = (const uint8_t *)W->pack + (size_t)(n / CF_PACK_ROWS) * stride;
        for (int64_t m = 0; m < M;) {
            int MR = M - m >= 4 ? 4 : (int)(M - m);
            const int8_t *xq[4];
            const float *xd[4];
            const int32_t *xs[4];
            for (int r = 0; r < MR; r++) {
                xq[r] = q + (m + r) * h->nb * 32;
                xd[r] = d + (m + r) * h->nb;
                xs[r] = s8 + (m + r) * h->nb;
            }
            pk_tile_mr(W->type, MR, g, h->nb, h->layout, xq, xd, xs, Y + m * ldy + n, ldy, m ? 0 : pf);
            m += MR;
        }
    }
    pk_run_unpacked(W, h, act, M, Y, ldy, tail, n1);
}

/* Q4_K / Q6_K, ROW activations, packed copy: as pk_run_rows; the activation side of the
 * mins (Q4_K, pk_q4k_hl) or offsets (Q6_K, pk_q6k_off) is computed once per call. */
static void pk_run_rows_k(const cf_wmat *W, const cf_act_hdr *h, const void *act, int64_t M, float *Y, int64_t ldy,
                          int64_t n0, int64_t n1) {
    int64_t n16 = W->n / CF_PACK_ROWS * CF_PACK_ROWS, pe = n1 < n16 ? n1 : n16;
    int64_t tail = n0 % CF_PACK_ROWS ? n0 : pe, nb = h->nb;
    if (n0 < tail) {
        const int8_t *q = (const int8_t *)act + CF_ACT_HDR;
        const float *d = (const float *)((const char *)act + h->off_b);
        const int16_t *bs = (const int16_t *)((const char *)act + h->off_c);
        const int q4k = W->type == CF_T_Q4_K;
        int64_t per = q4k ? 16 : 64; /* bytes per row and super-block */
        _Alignas(64) uint8_t aux_stack[4096];
        size_t aux_bytes = (size_t)(M * nb * per);
        uint8_t *aux = aux_bytes <= sizeof aux_stack ? aux_stack : aligned_alloc(64, (aux_bytes + 63) / 64 * 64);
        if (!aux) { /* out of memory: the unpacked kernels need no scratch (same results) */
            pk_run_unpacked(W, h, act, M, Y, ldy, n0, n1);
            return;
        }
        for (int64_t m = 0; m < M; m++) {
            if (q4k) pk_q4k_hl(bs + m * nb * 16, nb, aux + m * nb * per);
            else pk_q6k_off(bs + m * nb * 16, nb, (int32_t *)(void *)(aux + m * nb * per));
        }
        size_t stride = cf_wmat_pack_stride(W);
        const int64_t pf = pk_pf_dist(M);
        for (int64_t n = n0; n < tail; n += CF_PACK_ROWS) {
            const uint8_t *g = (const uint8_t *)W->pack + (size_t)(n / CF_PACK_ROWS) * stride;
            for (int64_t m = 0; m < M;) {
                int MR = M - m >= 4 ? 4 : (int)(M - m);
                const int8_t *xq[4];
                const float *xd[4];
                const uint8_t *xa[4];
                for (int r = 0; r < MR; r++) {
                    xq[r] = q + (m + r) * nb * 256;
                    xd[r] = d + (m + r) * nb;
                    xa[r] = aux + (m + r) * nb * per;
                }
                const int64_t pfm = m ? 0 : pf; /* the first tile streams the group */
                if (q4k) pk_tile_q4k_mr(MR, g, nb, xq, xd, xa, Y + m * ldy + n, ldy, pfm);
                else pk_tile_q6k_mr(MR, g, nb, xq, xd, (const int32_t *const *)(const void *)xa, Y + m * ldy + n, ldy, pfm);
                m += MR;
            }
        }
        if (aux != aux_stack) free(aux);
    }
    pk_run_unpacked(W, h, act, M, Y, ldy, tail, n1);
}

/* COLB activations: cache blocks of tile_mm_mc rows, then this thread's groups, then register
 * tiles of tile_mm_pkmr rows. */
static void pk_run_gemm(const cf_wmat *W, const cf_act_hdr *h, const void *act, int64_t M, float *Y, int64_t ldy,
                        int64_t n0, int64_t n1) {
    const cf_tuning *tu = cf_tuning_get();
    const int8_t *q = (const int8_t *)act + CF_ACT_HDR;
    const float *d = (const float *)((const char *)act + h->off_b);
    const int32_t *s8 = (const int32_t *)((const char *)act + h->off_c);
    int64_t n16 = W->n / CF_PACK_ROWS * CF_PACK_ROWS;
    int use_pack = W->pack && n0 % CF_PACK_ROWS == 0;
    size_t stride = cf_wmat_pack_stride(W);
    uint8_t *buf = NULL; /* a group packed on the fly */
    if (!use_pack || n1 > n16) {
        buf = aligned_alloc(64, stride);
        assert(buf);
    }
    int MRt = tu->tile_mm_pkmr < 1 ? 1 : tu->tile_mm_pkmr > 8 ? 8 : (int)tu->tile_mm_pkmr;
    const int64_t pf = tu->tile_mm_pf_multi; /* the GEMM path serves many rows */
    int64_t mc = tu->tile_mm_mc > 0 ? tu->tile_mm_mc : M;
    for (int64_t mA = 0; mA < M; mA += mc) {
        int64_t mB = mA + mc < M ? mA + mc : M;
        /* blocks of a few rows (several sequences decoding) take tile_mm_pkmr_few-row tiles (8),
         * so each group is unpacked once or twice while it streams in: over a 75 MB Q4_0 weight,
         * paired in one process, M = 8 0.88x the time of 6 + 2 rows (1 and 2 threads), M = 12
         * 0.92-0.94x of 6 + 6, M = 16 0.92x of 6 + 6 + 4; from 24 rows (0.98-1.00x) tile_mm_pkmr */
        int few = tu->tile_mm_pkmr_few < 1 ? 1 : tu->tile_mm_pkmr_few > 8 ? 8 : (int)tu->tile_mm_pkmr_few;
        int MRb = mB - mA <= few ? (int)(mB - mA) : mB - mA <= 2 * few ? few : MRt;
        for (int64_t n = n0; n < n1; n += CF_PACK_ROWS) {
            const uint8_t *g;
            if (use_pack && n + CF_PACK_ROWS <= n16) {
                g = (const uint8_t *)W->pack + (size_t)(n / CF_PACK_ROWS) * stride;
            } else {
                cf_pk16_pack_group(W, n, buf);
                g = buf;
            }
            int nvalid = n1 - n < CF_PACK_ROWS ? (int)(n1 - n) : CF_PACK_ROWS;
            for (int64_t m = mA; m < mB; m += MRb) {
                int MR = mB - m < MRb ? (int)(mB - m) : MRb;
                /* the first pass over a packed group streams it from memory: prefetch ahead */
                int64_t pfm = mA == 0 && m == mA && g != buf ? pf : 0;
                pk_gtile_mr(W->type, MR, g, h->nb, q + m * 32, d + m, s8 + m, h->Mp, Y + m * ldy + n, ldy, nvalid, pfm);
            }
        }
    }
    free(buf);
}

static void pk_run(const cf_par *p, const cf_wmat *W, const cf_act_hdr *h, const void *act, int64_t M, float *Y,
                   int64_t ldy) {
    int64_t m0, m1, n0, n1;
    cf_mm_split(p, M, W->n, W->k, CF_PACK_ROWS, 0, &m0, &m1, &n0, &n1);
    if (n0 >= n1 || m0 >= m1) return;
    if (W->type == CF_T_Q4_K || W->type == CF_T_Q6_K) pk_run_rows_k(W, h, act, M, Y, ldy, n0, n1);
    else if (h->layout == CF_LAYOUT_COLB) pk_run_gemm(W, h, act, M, Y, ldy, n0, n1);
    else pk_run_rows(W, h, act, M, Y, ldy, n0, n1);
}

#endif
