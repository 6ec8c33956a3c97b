/* cinfer run: generate a continuation of a prompt, streamed to stdout, through the engine
 * (model/engine.h).
 *
 *   cinfer run -m MODEL (-p PROMPT | -f FILE) [-n N] [-t THREADS] [--ctx N] [--seed S] [--temp T]
 *              [--top-k K] [--top-p P] [--min-p P] [--kv-type f16|f32]
 *              [--json-schema FILE | --grammar FILE] [--lenient] [--parallel N]
 *
 * --parallel N decodes N copies of the prompt together with seeds S..S+N-1 and prints each at the
 * end (N = 1 streams).  stderr gets the model summary, memory, load time, prompt / generation
 * tokens per second, the sampling cost, why each sequence stopped and, with a constraint, whether
 * the output validates. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "kernels/clock.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/quant.h"
#include "model/batch.h"
#include "model/context.h"
#include "model/forward.h"
#include "model/engine.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "sampler/sampler.h"
#include "tools/cli.h"
#include "tools/constrain.h"

#define RUN_BATCH 512        /* prompt tokens per forward pass */
#define DEFAULT_N 128
#define MAX_PROMPT_BYTES (64u << 20)
#define MAX_PARALLEL 256

static const char *k_cmd = "run";

typedef struct {
    const char *model, *prompt, *file, *schema, *grammar;
    long n;
    int nth, kv_type, top_k, lenient, strict, max_ws, parallel, profile;
    long ctx;
    unsigned long long seed;
    double temp, top_p, min_p;
    int full_logits;
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
            "  --kv-type T     KV cache type: f16 (default) or f32\n"
            "  --profile       time per kernel family per evaluated token vs the machine's limits\n"
            "  --json-schema F constrain the output to the JSON Schema in file F\n"
            "  --grammar F     constrain the output to the GBNF grammar in file F\n"
            "  --lenient       drop schema keywords that cannot be enforced (with a warning)\n"
            "  --strict        additionalProperties defaults to false where properties are given\n"
            "  --max-ws N      whitespace bytes allowed between JSON tokens (default 16)\n"
            "  --full-logits   whole logits rows at every step (default: where the constraint allows\n"
            "                  at most 1/128 of the vocabulary, only those rows of the output matrix are\n"
            "                  computed; same allowed set, but seeded sampling draws differ)\n"
            "  --parallel N    decode N copies of the prompt, seeds S..S+N-1, printed in turn\n",
            DEFAULT_N);
}

