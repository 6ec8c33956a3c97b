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
 * Threading: call from every thread of a team (cf_par).  Activation quantization splits rows;
 * the product splits N in granules of tile_mm_nc.  No barrier at the end: the caller barriers
 * before reading Y.
 *
 * Invariance (tested): Y[m][n] is computed by the same sequence of floating-point operations
 * whatever M, m's position in the batch, the tiling and the thread count, so a row's result is
 * bitwise identical whether it is computed alone or in a batch. */
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
} cf_wmat;

/* Activation formats (private layouts; only sizes are public). */
typedef enum { CF_ACT_F32 = 0, CF_ACT_Q8_0 = 1, CF_ACT_Q8_K = 2 } cf_act_kind;
cf_act_kind cf_act_kind_of(int wtype);
/* Bytes for M rows of K activations of the kind used by weight type wtype (for the active ISA). */
size_t cf_act_bytes(int wtype, int64_t M, int64_t K);

/* Quantizes X into act for weight type wtype; rows split across the team; caller barriers. */
void cf_act_quantize(const cf_par *p, int wtype, void *act, const float *X, int64_t ldx, int64_t M,
                     int64_t K);
/* Y = act * W^T; N split across the team; caller barriers. */
void cf_matmul_act(const cf_par *p, const cf_wmat *W, const void *act, int64_t M, float *Y,
                   int64_t ldy);
/* Convenience: quantize into scratch (cf_act_bytes), barrier, product.  Caller barriers after. */
void cf_matmul(const cf_par *p, const cf_wmat *W, const float *X, int64_t ldx, int64_t M, float *Y,
               int64_t ldy, void *scratch);

/* Scalar reference (dequantize-then-dot in double-free f32): the oracle for tests. */
void cf_matmul_ref(const cf_wmat *W, const float *X, int64_t ldx, int64_t M, float *Y, int64_t ldy);

/* The same entry points bound to one ISA level (tests run every level the CPU has). */
typedef struct {
    size_t (*act_bytes)(int wtype, int64_t M, int64_t K);
    void (*act_quantize)(const cf_par *p, int wtype, void *act, const float *X, int64_t ldx,
                         int64_t M, int64_t K);
    void (*matmul_act)(const cf_par *p, const cf_wmat *W, const void *act, int64_t M, float *Y,
                       int64_t ldy);
} cf_matmul_ops;
const cf_matmul_ops *cf_matmul_ops_for(cf_isa isa);

#endif
