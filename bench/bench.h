/* Benchmark entry points behind `cinfer bench SUB ...` (argv[0] = SUB). */
#ifndef CF_BENCH_H
#define CF_BENCH_H

int bench_kernels_main(int argc, char **argv);  /* bench/bench_kernels.c */
int bench_model_main(int argc, char **argv);    /* bench/bench_model.c */
int bench_schema_main(int argc, char **argv);   /* bench/bench_schema.c */

#endif
