/* Placeholder: `cinfer bench model` is implemented by its owner. */
#include <stdio.h>

#include "bench/bench.h"
#include "tools/cli.h"

int bench_model_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "cinfer bench model: not implemented yet\n");
    return CLI_USAGE;
}
