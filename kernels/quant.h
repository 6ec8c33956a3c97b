/* Weight types (GGML/GGUF numbering), their block layouts, and row conversion.
 *
 * A row of n elements of a block type is n/block blocks, stored back to back.
 * Layouts follow the GGUF spec exactly (see README "Quant formats"):
 *   Q4_0  32 elems, 18 B: f16 d; u8 qs[16]         x[j] = d*((qs[j]&15)-8), x[j+16] = d*((qs[j]>>4)-8)
 *   Q8_0  32 elems, 34 B: f16 d; i8 qs[32]         x[j] = d*qs[j]
 *   Q4_K 256 elems,144 B: f16 d, dmin; u8 scales[12] (8 x 6-bit scale + 8 x 6-bit min); u8 qs[128]
 *   Q6_K 256 elems,210 B: u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d
 *   Q8_K 256 elems,292 B: f32 d; i8 qs[256]; i16 bsums[16]   (activation type only)
 *   F16 / BF16 / F32: one element per "block".
 * Dequantization is bit-exact against the reference (the *_ref functions are the spec). */
#ifndef CF_QUANT_H
#define CF_QUANT_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CF_T_F32 = 0,
    CF_T_F16 = 1,
    CF_T_Q4_0 = 2,
    CF_T_Q4_1 = 3,
    CF_T_Q5_0 = 6,
    CF_T_Q5_1 = 7,
    CF_T_Q8_0 = 8,
    CF_T_Q8_1 = 9,
    CF_T_Q2_K = 10,
    CF_T_Q3_K = 11,
    CF_T_Q4_K = 12,
    CF_T_Q5_K = 13,
    CF_T_Q6_K = 14,
    CF_T_Q8_K = 15,
    CF_T_I8 = 24,
    CF_T_I16 = 25,
    CF_T_I32 = 26,
    CF_T_I64 = 27,
    CF_T_F64 = 28,
    CF_T_BF16 = 30,
    CF_T_COUNT = 40
} cf_dtype;

typedef struct {
    const char *name;  /* "q4_0" ... */
    int block;         /* elements per block */
    int bytes;         /* bytes per block */
    int compute;       /* 1 if cinfer's matmul / dequant support it */
} cf_dtype_info;

/* NULL for a type id GGUF does not define (or one with unknown size). */
const cf_dtype_info *cf_dtype_get(int type);
/* Bytes of a row of n elements (n a multiple of the block); 0 if unknown type or bad n. */
size_t cf_row_bytes(int type, int64_t n);
/* Parses "f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|..." (case-insensitive); -1 if unknown. */
int cf_dtype_parse(const char *s);

/* Scalar conversions (IEEE half, bfloat16 round-to-nearest-even). */
float cf_f16_to_f32(uint16_t h);
uint16_t cf_f32_to_f16(float f);
float cf_bf16_to_f32(uint16_t h);
uint16_t cf_f32_to_bf16(float f);

/* Row dequantization (dispatched to the best ISA; every path bit-exact with _ref).
 * dst: n floats.  n must be a multiple of the type's block. */
void cf_dequantize_row(int type, const void *src, float *dst, int64_t n);
void cf_dequantize_row_ref(int type, const void *src, float *dst, int64_t n);

/* Row quantization from f32 (reference quality quantizers, used by `cinfer quantize`, `synth`
 * and tests).  Supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, Q8_K.  Returns 0, or -1 for an
 * unsupported type. */
int cf_quantize_row(int type, const float *src, void *dst, int64_t n);

#endif
