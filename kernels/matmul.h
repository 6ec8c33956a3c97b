/* Y = X * W^T over quantized weights.
 *
 *   W: N rows x K columns in a GGUF weight type (row-major rows of K elements, cf_row_bytes each)
 *   X: M rows x K f32 activations (row stride ldx floats)
 *   Y: M rows x N f32 outputs      (row stride ldy floats)
 * M = 1 is decode (matrix-vector, bandwidth bound); M up to hundreds is prefill (compute bound).
 *
 * Integer paths first quantize X to an 8-bit activation format chosen by the weight type
 * (cf_act_kind); weights that share a kind can share one quantized X (e.g. Q, K, V projections).
 *
 * Threading: call from every thread of a team (cf_par).  Activation quantization splits rows on
 * thresh_quant_act (elements); the product splits on thresh_matmul (multiply-accumulates) over N
 * in granules of tile_mm_nc weight rows (of one register tile when that shares N more evenly), or
 * over whole activation row groups when N has too few granules to balance the team.  No barrier
 * at the end: the caller barriers before reading Y.
 *
 * Paths (SIMD levels; tile sizes from cf_tuning_get()):
 *   M <  tile_mm_gemm_m: row kernels: 8 (activation row, weight row) pairs per register tile,
 *                        each block's integer dot products reduced horizontally; decode (M = 1)
 *                        streams the weights once with software prefetch of the next tile.
 *   M >= tile_mm_gemm_m: GEMM over activations interleaved in groups of 8 (AVX2) or 16 (AVX-512)
 *                        rows (one vector lane per row), weights unpacked once per cache block of
 *                        tile_mm_mc rows into an L1 panel, register tile 2 groups x tile_mm_nr
 *                        weight rows (kernels/mm_group.h).
 *   AVX-512 VNNI, Q4_0/Q8_0/Q4_K/Q6_K weights (kernels/mm_pk16.h): with a packed copy (W->pack,
 *                        PK16 below) the row kernels work on 16 weight rows per zmm (one lane
 *                        each); Q4_0/Q8_0 at M >= tile_mm_gemm_m (tuning mm_pack on):
 *                        activations are stored block-major and a GEMM broadcasts them against
 *                        16-row weight groups (tile_mm_pkmr rows per register tile), packing on
 *                        the fly any group without a packed copy (Q4_K/Q6_K there: the GEMM above).
 *   F32/F16/BF16 weights: f32 dot products in tiles of tile_mm_mr x 3 (or x 4) outputs.
 *
 * Preconditions (asserted): W->k == K of the activations, K a multiple of the weight block,
 * W->row_bytes == cf_row_bytes(W->type, W->k), M <= the M the activations were quantized for,
 * a weight type the kernels support (cf_dtype_get(type)->compute).
 *
 * Invariance (tested): Y[m][n] is computed by the same sequence of floating-point operations
 * whatever M, m's position in the batch, the tiling and the thread count, so a row's result is
 * bitwise identical whether it is computed alone or in a batch.  Work is split over N (or over
 * whole groups of M), never over K.  The canonical order, per output y = Y[m][n]:
 *
 *   Activation formats (the 8-bit ones are private; see kernels/mm_priv.h):
 *     F32, F16, BF16 weights -> CF_ACT_F32  (X copied, f32)
 *     Q8_0, Q4_0 weights     -> CF_ACT_Q8_0 (blocks of 32: int8 q, f32 d = amax/127, 8*sum(q))
 *     Q4_K, Q6_K weights     -> CF_ACT_Q8_K (blocks of 256: int8 q, f32 d = amax/127, sums of 16)
 *   Integer block sums are exact (any order inside a block):
 *     Q8_0: i_b = sum q_w*q_x            Q4_0: i_b = sum nib*q_x - 8*sum q_x
 *     Q4_K: i1_b = sum_j sc_j*sum(nib*q_x), i2_b = sum_j m_j*sum(q_x)   (j: 32-element sub-blocks)
 *     Q6_K: i_b = sum_j sc_j*(sum(q6*q_x) - 32*sum(q_x))                  (j: 16-element sub-blocks)
 *   Float accumulation (every ISA level, blocks b in increasing K, acc = +0, fma = fused):
 *     Q8_0/Q4_0: acc = fma(dx_b*dw_b, (float)i_b, acc)
 *     Q4_K:      acc = fma(dx_b*d_b, (float)i1_b, acc); acc = fma(-(dx_b*dmin_b), (float)i2_b, acc)
 *     Q6_K:      acc = fma(dx_b*d_b, (float)i_b, acc)
 *     y = acc.  The ref level computes exactly this too, so every level's integer path gives the
 *     same bits as the ref level (tested).
 *   F32/F16/BF16 (weights converted exactly to f32):
 *     ref level: acc = +0; for k: acc = acc + x_k*w_k (separate roundings); y = acc.
 *     AVX2/AVX-512 levels: 8 lane accumulators, lane l = fma over k = 8c+l for c = 0..K/8-1 in
 *     order; then s = (l0+l4, l1+l5, l2+l6, l3+l7), t = (s0+s2, s1+s3), y = t0+t1; then for the
 *     K%8 tail k in order: y = fma(x_k, w_k, y). */
