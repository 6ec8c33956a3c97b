/* Placeholder: replaced by the module that implements `cinfer convert-llama2c`. */
#include <stdio.h>

#include "tools/cli.h"

int cmd_convert_llama2c(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "cinfer %s: not implemented yet\n", argv[0]);
    return CLI_USAGE;
}
