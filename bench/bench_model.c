/* `cinfer bench model`: llama-bench style prompt processing (pp) and generation (tg) tokens/s
 * per thread count, plus parallel-sequence scaling, optionally profiled and plotted.
 *
 *   pp:  p random tokens through cf_forward in batches of n_batch (<= 512), the last asking logits
 *   tg:  n single-token decode steps from position 0, each followed by a greedy sample (timed)
 *   par: P sequences in P KV slots: P prompts prefilled together (batches mixing sequences),
 *        then steps of one batch of P tokens (one per sequence at its own position)
 * Each measurement: one warm-up, then r repetitions; mean and sample stddev of tokens/s.  The
 * context is sized to the run (n_ctx = p + n per slot), not to the model's context length. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/bench.h"
#include "bench/plot.h"
#include "bench/report.h"
#include "kernels/clock.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/quant.h"
#include "model/batch.h"
#include "model/context.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/profile.h"
#include "sampler/sampler.h"
#include "tools/cli.h"

#define CMD "bench model"
enum { MAX_LIST = 16, MAX_BATCH = 512 };

typedef struct {
    const char *model, *out_path, *plot_dir;
    int p, n, reps, fmt, profile, kv_type;
    int threads[MAX_LIST], nthreads;
    int par[MAX_LIST], npar;
    int par_p, par_n, par_threads;
    long ctx;
} opts;

static void usage(FILE *f) {
    fprintf(f, "usage: cinfer bench model -m MODEL [options]\n"
               "  -p N              prompt tokens for pp (default 512; 0 skips pp)\n"
               "  -n N              generated tokens for tg (default 128; 0 skips tg)\n"
               "  -t LIST           thread counts, e.g. 1,2 (default: all cores)\n"
               "  -r N              repetitions after one warm-up (default 3)\n"
               "  --parallel LIST   parallel-sequence counts, e.g. 1,2,4,8,16 (default: none)\n"
               "  --par-p N         prompt tokens per sequence in the parallel table (default min(p,128))\n"
               "  --par-n N         generated tokens per sequence in the parallel table (default min(n,32))\n"
               "  --par-threads N   threads for the parallel table (default: the largest of -t)\n"
               "  --ctx N           positions per sequence (default p + n; at least that)\n"
               "  --kv-type T       f16 (default) or f32\n"
               "  --format FMT      md (default), csv or json\n"
               "  --out FILE        write the tables to FILE instead of stdout\n"
               "  --profile         time per kernel family per token (pp and tg) vs the machine's limits\n"
               "  --plot DIR        write SVG charts: tokens/s vs threads, parallel throughput scaling\n"
               "Tokens are random (fixed seed); tg samples greedily and feeds the sample back.  The\n"
               "parallel table runs at the largest thread count of -t unless --par-threads says otherwise.\n");
}

static int parse(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->p = 512, o->n = 128, o->reps = 3, o->fmt = REP_MD, o->par_p = -1, o->par_n = -1, o->kv_type = CF_T_F16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(o->model = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "-p")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_int(CMD, a, v, 0, 1 << 20, &o->p)) return CLI_USAGE;
        } else if (!strcmp(a, "-n")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_int(CMD, a, v, 0, 1 << 20, &o->n)) return CLI_USAGE;
        } else if (!strcmp(a, "-r")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_int(CMD, a, v, 1, 1000, &o->reps)) return CLI_USAGE;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) ||
                cli_int_list(CMD, a, v, 1, 256, o->threads, MAX_LIST, &o->nthreads))
                return CLI_USAGE;
        } else if (!strcmp(a, "--parallel")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) ||
                cli_int_list(CMD, a, v, 1, 256, o->par, MAX_LIST, &o->npar))
                return CLI_USAGE;
        } else if (!strcmp(a, "--par-p")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_int(CMD, a, v, 1, 1 << 20, &o->par_p)) return CLI_USAGE;
        } else if (!strcmp(a, "--par-threads")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_int(CMD, a, v, 1, 256, &o->par_threads)) return CLI_USAGE;
        } else if (!strcmp(a, "--par-n")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_int(CMD, a, v, 1, 1 << 20, &o->par_n)) return CLI_USAGE;
        } else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_long(CMD, a, v, 1, 1L << 24, &o->ctx)) return CLI_USAGE;
        } else if (!strcmp(a, "--kv-type")) {
            if (!(v = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
            if (!strcmp(v, "f16")) o->kv_type = CF_T_F16;
            else if (!strcmp(v, "f32")) o->kv_type = CF_T_F32;
            else return cli_usage_error(CMD, "--kv-type: '%s' is not f16 or f32", v);
        } else if (!strcmp(a, "--format")) {
            if (!(v = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
            if ((o->fmt = rep_format_parse(v)) < 0) return cli_usage_error(CMD, "--format: '%s' is not md, csv or json", v);
        } else if (!strcmp(a, "--out")) {
            if (!(o->out_path = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--plot")) {
            if (!(o->plot_dir = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--profile")) {
            o->profile = 1;
        } else {
            return cli_unknown(CMD, a);
        }
    }
    if (!o->model) return cli_usage_error(CMD, "-m MODEL is required (see cinfer bench model --help)");
    if (o->p == 0 && o->n == 0 && o->npar == 0) return cli_usage_error(CMD, "nothing to run: -p 0, -n 0 and no --parallel");
    if (!o->nthreads) o->threads[0] = cf_default_threads(), o->nthreads = 1;
    if (o->par_p < 0) o->par_p = o->p < 128 ? (o->p > 0 ? o->p : 16) : 128;
    if (o->par_n < 0) o->par_n = o->n < 32 ? (o->n > 0 ? o->n : 8) : 32;
    /* the parallel table's speedups are relative to P = 1: make sure it is measured */
    if (o->npar) {
        int has1 = 0;
        for (int i = 0; i < o->npar; i++) has1 |= o->par[i] == 1;
        if (!has1) {
            if (o->npar == MAX_LIST) return cli_usage_error(CMD, "--parallel: at most %d entries with 1", MAX_LIST - 1);
            memmove(o->par + 1, o->par, sizeof(int) * o->npar);
            o->par[0] = 1, o->npar++;
        }
    }
    return 0;
}

