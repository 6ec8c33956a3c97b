/* CPU detection (cpuinfo, once) and the ISA level every kernel dispatches on.
 *
 * Levels are ordered: a CPU at level L can run every path <= L.
 *   CF_ISA_REF        plain C reference (always available)
 *   CF_ISA_AVX2       AVX2 + FMA + F16C
 *   CF_ISA_AVX512     AVX-512 F/BW/VL/DQ
 *   CF_ISA_AVX512VNNI AVX-512 + VNNI (int8 dot products)
 * CINFER_ISA=ref|avx2|avx512|avx512vnni forces a level; a level the CPU lacks is refused. */
#ifndef CF_CPU_H
#define CF_CPU_H
#include <stddef.h>

#include "kernels/err.h"

typedef enum {
    CF_ISA_REF = 0,
    CF_ISA_AVX2 = 1,
    CF_ISA_AVX512 = 2,
    CF_ISA_AVX512VNNI = 3,
    CF_ISA_COUNT
} cf_isa;

typedef struct {
    char name[96];           /* CPU model string */
    int n_cores;             /* logical processors usable */
    int avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16;
    size_t l1d, l2, l3;      /* bytes per core (l3: total) */
    const char *cache_src;   /* "cpuinfo", "sysfs" or "default" */
    cf_isa best;             /* best level this CPU supports */
    cf_isa active;           /* level in use (best unless forced) */
    const char *active_src;  /* "detected" or "CINFER_ISA" */
} cf_cpu_info;

/* Detects once (thread-safe after first call from one thread) and applies CINFER_ISA.
 * Returns CF_EUNSUPPORTED with a message if CINFER_ISA names an unknown level or one the CPU lacks. */
int cf_cpu_init(cf_err *err);
/* The detected info (initialises on first use; a bad CINFER_ISA then warns and keeps `best`). */
const cf_cpu_info *cf_cpu(void);
cf_isa cf_isa_active(void);
/* Forces a level (tests, CLI); refuses one the CPU lacks. */
int cf_isa_set(cf_isa isa, cf_err *err);
const char *cf_isa_name(cf_isa isa);
/* Parses "ref|avx2|avx512|avx512vnni"; returns -1 if unknown. */
int cf_isa_parse(const char *s);
/* 1 if this CPU can run code of level isa. */
int cf_isa_supported(cf_isa isa);

#endif
