/* cinfer logits: teacher-force token ids and write float32 logits rows.
 *
 *   cinfer logits -m MODEL --tokens FILE --out FILE.f32 [--from POS] [-t N] [--kv-type f16|f32]
 *
 * FILE holds space-separated token ids.  OUT receives little-endian float32 rows
 * [n_rows][n_vocab]: the logits after each position from POS (default 0: every position) to the
 * last, each row predicting the next token — ../shared/reference's format with POS = n_prompt-1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "kernels/parallel.h"
#include "kernels/quant.h"
#include "model/batch.h"
#include "model/context.h"
#include "model/forward.h"
#include "model/model.h"
#include "tools/cli.h"

#define LOGITS_CHUNK 512   /* tokens per forward pass */
#define MAX_TOKENS (1 << 24)

static const char *k_cmd = "logits";

static void usage(FILE *f) {
    fprintf(f,
            "usage: cinfer logits -m MODEL --tokens FILE --out FILE.f32 [--from POS] [-t N] [--kv-type f16|f32]\n"
            "  teacher-forces the space-separated token ids in FILE and writes float32 logits rows\n"
            "  [n_rows][n_vocab] for positions POS.. (default 0: all positions)\n");
}

/* Parses space-separated ids; each must be in [0, n_vocab). */
static int parse_tokens(const char *path, int n_vocab, int32_t **out, int *n_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return cli_usage_error(k_cmd, "%s: %s", path, strerror(errno));
    int cap = 256, n = 0;
    int32_t *t = malloc((size_t)cap * sizeof *t);
    char word[32];
    int c, len = 0;
    long byte = 0, start = 0;
    int rc = 0;
    for (;;) {
        c = fgetc(f);
        if (c == EOF || c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == ',') {
            if (len) {
                word[len] = 0;
                char *end;
                errno = 0;
                long v = strtol(word, &end, 10);
                if (errno || *end || v < 0 || v >= n_vocab) {
                    rc = cli_usage_error(k_cmd, "%s: byte %ld: '%s' is not a token id in [0, %d)", path, start, word, n_vocab);
                    break;
                }
                if (n == MAX_TOKENS) {
                    rc = cli_usage_error(k_cmd, "%s: more than %d tokens", path, MAX_TOKENS);
                    break;
                }
                if (n == cap) t = realloc(t, (size_t)(cap *= 2) * sizeof *t);
                t[n++] = (int32_t)v;
                len = 0;
            }
            if (c == EOF) break;
        } else {
            if (!len) start = byte;
            if (len + 1 >= (int)sizeof word) {
                rc = cli_usage_error(k_cmd, "%s: byte %ld: token too long", path, start);
                break;
            }
            word[len++] = (char)c;
        }
        byte++;
    }
    fclose(f);
    if (!rc && n == 0) rc = cli_usage_error(k_cmd, "%s: no token ids", path);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    *n_out = n;
    return 0;
}

int cmd_logits(int argc, char **argv) {
    const char *model = NULL, *tokens = NULL, *outp = NULL;
    long from = 0;
    int nth = 0, kv_type = CF_T_F16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--tokens")) {
            if (!(tokens = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--out") || !strcmp(a, "-o")) {
            if (!(outp = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--from")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_long(k_cmd, a, v, 0, MAX_TOKENS, &from)) return CLI_USAGE;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_int(k_cmd, a, v, 1, 1024, &nth)) return CLI_USAGE;
        } else if (!strcmp(a, "--kv-type")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
            if (!strcmp(v, "f16")) kv_type = CF_T_F16;
            else if (!strcmp(v, "f32")) kv_type = CF_T_F32;
            else return cli_usage_error(k_cmd, "--kv-type: '%s' is not f16 or f32", v);
        } else {
            return cli_unknown(k_cmd, a);
        }
    }
    if (!model || !tokens || !outp) {
        usage(stderr);
        return cli_usage_error(k_cmd, "-m, --tokens and --out are required");
    }
    if (cli_init_runtime(k_cmd)) return CLI_USAGE;
    cf_model m;
    cf_err e;
    if (cf_model_load(&m, model, &e)) return cli_usage_error(k_cmd, "%s", e.msg);
    int32_t *t = NULL;
    int n = 0;
    int rc = parse_tokens(tokens, m.hp.n_vocab, &t, &n);
    if (rc) {
        cf_model_free(&m);
        return rc;
    }
    if (from >= n) {
        free(t);
        cf_model_free(&m);
        return cli_usage_error(k_cmd, "--from %ld: the file has only %d tokens", from, n);
    }
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = n;
    cp.n_batch = n < LOGITS_CHUNK ? n : LOGITS_CHUNK;
    cp.n_threads = nth;
    cp.kv_type = kv_type;
    cf_context c;
    cf_batch b = {0};
    float *lg = NULL;
    FILE *fo = NULL;
    rc = CLI_FAIL;
    if (cf_context_init(&c, &m, &cp, &e)) {
        fprintf(stderr, "cinfer logits: %s\n", e.msg);
        goto done_model;
    }
    if (cf_batch_init(&b, cp.n_batch, &e) ||
        !(lg = malloc((size_t)cp.n_batch * (size_t)m.hp.n_vocab * sizeof(float)))) {
        fprintf(stderr, "cinfer logits: out of memory\n");
        goto done;
    }
    if (!(fo = fopen(outp, "wb"))) {
        rc = cli_usage_error(k_cmd, "%s: %s", outp, strerror(errno));
        goto done;
    }
    double t0 = cf_now_s();
    for (int p0 = 0; p0 < n; p0 += cp.n_batch) {
        int k = n - p0 < cp.n_batch ? n - p0 : cp.n_batch;
        cf_batch_clear(&b);
        for (int j = 0; j < k; j++) cf_batch_add(&b, t[p0 + j], p0 + j, 0, p0 + j >= from);
        if (cf_forward(&c, &b, lg, &e)) {
            fprintf(stderr, "cinfer logits: %s\n", e.msg);
            goto done;
        }
        size_t rows = (size_t)cf_batch_n_logits(&b);
        if (fwrite(lg, sizeof(float) * (size_t)m.hp.n_vocab, rows, fo) != rows) {
            fprintf(stderr, "cinfer logits: %s: write failed: %s\n", outp, strerror(errno));
            goto done;
        }
    }
    if (fclose(fo)) {
        fo = NULL;
        fprintf(stderr, "cinfer logits: %s: %s\n", outp, strerror(errno));
        goto done;
    }
    fo = NULL;
    fprintf(stderr, "cinfer logits: %d tokens, %ld rows x %d in %.3f s -> %s\n", n, n - from, m.hp.n_vocab,
            cf_now_s() - t0, outp);
    rc = CLI_OK;
done:
    if (fo) fclose(fo);
    free(lg);
    cf_batch_free(&b);
    cf_context_free(&c);
done_model:
    free(t);
    cf_model_free(&m);
    return rc;
}
