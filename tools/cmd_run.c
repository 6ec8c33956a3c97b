/* Placeholder: replaced by the module that implements `cinfer run`. */
#include <stdio.h>

#include "tools/cli.h"

int cmd_run(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "cinfer %s: not implemented yet\n", argv[0]);
    return CLI_USAGE;
}