static int parse(int argc, char **argv, run_opts *o) {
    memset(o, 0, sizeof *o);
    o->n = DEFAULT_N;
    o->kv_type = CF_T_F16;
    o->top_p = 1.0;
    o->parallel = 1;
    o->max_ws = 16;
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
        } else if (!strcmp(a, "--json-schema")) {
            if (!(o->schema = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--grammar")) {
            if (!(o->grammar = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--full-logits")) {
            o->full_logits = 1;
        } else if (!strcmp(a, "--profile")) {
            o->profile = 1;
        } else if (!strcmp(a, "--lenient")) {
            o->lenient = 1;
        } else if (!strcmp(a, "--strict")) {
            o->strict = 1;
        } else if (!strcmp(a, "--max-ws")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_int(k_cmd, a, v, 0, 1 << 20, &o->max_ws)) return CLI_USAGE;
        } else if (!strcmp(a, "--parallel")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_int(k_cmd, a, v, 1, MAX_PARALLEL, &o->parallel))
                return CLI_USAGE;
        } else {
            return cli_unknown(k_cmd, a);
        }
    }
    if (!o->model) return cli_usage_error(k_cmd, "-m MODEL is required (see cinfer run --help)");
    if (!o->prompt && !o->file) return cli_usage_error(k_cmd, "a prompt is required: -p TEXT or -f FILE");
    if (o->prompt && o->file) return cli_usage_error(k_cmd, "-p and -f are exclusive");
    if (o->schema && o->grammar) return cli_usage_error(k_cmd, "--json-schema and --grammar are exclusive");
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

/* per-sequence results kept for printing (--parallel > 1) and the summary */
typedef struct {
    char *text;
    size_t len;
    int n_tok;
    cf_finish fin;
    int complete;
    char detail[128];
} run_seq;

typedef struct {
    run_seq *seq;
    int stream;
} run_state;

static void on_text(void *ctx, int64_t id, void *user, const char *s, size_t n) {
    run_state *st = ctx;
    if (!st->stream) return;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
}

static void on_done(void *ctx, const cf_gen_result *r) {
    run_state *st = ctx;
    run_seq *q = &st->seq[(intptr_t)r->user];
    q->text = malloc(r->text_len + 1);
    if (q->text) {
        memcpy(q->text, r->text, r->text_len + 1);
        q->len = r->text_len;
    }
    q->n_tok = r->n_tok;
    q->fin = r->finish;
    q->complete = r->complete;
    snprintf(q->detail, sizeof q->detail, "%s", r->detail);
}

static void print_stop(const run_seq *q, int constrained) {
    fprintf(stderr, "stop: %s", cf_finish_name(q->fin));
    if (q->detail[0]) fprintf(stderr, " (%s)", q->detail);
    if (constrained && !q->complete) fprintf(stderr, " (mid-document: the output is not a complete document)");
    fputc('\n', stderr);
}

int cmd_run(int argc, char **argv) {
    run_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (cli_init_runtime(k_cmd)) return CLI_USAGE;
    int nth = o.nth > 0 ? o.nth : cf_default_threads();
    int npar = o.parallel;
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
    cf_engine *eng = NULL;
    cf_cons_vocab *cv = NULL;
    cli_schema sch;
    run_seq *seqs = calloc((size_t)npar, sizeof *seqs);
    memset(&c, 0, sizeof c);
    memset(&sch, 0, sizeof sch);
    rc = CLI_USAGE;
    if (n_prompt < 0) {
        cli_usage_error(k_cmd, "tokenizing the prompt: %s", e.msg);
        goto out;
    }
    if (n_prompt == 0) {
        cli_usage_error(k_cmd, "the prompt has no tokens");
        goto out;
    }
    const char *cfile = o.schema ? o.schema : o.grammar;
    double t_cons = cf_now_s();
    if (cfile) {
        if (cf_cons_vocab_new(&cv, tok, &e)) {
            fprintf(stderr, "cinfer run: vocabulary for the constraint: %s\n", e.msg);
            rc = CLI_FAIL;
            goto out;
        }
        cf_schema_opts so;
        cf_schema_opts_default(&so);
        so.lenient = o.lenient;
        so.strict = o.strict;
        so.max_ws = o.max_ws;
        if (cli_schema_load_file(&sch, cfile, o.grammar != NULL, &so, cv, &e)) {
            cli_usage_error(k_cmd, "%s", e.msg);
            goto out;
        }
        if (sch.warnings) fprintf(stderr, "cinfer run: warnings (--lenient):\n%s\n", sch.warnings);
    }
    t_cons = cf_now_s() - t_cons;
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = o.ctx;
    cp.n_seq = npar;
    long want = (long)n_prompt * npar;
    cp.n_batch = want < RUN_BATCH ? (int)want : RUN_BATCH;
    if (cp.n_batch < npar) cp.n_batch = npar;
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
    if (cfile) fprintf(stderr, "constraint: %s compiled in %.1f ms\n", cfile, t_cons * 1e3);

    run_state st = {seqs, npar == 1};
    cf_engine_cb cb = {&st, on_text, on_done, NULL};
    if (cf_engine_new(&eng, &c, tok, &cb, &e)) {
        fprintf(stderr, "cinfer run: %s\n", e.msg);
        rc = CLI_FAIL;
        goto out;
    }
    if (o.full_logits) cf_engine_set_logits_subset(eng, 0);
    for (int i = 0; i < npar; i++) {
        cf_gen_req r = {0};
        r.prompt = ids;
        r.n_prompt = n_prompt;
        r.sp = cf_sampler_defaults();
        r.sp.temperature = (float)o.temp;
        r.sp.top_k = o.top_k;
        r.sp.top_p = (float)o.top_p;
        r.sp.min_p = (float)o.min_p;
        r.sp.seed = o.seed + (unsigned long long)i;
        r.cons = sch.cons;
        r.max_tokens = o.n > INT32_MAX ? INT32_MAX : (int)o.n;
        r.user = (void *)(intptr_t)i;
        if (cf_engine_submit(eng, &r, &e) < 0) {
            cli_usage_error(k_cmd, "%s", e.msg);
            goto out;
        }
    }
    cf_fwd_prof prof_mark;
    if (o.profile) cf_profile_start(&prof_mark);
    double t0 = cf_now_s();
    if (cf_engine_run(eng, &e)) {
        fprintf(stderr, "\ncinfer run: %s\n", e.msg);
        rc = CLI_FAIL;
        goto out;
    }
    double t_all = cf_now_s() - t0;
    cf_engine_stats es;
    cf_engine_get_stats(eng, &es);
    long n_gen = 0;
    for (int i = 0; i < npar; i++) n_gen += seqs[i].n_tok;
    if (npar == 1) {
        fputc('\n', stdout);
    } else {
        for (int i = 0; i < npar; i++) {
            printf("--- [%d] seed %llu, %d tokens, %s\n", i, o.seed + (unsigned long long)i, seqs[i].n_tok,
                   cf_finish_name(seqs[i].fin));
            if (seqs[i].text) fwrite(seqs[i].text, 1, seqs[i].len, stdout);
            fputc('\n', stdout);
        }
    }
    fflush(stdout);
    double t_gen = t_all - es.t_prefill_s;
    fprintf(stderr, "prompt: %lld tokens in %.1f ms, %.1f tokens/s\n", (long long)es.prefill_tokens,
            es.t_prefill_s * 1e3, es.t_prefill_s > 0 ? (double)es.prefill_tokens / es.t_prefill_s : 0.0);
    fprintf(stderr, "generation: %ld tokens (%lld evaluated) in %.1f ms, %.1f tokens/s, %.3f ms/token", n_gen,
            (long long)es.decode_tokens, t_gen * 1e3, t_gen > 0 && n_gen > 0 ? n_gen / t_gen : 0.0,
            n_gen > 0 ? t_gen * 1e3 / n_gen : 0.0);
    if (npar > 1) fprintf(stderr, " (%d sequences, %lld forward passes)", npar, (long long)es.steps);
    fputc('\n', stderr);
    fprintf(stderr, "sampling: %.1f ms for %lld samples (%.1f us each), full mask computed for %lld\n",
            es.t_sample_s * 1e3, (long long)es.sampled, es.sampled ? es.t_sample_s * 1e6 / (double)es.sampled : 0.0,
            (long long)es.masked);
    for (int i = 0; i < npar; i++) {
        if (npar > 1) fprintf(stderr, "[%d] ", i);
        print_stop(&seqs[i], cfile != NULL);
        if (cfile && seqs[i].text) {
            cf_err why = {0};
            int ok = cli_schema_check(&sch, seqs[i].text, seqs[i].len, &why);
            if (npar > 1) fprintf(stderr, "[%d] ", i);
            fprintf(stderr, "valid: %s%s%s\n", ok == 1 ? "yes" : ok == 0 ? "no" : "unknown", ok == 1 ? "" : ": ",
                    ok == 1 ? "" : why.msg);
        }
    }
    if (o.profile)
        bench_profile_report(stderr, &c, &prof_mark, t_all, es.t_sample_s, "profile (whole run, per evaluated token)", NULL);
    int64_t prof[CF_PROF_COUNT], n_fwd = 0;
    cf_forward_profile(prof, &n_fwd);
    if (n_fwd > 0 && !o.profile) {
        int64_t tot = 0;
        for (int i = 0; i < CF_PROF_COUNT; i++) tot += prof[i];
        fprintf(stderr, "profile (%lld forward passes, thread 0 wall time):\n", (long long)n_fwd);
        for (int i = 0; i < CF_PROF_COUNT; i++)
            fprintf(stderr, "  %-11s %9.2f ms  %5.1f%%\n", cf_prof_name(i), (double)prof[i] * 1e-6,
                    tot ? 100.0 * (double)prof[i] / (double)tot : 0.0);
    }
    rc = CLI_OK;
out:
    cf_engine_free(eng);
    cli_schema_free(&sch);
    cf_cons_vocab_free(cv);
    cf_context_free(&c);
    for (int i = 0; seqs && i < npar; i++) free(seqs[i].text);
    free(seqs);
    free(ids);
    cf_tok_free(tok);
    cf_model_free(&m);
    free(ptext);
    return rc;
}
