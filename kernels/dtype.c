/* Type table (GGML numbering) and scalar half/bfloat16 conversions. */
#include <ctype.h>
#include <string.h>

#include "kernels/quant.h"

static const cf_dtype_info k_types[CF_T_COUNT] = {
    [CF_T_F32] = {"f32", 1, 4, 1},      [CF_T_F16] = {"f16", 1, 2, 1},
    [CF_T_Q4_0] = {"q4_0", 32, 18, 1},  [CF_T_Q4_1] = {"q4_1", 32, 20, 0},
    [CF_T_Q5_0] = {"q5_0", 32, 22, 0},  [CF_T_Q5_1] = {"q5_1", 32, 24, 0},
    [CF_T_Q8_0] = {"q8_0", 32, 34, 1},  [CF_T_Q8_1] = {"q8_1", 32, 36, 0},
    [CF_T_Q2_K] = {"q2_k", 256, 84, 0}, [CF_T_Q3_K] = {"q3_k", 256, 110, 0},
    [CF_T_Q4_K] = {"q4_k", 256, 144, 1},[CF_T_Q5_K] = {"q5_k", 256, 176, 0},
    [CF_T_Q6_K] = {"q6_k", 256, 210, 1},[CF_T_Q8_K] = {"q8_k", 256, 292, 0},
    [CF_T_I8] = {"i8", 1, 1, 0},        [CF_T_I16] = {"i16", 1, 2, 0},
    [CF_T_I32] = {"i32", 1, 4, 0},      [CF_T_I64] = {"i64", 1, 8, 0},
    [CF_T_F64] = {"f64", 1, 8, 0},      [CF_T_BF16] = {"bf16", 1, 2, 1},
};

const cf_dtype_info *cf_dtype_get(int type) {
    if (type < 0 || type >= CF_T_COUNT || !k_types[type].name) return NULL;
    return &k_types[type];
}

size_t cf_row_bytes(int type, int64_t n) {
    const cf_dtype_info *t = cf_dtype_get(type);
    if (!t || n < 0 || n % t->block) return 0;
    return (size_t)(n / t->block) * (size_t)t->bytes;
}

int cf_dtype_parse(const char *s) {
    char low[16];
    size_t n = strlen(s);
    if (n >= sizeof low) return -1;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)s[i]);
    for (int i = 0; i < CF_T_COUNT; i++)
        if (k_types[i].name && strcmp(k_types[i].name, low) == 0) return i;
    return -1;
}

static inline uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float cf_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return u2f(sign | 0x7f800000u | (man << 13));      /* inf / nan */
    if (exp == 0) {
        if (!man) return u2f(sign);                                       /* +-0 */
        float v = (float)man * (1.0f / 16777216.0f);                      /* subnormal: man * 2^-24 */
        return sign ? -v : v;
    }
    return u2f(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t cf_f32_to_f16(float f) {
    uint32_t u = f2u(f), sign = (u >> 16) & 0x8000;
    uint32_t abs = u & 0x7fffffffu;
    if (abs >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 | ((abs >> 13) & 0x3ff) : 0));
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);           /* rounds to >= 65520: inf */
    if (abs < 0x38800000u) {                                             /* below 2^-14: subnormal */
        if (abs < 0x33000000u) return (uint16_t)sign;                    /* < 2^-25: rounds to 0 */
        uint32_t e = abs >> 23, m = (abs & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;                                        /* 14 + (113 - e) - 1 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t q = ((abs - 0x38000000u) >> 13);                            /* rebias exponent 127->15 */
    uint32_t rem = abs & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++;
    return (uint16_t)(sign | q);
}

float cf_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t cf_f32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  /* quiet nan */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}
