/* Placeholder: replaced by the module that implements `cinfer tokenize`. */
#include <stdio.h>

#include "tools/cli.h"

int cmd_tokenize(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "cinfer %s: not implemented yet\n", argv[0]);
    return CLI_USAGE;
}
