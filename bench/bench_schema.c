/* Placeholder: `cinfer bench schema` is implemented by its owner. */
#include <stdio.h>

#include "bench/bench.h"
#include "tools/cli.h"

int bench_schema_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "cinfer bench schema: not implemented yet\n");
    return CLI_USAGE;
}