/* ---- measurement ---- */

typedef struct {
    const cf_model *m;
    cf_context c;
    cf_batch b;
    float *logits;   /* n_logits rows */
    cf_sampler *smp;
    uint64_t rng;
    double t_sample; /* accumulated sampler seconds */
} run_t;

static int32_t rand_tok(run_t *r) {
    r->rng = r->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int32_t)((r->rng >> 33) % (uint64_t)r->m->hp.n_vocab);
}

static int run_open(run_t *r, const cf_model *m, int nth, int n_seq, int64_t n_ctx, int n_batch, int kv_type,
                    cf_err *e) {
    memset(r, 0, sizeof *r);
    r->m = m;
    r->rng = 0x5eed1234ULL;
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = n_ctx, cp.n_seq = n_seq, cp.n_batch = n_batch, cp.n_threads = nth, cp.kv_type = kv_type;
    if (cf_context_init(&r->c, m, &cp, e)) return -1;
    if (cf_batch_init(&r->b, n_batch, e)) return -1;
    int rows = n_seq > 1 ? n_seq : 1;
    if (!(r->logits = malloc((size_t)rows * m->hp.n_vocab * sizeof(float)))) return cf_errf(e, CF_ENOMEM, "logits: out of memory");
    cf_sampler_params sp = cf_sampler_defaults();
    sp.temperature = 0;
    if (cf_sampler_new(&sp, m->hp.n_vocab, &r->smp, e)) return -1;
    return 0;
}

static void run_close(run_t *r) {
    cf_sampler_free(r->smp);
    free(r->logits);
    cf_batch_free(&r->b);
    cf_context_free(&r->c);
}

/* Prefill n_prompt random tokens into each of slots 0..n_seq-1 (batches may mix sequences);
 * returns seconds, < 0 on error. */
static double prefill(run_t *r, int n_seq, int n_prompt, cf_err *e) {
    cf_context_clear_seq(&r->c, -1);
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)n_prompt);
    if (!toks) return cf_errf(e, CF_ENOMEM, "out of memory"), -1;
    double t0 = cf_now_s();
    int s = 0, done = 0;
    while (s < n_seq) {
        cf_batch_clear(&r->b);
        while (s < n_seq && r->b.n < r->b.cap) {
            if (done == 0)
                for (int i = 0; i < n_prompt; i++) toks[i] = rand_tok(r);
            int k = cf_batch_add_seq(&r->b, toks + done, n_prompt - done, done, s, 1);
            done += k;
            if (done == n_prompt) s++, done = 0;
            if (k == 0) break;
        }
        if (cf_forward(&r->c, &r->b, r->logits, e)) {
            free(toks);
            return -1;
        }
    }
    double t = cf_now_s() - t0;
    free(toks);
    return t;
}

