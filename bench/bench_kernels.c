/* Placeholder: `cinfer bench kernels` is implemented by its owner. */
#include <stdio.h>

#include "bench/bench.h"
#include "tools/cli.h"

int bench_kernels_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "cinfer bench kernels: not implemented yet\n");
    return CLI_USAGE;
}
