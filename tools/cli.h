/* The cinfer CLI: subcommand entry points and the argument parsing they share.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input (message on stderr). */
#ifndef CF_CLI_H
#define CF_CLI_H
#include <stdint.h>

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

/* Subcommands: each receives argv starting at its own name (argv[0] = "run", ...). */
int cmd_run(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_gguf(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_convert_llama2c(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);

/* Value parsers: print "cinfer CMD: FLAG: ..." and return CLI_USAGE on error, else 0. */
int cli_long(const char *cmd, const char *flag, const char *val, long lo, long hi, long *out);
int cli_int(const char *cmd, const char *flag, const char *val, int lo, int hi, int *out);
int cli_double(const char *cmd, const char *flag, const char *val, double lo, double hi, double *out);
/* "1,2,4,8" -> out[0..n); each in [lo, hi]; at most max entries. */
int cli_int_list(const char *cmd, const char *flag, const char *val, int lo, int hi, int *out, int max,
                 int *n);
/* Returns argv[*i + 1] and advances *i, or prints "FLAG needs a value" and returns NULL. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);
/* Prints "cinfer CMD: unknown option 'X' (see cinfer CMD --help)"; returns CLI_USAGE. */
int cli_unknown(const char *cmd, const char *arg);
/* Prints the formatted message after "cinfer CMD: " and returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Initialises CPU detection (honouring CINFER_ISA) and tuning; prints the error and returns
 * CLI_USAGE on a bad CINFER_ISA / CINFER_* value.  Every command calls this first. */
int cli_init_runtime(const char *cmd);

#endif
