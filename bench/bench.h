/* Benchmark entry points behind `cinfer bench SUB ...` (argv[0] = SUB), and what they share. */
#ifndef CF_BENCH_H
#define CF_BENCH_H
#include <stdio.h>

#include "model/context.h"
#include "model/profile.h"

int bench_kernels_main(int argc, char **argv);  /* bench/bench_kernels.c */
int bench_model_main(int argc, char **argv);    /* bench/bench_model.c */
int bench_schema_main(int argc, char **argv);   /* bench/bench_schema.c */

/* Short git commit of the build (Makefile: -DCF_COMMIT), "unknown" outside a git checkout. */
const char *bench_commit(void);

/* Profile report over the span since mark (model/profile.h) against this machine's limits
 * measured at the context's thread count (bench/roofline.h, ~0.2 s on first use), printed to f
 * under `title`; *out (may be NULL) receives the report.  sample_s < 0: sampling not measured.
 * Returns 0, or -1 when nothing was profiled (a line says so). */
int bench_profile_report(FILE *f, const cf_context *c, const cf_fwd_prof *mark, double wall_s, double sample_s,
                         const char *title, cf_prof_report *out);

#endif