#ifndef CF_MATMUL_H
#define CF_MATMUL_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu.h"
#include "kernels/parallel.h"

typedef struct {
    const void *data;   /* N rows of row_bytes */
    int type;           /* cf_dtype */
    int64_t n, k;       /* rows (outputs), columns (inputs) */
    size_t row_bytes;   /* cf_row_bytes(type, k) */
    const void *pack;   /* optional interleaved copy of rows [0, n/16*16) (cf_wmat_pack), or NULL */
} cf_wmat;

/* Packed weights (PK16): Q4_0, Q8_0, Q4_K and Q6_K rows interleaved in groups of 16, one lane
 * per weight row, for the AVX-512 VNNI kernels (other levels read `data` and ignore `pack`;
 * results are the same bits either way).  Group g (rows 16g..16g+15) starts at pack + g * stride.
 * Q4_0 / Q8_0 (nb = K/32 blocks) and Q6_K (nb = K/256): blocks in pairs, each pair behind one
 *   64-byte line of the two blocks' d's ([2][16] f16; an odd last block has its own line, half
 *   used), so the weights are one sequential stream; per block of 16 rows, the quants:
 *   Q4_0 / Q8_0: [C][16][4] bytes, chunk c, 4 bytes per row (Q4_0: C = 4, the packed nibble
 *     bytes qs[4c..4c+3], i.e. elements 4c..4c+3 low and 16+4c..19+4c high; Q8_0: C = 8,
 *     elements 4c..4c+3 stored as q + 128, unsigned);
 *   Q6_K: CF_PK_Q6K_BLK (3328) bytes: scales [16 sub-blocks][16 rows] int8, then for half
 *     h = 0, 1 and chunk c = 0..7 three [16 rows][4] dwords: ql[64h + 4c ..], ql[64h + 32 + 4c ..],
 *     qh[32h + 4c ..] (elements 128h + 32k + 4c .. +3, k = 0..3: low nibbles of the first
 *     (k = 0) and second (k = 1), their high nibbles (k = 2, 3), 2-bit fields k of the third).
 *   stride = nb/2 pairs + the odd last block (= the GGUF bytes of 16 rows for even nb).
 * Q4_K (nb = K/256), one CF_PK_Q4K_BLK (2304-byte) record per super-block, in order: d [16] f16,
 *   dmin [16] f16, scales [3][16][4] (dword c of the 12 packed 6-bit scale/min bytes), quants
 *   [32][16][4] (dword c of qs: elements 64(c/8) + 4(c%8) .. +3 in the low nibbles, the same + 32
 *   in the high nibbles);  stride = nb * 2304 (the GGUF bytes).
 * Rows past the last full group stay in `data` only.  A sub-view from row r0 keeps `pack`
 * (advanced by r0/16 groups) only when r0 is a multiple of 16 (cf_wmat_rows). */
