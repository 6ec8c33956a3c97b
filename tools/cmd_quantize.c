/* `cinfer quantize IN.gguf OUT.gguf TYPE [-t N] [--allow-requantize] [-v]`: requantizes every
 * matrix of a model (rule in model/quantize_model.h); metadata is copied. */
#include <stdio.h>
#include <string.h>

#include "kernels/clock.h"
#include "kernels/parallel.h"
#include "model/quantize_model.h"
#include "tools/cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: cinfer quantize IN.gguf OUT.gguf TYPE [-t THREADS] [--allow-requantize] [-v]\n"
               "  TYPE  q8_0 | q4_0 (Q6_K output/tied embedding) | q4_k (= Q4_K_M: Q4_K, Q6_K for the\n"
               "        output/tied embedding and some attn_v / ffn_down) | f16 | bf16 | f32\n"
               "  1-D tensors (norms) stay f32; sources must be f32/f16/bf16 unless --allow-requantize\n");
}

int cmd_quantize(int argc, char **argv) {
    const char *cmd = "quantize", *pos[3] = {0};
    int npos = 0;
    cf_quantize_opts o = {0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(cmd, argc, argv, &i)) || cli_int(cmd, a, v, 1, 1024, &o.nth)) return CLI_USAGE;
        } else if (!strcmp(a, "--allow-requantize")) {
            o.allow_requantize = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o.verbose = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_unknown(cmd, a);
        } else if (npos == 3) {
            return cli_usage_error(cmd, "unexpected argument '%s' (IN.gguf OUT.gguf TYPE expected)", a);
        } else {
            pos[npos++] = a;
        }
    }
    if (npos != 3) {
        usage(stderr);
        return CLI_USAGE;
    }
    if ((o.mix = cf_qmix_parse(pos[2])) < 0)
        return cli_usage_error(cmd, "unknown type '%s' (q8_0, q4_0, q4_k, f16, bf16 or f32)", pos[2]);
    if (!strcmp(pos[0], pos[1])) return cli_usage_error(cmd, "IN and OUT are the same file");
    if (cli_init_runtime(cmd)) return CLI_USAGE;
    cf_err e;
    cf_gguf g;
    if (cf_gguf_open(&g, pos[0], &e)) return cli_usage_error(cmd, "%s", e.msg);
    cf_quantize_stats st;
    double t0 = cf_now_s();
    int rc = cf_quantize_gguf(&g, pos[1], &o, &st, &e);
    double dt = cf_now_s() - t0;
    cf_gguf_close(&g);
    if (rc) {
        cli_usage_error(cmd, "%s", e.msg);
        return rc == CF_ENOMEM ? CLI_FAIL : CLI_USAGE;
    }
    fprintf(stderr, "cinfer %s: wrote %s (%s): %lld tensors (%lld converted), %.2f MiB -> %.2f MiB in %.2f s;",
            cmd, pos[1], cf_qmix_name(o.mix), (long long)st.n_tensors, (long long)st.n_quantized,
            st.bytes_in / 1048576.0, st.bytes_out / 1048576.0, dt);
    for (int t = 0; t < CF_T_COUNT; t++)
        if (st.count[t]) fprintf(stderr, " %s x%lld", cf_dtype_get(t)->name, (long long)st.count[t]);
    fputc('\n', stderr);
    return CLI_OK;
}
