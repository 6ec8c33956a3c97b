/* Machine-limit probes: the denominators of every "% of limit" cinfer reports.
 *
 * For a team of nth threads (each probe runs inside one cf_parallel_run team, every thread on
 * its own data, timed between barriers, best of a few passes):
 *   dram_gbs     read bandwidth over a buffer of max(4 x L3, 128 MiB), GB/s (1e9 bytes/s)
 *   fp32_gflops  FP32 FMA peak (independent FMA chains on registers; an FMA counts 2 flops)
 *   int8_gops    int8 dot-product peak: AVX-512 VNNI vpdpbusd where the CPU has it, else the AVX2
 *                vpmaddubsw + vpmaddwd + vpaddd chain (a u8 x s8 multiply-add counts 2 ops)
 * Probes use the best ISA the CPU has (not CINFER_ISA): they measure the machine.  All three
 * take ~0.2 s per thread count; results are cached per nth for the life of the process. */
#ifndef CF_ROOFLINE_H
#define CF_ROOFLINE_H

typedef struct {
    int nth;
    double dram_gbs;
    double fp32_gflops;
    double int8_gops;
    const char *fp32_kind; /* "avx512 fma", "avx2 fma" or "scalar" */
    const char *int8_kind; /* "avx512vnni vpdpbusd", "avx2 vpmaddubsw+vpmaddwd" or "scalar" */
    double seconds;        /* wall time the probes took */
} cf_roofline;

/* Fills *out for nth threads (nth <= 0: cf_default_threads()), measuring on first use. */
void cf_roofline_measure(int nth, cf_roofline *out);
/* Forgets cached measurements. */
void cf_roofline_reset(void);

#endif
