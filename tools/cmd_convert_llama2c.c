/* `cinfer convert-llama2c MODEL.bin TOKENIZER.bin OUT.gguf [--ctx N] [--type f32|f16]`:
 * a llama2.c checkpoint and its tokenizer.bin to a llama GGUF (see model/llama2c.h). */
#include <stdio.h>
#include <string.h>

#include "kernels/quant.h"
#include "model/llama2c.h"
#include "tools/cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: cinfer convert-llama2c MODEL.bin TOKENIZER.bin OUT.gguf [--ctx N] [--type f32|f16]\n"
               "  MODEL.bin      llama2.c checkpoint (legacy export: 7-int header, float32 weights)\n"
               "  TOKENIZER.bin  its llama2.c tokenizer (max_token_length, then score/len/bytes per token)\n"
               "  --ctx N        llama.context_length to record (default: the checkpoint's seq_len)\n"
               "  --type T       f32 (default, weights as stored) or f16 for the 2-D weights\n");
}

int cmd_convert_llama2c(int argc, char **argv) {
    const char *cmd = "convert-llama2c", *pos[3] = {0};
    int npos = 0;
    if (cli_init_runtime(cmd)) return CLI_USAGE;
    cf_l2c_opts o = {0, CF_T_F32};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--ctx")) {
            long n;
            if (!(v = cli_value(cmd, argc, argv, &i)) || cli_long(cmd, a, v, 1, 0xffffffffL, &n)) return CLI_USAGE;
            o.ctx = n;
        } else if (!strcmp(a, "--type")) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return CLI_USAGE;
            o.type = cf_dtype_parse(v);
            if (o.type != CF_T_F32 && o.type != CF_T_F16)
                return cli_usage_error(cmd, "--type: '%s' is not f32 or f16", v);
        } else if (a[0] == '-' && a[1]) {
            return cli_unknown(cmd, a);
        } else if (npos == 3) {
            return cli_usage_error(cmd, "unexpected argument '%s' (MODEL.bin TOKENIZER.bin OUT.gguf expected)", a);
        } else {
            pos[npos++] = a;
        }
    }
    if (npos != 3) {
        usage(stderr);
        return CLI_USAGE;
    }
    cf_err e;
    cf_l2c_model m;
    cf_l2c_vocab v;
    if (cf_l2c_open(&m, pos[0], &e)) return cli_usage_error(cmd, "%s", e.msg);
    if (cf_l2c_vocab_load(&v, pos[1], m.vocab_size, &e)) {
        cf_l2c_close(&m);
        return cli_usage_error(cmd, "%s", e.msg);
    }
    int rc = cf_l2c_write_gguf(&m, &v, &o, pos[2], &e);
    if (rc) cli_usage_error(cmd, "%s", e.msg);
    else
        fprintf(stderr, "cinfer %s: wrote %s: llama, dim %d, hidden %d, %d layers, %d heads (%d kv), vocab %d%s, "
                "seq_len %d\n", cmd, pos[2], m.dim, m.hidden_dim, m.n_layers, m.n_heads, m.n_kv_heads, m.vocab_size,
                m.shared ? " (shared classifier)" : "", m.seq_len);
    cf_l2c_vocab_free(&v);
    cf_l2c_close(&m);
    return rc ? (rc == CF_ENOMEM ? CLI_FAIL : CLI_USAGE) : CLI_OK;
}