#define CF_PACK_ROWS 16
#define CF_PK_Q4K_BLK (CF_PACK_ROWS * 144) /* bytes of one Q4_K super-block record */
#define CF_PK_Q6K_BLK (CF_PACK_ROWS * 208) /* quant + scale bytes of one Q6_K super-block of 16 rows */
/* Bytes of W's packed copy; 0 when its type has no packed layout or it has fewer than 16 rows. */
size_t cf_wmat_pack_bytes(const cf_wmat *W);
/* Writes the packed copy of W into dst (64-byte aligned, cf_wmat_pack_bytes(W) bytes). */
void cf_wmat_pack(const cf_wmat *W, void *dst);
/* Bytes from one group to the next in W's packed copy. */
size_t cf_wmat_pack_stride(const cf_wmat *W);
/* Rows [r0, r0 + n) of W as a matrix of their own (packed copy kept when r0 % 16 == 0). */
cf_wmat cf_wmat_rows(const cf_wmat *W, int64_t r0, int64_t n);

/* Activation formats (private layouts; only sizes are public). */
typedef enum { CF_ACT_F32 = 0, CF_ACT_Q8_0 = 1, CF_ACT_Q8_K = 2 } cf_act_kind;
cf_act_kind cf_act_kind_of(int wtype);
/* Bytes for M rows of K activations of the kind used by weight type wtype (for the active ISA). */
size_t cf_act_bytes(int wtype, int64_t M, int64_t K);

/* Quantizes X into act for weight type wtype; rows split across the team; caller barriers. */
void cf_act_quantize(const cf_par *p, int wtype, void *act, const float *X, int64_t ldx, int64_t M,
                     int64_t K);
/* Columns [k0, k1) of all M rows of X into act, laid out as cf_act_quantize(wtype, M, K) lays
 * it out (same bytes for those columns); k0 and k1 multiples of cf_act_block(wtype) (k1 may be
 * K).  Threads may fill disjoint column ranges of one buffer (the one with k0 == 0 writes the
 * header); no split inside, caller barriers before the product.  Lets the thread that produced
 * some columns (an N-split matmul and an elementwise step after it) quantize them itself. */
void cf_act_quantize_cols(int wtype, void *act, const float *X, int64_t ldx, int64_t M, int64_t K,
                          int64_t k0, int64_t k1);
/* Columns per quantization block of wtype's activation kind: 1 (F32), 32 (Q8_0), 256 (Q8_K). */
int64_t cf_act_block(int wtype);
/* Y = act * W^T; N split across the team; caller barriers. */
void cf_matmul_act(const cf_par *p, const cf_wmat *W, const void *act, int64_t M, float *Y,
                   int64_t ldy);
/* Convenience: quantize into scratch (cf_act_bytes), barrier, product; when both steps stay serial
 * (thresholds) thread 0 does both and nobody waits.  Caller barriers after. */
void cf_matmul(const cf_par *p, const cf_wmat *W, const float *X, int64_t ldx, int64_t M, float *Y,
               int64_t ldy, void *scratch);

/* Scalar reference (dequantize-then-dot in double-free f32): the oracle for tests. */
void cf_matmul_ref(const cf_wmat *W, const float *X, int64_t ldx, int64_t M, float *Y, int64_t ldy);

/* The same entry points bound to one ISA level (tests run every level the CPU has). */
typedef struct {
    size_t (*act_bytes)(int wtype, int64_t M, int64_t K);
    void (*act_quantize)(const cf_par *p, int wtype, void *act, const float *X, int64_t ldx,
                         int64_t M, int64_t K);
    void (*act_quantize_cols)(int wtype, void *act, const float *X, int64_t ldx, int64_t M,
                              int64_t K, int64_t k0, int64_t k1);
    void (*matmul_act)(const cf_par *p, const cf_wmat *W, const void *act, int64_t M, float *Y,
                       int64_t ldy);
} cf_matmul_ops;
const cf_matmul_ops *cf_matmul_ops_for(cf_isa isa);

#endif
