/* Kernel-bench family: matmul Y = X * W^T (cf_matmul: activation quantization, barrier, product)
 * over weight type x (M, N, K):
 *   - decode (M = 1, and M = 8 for Q4_0: eight sequences) over weights larger than 64 MB:
 *     bandwidth bound at M = 1, judged against DRAM read;
 *   - prefill M = 256 at 2048 x 2048: compute bound, judged against the int8 (or FP32) peak;
 *   - the SmolLM2-135M shapes (dim 576, ffn 1536, kv 192, vocab 49152) at M = 1, 256, 512.
 * Weights are random bytes with finite block scales (speed does not depend on the values).
 * Weights are used as the runtime uses them: where model load would make a PK16 packed copy
 * (Q4_0/Q8_0/Q4_K/Q6_K on AVX-512 VNNI with tuning mm_pack on; model/model_pack.c; the Q4_K/Q6_K
 * GEMM at M >= tile_mm_gemm_m still reads the GGUF data) the case packs one too,
 * on 2 MiB pages, and its size says "pk16".
 * Verification: the active ISA path on the whole case, checked on a sample of outputs against a
 * double-precision dot of the dequantized weight row with the f32 activations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/kbench.h"
#include "kernels/bigmem.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/tuning.h"

int kb_family_matmul(int quick, kb_case **cases, int *n, int *cap);

/* |y - exact| <= TOL * |x| |w| / sqrt(K): the 8-bit activation rounding is ~5e-3 of that scale
 * (rms); f32-kind paths differ from exact by summation rounding only. */
#define VERIFY_TOL_8BIT 5e-2
#define VERIFY_TOL_F32 1e-4
#define VERIFY_ROWS 8
#define VERIFY_COLS 24

typedef struct {
    int type;
    int64_t M, N, K;
    cf_wmat w;
    int packed; /* make a PK16 copy (as model load would) */
    void *wdata, *wpack, *scratch;
    float *x, *y;
} st_t;

