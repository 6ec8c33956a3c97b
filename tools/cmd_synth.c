/* `cinfer synth VOCAB.gguf OUT.gguf --arch llama|qwen3 --dim N --layers N --heads N --kv-heads N
 *  --ffn N [--head-dim N] [--type f16|q8_0|q4_0|q4_k] [--seed S] [--ctx N] [--tied|--untied]
 *  [--rope-base F] [--name S] [-t N]`: a model with the vocab's tokenizer and seeded random
 * weights (model/synth.h). */
#include <stdio.h>
#include <string.h>

#include "kernels/clock.h"
#include "model/quantize_model.h"
#include "model/synth.h"
#include "tools/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cinfer synth VOCAB.gguf OUT.gguf --arch llama|qwen3 --dim N --layers N --heads N --kv-heads N\n"
            "                    --ffn N [--head-dim N] [--type f16|q8_0|q4_0|q4_k] [--seed S] [--ctx N]\n"
            "                    [--tied|--untied] [--rope-base F] [--name S] [-t THREADS]\n"
            "  a model with VOCAB's tokenizer (every tokenizer.* key) and seeded Gaussian weights\n"
            "  defaults: --type f16, --seed 1234, --ctx 4096, --tied, --rope-base 10000 (llama) / 1e6 (qwen3)\n"
            "  e.g. SmolLM2-135M: --arch llama --dim 576 --layers 30 --heads 9 --kv-heads 3 --ffn 1536\n"
            "       Qwen3-0.6B:   --arch qwen3 --dim 1024 --layers 28 --heads 16 --kv-heads 8 --head-dim 128 --ffn 3072\n");
}

int cmd_synth(int argc, char **argv) {
    const char *cmd = "synth", *pos[2] = {0};
    int npos = 0;
    cf_synth_opts o = {0};
    o.mix = CF_QMIX_F16;
    o.seed = 1234;
    o.tied = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int *ip = NULL, lo = 1, hi = 1 << 20;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_OK;
        }
        if (!strcmp(a, "--dim")) ip = &o.dim;
        else if (!strcmp(a, "--layers")) ip = &o.layers;
        else if (!strcmp(a, "--heads")) ip = &o.heads;
        else if (!strcmp(a, "--kv-heads")) ip = &o.kv_heads;
        else if (!strcmp(a, "--ffn")) ip = &o.ffn;
        else if (!strcmp(a, "--head-dim")) ip = &o.head_dim;
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ip = &o.nth, hi = 1024;
        if (ip) {
            if (!(v = cli_value(cmd, argc, argv, &i)) || cli_int(cmd, a, v, lo, hi, ip)) return CLI_USAGE;
        } else if (!strcmp(a, "--arch")) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return CLI_USAGE;
            if (strcmp(v, "llama") && strcmp(v, "qwen3")) return cli_usage_error(cmd, "--arch: '%s' is not llama or qwen3", v);
            o.arch = v;
        } else if (!strcmp(a, "--type")) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return CLI_USAGE;
            o.mix = cf_qmix_parse(v);
            if (o.mix != CF_QMIX_F16 && o.mix != CF_QMIX_Q8_0 && o.mix != CF_QMIX_Q4_0 && o.mix != CF_QMIX_Q4_K &&
                o.mix != CF_QMIX_F32 && o.mix != CF_QMIX_BF16)
                return cli_usage_error(cmd, "--type: '%s' is not f16, q8_0, q4_0 or q4_k", v);
        } else if (!strcmp(a, "--seed")) {
            long s;
            if (!(v = cli_value(cmd, argc, argv, &i)) || cli_long(cmd, a, v, 0, 0x7fffffffffffffffL, &s)) return CLI_USAGE;
            o.seed = (uint64_t)s;
        } else if (!strcmp(a, "--ctx")) {
            long c;
            if (!(v = cli_value(cmd, argc, argv, &i)) || cli_long(cmd, a, v, 1, 0x7fffffffL, &c)) return CLI_USAGE;
            o.ctx = c;
        } else if (!strcmp(a, "--rope-base")) {
            if (!(v = cli_value(cmd, argc, argv, &i)) || cli_double(cmd, a, v, 1e-3, 1e12, &o.rope_base)) return CLI_USAGE;
        } else if (!strcmp(a, "--name")) {
            if (!(o.name = cli_value(cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--tied")) {
            o.tied = 1;
        } else if (!strcmp(a, "--untied")) {
            o.tied = 0;
        } else if (a[0] == '-' && a[1]) {
            return cli_unknown(cmd, a);
        } else if (npos == 2) {
            return cli_usage_error(cmd, "unexpected argument '%s' (VOCAB.gguf OUT.gguf expected)", a);
        } else {
            pos[npos++] = a;
        }
    }
    if (npos != 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    cf_err e;
    if (!o.arch) return cli_usage_error(cmd, "--arch is required (llama or qwen3)");
    if (cf_synth_check(&o, &e)) return cli_usage_error(cmd, "%s", e.msg);
    if (cli_init_runtime(cmd)) return CLI_USAGE;
    cf_gguf g;
    if (cf_gguf_open(&g, pos[0], &e)) return cli_usage_error(cmd, "%s", e.msg);
    cf_synth_stats st;
    double t0 = cf_now_s();
    int rc = cf_synth_write(&g, &o, pos[1], &st, &e);
    double dt = cf_now_s() - t0;
    cf_gguf_close(&g);
    if (rc) {
        cli_usage_error(cmd, "%s", e.msg);
        return rc == CF_ENOMEM ? CLI_FAIL : CLI_USAGE;
    }
    fprintf(stderr, "cinfer %s: wrote %s: %s %s, vocab %lld, %lld tensors, %.1f M params, %.1f MiB in %.2f s\n", cmd,
            pos[1], o.arch, cf_qmix_name(o.mix), (long long)st.n_vocab, (long long)st.n_tensors, st.n_params / 1e6,
            st.bytes / 1048576.0, dt);
    return CLI_OK;
}
