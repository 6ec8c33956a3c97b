/* cinfer run: generate a continuation of a prompt, streamed to stdout.
 *
 *   cinfer run -m MODEL (-p PROMPT | -f FILE) [-n N] [-t THREADS] [--ctx N] [--seed S] [--temp T]
 *              [--top-k K] [--top-p P] [--min-p P] [--kv-type f16|f32]
 *
 * stderr gets the model summary, memory, load time and prompt / generation tokens per second. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/quant.h"
#include "model/batch.h"
#include "model/context.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "sampler/sampler.h"
#include "tools/cli.h"

#define RUN_BATCH 512        /* prompt tokens per forward pass */
#define DEFAULT_N 128
#define MAX_PROMPT_BYTES (64u << 20)

static const char *k_cmd = "run";

typedef struct {
    const char *model, *prompt, *file;
    long n;
    int nth, kv_type, top_k;
    long ctx;
    unsigned long long seed;
    double temp, top_p, min_p;
} run_opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: cinfer run -m MODEL (-p PROMPT | -f FILE) [options]\n"
            "  -n N            tokens to generate (default %d)\n"
            "  -t N            threads (default: CINFER_THREADS or all cores)\n"
            "  --ctx N         context positions (default: model's, at most 4096)\n"
            "  --seed S        sampling seed (default 0)\n"
            "  --temp T        temperature (0 = greedy, default 0)\n"
            "  --top-k K       keep the K most likely tokens (0 = off)\n"
            "  --top-p P       nucleus sampling (1 = off)\n"
            "  --min-p P       drop tokens below P x the top probability (0 = off)\n"
            "  --kv-type T     KV cache type: f16 (default) or f32\n",
            DEFAULT_N);
}

static int parse(int argc, char **argv, run_opts *o) {
    memset(o, 0, sizeof *o);
    o->n = DEFAULT_N;
    o->kv_type = CF_T_F16;
    o->top_p = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long lv;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(o->model = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!(o->prompt = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!(o->file = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_long(k_cmd, a, v, 0, 1L << 30, &o->n)) return CLI_USAGE;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_int(k_cmd, a, v, 1, 1024, &o->nth)) return CLI_USAGE;
        } else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_long(k_cmd, a, v, 1, 1L << 24, &o->ctx)) return CLI_USAGE;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_long(k_cmd, a, v, 0, (long)(~0ul >> 1), &lv)) return CLI_USAGE;
            o->seed = (unsigned long long)lv;
        } else if (!strcmp(a, "--temp")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_double(k_cmd, a, v, 0, 100, &o->temp)) return CLI_USAGE;
        } else if (!strcmp(a, "--top-k")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_int(k_cmd, a, v, 0, 1 << 24, &o->top_k)) return CLI_USAGE;
        } else if (!strcmp(a, "--top-p")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_double(k_cmd, a, v, 0, 1, &o->top_p)) return CLI_USAGE;
        } else if (!strcmp(a, "--min-p")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_double(k_cmd, a, v, 0, 1, &o->min_p)) return CLI_USAGE;
        } else if (!strcmp(a, "--kv-type")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
            if (!strcmp(v, "f16")) o->kv_type = CF_T_F16;
            else if (!strcmp(v, "f32")) o->kv_type = CF_T_F32;
            else return cli_usage_error(k_cmd, "--kv-type: '%s' is not f16 or f32", v);
        } else {
            return cli_unknown(k_cmd, a);
        }
    }
    if (!o->model) return cli_usage_error(k_cmd, "-m MODEL is required (see cinfer run --help)");
    if (!o->prompt && !o->file) return cli_usage_error(k_cmd, "a prompt is required: -p TEXT or -f FILE");
    if (o->prompt && o->file) return cli_usage_error(k_cmd, "-p and -f are exclusive");
    return 0;
}

