/* cinfer: one CLI, many subcommands (see README "CLI"). */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} command;

static const command k_commands[] = {
    {"run", cmd_run, "generate text from a prompt (optionally constrained by --json-schema/--grammar)"},
    {"batch", cmd_batch, "run a JSONL file of prompts with several sequences decoded together"},
    {"logits", cmd_logits, "teacher-force token ids and write float32 logits rows"},
    {"tokenize", cmd_tokenize, "tokenize text with a model's tokenizer (or detokenize ids)"},
    {"gguf", cmd_gguf, "print a GGUF file's metadata and tensor table"},
    {"synth", cmd_synth, "make a model with a real vocab and seeded random weights"},
    {"quantize", cmd_quantize, "quantize a GGUF model to q8_0, q4_0 or q4_k"},
    {"convert-llama2c", cmd_convert_llama2c, "convert a llama2.c checkpoint + tokenizer to GGUF"},
    {"bench", cmd_bench, "benchmarks: kernels, model, schema"},
    {"tune", cmd_tune, "measure and write the parallel thresholds / tile sizes"},
    {"info", cmd_info, "CPU, ISA paths, thresholds and measured machine limits"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: cinfer COMMAND [options]   (cinfer COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        fprintf(f, "  %-16s %s\n", k_commands[i].name, k_commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (!strcmp(argv[1], k_commands[i].name)) return k_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "cinfer: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
