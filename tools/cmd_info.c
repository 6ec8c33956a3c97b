/* cinfer info [-m MODEL] [-t N] [--ctx N] [--no-measure]
 *
 * What cinfer sees and will do on this machine: CPU model and features (cpuinfo), cores, caches
 * (and which source gave them), the ISA path per kernel family, every tuning parameter in force
 * with its source, and a short measurement of the machine limits (bench/roofline.h) for 1..N
 * threads.  With -m: the model's bytes read per generated token (weights + KV at a stated
 * context) and the roofline bounds tg <= bandwidth / bytes per token, pp <= peak / ops per token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/handoff.h"
#include "bench/roofline.h"
#include "kernels/attn.h"
#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/norm.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "kernels/quant.h"
#include "kernels/rope.h"
#include "kernels/tuning.h"
#include "model/model.h"
#include "tools/cli.h"

#define CMD "info"
enum { MAX_T = 64 };

static void usage(FILE *f) {
    fprintf(f, "usage: cinfer info [-m MODEL] [-t N] [--ctx N] [--no-measure]\n"
               "  -m MODEL      also print the model's bytes and ops per token and the roofline bounds\n"
               "  -t N          measure limits for 1..N threads (default: cinfer's default thread count)\n"
               "  --ctx N       context for the KV bytes read per generated token (default 512)\n"
               "  --no-measure  skip the ~2 s limit measurement\n");
}

/* Lowest ISA level whose ops table is the one the active level uses (the code path that runs). */
#define PATH_OF(fn)                                                                                \
    static cf_isa path_##fn(void) {                                                                \
        cf_isa a = cf_isa_active();                                                                \
        for (int l = 0; l <= (int)a; l++)                                                          \
            if (fn((cf_isa)l) == fn(a)) return (cf_isa)l;                                          \
        return a;                                                                                  \
    }
PATH_OF(cf_norm_ops_for)
PATH_OF(cf_rope_ops_for)
PATH_OF(cf_attn_ops_for)
PATH_OF(cf_ops_for)
PATH_OF(cf_matmul_ops_for)

typedef struct {
    double weight_bytes;  /* matrices read per forward pass */
    double embd_row;      /* one embedding row */
    double kv_bytes;      /* K + V read at context ctx */
    double ops_layers;    /* 2 x layer weight elements */
    double ops_out;       /* 2 x output elements */
    double ops_attn;      /* attention at context ctx */
    int int8;             /* dominant type takes the int8 path */
} tok_cost;

static double wbytes(const cf_wmat *w) { return (double)w->row_bytes * (double)w->n; }
static double welems(const cf_wmat *w) { return (double)w->n * (double)w->k; }

static void model_cost(const cf_model *m, int64_t ctx, tok_cost *t) {
    memset(t, 0, sizeof *t);
    const cf_hparams *hp = &m->hp;
    for (int l = 0; l < hp->n_layer; l++) {
        const cf_layer *ly = &m->layers[l];
        const cf_wmat *ws[] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w_gate, &ly->w_up, &ly->w_down};
        for (int i = 0; i < 7; i++) t->weight_bytes += wbytes(ws[i]), t->ops_layers += 2 * welems(ws[i]);
    }
    t->weight_bytes += wbytes(&m->output);
    t->ops_out = 2 * welems(&m->output);
    t->embd_row = (double)cf_row_bytes(m->tok_embd_type, hp->n_embd);
    double kvd = (double)hp->n_head_kv * hp->head_dim;
    t->kv_bytes = 2.0 * hp->n_layer * (double)ctx * kvd * 2; /* f16 cache */
    t->ops_attn = 4.0 * hp->n_layer * (double)ctx * hp->n_head * hp->head_dim;
    t->int8 = cf_act_kind_of(cf_model_main_type(m)) != CF_ACT_F32;
}