/* n_gen decode steps for n_seq sequences starting at position pos0 (slots must hold pos0
 * positions); each step one batch of n_seq tokens, all asking logits, then a greedy sample per
 * sequence.  Returns seconds, < 0 on error. */
static double decode(run_t *r, int n_seq, int pos0, int n_gen, cf_err *e) {
    int32_t last[MAX_BATCH];
    for (int s = 0; s < n_seq; s++) last[s] = rand_tok(r);
    double t0 = cf_now_s();
    for (int i = 0; i < n_gen; i++) {
        cf_batch_clear(&r->b);
        for (int s = 0; s < n_seq; s++) cf_batch_add(&r->b, last[s], pos0 + i, s, 1);
        if (cf_forward(&r->c, &r->b, r->logits, e)) return -1;
        double ts = cf_now_s();
        for (int s = 0; s < n_seq; s++) {
            int32_t t = cf_sampler_sample(r->smp, r->logits + (size_t)s * r->m->hp.n_vocab, r->m->hp.n_vocab, NULL);
            last[s] = t >= 0 ? t : 0;
        }
        r->t_sample += cf_now_s() - ts;
    }
    return cf_now_s() - t0;
}

static void stats(const double *v, int n, double *mean, double *sd) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = n ? s / n : NAN;
    for (int i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

/* ---- output ---- */

typedef struct {
    char name[128], type[16], isa[16], commit[32];
    double size_mib, params_m;
} model_meta;

static void meta_cols(rep_table *t, int *c) {
    c[0] = rep_col(t, "model", REP_STR), c[1] = rep_col(t, "size_MiB", REP_NUM), c[2] = rep_col(t, "params_M", REP_NUM);
    c[3] = rep_col(t, "type", REP_STR), c[4] = rep_col(t, "isa", REP_STR), c[5] = rep_col(t, "threads", REP_NUM);
}
static void meta_row(rep_table *t, const int *c, const model_meta *mm, int nth) {
    rep_str(t, c[0], "%s", mm->name), rep_num(t, c[1], mm->size_mib, 2), rep_num(t, c[2], mm->params_m, 2);
    rep_str(t, c[3], "%s", mm->type), rep_str(t, c[4], "%s", mm->isa), rep_num(t, c[5], nth, 0);
}

/* Writes one table as a JSON value into f (through a memory stream, without a trailing newline). */
static int json_table(FILE *f, const rep_table *t) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return -1;
    int rc = rep_write(t, m, REP_JSON);
    if (fclose(m)) rc = -1;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) len--;
    if (!rc && fwrite(buf, 1, len, f) != len) rc = -1;
    free(buf);
    return rc;
}

static void prof_rows(rep_table *t, const char *phase, int nth, const cf_prof_report *r) {
    for (int i = 0; i <= r->n; i++) {
        rep_row(t);
        int k = 0;
        rep_str(t, k++, "%s", phase);
        rep_num(t, k++, nth, 0);
        if (i == r->n) {
            rep_str(t, k++, "sum of rows");
            rep_num(t, k++, r->sum_ns * 1e-3, 3);
            rep_num(t, k++, 100, 1);
            k += 5;
            rep_num(t, k++, r->wall_ns * 1e-3, 3);
            continue;
        }
        const cf_prof_row *w = &r->rows[i];
        rep_str(t, k++, "%s", w->name);
        rep_num(t, k++, w->ns * 1e-3, 3);
        rep_num(t, k++, r->sum_ns > 0 ? 100 * w->ns / r->sum_ns : NAN, 1);
        rep_num(t, k++, w->bytes > 0 ? w->gbs : NAN, 2);
        rep_num(t, k++, w->ops > 0 ? w->gops : NAN, 2);
        rep_str(t, k++, "%s", w->bound[0] ? w->bound : "-");
        rep_num(t, k++, w->pct >= 0 ? w->pct : NAN, 1);
        rep_str(t, k++, "%s", i == r->bottleneck ? "bottleneck" : "");
        rep_num(t, k++, r->wall_ns * 1e-3, 3);
    }
}

