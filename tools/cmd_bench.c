/* `cinfer bench kernels|model|schema ...` */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "tools/cli.h"

int cmd_bench(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*fn)(int, char **);
        const char *help;
    } subs[] = {
        {"kernels", bench_kernels_main, "kernel sweeps over sizes and thread counts (verify, then time)"},
        {"model", bench_model_main, "prompt processing / generation tokens/s, parallel-sequence scaling"},
        {"schema", bench_schema_main, "JSON Schema compile and token-mask benchmark (MaskBench format)"},
    };
    if (argc >= 2)
        for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
            if (!strcmp(argv[1], subs[i].name)) {
                int rc = cli_init_runtime("bench");
                return rc ? rc : subs[i].fn(argc - 1, argv + 1);
            }
    FILE *f = (argc >= 2 && !strcmp(argv[1], "--help")) ? stdout : stderr;
    if (argc >= 2 && f == stderr) fprintf(stderr, "cinfer bench: unknown benchmark '%s'\n", argv[1]);
    fprintf(f, "usage: cinfer bench SUB [options]\n");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) fprintf(f, "  %-8s %s\n", subs[i].name, subs[i].help);
    return f == stdout ? CLI_OK : CLI_USAGE;
}
