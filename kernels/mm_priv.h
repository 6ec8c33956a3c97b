/* Private to the quant / matmul kernels: GGUF block structs, the activation buffer layout and the
 * per-ISA entry points the dispatchers bind.  Not an API for other modules.
 *
 * Activation buffer (written by act_quantize, read by matmul_act; sizes from act_bytes):
 *   [cf_act_hdr: 128 B][region A][region B][region C], regions 64-byte aligned.
 *   kind F32   : A = M rows x K floats (row stride K).
 *   kind Q8_0  : blocks of 32 (nb = K/32).  Per block: 32 x int8 q, f32 d, i32 s8 = 8 * sum(q).
 *   kind Q8_K  : blocks of 256 (nb = K/256). Per block: 256 x int8 q, f32 d, 16 x i16 bsum
 *                (sum of each 16 consecutive q).
 *   Q8_K kind: d = amax / 127, q = round-to-nearest-even(x * (127 / amax)), |q| <= 127.
 *   Q8_0 kind: d and q by the process-wide convention (kernels/act_scale.h, cf_act_q8_0_scale):
 *              F16 rounds d = amax / 127 to f16 after computing q as above; BF16 rounds d to bf16
 *              first and computes q = round-to-nearest-even(x * (1 / d)) (|q| <= 127 still).
 *   A block of zeros has d = 0 and q = 0.
 *   layout ROW   : A = q   [M][nb][BLK]          B = d [M][nb]       C = sums [M][nb][..]
 *   layout ROWPAIR (Q8_0 kind, SIMD row kernels): as ROW, but each pair of blocks (2t, 2t+1) is
 *                stored as 16-byte quarters x[2t][0:16] x[2t+1][0:16] x[2t][16:32] x[2t+1][16:32],
 *                so one 32-byte load feeds both blocks' low (or high) halves; an odd last block
 *                stays in natural order.
 *   layout COLB (Q8_0 kind, the packed GEMM of mm_pk16.h): block-major, so the rows of a block
 *                are adjacent: A = q [nb][M][32]   B = d [nb][M]   C = s8 [nb][M].
 *   layout GROUP (G rows a group): rows padded to Mp = ceil(M/G)*G (padding rows are zero), for row group
 *                g and block b, 4-byte chunks of the G rows are interleaved so that one vector load
 *                gives chunk c of every row:  A = q [Mp/G][nb][BLK/4][G][4]   B = d [Mp/G][nb][G]
 *                C (Q8_0) = s8 [Mp/G][nb][G]   C (Q8_K) = bsum pairs [Mp/G][nb][8][G][2] (i16).
 * The layout is recorded in the header, so matmul_act never depends on state outside the buffer. */
#ifndef CF_MM_PRIV_H
#define CF_MM_PRIV_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/act_scale.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"

/* ---- GGUF blocks ---- */
typedef struct { uint16_t d; int8_t qs[32]; } cf_blk_q8_0;                      /* 34 B */
typedef struct { uint16_t d; uint8_t qs[16]; } cf_blk_q4_0;                     /* 18 B */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } cf_blk_q4_k; /* 144 B */
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } cf_blk_q6_k; /* 210 B */
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } cf_blk_q8_k;     /* 292 B */