static rep_table *prof_table(void) {
    rep_table *t = rep_new();
    const char *cols[] = {"phase", "threads", "family", "us_token", "share_%", "GB/s", "GOP/s", "bound", "%limit", "note", "wall_us_token"};
    for (int i = 0; i < 11; i++) rep_col(t, cols[i], (i == 1 || i == 3 || i == 4 || i == 5 || i == 6 || i == 8 || i == 10) ? REP_NUM : REP_STR);
    return t;
}

int bench_model_main(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    cf_model m;
    cf_err e;
    if (cf_model_load(&m, o.model, &e)) return cli_usage_error(CMD, "%s", e.msg);
    model_meta mm;
    memset(&mm, 0, sizeof mm);
    snprintf(mm.name, sizeof mm.name, "%s", m.name);
    const cf_dtype_info *dt = cf_dtype_get(cf_model_main_type(&m));
    snprintf(mm.type, sizeof mm.type, "%s", dt ? dt->name : "?");
    snprintf(mm.isa, sizeof mm.isa, "%s", cf_isa_name(cf_isa_active()));
    snprintf(mm.commit, sizeof mm.commit, "%s", bench_commit());
    struct stat st;
    mm.size_mib = stat(o.model, &st) == 0 ? (double)st.st_size / (1 << 20) : NAN;
    mm.params_m = (double)m.n_params * 1e-6;
    const cf_hparams *hp = &m.hp;
    fprintf(stderr, "model: %s (%s, %s, %.2f M params, %.1f MiB, %d layers, dim %d, ffn %d, vocab %d); commit %s\n",
            mm.name, m.arch->name, mm.type, mm.params_m, mm.size_mib, hp->n_layer, hp->n_embd, hp->n_ff, hp->n_vocab,
            mm.commit);

    FILE *out = stdout;
    if (o.out_path && !(out = fopen(o.out_path, "w"))) {
        cf_model_free(&m);
        return cli_usage_error(CMD, "cannot write '%s'", o.out_path);
    }
    rep_table *tb = rep_new(), *tp = rep_new(), *tprof = prof_table();
    int mc[6], mp[6];
    meta_cols(tb, mc);
    int c_test = rep_col(tb, "test", REP_STR), c_ctx = rep_col(tb, "n_ctx", REP_NUM), c_tps = rep_col(tb, "t/s", REP_NUM),
        c_sd = rep_col(tb, "stddev", REP_NUM), c_reps = rep_col(tb, "reps", REP_NUM), c_com = rep_col(tb, "commit", REP_STR);
    meta_cols(tp, mp);
    int p_P = rep_col(tp, "P", REP_NUM), p_pp = rep_col(tp, "prompt", REP_NUM), p_tg = rep_col(tp, "gen", REP_NUM),
        p_ctx = rep_col(tp, "n_ctx", REP_NUM), p_kv = rep_col(tp, "kv_MiB", REP_NUM), p_ppt = rep_col(tp, "pp_t/s", REP_NUM),
        p_ppsd = rep_col(tp, "pp_stddev", REP_NUM), p_tgt = rep_col(tp, "tg_t/s", REP_NUM),
        p_tgsd = rep_col(tp, "tg_stddev", REP_NUM), p_seq = rep_col(tp, "tg_t/s_per_seq", REP_NUM),
        p_spd = rep_col(tp, "speedup", REP_NUM), p_eff = rep_col(tp, "efficiency", REP_NUM),
        p_com = rep_col(tp, "commit", REP_STR);
    rep_meta(tb, "model", "%s (%s, %s)", mm.name, o.model, mm.type);
    rep_meta(tb, "commit", "%s", mm.commit);
    rep_meta(tb, "method", "pp%d: random tokens in batches of <= %d; tg%d: single-token steps from position 0 with a "
                            "greedy sample; %d repetitions after a warm-up; mean and stddev of tokens/s",
             o.p, MAX_BATCH, o.n, o.reps);
    char cmdline[512] = "";
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(cmdline);
        snprintf(cmdline + l, sizeof cmdline - l, "%s%s", i ? " " : "cinfer bench ", argv[i]);
    }
    rep_meta(tb, "reproduce", "%s", cmdline);

    double tps_pp[MAX_LIST], tps_tg[MAX_LIST];
    rc = CLI_OK;
    double *v = malloc(sizeof(double) * (size_t)o.reps);
    if (!v) {
        rc = CLI_FAIL;
        goto done;
    }
    /* ---- pp / tg per thread count ---- */
    for (int ti = 0; ti < o.nthreads && (o.p > 0 || o.n > 0); ti++) {
        int nth = o.threads[ti];
        int64_t n_ctx = (int64_t)o.p + o.n;
        if (o.ctx > n_ctx) n_ctx = o.ctx;
        run_t r;
        int nb = o.p > 0 ? (o.p < MAX_BATCH ? o.p : MAX_BATCH) : 1;
        if (run_open(&r, &m, nth, 1, n_ctx, nb, o.kv_type, &e)) {
            fprintf(stderr, "cinfer %s: %s\n", CMD, e.msg);
            run_close(&r);
            rc = CLI_FAIL;
            goto done;
        }
        tps_pp[ti] = tps_tg[ti] = NAN;
        for (int phase = 0; phase < 2; phase++) {
            int ntok = phase == 0 ? o.p : o.n;
            if (ntok == 0) continue;
            fprintf(stderr, "%s%d @%d threads: warm-up ...\n", phase ? "tg" : "pp", ntok, nth);
            /* warm-up */
            double w = phase == 0 ? prefill(&r, 1, o.p, &e) : (cf_context_clear_seq(&r.c, -1), decode(&r, 1, 0, ntok < 8 ? ntok : 8, &e));
            if (w < 0) {
                fprintf(stderr, "cinfer %s: %s\n", CMD, e.msg);
                run_close(&r);
                rc = CLI_FAIL;
                goto done;
            }
            cf_fwd_prof mark;
            if (o.profile) cf_profile_start(&mark);
            r.t_sample = 0;
            double wall = 0;
            for (int k = 0; k < o.reps; k++) {
                double t;
                if (phase == 0) t = prefill(&r, 1, o.p, &e);
                else cf_context_clear_seq(&r.c, -1), t = decode(&r, 1, 0, o.n, &e);
                if (t < 0) {
                    fprintf(stderr, "cinfer %s: %s\n", CMD, e.msg);
                    run_close(&r);
                    rc = CLI_FAIL;
                    goto done;
                }
                wall += t;
                v[k] = ntok / t;
            }
            if (o.profile) {
                cf_forward_prof_enable(0);
                char title[96];
                snprintf(title, sizeof title, "profile %s%d @%d threads", phase ? "tg" : "pp", ntok, nth);
                cf_prof_report pr;
                if (!bench_profile_report(stderr, &r.c, &mark, wall, phase ? r.t_sample : -1, title, &pr))
                    prof_rows(tprof, phase ? "tg" : "pp", nth, &pr);
            }
            double mean, sd;
            stats(v, o.reps, &mean, &sd);
            (phase ? tps_tg : tps_pp)[ti] = mean;
            fprintf(stderr, "%s%d @%d threads: %.2f +- %.2f tokens/s\n", phase ? "tg" : "pp", ntok, nth, mean, sd);
            rep_row(tb);
            meta_row(tb, mc, &mm, nth);
            rep_str(tb, c_test, "%s%d", phase ? "tg" : "pp", ntok);
            rep_num(tb, c_ctx, (double)r.c.kv.n_ctx, 0);
            rep_num(tb, c_tps, mean, 2), rep_num(tb, c_sd, sd, 2), rep_num(tb, c_reps, o.reps, 0);
            rep_str(tb, c_com, "%s", mm.commit);
        }
        run_close(&r);
    }

    /* ---- parallel sequences ---- */
    double par_pp[MAX_LIST], par_tg[MAX_LIST], tg1 = NAN;
    int pth = 1;
    for (int i = 0; i < o.nthreads; i++)
        if (o.threads[i] > pth) pth = o.threads[i];
    if (o.par_threads > 0) pth = o.par_threads;
    if (o.npar) {
        rep_meta(tp, "method", "P sequences in P KV slots at %d threads: P prompts of %d random tokens prefilled together "
                               "(pp t/s = P x %d / time), then %d steps of one batch of P tokens (tg t/s = P x %d / time, "
                               "greedy sampling included); speedup = tg t/s / tg t/s at P=1, efficiency = speedup / P",
                 pth, o.par_p, o.par_p, o.par_n, o.par_n);
    }
    for (int pi = 0; pi < o.npar; pi++) {
        int P = o.par[pi];
        if (P > MAX_BATCH) P = MAX_BATCH;
        int64_t n_ctx = (int64_t)o.par_p + o.par_n;
        if (o.ctx > n_ctx) n_ctx = o.ctx;
        int nb = P * o.par_p < MAX_BATCH ? P * o.par_p : MAX_BATCH;
        if (nb < P) nb = P;
        run_t r;
        if (run_open(&r, &m, pth, P, n_ctx, nb, o.kv_type, &e)) {
            fprintf(stderr, "cinfer %s: P=%d: %s\n", CMD, P, e.msg);
            run_close(&r);
            rc = CLI_FAIL;
            goto done;
        }
        fprintf(stderr, "parallel P=%d @%d threads: kv %.1f MiB ...\n", P, pth, (double)r.c.kv.bytes / (1 << 20));
        double *vp = malloc(sizeof(double) * (size_t)o.reps * 2), mpp, spp, mtg, stg;
        int bad = !vp || prefill(&r, P, o.par_p, &e) < 0 || decode(&r, P, o.par_p, o.par_n < 4 ? o.par_n : 4, &e) < 0;
        for (int k = 0; k < o.reps && !bad; k++) {
            double tp0 = prefill(&r, P, o.par_p, &e), tg0 = tp0 < 0 ? -1 : decode(&r, P, o.par_p, o.par_n, &e);
            if (tp0 < 0 || tg0 < 0) bad = 1;
            else vp[k] = (double)P * o.par_p / tp0, vp[o.reps + k] = (double)P * o.par_n / tg0;
        }
        if (bad) {
            fprintf(stderr, "cinfer %s: P=%d: %s\n", CMD, P, vp ? e.msg : "out of memory");
            free(vp);
            run_close(&r);
            rc = CLI_FAIL;
            goto done;
        }
        if (!bad && o.profile && prefill(&r, P, o.par_p, &e) >= 0) {
            /* one extra profiled decode run: time per evaluated token of a batch of P */
            cf_fwd_prof mark;
            cf_profile_start(&mark);
            r.t_sample = 0;
            double wall = decode(&r, P, o.par_p, o.par_n, &e);
            cf_forward_prof_enable(0);
            char title[96], phase[32];
            snprintf(title, sizeof title, "profile parallel P=%d tg%d @%d threads", P, o.par_n, pth);
            snprintf(phase, sizeof phase, "tg P=%d", P);
            cf_prof_report pr;
            if (wall > 0 && !bench_profile_report(stderr, &r.c, &mark, wall, r.t_sample, title, &pr))
                prof_rows(tprof, phase, pth, &pr);
        }
        stats(vp, o.reps, &mpp, &spp);
        stats(vp + o.reps, o.reps, &mtg, &stg);
        free(vp);
        if (P == 1) tg1 = mtg;
        par_pp[pi] = mpp, par_tg[pi] = mtg;
        fprintf(stderr, "parallel P=%d: pp %.1f t/s, tg %.1f t/s aggregate\n", P, mpp, mtg);
        rep_row(tp);
        meta_row(tp, mp, &mm, pth);
        rep_num(tp, p_P, P, 0), rep_num(tp, p_pp, o.par_p, 0), rep_num(tp, p_tg, o.par_n, 0);
        rep_num(tp, p_ctx, (double)r.c.kv.n_ctx, 0), rep_num(tp, p_kv, (double)r.c.kv.bytes / (1 << 20), 2);
        rep_num(tp, p_ppt, mpp, 2), rep_num(tp, p_ppsd, spp, 2), rep_num(tp, p_tgt, mtg, 2), rep_num(tp, p_tgsd, stg, 2);
        rep_num(tp, p_seq, mtg / P, 2);
        rep_num(tp, p_spd, mtg / tg1, 2), rep_num(tp, p_eff, mtg / tg1 / P, 3);
        rep_str(tp, p_com, "%s", mm.commit);
        run_close(&r);
    }

    /* ---- output ---- */
    {
        int w = 0;
        int has_prof = rep_nrows(tprof) > 0, has_par = rep_nrows(tp) > 0;
        if (o.fmt == REP_JSON) {
            fprintf(out, "{\"bench\": ");
            w |= json_table(out, tb);
            if (has_par) fprintf(out, ",\n\"parallel\": "), w |= json_table(out, tp);
            if (has_prof) fprintf(out, ",\n\"profile\": "), w |= json_table(out, tprof);
            fprintf(out, "}\n");
        } else {
            w |= rep_write(tb, out, (rep_format)o.fmt);
            if (has_par) fprintf(out, "\n"), w |= rep_write(tp, out, (rep_format)o.fmt);
            if (has_prof) fprintf(out, "\n"), w |= rep_write(tprof, out, (rep_format)o.fmt);
        }
        if (w || ferror(out)) {
            fprintf(stderr, "cinfer %s: error writing the report\n", CMD);
            rc = CLI_FAIL;
        }
    }
    if (o.plot_dir) {
        if (plot_mkdir(o.plot_dir)) {
            fprintf(stderr, "cinfer %s: cannot create '%s'\n", CMD, o.plot_dir);
            rc = CLI_FAIL;
            goto done;
        }
        char path[1200], title[256];
        int nw = 0, fail = 0;
        if (o.p > 0 || o.n > 0) {
            snprintf(title, sizeof title, "%s (%s): tokens/s vs threads", mm.name, mm.type);
            plot *pl = plot_new(title, "threads", "tokens/s");
            char nm[32];
            snprintf(nm, sizeof nm, "pp%d", o.p);
            int s0 = o.p > 0 ? plot_series(pl, nm) : -1;
            snprintf(nm, sizeof nm, "tg%d", o.n);
            int s1 = o.n > 0 ? plot_series(pl, nm) : -1;
            for (int i = 0; i < o.nthreads; i++) {
                if (s0 >= 0) plot_add(pl, s0, o.threads[i], tps_pp[i]);
                if (s1 >= 0) plot_add(pl, s1, o.threads[i], tps_tg[i]);
            }
            snprintf(path, sizeof path, "%s/model_threads.svg", o.plot_dir);
            fail |= plot_write_svg(pl, path), nw++;
            fprintf(stderr, "wrote %s\n", path);
            plot_free(pl);
        }
        if (o.npar) {
            snprintf(title, sizeof title, "%s (%s): parallel sequences @%d threads", mm.name, mm.type, pth);
            plot *pl = plot_new(title, "parallel sequences P", "aggregate tokens/s");
            plot_logx(pl, 1);
            int s0 = plot_series(pl, "generation (tg)"), s1 = plot_series(pl, "prompt (pp)"),
                s2 = plot_series(pl, "tg ideal (P x tg at P=1)");
            for (int i = 0; i < o.npar; i++) {
                plot_add(pl, s0, o.par[i], par_tg[i]);
                plot_add(pl, s1, o.par[i], par_pp[i]);
                plot_add(pl, s2, o.par[i], tg1 * o.par[i]);
            }
            snprintf(path, sizeof path, "%s/model_parallel.svg", o.plot_dir);
            fail |= plot_write_svg(pl, path), nw++;
            fprintf(stderr, "wrote %s\n", path);
            plot_free(pl);
            snprintf(title, sizeof title, "%s: generation efficiency (speedup / P)", mm.name);
            pl = plot_new(title, "parallel sequences P", "efficiency");
            plot_logx(pl, 1);
            s0 = plot_series(pl, "tg efficiency");
            for (int i = 0; i < o.npar; i++) plot_add(pl, s0, o.par[i], par_tg[i] / tg1 / o.par[i]);
            plot_hline(pl, 1.0, "linear scaling");
            snprintf(path, sizeof path, "%s/model_parallel_efficiency.svg", o.plot_dir);
            fail |= plot_write_svg(pl, path), nw++;
            fprintf(stderr, "wrote %s\n", path);
            plot_free(pl);
        }
        if (fail) {
            fprintf(stderr, "cinfer %s: error writing plots in '%s'\n", CMD, o.plot_dir);
            rc = CLI_FAIL;
        }
    }
done:
    free(v);
    rep_free(tb), rep_free(tp), rep_free(tprof);
    if (out != stdout && fclose(out)) rc = CLI_FAIL;
    cf_model_free(&m);
    return rc;
}