static char *read_prompt_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_usage_error(k_cmd, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    for (;;) {
        if (n + 4096 > cap) s = realloc(s, cap *= 2);
        size_t k = fread(s + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
        if (n > MAX_PROMPT_BYTES) {
            fclose(f);
            free(s);
            cli_usage_error(k_cmd, "%s: prompt larger than %u bytes", path, MAX_PROMPT_BYTES);
            return NULL;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(s);
        cli_usage_error(k_cmd, "%s: read error", path);
        return NULL;
    }
    s[n] = 0;
    *len = n;
    return s;
}

int cmd_run(int argc, char **argv) {
    run_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (cli_init_runtime(k_cmd)) return CLI_USAGE;
    int nth = o.nth > 0 ? o.nth : cf_default_threads();
    size_t plen = 0;
    char *ptext = NULL;
    if (o.file) {
        if (!(ptext = read_prompt_file(o.file, &plen))) return CLI_USAGE;
    } else {
        plen = strlen(o.prompt);
    }
    const char *prompt = o.file ? ptext : o.prompt;

    double t_load = cf_now_s();
    cf_model m;
    cf_err e;
    if (cf_model_load(&m, o.model, &e)) {
        free(ptext);
        return cli_usage_error(k_cmd, "%s", e.msg);
    }
    cf_tokenizer *tok = NULL;
    if (cf_tok_load(&tok, &m.gguf, &e)) {
        cf_model_free(&m);
        free(ptext);
        return cli_usage_error(k_cmd, "%s: tokenizer: %s", o.model, e.msg);
    }
    t_load = cf_now_s() - t_load;

    int32_t *ids = NULL;
    int n_prompt = cf_tok_encode(tok, prompt, plen, -1, NULL, 0, &e);
    if (n_prompt >= 0) {
        ids = malloc((size_t)(n_prompt > 0 ? n_prompt : 1) * sizeof *ids);
        n_prompt = cf_tok_encode(tok, prompt, plen, -1, ids, n_prompt, &e);
    }
    cf_context c;
    cf_batch b = {0};
    float *logits = NULL;
    cf_sampler *smp = NULL;
    memset(&c, 0, sizeof c);
    rc = CLI_USAGE;
    if (n_prompt < 0) {
        cli_usage_error(k_cmd, "tokenizing the prompt: %s", e.msg);
        goto out;
    }
    if (n_prompt == 0) {
        cli_usage_error(k_cmd, "the prompt has no tokens");
        goto out;
    }
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = o.ctx;
    cp.n_batch = n_prompt < RUN_BATCH ? n_prompt : RUN_BATCH;
    cp.n_threads = nth;
    cp.kv_type = o.kv_type;
    if (cf_context_init(&c, &m, &cp, &e)) {
        fprintf(stderr, "cinfer run: %s\n", e.msg);
        rc = CLI_FAIL;
        goto out;
    }
    if (n_prompt >= c.kv.n_ctx) {
        cli_usage_error(k_cmd, "the prompt has %d tokens; the context holds %lld (raise --ctx)", n_prompt,
                        (long long)c.kv.n_ctx);
        goto out;
    }
    const cf_hparams *hp = &m.hp;
    fprintf(stderr, "model: %s (%s, %s, %d layers, dim %d, %d/%d heads x %d, ffn %d, vocab %d)\n", m.name,
            m.arch->name, cf_dtype_get(cf_model_main_type(&m))->name, hp->n_layer, hp->n_embd, hp->n_head,
            hp->n_head_kv, hp->head_dim, hp->n_ff, hp->n_vocab);
    cf_context_print_mem(&c, stderr);
    fprintf(stderr, "load: %.1f ms; threads %d, ISA %s\n", t_load * 1e3, nth, cf_isa_name(cf_isa_active()));
    cf_sampler_params sp = cf_sampler_defaults();
    sp.temperature = (float)o.temp;
    sp.top_k = o.top_k;
    sp.top_p = (float)o.top_p;
    sp.min_p = (float)o.min_p;
    sp.seed = o.seed;
    if (cf_sampler_new(&sp, hp->n_vocab, &smp, &e)) {
        cli_usage_error(k_cmd, "sampler: %s", e.msg);
        goto out;
    }
    rc = CLI_FAIL;
    if (cf_batch_init(&b, cp.n_batch, &e) || !(logits = malloc((size_t)hp->n_vocab * sizeof *logits))) {
        fprintf(stderr, "cinfer run: out of memory\n");
        goto out;
    }

    /* prompt, in chunks of n_batch; the last token asks for logits */
    double t0 = cf_now_s();
    for (int p0 = 0; p0 < n_prompt;) {
        cf_batch_clear(&b);
        int k = cf_batch_add_seq(&b, ids + p0, n_prompt - p0, p0, 0, 1);
        if (cf_forward(&c, &b, logits, &e)) {
            fprintf(stderr, "cinfer run: %s\n", e.msg);
            goto out;
        }
        p0 += k;
    }
    double t_prompt = cf_now_s() - t0;

    /* generation: sample, stream, feed back */
    cf_detok dt;
    cf_detok_init_mid(&dt, tok);
    size_t cap = cf_detok_max_out(tok) + 8;
    char *text = malloc(cap);
    long n_gen = 0, n_eval = 0;
    int64_t pos = n_prompt;
    const char *stop = "length";
    double t1 = cf_now_s();
    while (n_gen < o.n) {
        int32_t t = cf_sampler_sample(smp, logits, hp->n_vocab, NULL);
        if (t < 0) {
            stop = "no token allowed";
            break;
        }
        cf_sampler_accept(smp, t);
        if (cf_tok_is_eog(tok, t)) {
            stop = "end of text";
            break;
        }
        n_gen++;
        size_t nb = cf_detok_push(&dt, t, text, cap);
        if (nb) {
            fwrite(text, 1, nb, stdout);
            fflush(stdout);
        }
        if (n_gen == o.n) break;
        if (pos >= c.kv.n_ctx) {
            stop = "context full";
            break;
        }
        cf_batch_clear(&b);
        cf_batch_add(&b, t, (int32_t)pos, 0, 1);
        if (cf_forward(&c, &b, logits, &e)) {
            fprintf(stderr, "\ncinfer run: %s\n", e.msg);
            free(text);
            goto out;
        }
        pos++;
        n_eval++;
    }
    double t_gen = cf_now_s() - t1;
    size_t nb = cf_detok_flush(&dt, text, cap);
    if (nb) fwrite(text, 1, nb, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(text);
    fprintf(stderr, "prompt: %d tokens in %.1f ms, %.1f tokens/s\n", n_prompt, t_prompt * 1e3,
            t_prompt > 0 ? n_prompt / t_prompt : 0.0);
    fprintf(stderr, "generation: %ld tokens (%ld evaluated) in %.1f ms, %.1f tokens/s; stop: %s\n", n_gen, n_eval,
            t_gen * 1e3, t_gen > 0 && n_eval > 0 ? n_eval / t_gen : 0.0, stop);
    int64_t prof[CF_PROF_COUNT], n_fwd = 0;
    cf_forward_profile(prof, &n_fwd);
    if (n_fwd > 0) {
        int64_t tot = 0;
        for (int i = 0; i < CF_PROF_COUNT; i++) tot += prof[i];
        fprintf(stderr, "profile (%lld forward passes, thread 0 wall time):\n", (long long)n_fwd);
        for (int i = 0; i < CF_PROF_COUNT; i++)
            fprintf(stderr, "  %-11s %9.2f ms  %5.1f%%\n", cf_prof_name(i), (double)prof[i] * 1e-6,
                    tot ? 100.0 * (double)prof[i] / (double)tot : 0.0);
    }
    rc = CLI_OK;
out:
    cf_sampler_free(smp);
    free(logits);
    cf_batch_free(&b);
    cf_context_free(&c);
    free(ids);
    cf_tok_free(tok);
    cf_model_free(&m);
    free(ptext);
    return rc;
}