int cmd_info(int argc, char **argv) {
    const char *model = NULL;
    int nt = 0, measure = 1;
    long ctx = 512;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_int(CMD, a, v, 1, MAX_T, &nt)) return CLI_USAGE;
        } else if (!strcmp(a, "--ctx")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_long(CMD, a, v, 1, 1L << 24, &ctx)) return CLI_USAGE;
        } else if (!strcmp(a, "--no-measure")) {
            measure = 0;
        } else {
            return cli_unknown(CMD, a);
        }
    }
    if (cli_init_runtime(CMD)) return CLI_USAGE;
    cf_model m;
    cf_err e;
    if (model && cf_model_load(&m, model, &e)) return cli_usage_error(CMD, "%s", e.msg);
    if (nt <= 0) nt = cf_default_threads();
    if (nt > MAX_T) nt = MAX_T;

    const cf_cpu_info *c = cf_cpu();
    printf("CPU: %s\n", c->name);
    printf("  cores: %d logical processors; default threads: %d (%s)\n", c->n_cores, cf_default_threads(),
           getenv("CINFER_THREADS") && *getenv("CINFER_THREADS")       ? "CINFER_THREADS"
           : getenv("OMP_NUM_THREADS") && *getenv("OMP_NUM_THREADS") ? "OMP_NUM_THREADS"
                                                                       : "all cores");
    printf("  features (cpuinfo): avx2=%d fma=%d f16c=%d avx512f=%d avx512bw=%d avx512vl=%d avx512dq=%d "
           "avx512vnni=%d avx512bf16=%d\n",
           c->avx2, c->fma, c->f16c, c->avx512f, c->avx512bw, c->avx512vl, c->avx512dq, c->avx512vnni, c->avx512bf16);
    printf("  caches: L1d %zu KiB, L2 %zu KiB (per core), L3 %zu MiB; source: %s%s\n", c->l1d >> 10, c->l2 >> 10,
           c->l3 >> 20, c->cache_src,
           !strcmp(c->cache_src, "sysfs")     ? " (cpuinfo reported 0)"
           : !strcmp(c->cache_src, "default") ? " (cpuinfo and sysfs reported nothing: built-in guesses)"
                                              : "");
    printf("ISA: best %s, active %s (%s)\n", cf_isa_name(c->best), cf_isa_name(c->active), c->active_src);
    printf("  kernel paths: matmul+act-quant %s, attention %s, rmsnorm/headnorm %s, rope %s, ops %s, dequant %s\n",
           cf_isa_name(path_cf_matmul_ops_for()), cf_isa_name(path_cf_attn_ops_for()),
           cf_isa_name(path_cf_norm_ops_for()), cf_isa_name(path_cf_rope_ops_for()), cf_isa_name(path_cf_ops_for()),
           cf_isa_name(c->active >= CF_ISA_AVX2 ? CF_ISA_AVX2 : CF_ISA_REF));

    const char *tpath = cf_tuning_path();
    struct stat st;
    int have_file = stat(tpath, &st) == 0;
    const char *tsrc = getenv("CINFER_TUNING") && *getenv("CINFER_TUNING") ? "CINFER_TUNING"
                       : getenv("XDG_CONFIG_HOME") && *getenv("XDG_CONFIG_HOME") ? "$XDG_CONFIG_HOME"
                                                                                 : "$HOME/.config";
    printf("tuning [%s]: file %s (%s, %s); later wins: default < file < env CINFER_<NAME>\n",
           cf_isa_name(c->active), tpath, tsrc, have_file ? "present" : "absent");
    const cf_tuning *t = cf_tuning_get();
    cf_tuning def;
    cf_tuning_defaults(c->active, &def);
    for (int i = 0; i < cf_tuning_count(); i++) {
        cf_tsrc s = cf_tuning_source(i);
        char env[96] = "CINFER_";
        size_t k = strlen(env);
        for (const char *p = cf_tuning_name(i); *p && k + 1 < sizeof env; p++)
            env[k++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        env[k] = 0;
        char from[1200];
        if (s == CF_TSRC_FILE) snprintf(from, sizeof from, "file %s", tpath);
        else if (s == CF_TSRC_ENV) snprintf(from, sizeof from, "env %s", env);
        else snprintf(from, sizeof from, "%s", cf_tsrc_name(s));
        printf("  %-16s = %-9ld %-s", cf_tuning_name(i), cf_tuning_value(t, i), from);
        if (s != CF_TSRC_DEFAULT) printf(" (default %ld)", cf_tuning_value(&def, i));
        printf("  # %s\n", cf_tuning_doc(i));
    }

    cf_roofline rl[MAX_T + 1];
    int have_rl = 0;
    if (measure) {
        printf("limits (measured: DRAM read over max(4 x L3, 128 MiB), FMA and int8 dot chains):\n");
        printf("  %7s %12s %14s %12s\n", "threads", "DRAM GB/s", "FP32 GFLOP/s", "int8 GOP/s");
        for (int n = 1; n <= nt; n++) {
            cf_roofline_measure(n, &rl[n]);
            printf("  %7d %12.1f %14.1f %12.1f\n", n, rl[n].dram_gbs, rl[n].fp32_gflops, rl[n].int8_gops);
        }
        printf("  fp32: %s; int8: %s\n", rl[1].fp32_kind, rl[1].int8_kind);
        if (nt > 1) {
            double mn, med = cf_handoff_ns(9, &mn);
            printf("  core-to-core hand-off (a cache line from thread 0 to 1 and back): median %.0f ns, best %.0f ns\n"
                   "  (every barrier and every row one thread reads after another wrote it pays this; on a shared VM it\n"
                   "  moves with the host's placement of the vCPUs: 54-340 ns seen on the dev VM)\n",
                   med, mn);
        }
        have_rl = 1;
    }

    if (model) {
        const cf_hparams *hp = &m.hp;
        const cf_dtype_info *d = cf_dtype_get(cf_model_main_type(&m));
        const cf_dtype_info *od = cf_dtype_get(m.output.type);
        tok_cost tc;
        model_cost(&m, ctx, &tc);
        double per_tok = tc.weight_bytes + tc.embd_row + tc.kv_bytes;
        printf("model: %s (%s, %s; output %s%s; %d layers, dim %d, heads %d/%d x %d, ffn %d, vocab %d)\n", m.name,
               m.arch->name, d ? d->name : "?", od ? od->name : "?", m.tied ? ", tied to token_embd" : "", hp->n_layer,
               hp->n_embd, hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_ff, hp->n_vocab);
        printf("  bytes read per generated token at context %ld: weights %.2f MiB (layer matrices + output) + "
               "embedding row %.0f B + KV (f16) %.2f MiB = %.2f MiB (%.0f bytes)\n",
               ctx, tc.weight_bytes / (1 << 20), tc.embd_row, tc.kv_bytes / (1 << 20), per_tok / (1 << 20), per_tok);
        printf("  ops per token: layer matmuls %.4g GOP (2 x %.1f M weights), output %.4g GOP, attention at context "
               "%ld %.4g GOP\n",
               tc.ops_layers * 1e-9, tc.ops_layers / 2e6, tc.ops_out * 1e-9, ctx, tc.ops_attn * 1e-9);
        if (have_rl) {
            const char *peak = tc.int8 ? "int8" : "FP32";
            printf("  roofline bounds (tg: DRAM GB/s / bytes per token; pp: %s peak / layer-matmul ops per token, "
                   "the output projection runs once per batch):\n",
                   peak);
            printf("  %7s %16s %16s\n", "threads", "tg tokens/s <=", "pp tokens/s <=");
            for (int n = 1; n <= nt; n++) {
                double tg = rl[n].dram_gbs * 1e9 / per_tok;
                double pk = tc.int8 ? rl[n].int8_gops : rl[n].fp32_gflops;
                double pp = pk * 1e9 / tc.ops_layers;
                printf("  %7d %16.1f %16.1f\n", n, tg, pp);
            }
        }
        cf_model_free(&m);
    }
    return CLI_OK;
}