static uint64_t next(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

static int setup(st_t *s) {
    if (s->wdata) return 0;
    const cf_dtype_info *ti = cf_dtype_get(s->type);
    size_t rb = cf_row_bytes(s->type, s->K), wbytes = rb * (size_t)s->N;
    s->wdata = aligned_alloc(64, (wbytes + 63) / 64 * 64);
    s->x = kb_alloc((size_t)(s->M * s->K) * sizeof(float));
    s->y = kb_alloc((size_t)(s->M * s->N) * sizeof(float));
    size_t ab = cf_act_bytes(s->type, s->M, s->K);
    s->scratch = aligned_alloc(64, (ab + 63) / 64 * 64);
    if (!s->wdata || !s->x || !s->y || !s->scratch) return -1;
    uint64_t r = 0x1234567u + (uint64_t)s->type;
    uint64_t *w64 = s->wdata;
    for (size_t i = 0; i < wbytes / 8; i++) w64[i] = next(&r) * 0x9E3779B97F4A7C15ull;
    for (size_t i = wbytes / 8 * 8; i < wbytes; i++) ((uint8_t *)s->wdata)[i] = (uint8_t)next(&r);
    /* finite block scales of modest size; f32/f16/bf16 elements likewise */
    for (int64_t nn = 0; nn < s->N; nn++) {
        uint8_t *row = (uint8_t *)s->wdata + nn * rb;
        for (int64_t b = 0; b < s->K / ti->block; b++) {
            uint8_t *blk = row + b * ti->bytes;
            uint16_t h = (uint16_t)(0x2000 | (next(&r) & 0x0fff)); /* 2^-7 .. 2^-4 */
            switch (s->type) {
            case CF_T_Q8_0:
            case CF_T_Q4_0:
            case CF_T_F16: memcpy(blk, &h, 2); break;
            case CF_T_Q4_K: memcpy(blk, &h, 2), memcpy(blk + 2, &h, 2); break;
            case CF_T_Q6_K: memcpy(blk + 208, &h, 2); break;
            case CF_T_BF16: { uint16_t v = (uint16_t)(0x3c00 | (h & 0xff)); memcpy(blk, &v, 2); break; }
            default: { float f = (float)(h & 0xfff) / 4096.0f - 0.5f; memcpy(blk, &f, 4); break; }
            }
        }
    }
    for (int64_t i = 0; i < s->M * s->K; i++) s->x[i] = (float)(next(&r) >> 29) / 16777216.0f * 2.0f - 1.0f;
    s->w = (cf_wmat){s->wdata, s->type, s->N, s->K, rb, NULL};
    if (s->packed) {
        if (!(s->wpack = cf_alloc_big(cf_wmat_pack_bytes(&s->w)))) return -1; /* as model load */
        cf_wmat_pack(&s->w, s->wpack);
        s->w.pack = s->wpack;
    }
    return 0;
}

static void run(const cf_par *p, kb_case *c) {
    st_t *s = c->state;
    cf_matmul(p, &s->w, s->x, s->K, s->M, s->y, s->N, s->scratch);
}

static int verify(kb_case *c, char *msg, size_t cap) {
    st_t *s = c->state;
    if (setup(s)) {
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    run(&cf_par_serial, c);
    float *wr = malloc((size_t)s->K * sizeof(float));
    if (!wr) {
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    double tol = cf_act_kind_of(s->type) == CF_ACT_F32 ? VERIFY_TOL_F32 : VERIFY_TOL_8BIT;
    int rc = 0;
    for (int j = 0; j < VERIFY_COLS && !rc; j++) {
        int64_t nn = j == VERIFY_COLS - 1 ? s->N - 1 : (int64_t)j * s->N / VERIFY_COLS;
        cf_dequantize_row_ref(s->type, (const char *)s->wdata + nn * s->w.row_bytes, wr, s->K);
        double w2 = 0;
        for (int64_t k = 0; k < s->K; k++) w2 += (double)wr[k] * wr[k];
        for (int i = 0; i < VERIFY_ROWS && !rc; i++) {
            int64_t m = i == VERIFY_ROWS - 1 ? s->M - 1 : (int64_t)i * s->M / VERIFY_ROWS;
            const float *x = s->x + m * s->K;
            double dot = 0, x2 = 0;
            for (int64_t k = 0; k < s->K; k++) dot += (double)x[k] * wr[k], x2 += (double)x[k] * x[k];
            double bound = tol * sqrt(x2 * w2 / (double)s->K) + 1e-30;
            double got = s->y[m * s->N + nn];
            if (!(fabs(got - dot) <= bound)) {
                snprintf(msg, cap, "Y[%lld][%lld] = %.7g, reference %.7g (bound %.3g)", (long long)m, (long long)nn, got,
                         dot, bound);
                rc = -1;
            }
        }
    }
    free(wr);
    return rc;
}

static void release(kb_case *c) {
    st_t *s = c->state;
    if (s) free(s->wdata), free(s->wpack), free(s->scratch), free(s->x), free(s->y);
    free(s);
    c->state = NULL;
}

static int push(kb_case **cases, int *n, int *cap, int type, int64_t M, int64_t N, int64_t K, const char *tag) {
    kb_case *c = kb_push(cases, n, cap);
    st_t *s = calloc(1, sizeof *s);
    if (!c || !s) {
        free(s);
        return -1;
    }
    s->type = type, s->M = M, s->N = N, s->K = K;
    cf_wmat probe = {NULL, type, N, K, cf_row_bytes(type, K), NULL};
    s->packed = cf_isa_active() >= CF_ISA_AVX512VNNI && cf_tuning_get()->mm_pack && cf_wmat_pack_bytes(&probe) > 0;
    double wbytes = (double)cf_row_bytes(type, K) * (double)N;
    snprintf(c->kernel, sizeof c->kernel, "matmul");
    snprintf(c->size, sizeof c->size, "M=%lld N=%lld K=%lld%s%s%s", (long long)M, (long long)N, (long long)K, tag ? " " : "",
             tag ? tag : "", s->packed ? " pk16" : "");
    snprintf(c->type, sizeof c->type, "%s", cf_dtype_get(type)->name);
    c->bytes = wbytes + 4.0 * (double)M * (double)K + 4.0 * (double)M * (double)N;
    c->ops = 2.0 * (double)M * (double)N * (double)K;
    c->limit = M == 1 ? KB_LIMIT_BW : cf_act_kind_of(type) == CF_ACT_F32 ? KB_LIMIT_FP32 : KB_LIMIT_INT8;
    c->work = (long)(M * N * K);
    c->thresh = "thresh_matmul";
    c->state = s;
    c->verify = verify;
    c->run = run;
    c->free = release;
    return 0;
}

int kb_family_matmul(int quick, kb_case **cases, int *n, int *cap) {
    /* decode over > 64 MB of weights */
    static const struct { int t; int64_t N, K; } big[] = {
        {CF_T_Q4_0, 16384, 8192}, {CF_T_Q8_0, 16384, 4096}, {CF_T_Q4_K, 16384, 8192}, {CF_T_Q6_K, 12288, 8192},
        {CF_T_F16, 8192, 4096},   {CF_T_BF16, 8192, 4096},  {CF_T_F32, 4096, 4096},
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        if (quick && big[i].t != CF_T_Q4_0 && big[i].t != CF_T_Q8_0) continue;
        if (push(cases, n, cap, big[i].t, 1, big[i].N, big[i].K, ">64MB")) return -1;
    }
    /* eight sequences decoding together over the same weights (a --parallel 8 step) */
    if (push(cases, n, cap, CF_T_Q4_0, 8, 16384, 8192, ">64MB")) return -1;
    /* prefill */
    static const int pre[] = {CF_T_Q8_0, CF_T_Q4_0, CF_T_Q4_K, CF_T_Q6_K, CF_T_F16};
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
        if (quick && i >= 2) break;
        if (push(cases, n, cap, pre[i], 256, 2048, 2048, NULL)) return -1;
    }
    /* SmolLM2-135M shapes */
    static const struct { int64_t N, K; const char *what; } smol[] = {
        {576, 576, "q/o"}, {192, 576, "k/v"}, {1536, 576, "gate/up"}, {576, 1536, "down"}, {49152, 576, "output"},
    };
    static const int64_t ms_full[] = {1, 2, 8, 256, 512}, ms_quick[] = {1, 512};
    const int64_t *ms = quick ? ms_quick : ms_full;
    int nm = quick ? 2 : 5;
    static const int st[] = {CF_T_Q4_0, CF_T_Q8_0, CF_T_Q4_K};
    for (int ti = 0; ti < (quick ? 1 : 3); ti++)
        for (size_t i = 0; i < sizeof smol / sizeof smol[0]; i++)
            for (int mi = 0; mi < nm; mi++) {
                if (smol[i].N == 49152 && ms[mi] > 8) continue; /* logits are computed for few rows */
                if (st[ti] != CF_T_Q4_0 && (ms[mi] == 2 || ms[mi] == 8)) continue;
                if (smol[i].K % cf_dtype_get(st[ti])->block) continue; /* Q4_K needs K % 256 == 0 */
                char tag[32];
                snprintf(tag, sizeof tag, "smol %s", smol[i].what);
                if (push(cases, n, cap, st[ti], ms[mi], smol[i].N, smol[i].K, tag)) return -1;
            }
    return 0;
}