_Static_assert(sizeof(cf_blk_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(cf_blk_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(cf_blk_q4_k) == 144, "q4_k block");
_Static_assert(sizeof(cf_blk_q6_k) == 210, "q6_k block");
_Static_assert(sizeof(cf_blk_q8_k) == 292, "q8_k block");

/* Q4_K: unpacks the 12 packed bytes into 8 six-bit scales and 8 six-bit mins. */
static inline void cf_q4k_scales(const uint8_t *q, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        mn[j] = q[j + 4] & 63;
        sc[j + 4] = (uint8_t)((q[j + 8] & 0xF) | ((q[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
    }
}

/* Weight types the matmul supports (the others are rejected by an assert). */
static inline int cf_mm_type_ok(int t) {
    return t == CF_T_F32 || t == CF_T_F16 || t == CF_T_BF16 || t == CF_T_Q8_0 || t == CF_T_Q4_0 ||
           t == CF_T_Q4_K || t == CF_T_Q6_K;
}

/* ---- activation buffer ---- */
#define CF_ACT_MAGIC 0x41434631u /* "1FCA" */
#define CF_ACT_HDR 128

/* Layouts of the quantized kinds (F32 is always ROW). */
enum { CF_LAYOUT_ROW = 0, CF_LAYOUT_ROWPAIR = 1, CF_LAYOUT_GROUP = 2, CF_LAYOUT_COLB = 3 };

typedef struct {
    uint32_t magic;
    int32_t kind;   /* cf_act_kind */
    int32_t layout; /* CF_LAYOUT_* */
    int32_t group;  /* GROUP: rows per interleaved group; else 0 */
    int32_t blk;    /* elements per block (1 for F32) */
    int64_t M, K;   /* logical rows and columns */
    int64_t Mp;     /* rows stored (M, or M rounded up to the group) */
    int64_t nb;     /* blocks per row */
    int64_t off_b, off_c; /* byte offsets of regions B and C (A starts at CF_ACT_HDR) */
    int64_t bytes;  /* total */
} cf_act_hdr;
_Static_assert(sizeof(cf_act_hdr) <= CF_ACT_HDR, "act header");

/* Fills h for (kind, layout, group, M, K); returns the total byte count. */
size_t cf_act_layout(cf_act_hdr *h, cf_act_kind kind, int layout, int group, int64_t M, int64_t K);

/* Columns per quantization block of an activation kind: 1 (F32), 32 (Q8_0), 256 (Q8_K). */
static inline int cf_act_kind_blk(cf_act_kind k) { return k == CF_ACT_Q8_0 ? 32 : k == CF_ACT_Q8_K ? 256 : 1; }
static inline int8_t *cf_act_q(void *a) { return (int8_t *)a + CF_ACT_HDR; }
static inline float *cf_act_d(void *a) { return (float *)((char *)a + ((cf_act_hdr *)a)->off_b); }
static inline void *cf_act_c(void *a) { return (char *)a + ((cf_act_hdr *)a)->off_c; }

/* Scalar block quantizers shared by every ISA's act_quantize and cf_quantize_row(Q8_K): the
 * SIMD versions must produce the same bytes (tested). */
float cf_q8_block_ref(const float *x, int n, int8_t *q); /* returns d */
/* Q8_0-kind block scale under convention conv (kernels/act_scale.h), from d0 = amax / 127 and
 * id = 127 / amax of a block with 0 < amax < inf: returns the d to store and updates *id to the
 * multiplier the quants are rounded from (F16: d = f16(d0), *id kept; BF16: d = bf16(d0),
 * *id = 1 / d).  Returns 0 with *id = 0 when d underflows (the block is then stored as zeros). */
static inline float cf_act_q8_0_scale(float d0, int conv, float *id) {
    if (conv == CF_ACT_SCALE_BF16) {
        float d = cf_bf16_to_f32(cf_f32_to_bf16(d0));
        if (!(d >= 0x1p-126f)) return *id = 0.0f;
        *id = 1.0f / d;
        return d;
    }
    return cf_f16_to_f32(cf_f32_to_f16(d0));
}

/* ---- per-ISA entry points (bound by matmul.c / quant.c) ---- */
#define CF_MM_DECL(isa)                                                                          \
    size_t cf_mm_act_bytes_##isa(int wtype, int64_t M, int64_t K);                               \
    void cf_mm_act_quantize_##isa(const cf_par *p, int wtype, void *act, const float *X,         \
                                  int64_t ldx, int64_t M, int64_t K);                            \
    void cf_mm_act_quantize_cols_##isa(int wtype, void *act, const float *X, int64_t ldx,        \
                                       int64_t M, int64_t K, int64_t k0, int64_t k1);            \
    void cf_mm_matmul_act_##isa(const cf_par *p, const cf_wmat *W, const void *act, int64_t M,   \
                                float *Y, int64_t ldy);
CF_MM_DECL(ref)
CF_MM_DECL(avx2)
CF_MM_DECL(avx512)
CF_MM_DECL(avx512vnni)
#undef CF_MM_DECL

/* Dequantization of one row by ISA (bit-exact with cf_dequantize_row_ref); 0 if handled, -1 if
 * the type has no SIMD path (the dispatcher then uses the reference). */
int cf_dequantize_row_avx2(int type, const void *src, float *dst, int64_t n);

/* Splits the product's work over the team: either N (in granules of whole register tiles) or
 * M (in whole row groups), whichever balances better; returns 0 and an empty range when this
 * thread has no work.  nr: weight rows per tile, mg: activation rows per group. */
void cf_mm_split(const cf_par *p, int64_t M, int64_t N, int64_t K, int nr, int mg, int64_t *m0,
                 int64_t *m1, int64_t *n0, int64_t *n1);

/* PK16 Q4_0 / Q8_0 / Q6_K (matmul.h): blocks stored in pairs behind one 64-byte line of their
 * 2 x 16 f16 d's.  qb: quant bytes of one block of 16 rows (0 for the other types). */
static inline int64_t cf_pk_qbytes(int type) {
    return type == CF_T_Q4_0 ? 4 * 64 : type == CF_T_Q8_0 ? 8 * 64 : type == CF_T_Q6_K ? CF_PK_Q6K_BLK : 0;
}
/* Byte offsets in a group of block b's quants and of its 16 d's. */
static inline int64_t cf_pk_q_off(int64_t qb, int64_t b) { return (b >> 1) * (64 + 2 * qb) + 64 + (b & 1) * qb; }
static inline int64_t cf_pk_d_off(int64_t qb, int64_t b) { return (b >> 1) * (64 + 2 * qb) + (b & 1) * 32; }

/* One PK16 group (matmul.h) of W's rows row0 .. row0 + 15 into dst (cf_wmat_pack_stride bytes);
 * rows past W->n repeat the last row (their outputs are dropped). */
void cf_pk16_pack_group(const cf_wmat *W, int64_t row0, void *dst);

/* Prevents the compiler from fusing a multiply into a following add (fp-contract), where a
 * kernel must round the product separately to match the reference. */
#define CF_NOFUSE(v) __asm__("" : "+x"(v))

#endif
