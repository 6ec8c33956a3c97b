/* Tuning: every parallel threshold and tile size, in one struct per ISA level.
 *
 * Values come from (later wins): the per-ISA defaults below, the tuning file, the environment.
 *   tuning file: $CINFER_TUNING, else $XDG_CONFIG_HOME/cinfer/tuning.txt, else
 *                ~/.config/cinfer/tuning.txt.  Format: `[isa]` sections of `name = value` lines,
 *                '#' comments; written by `cinfer tune`.
 *   environment: CINFER_<NAME> in upper case, e.g. CINFER_THRESH_RMSNORM=8192.
 * A threshold is the minimum work per participating thread (see cf_split_nthreads); the unit is
 * given per kernel.  0 = always split; a huge value = always serial.
 *
 * To add a parameter, add one X() line: X(name, doc, ref, avx2, avx512, avx512vnni). */
#ifndef CF_TUNING_H
#define CF_TUNING_H
#include "kernels/cpu.h"
#include "kernels/err.h"

#define CF_TUNING_PARAMS(X)                                                                       \
    X(thresh_rmsnorm, "rmsnorm: elements (rows x dim)", 16384, 2048, 2048, 2048)                \
    X(thresh_rope, "rope: elements (tokens x heads x head_dim)", 16384, 2048, 2048, 2048)       \
    X(thresh_qknorm, "qk-norm(+rope): elements", 16384, 32768, 32768, 32768)                       \
    X(thresh_matmul, "matmul: multiply-accumulates (M x N x K)", 65536, 262144, 262144, 262144)    \
    X(thresh_quant_act, "activation quantization: elements (M x K)", 16384, 2048, 2048, 2048)   \
    X(thresh_attn, "attention: multiply-accumulates (queries x kv x head_dim x 2)", 32768, 65536, \
      32768, 32768)                                                                               \
    X(thresh_softmax, "softmax: elements", 16384, 16384, 16384, 16384)                             \
    X(thresh_swiglu, "swiglu/gelu: elements", 16384, 4096, 4096, 4096)                          \
    X(thresh_vec, "vector add/scale: elements", 32768, 131072, 131072, 131072)                     \
    X(thresh_embed, "embedding lookup: elements (tokens x dim)", 16384, 65536, 65536, 65536)       \
    X(tile_mm_mr, "matmul: activation rows per register tile (f32/f16/bf16 weights, 1..4)", 1, 4, \
      4, 4)                                                                                       \
    X(tile_mm_nr, "matmul: weight rows per register tile (8-bit GEMM, 1..4)", 1, 3, 4, 4)          \
    X(tile_mm_nc, "matmul: weight rows per thread task (granule)", 16, 64, 64, 64)                 \
    X(tile_mm_mc, "matmul: activation rows per cache block", 64, 64, 64, 64)                       \
    X(tile_mm_gemm_m, "matmul: activation rows from which 8-bit GEMM (row groups) is used", 1, 5, \
      8, 8)                                                                                       \
    X(tile_mm_pf, "matmul: prefetch distance of the packed (PK16) row kernels, bytes (0 = off)", 0, 0, 0, \
      256)                                                                                          \
    X(tile_mm_pf_multi, "matmul: prefetch distance of packed tiles of several activation rows, bytes (0 = off)", \
      0, 0, 0, 4096)                                                                              \
    X(tile_mm_pkmr, "matmul: activation rows per register tile of the packed GEMM (1..8)", 6, 6, 6, \
      6)                                                                                          \
    X(tile_mm_pkmr_few, "matmul: packed GEMM rows per tile for blocks of <= 2x this many rows (1..8)", 8, \
      8, 8, 8)                                                                                    \
    X(mm_pack, "matmul: pack Q4_0/Q8_0/Q4_K/Q6_K weights at load (PK16, read by avx512vnni; 0/1)", 0, 0, \
      0, 1)                                                                                       \
    X(tile_attn_kv, "attention: kv positions per online-softmax block", 64, 128, 128, 128)         \
    X(tile_attn_pf, "attention: bytes of K/V rows a thread prefetches into L2 before computing (0 = off)", 0, \
      0, 524288, 524288)                                                                          \
    X(tile_attn_rh, "attention: query rows x heads per task sharing a kv block (<= 16)", 1, 8, 16, \
      16)                                                                                         \
    X(fwd_ffn_cols_m, "forward: batch rows up to which gate/up, SwiGLU and its quantization run on columns (no barrier between)", \
      64, 64, 64, 64)

typedef enum { CF_TSRC_DEFAULT = 0, CF_TSRC_FILE = 1, CF_TSRC_ENV = 2, CF_TSRC_SET = 3 } cf_tsrc;

typedef struct {
#define CF_TUNING_FIELD(name, doc, r, a2, a5, a5v) long name;
    CF_TUNING_PARAMS(CF_TUNING_FIELD)
#undef CF_TUNING_FIELD
} cf_tuning;

#define CF_TUNING_COUNT (sizeof(cf_tuning) / sizeof(long))

/* The tuning in force for the active ISA (loaded on first use: defaults, file, env). */
const cf_tuning *cf_tuning_get(void);
/* Mutable view for the bench and tuner (forcing serial/parallel); cf_tuning_reload undoes it. */
cf_tuning *cf_tuning_mut(void);
/* Reloads for the active ISA from defaults + file + env (after cf_isa_set, or to drop changes). */
int cf_tuning_reload(cf_err *err);

void cf_tuning_defaults(cf_isa isa, cf_tuning *t);
/* Applies `[isa]` entries from a tuning file; a missing file is not an error.  Unknown names and
 * bad values are errors that name the line. */
int cf_tuning_load_file(const char *path, cf_isa isa, cf_tuning *t, cf_tsrc *src, cf_err *err);
int cf_tuning_write_file(const char *path, cf_isa isa, const cf_tuning *t, const char *comment,
                         cf_err *err);
/* As cf_tuning_write_file, but the [isa] section lists only the parameters whose value differs
 * from isa's default (so later changes of a default still apply); other sections are kept. */
int cf_tuning_write_changed(const char *path, cf_isa isa, const cf_tuning *t, const char *comment,
                            cf_err *err);
/* Path of the tuning file in effect (CINFER_TUNING, XDG, HOME); never NULL. */
const char *cf_tuning_path(void);

/* Introspection for `cinfer info`: i-th parameter's name, doc, value and source. */
int cf_tuning_count(void);
const char *cf_tuning_name(int i);
const char *cf_tuning_doc(int i);
long cf_tuning_value(const cf_tuning *t, int i);
cf_tsrc cf_tuning_source(int i);
const char *cf_tsrc_name(cf_tsrc s);
/* Index of a parameter by name, -1 if none. */
int cf_tuning_find(const char *name);
void cf_tuning_set_value(cf_tuning *t, int i, long v);

#endif
