/* `cinfer tokenize -m MODEL.gguf [-p TEXT | -f FILE] [--ids] [--no-bos] [--special]` and
 * `cinfer tokenize -m MODEL.gguf --decode "1 2 3"`: the model's tokenizer from the command line.
 * Default output: one token per line, "id<TAB>piece" with the piece's bytes escaped; --ids: the
 * ids on one line, space-separated (the format of cinfer logits --tokens).  --decode prints the
 * decoded text as raw bytes.  The token count and time go to stderr. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "model/unicode.h"
#include "tools/cli.h"

static const char *const CMD = "tokenize";

static void usage(FILE *f) {
    fprintf(f, "usage: cinfer tokenize -m MODEL.gguf [-p TEXT | -f FILE] [--ids] [--no-bos] [--special]\n"
               "       cinfer tokenize -m MODEL.gguf --decode \"ID ID ...\"\n"
               "  -m FILE       model (or vocab-only) GGUF whose tokenizer to use\n"
               "  -p TEXT       text to tokenize\n"
               "  -f FILE       read the text from FILE ('-' = stdin)\n"
               "  --ids         print only the ids, space-separated on one line\n"
               "  --no-bos      do not add BOS (default: as the model's metadata says)\n"
               "  --bos         always add BOS\n"
               "  --special     parse control-token texts (e.g. <s>) in the text as those tokens\n"
               "  --decode IDS  detokenize space- or comma-separated ids and print the text\n");
}

static char *read_all(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    if (!p) return NULL;
    for (;;) {
        if (n == cap) {
            if (cap > CF_TOK_MAX_TEXT) break;
            char *q = realloc(p, cap *= 2);
            if (!q) {
                free(p);
                return NULL;
            }
            p = q;
        }
        size_t k = fread(p + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    *len = n;
    return p;
}

/* piece bytes in quotes: controls as C escapes, bytes that are not part of a valid UTF-8
 * character within the piece (byte tokens, partial BPE pieces) as \xNN */
static void print_piece(const uint8_t *b, size_t n) {
    putchar('\'');
    for (size_t i = 0; i < n;) {
        uint8_t c = b[i];
        uint32_t cp;
        int k = c >= 0x80 ? cf_utf8_next(b + i, n - i, &cp) : 1;
        if (k > 1) {
            fwrite(b + i, 1, (size_t)k, stdout);
            i += (size_t)k;
            continue;
        }
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\\' || c == '\'') printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f) printf("\\x%02x", c);
        else putchar(c);
        i++;
    }
    putchar('\'');
}

static int do_decode(const cf_tokenizer *t, const char *spec) {
    size_t n = 0, cap = 64;
    int32_t *ids = malloc(cap * sizeof *ids);
    const char *p = spec;
    while (ids && *p) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < INT32_MIN || v > INT32_MAX) {
            free(ids);
            return cli_usage_error(CMD, "--decode: '%.20s' is not an id", p);
        }
        if (n == cap) {
            int32_t *q = realloc(ids, (cap *= 2) * sizeof *ids);
            if (!q) break;
            ids = q;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    if (!ids) return cli_usage_error(CMD, "out of memory");
    cf_err e = {0};
    long len = cf_tok_decode(t, ids, (int)n, NULL, 0, &e);
    if (len < 0) {
        free(ids);
        return cli_usage_error(CMD, "%s", e.msg);
    }
    char *out = malloc((size_t)len + 1);
    if (out) {
        cf_tok_decode(t, ids, (int)n, out, (size_t)len + 1, &e);
        fwrite(out, 1, (size_t)len, stdout);
        putchar('\n');
    }
    free(out);
    free(ids);
    return out ? CLI_OK : CLI_FAIL;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL, *decode = NULL;
    int ids_only = 0, add_bos = -1, flags = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!(prompt = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!(file = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--decode")) {
            if (!(decode = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--ids")) ids_only = 1;
        else if (!strcmp(a, "--no-bos")) add_bos = 0;
        else if (!strcmp(a, "--bos")) add_bos = 1;
        else if (!strcmp(a, "--special")) flags |= CF_TOK_PARSE_SPECIAL;
        else return cli_unknown(CMD, a);
    }
    if (cli_init_runtime(CMD)) return CLI_USAGE;
    if (!model) return cli_usage_error(CMD, "-m MODEL is required (see cinfer tokenize --help)");
    if (!!prompt + !!file + !!decode != 1) return cli_usage_error(CMD, "give exactly one of -p, -f, --decode");

    cf_gguf g;
    cf_err e = {0};
    if (cf_gguf_open(&g, model, &e)) return cli_usage_error(CMD, "%s: %s", model, e.msg);
    cf_tokenizer *t;
    if (cf_tok_load(&t, &g, &e)) {
        cf_gguf_close(&g);
        return cli_usage_error(CMD, "%s: %s", model, e.msg);
    }
    cf_gguf_close(&g);
    int rc = CLI_OK;
    if (decode) {
        rc = do_decode(t, decode);
        cf_tok_free(t);
        return rc;
    }

    char *text = NULL;
    size_t len = 0;
    if (file) {
        FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
        if (!f) {
            cf_tok_free(t);
            return cli_usage_error(CMD, "cannot open '%s'", file);
        }
        text = read_all(f, &len);
        if (f != stdin) fclose(f);
        if (!text) {
            cf_tok_free(t);
            return cli_usage_error(CMD, "cannot read '%s'", file);
        }
    }
    const char *src = file ? text : prompt;
    if (!file) len = strlen(prompt);

    double t0 = cf_now_s();
    int n = cf_tok_encode_ex(t, src, len, add_bos, flags, NULL, 0, &e);
    int32_t *ids = n >= 0 ? malloc(((size_t)n + 1) * sizeof *ids) : NULL;
    if (n < 0 || !ids) {
        fprintf(stderr, "cinfer %s: %s\n", CMD, n < 0 ? e.msg : "out of memory");
        rc = n < 0 && e.code == CF_ELIMIT ? CLI_USAGE : CLI_FAIL;
        goto out;
    }
    cf_tok_encode_ex(t, src, len, add_bos, flags, ids, n, &e);
    double dt = cf_now_s() - t0;
    if (ids_only) {
        for (int i = 0; i < n; i++) printf(i ? " %" PRId32 : "%" PRId32, ids[i]);
        putchar('\n');
    } else {
        for (int i = 0; i < n; i++) {
            size_t m;
            const uint8_t *b = cf_tok_bytes(t, ids[i], &m);
            printf("%6" PRId32 "\t", ids[i]);
            if (cf_tok_is_control(t, ids[i])) {
                size_t tl;
                const char *tx = cf_tok_text(t, ids[i], &tl);
                printf("[%.*s]", (int)tl, tx);
            } else print_piece(b, m);
            putchar('\n');
        }
    }
    fprintf(stderr, "%d tokens from %zu bytes in %.3f ms (%s tokenizer%s%s)\n", n, len, dt * 1e3,
            cf_tok_type(t) == CF_TOK_SPM ? "SentencePiece" : "BPE", cf_tok_type(t) == CF_TOK_BPE ? ", pre " : "",
            cf_tok_pre_name(t));
out:
    free(ids);
    free(text);
    cf_tok_free(t);
    return rc;
}
