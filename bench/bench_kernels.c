/* `cinfer bench kernels`: every kernel family's sweep, verified against the reference, then
 * timed per thread count and mode (auto threshold / forced serial / forced parallel), reported
 * against this machine's measured limits (bench/roofline.h) as md, csv or json. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/cpushare.h"
#include "bench/handoff.h"
#include "bench/kbench.h"
#include "bench/plot.h"
#include "bench/report.h"
#include "bench/roofline.h"
#include "kernels/clock.h"
#include "kernels/cpu.h"
#include "kernels/tuning.h"
#include "tools/cli.h"

/* Families (bench/kb_*.c). */
int kb_family_norm(int quick, kb_case **cases, int *n, int *cap);
int kb_family_rope(int quick, kb_case **cases, int *n, int *cap);
int kb_family_attn(int quick, kb_case **cases, int *n, int *cap);
int kb_family_ops(int quick, kb_case **cases, int *n, int *cap);
int kb_family_matmul(int quick, kb_case **cases, int *n, int *cap);
/* bench/kbench.c: median critical-path ns per call of c on nth threads in mode 0 auto / 1 serial /
 * 2 parallel; wall_ns: per call including the barrier that follows it. */
double kb_time_case(kb_case *c, int nth, int mode, double min_time, double *min_ns, double *wall_ns,
                    int *samples);

enum { MAX_THREADS = 16, MAX_NAMES = 64, MAX_ROUNDS = 15 };
#define CMD "bench kernels"
#define SLOWER_TOL 0.05 /* "slower at T threads than at 1": more than 5% slower */

static const struct {
    const char *name;
    kb_family_fn fn;
} k_families[] = {
    {"norm", kb_family_norm}, {"rope", kb_family_rope},     {"attn", kb_family_attn},
    {"ops", kb_family_ops},   {"matmul", kb_family_matmul},
};
enum { N_FAMILIES = sizeof k_families / sizeof k_families[0] };

static void usage(FILE *f) {
    fprintf(f, "usage: cinfer bench kernels [options]\n"
               "  --threads LIST    thread counts, e.g. 1,2,4,8 (default 1,2)\n"
               "  --kernels LIST    kernels or families to run, e.g. rmsnorm,rope,attn (default all)\n"
               "  --match TEXT      only cases whose \"kernel size type\" contains TEXT, e.g. 'N=192 K=576'\n"
               "  --quick           a sub-minute subset of the sweep\n"
               "  --format FMT      md (default), csv or json\n"
               "  --min-time SEC    measuring time per (case, threads, mode) (default 0.1, quick 0.02)\n"
               "  --rounds N        split it into N interleaved rounds (default 3, max 15)\n"
               "  --out FILE        write the table to FILE instead of stdout\n"
               "  --plot DIR        SVG charts: speedup vs threads per kernel, %% of roofline per case\n"
               "Each case is verified against the reference path before it is timed.  ns_call is the\n"
               "slowest thread's time per call (median over batches; the barrier after each call is\n"
               "excluded, ns_wall includes it); %%limit compares GB/s with the measured DRAM read\n"
               "bandwidth, GOP/s with the FP32 FMA or int8 dot peak, at the same thread count.\n");
}

/* One (threads, mode) measurement of a case over the rounds. */
typedef struct {
    double ns[MAX_ROUNDS], wall[MAX_ROUNDS]; /* per round: median ns per call, median wall ns */
    double mn;                               /* fastest batch over all rounds */
} meas;

static void git_commit(char *buf, size_t cap) { snprintf(buf, cap, "%s", bench_commit()); }

/* 1-minute load average from /proc/loadavg, -1 if unknown. */
static double loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

static const char *fits(double bytes) {
    const cf_cpu_info *c = cf_cpu();
    return bytes <= (double)c->l1d  ? "L1"
           : bytes <= (double)c->l2 ? "L2"
           : bytes <= (double)c->l3 ? "L3"
                                    : "DRAM";
}

static int name_in(const char *name, char names[][32], int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return 1;
    return 0;
}

/* --plot: one speedup-vs-threads chart per kernel (a line per size), one %-of-limit bar chart. */
static int write_plots(const char *dir, char (*name)[160], const double *spd, const double *pct, int n,
                       const int *threads, int nth) {
    if (plot_mkdir(dir)) {
        fprintf(stderr, "cinfer %s: cannot create '%s'\n", CMD, dir);
        return -1;
    }
    int fail = 0;
    char path[1400], kern[64], title[160];
    for (int i = 0; i < n; i++) {
        /* kernel name = first word; one chart per kernel, at its first case */
        sscanf(name[i], "%63s", kern);
        int first = 1;
        for (int j = 0; j < i && first; j++) {
            char k2[64];
            sscanf(name[j], "%63s", k2);
            first = strcmp(k2, kern) != 0;
        }
        if (!first) continue;
        snprintf(title, sizeof title, "%s: speedup vs threads (auto mode)", kern);
        plot *p = plot_new(title, "threads", "speedup vs 1 thread");
        for (int j = i; j < n; j++) {
            char k2[64];
            sscanf(name[j], "%63s", k2);
            if (strcmp(k2, kern)) continue;
            int s = plot_series(p, name[j] + strlen(k2) + 1);
            for (int t = 0; t < nth; t++) plot_add(p, s, threads[t], spd[j * nth + t]);
        }
        plot_hline(p, 1.0, "1 thread");
        char slug[64];
        plot_slug(slug, sizeof slug, kern);
        snprintf(path, sizeof path, "%s/kernels_speedup_%s.svg", dir, slug);
        fail |= plot_write_svg(p, path);
        fprintf(stderr, "wrote %s\n", path);
        plot_free(p);
    }
    plot *p = plot_new("% of machine limit per case (auto mode; DRAM, FP32 or int8 peak)", "case", "% of limit");
    const char **labels = malloc(sizeof(char *) * (n ? n : 1));
    if (!labels) return -1;
    for (int i = 0; i < n; i++) labels[i] = name[i];
    plot_cats(p, n, labels);
    free(labels);
    for (int t = 0; t < nth; t++) {
        char sn[32];
        snprintf(sn, sizeof sn, "%d thread%s", threads[t], threads[t] > 1 ? "s" : "");
        int s = plot_series(p, sn);
        for (int i = 0; i < n; i++) plot_add(p, s, i, pct[i * nth + t]);
    }
    plot_hline(p, 100, "100% of limit");
    snprintf(path, sizeof path, "%s/kernels_roofline.svg", dir);
    fail |= plot_write_svg(p, path);
    fprintf(stderr, "wrote %s\n", path);
    plot_free(p);
    if (fail) fprintf(stderr, "cinfer %s: error writing plots in '%s'\n", CMD, dir);
    return fail ? -1 : 0;
}

typedef struct {
    int k, sz, ty, isa, th, mode, ns, nsmin, wall, gbs, gops, lim, pct, spd, rounds, thr, split, fit, commit, status;
} cols_t;

int bench_kernels_main(int argc, char **argv) {
    int threads[MAX_THREADS] = {1, 2}, nthreads = 2, quick = 0, fmt = REP_MD, rounds = 3;
    double min_time = -1;
    const char *out_path = NULL, *kernels = NULL, *plot_dir = NULL, *match = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--quick")) {
            quick = 1;
        } else if (!strcmp(a, "--threads")) {
            if (!(v = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
            if (cli_int_list(CMD, "--threads", v, 1, 256, threads, MAX_THREADS, &nthreads)) return CLI_USAGE;
        } else if (!strcmp(a, "--kernels")) {
            if (!(kernels = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--match")) {
            if (!(match = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--format")) {
            if (!(v = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
            if ((fmt = rep_format_parse(v)) < 0)
                return cli_usage_error(CMD, "--format: '%s' is not md, csv or json", v);
        } else if (!strcmp(a, "--min-time")) {
            if (!(v = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
            if (cli_double(CMD, "--min-time", v, 1e-4, 60, &min_time)) return CLI_USAGE;
        } else if (!strcmp(a, "--rounds")) {
            if (!(v = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
            int rl[1], nrl = 0;
            if (cli_int_list(CMD, "--rounds", v, 1, MAX_ROUNDS, rl, 1, &nrl)) return CLI_USAGE;
            rounds = rl[0];
        } else if (!strcmp(a, "--out")) {
            if (!(out_path = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--plot")) {
            if (!(plot_dir = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else {
            return cli_unknown(CMD, a);
        }
    }
    if (min_time < 0) min_time = quick ? 0.02 : 0.1;

    /* collect every family's cases, remembering which family each came from */
    kb_case *cases = NULL;
    int n = 0, cap = 0, *fam_of = NULL;
    for (int f = 0; f < N_FAMILIES; f++) {
        kb_family_fn fn = k_families[f].fn;
        int before = n;
        int *nf = NULL;
        if (fn(quick, &cases, &n, &cap) || !(nf = realloc(fam_of, sizeof(int) * (n ? n : 1)))) {
            fprintf(stderr, "cinfer %s: family '%s' failed to build its cases\n", CMD, k_families[f].name);
            return CLI_FAIL;
        }
        fam_of = nf;
        for (int i = before; i < n; i++) fam_of[i] = f;
    }
    /* --kernels: names of kernels or families; unknown names are usage errors */
    char want[MAX_NAMES][32];
    int nwant = 0;
    if (kernels) {
        for (const char *s = kernels; *s;) {
            size_t k = strcspn(s, ",");
            if (k == 0 || k >= 32 || nwant == MAX_NAMES)
                return cli_usage_error(CMD, "--kernels: bad list '%s'", kernels);
            memcpy(want[nwant], s, k);
            want[nwant++][k] = 0;
            s += k + (s[k] == ',');
        }
        for (int w = 0; w < nwant; w++) {
            int ok = 0;
            for (int i = 0; i < n && !ok; i++)
                ok = !strcmp(cases[i].kernel, want[w]) || !strcmp(k_families[fam_of[i]].name, want[w]);
            for (int f = 0; f < N_FAMILIES && !ok; f++) ok = !strcmp(k_families[f].name, want[w]);
            if (!ok) {
                fprintf(stderr, "cinfer %s: --kernels: unknown kernel '%s'; known:", CMD, want[w]);
                char seen[MAX_NAMES][32];
                int ns = 0;
                for (int i = 0; i < n; i++)
                    if (!name_in(cases[i].kernel, seen, ns) && ns < MAX_NAMES) {
                        snprintf(seen[ns++], 32, "%s", cases[i].kernel);
                        fprintf(stderr, " %s", cases[i].kernel);
                    }
                for (int f = 0; f < N_FAMILIES; f++)
                    fprintf(stderr, "%s%s", f ? " " : " (families: ", k_families[f].name);
                fprintf(stderr, ")\n");
                for (int i = 0; i < n; i++)
                    if (cases[i].free) cases[i].free(&cases[i]);
                free(cases), free(fam_of);
                return CLI_USAGE;
            }
        }
    }
    FILE *out = stdout;
    if (out_path && !(out = fopen(out_path, "w"))) {
        fprintf(stderr, "cinfer %s: cannot write '%s'\n", CMD, out_path);
        for (int i = 0; i < n; i++)
            if (cases[i].free) cases[i].free(&cases[i]);
        free(cases), free(fam_of);
        return CLI_FAIL;
    }

    char commit[64];
    git_commit(commit, sizeof commit);
    /* per case and thread count (auto mode): speedup vs 1 thread and % of limit, for --plot */
    double *pl_spd = calloc((size_t)(n ? n : 1) * nthreads, sizeof(double));
    double *pl_pct = calloc((size_t)(n ? n : 1) * nthreads, sizeof(double));
    char (*pl_name)[160] = calloc(n ? n : 1, sizeof *pl_name);
    int *pl_case = calloc(n ? n : 1, sizeof(int)), npl = 0;
    if (!pl_spd || !pl_pct || !pl_name || !pl_case) {
        fprintf(stderr, "cinfer %s: out of memory\n", CMD);
        return CLI_FAIL;
    }
    const cf_cpu_info *cpu = cf_cpu();
    cf_roofline roof[MAX_THREADS];
    for (int t = 0; t < nthreads; t++) {
        cf_roofline_measure(threads[t], &roof[t]);
        fprintf(stderr,
                "limits @%d threads: DRAM read %.1f GB/s, FP32 %.1f GFLOP/s (%s), int8 %.1f GOP/s (%s)\n",
                threads[t], roof[t].dram_gbs, roof[t].fp32_gflops, roof[t].fp32_kind, roof[t].int8_gops,
                roof[t].int8_kind);
    }

    rep_table *tb = rep_new();
    rep_meta(tb, "cpu", "%s, %d cores, L1d %zu KiB, L2 %zu KiB, L3 %zu MiB (%s)", cpu->name, cpu->n_cores,
             cpu->l1d >> 10, cpu->l2 >> 10, cpu->l3 >> 20, cpu->cache_src);
    rep_meta(tb, "isa", "%s (%s)", cf_isa_name(cf_isa_active()), cpu->active_src);
    rep_meta(tb, "commit", "%s", commit);
    double load = loadavg();
    if (load >= 0) {
        rep_meta(
            tb, "load",
            "%.2f (1-min load average before the run; timings are unreliable when other processes compete "
            "for the %d cores)",
            load, cpu->n_cores);
        if (load > 0.5)
            fprintf(stderr, "warning: load average %.2f: other processes compete for the cores\n", load);
    }
    for (int t = 0; t < nthreads; t++) {
        char key[48];
        snprintf(key, sizeof key, "limits at %d thread%s", threads[t], threads[t] > 1 ? "s" : "");
        rep_meta(tb, key, "DRAM read %.1f GB/s, FP32 %.1f GFLOP/s, int8 %.1f GOP/s", roof[t].dram_gbs,
                 roof[t].fp32_gflops, roof[t].int8_gops);
    }
    rep_meta(tb, "timing",
             "min %.3g s per (case, threads, mode) in %d interleaved rounds (every thread count and mode "
             "measured once per round, so drift of a shared machine hits them alike; a case whose first round is "
             "long stops after it, one that reads slower at T threads than at 1 gets up to 3x the rounds); ns_call = slowest thread per call (median over batches, then over rounds), "
             "barrier excluded; ns_min = fastest batch; ns_wall = median including the barrier; GB/s, GOP/s, "
             "%%limit from ns_call; speedup = median over rounds of (1-thread auto ns / this ns) in the same round",
             min_time, rounds);
    cols_t C = {
        rep_col(tb, "kernel", REP_STR),  rep_col(tb, "size", REP_STR),    rep_col(tb, "type", REP_STR),
        rep_col(tb, "isa", REP_STR),     rep_col(tb, "threads", REP_NUM), rep_col(tb, "mode", REP_STR),
        rep_col(tb, "ns_call", REP_NUM), rep_col(tb, "ns_min", REP_NUM),  rep_col(tb, "ns_wall", REP_NUM),
        rep_col(tb, "GB/s", REP_NUM),    rep_col(tb, "GOP/s", REP_NUM),   rep_col(tb, "limit", REP_STR),
        rep_col(tb, "%limit", REP_NUM),  rep_col(tb, "speedup", REP_NUM), rep_col(tb, "rounds", REP_NUM),
        rep_col(tb, "threshold", REP_STR),
        rep_col(tb, "split", REP_NUM),   rep_col(tb, "fits", REP_STR),    rep_col(tb, "commit", REP_STR),
        rep_col(tb, "status", REP_STR)};

    int n_run = 0, n_fail = 0, n_slower = 0, n_slower_min = 0, n_meas = 0, n_ho = 0, maxth = 1;
    char slower[1024] = "";
    double ho_v[512];
    for (int t = 0; t < nthreads; t++)
        if (threads[t] > maxth) maxth = threads[t];
    double t_start = cf_now_s();
    cpu_snap snap0, snap1;
    cpu_snap_take(&snap0);
    for (int i = 0; i < n; i++) {
        kb_case *c = &cases[i];
        int sel = !nwant;
        for (int w = 0; w < nwant && !sel; w++)
            sel = !strcmp(c->kernel, want[w]) || !strcmp(k_families[fam_of[i]].name, want[w]);
        if (sel && match) {
            char full[sizeof c->kernel + sizeof c->size + sizeof c->type + 2];
            snprintf(full, sizeof full, "%s %s %s", c->kernel, c->size, c->type);
            sel = strstr(full, match) != NULL;
        }
        if (!sel) {
            if (c->free) c->free(c);
            continue;
        }
        n_run++;
        fprintf(stderr, "[%d/%d] %s %s %s ...\n", i + 1, n, c->kernel, c->size, c->type);
        char msg[256] = "";
        int bad = c->verify ? c->verify(c, msg, sizeof msg) : 0;
        const char *isa = cf_isa_name(cf_isa_active());
        int tidx = c->thresh ? cf_tuning_find(c->thresh) : -1;
        long thv = tidx >= 0 ? cf_tuning_value(cf_tuning_get(), tidx) : 0;
        if (bad) {
            n_fail++;
            rep_row(tb);
            rep_str(tb, C.k, "%s", c->kernel), rep_str(tb, C.sz, "%s", c->size),
                rep_str(tb, C.ty, "%s", c->type);
            rep_str(tb, C.isa, "%s", isa), rep_str(tb, C.commit, "%s", commit);
            rep_str(tb, C.status, "FAIL: %s", msg);
            fprintf(stderr, "  verification FAILED: %s (not timed)\n", msg);
            if (c->free) c->free(c);
            continue;
        }
        /* the hand-off round trip between two threads just before this case: when the host moves the
         * vCPUs apart it grows 6x and every small team call slows with it */
        double ho = maxth > 1 ? cf_handoff_ns(3, NULL) : -1;
        if (ho > 0 && n_ho < (int)(sizeof ho_v / sizeof ho_v[0])) ho_v[n_ho++] = ho;
        int pl = npl++;
        pl_case[pl] = i;
        snprintf(pl_name[pl], sizeof pl_name[pl], "%s %s%s%s", c->kernel, c->size, c->type[0] ? " " : "", c->type);
        for (int t = 0; t < nthreads; t++) pl_spd[pl * nthreads + t] = pl_pct[pl * nthreads + t] = NAN;
        /* interleaved rounds: every (threads, mode) measurement once per round, so slow drift of
         * the machine (other tenants) hits all of them alike; a case whose first round took long
         * (big work, small relative noise) stops after it */
        meas mt[MAX_THREADS][3];
        memset(mt, 0, sizeof mt);
        int nr = 0;
        for (int r = 0, want = rounds; r < want; r++, nr++) {
            double r0 = cf_now_s();
            int nmeas = 0;
            for (int t = 0; t < nthreads; t++)
                for (int mode = 0; mode < (threads[t] > 1 ? 3 : 1); mode++, nmeas++, n_meas++) {
                    meas *m = &mt[t][mode];
                    double best = 0, wall = 0;
                    m->ns[r] = kb_time_case(c, threads[t], mode, min_time / rounds, &best, &wall, NULL);
                    m->wall[r] = wall;
                    if (r == 0 || best < m->mn) m->mn = best;
                }
            if (r == 0 && cf_now_s() - r0 > 3.0 * min_time * nmeas) {
                nr = 1;
                break;
            }
            /* a case that reads slower at T threads than at 1 gets more rounds (up to 3x): a real
             * slowdown persists, noise from a shared machine does not */
            if (r + 1 == want && want == rounds && rounds > 1)
                for (int t = 1; t < nthreads; t++) {
                    double rat[MAX_ROUNDS];
                    for (int q = 0; q <= r; q++) rat[q] = mt[t][0].ns[q] > 0 ? mt[0][0].ns[q] / mt[t][0].ns[q] : NAN;
                    if (kb_median(rat, r + 1) < 1 / (1 + SLOWER_TOL))
                        want = 3 * rounds < MAX_ROUNDS ? 3 * rounds : MAX_ROUNDS;
                }
        }
        for (int t = 0; t < nthreads; t++) {
            int T = threads[t];
            for (int mode = 0; mode < (T > 1 ? 3 : 1); mode++) {
                meas *m = &mt[t][mode];
                double ns_call = kb_median(m->ns, nr), wall = kb_median(m->wall, nr), best = m->mn;
                /* speedup: median over rounds of the paired ratio to 1 thread auto (same round) */
                double rat[MAX_ROUNDS];
                for (int r = 0; r < nr; r++) rat[r] = m->ns[r] > 0 ? mt[0][0].ns[r] / m->ns[r] : NAN;
                double spd = kb_median(rat, nr);
                double gbs = c->bytes / ns_call, gops = c->ops / ns_call;
                double lim = c->limit == KB_LIMIT_BW     ? roof[t].dram_gbs
                             : c->limit == KB_LIMIT_FP32 ? roof[t].fp32_gflops
                                                         : roof[t].int8_gops;
                double val = c->limit == KB_LIMIT_BW ? gbs : gops;
                int split = mode == 1 ? 1 : mode == 2 ? T : cf_split_nthreads(c->work, thv, T);
                rep_row(tb);
                rep_str(tb, C.k, "%s", c->kernel), rep_str(tb, C.sz, "%s", c->size),
                    rep_str(tb, C.ty, "%s", c->type);
                rep_str(tb, C.isa, "%s", isa);
                rep_num(tb, C.th, T, 0);
                rep_str(tb, C.mode, "%s", mode == 0 ? "auto" : mode == 1 ? "serial" : "parallel");
                rep_num(tb, C.ns, ns_call, 0), rep_num(tb, C.nsmin, best, 0), rep_num(tb, C.wall, wall, 0);
                if (c->bytes > 0) rep_num(tb, C.gbs, gbs, 2);
                if (c->ops > 0) rep_num(tb, C.gops, gops, 2);
                rep_str(tb, C.lim, "%s",
                        c->limit == KB_LIMIT_BW     ? "dram"
                        : c->limit == KB_LIMIT_FP32 ? "fp32"
                                                    : "int8");
                if (lim > 0) rep_num(tb, C.pct, 100.0 * val / lim, 1);
                if (spd > 0) rep_num(tb, C.spd, spd, 2);
                rep_num(tb, C.rounds, nr, 0);
                if (mode == 0) {
                    pl_spd[pl * nthreads + t] = spd > 0 ? spd : NAN;
                    pl_pct[pl * nthreads + t] = lim > 0 ? 100.0 * val / lim : NAN;
                }
                if (tidx >= 0) rep_str(tb, C.thr, "%s=%ld", c->thresh, thv);
                rep_num(tb, C.split, split, 0);
                rep_str(tb, C.fit, "%s", fits(c->bytes));
                rep_str(tb, C.commit, "%s", commit);
                rep_str(tb, C.status, "ok");
                if (T > 1 && mode == 0 && mt[0][0].mn > 0 && best > mt[0][0].mn * (1 + SLOWER_TOL)) n_slower_min++;
                if (T > 1 && mode == 0 && spd > 0 && spd < 1 / (1 + SLOWER_TOL)) {
                    n_slower++;
                    size_t l = strlen(slower);
                    if (l + 80 < sizeof slower)
                        snprintf(slower + l, sizeof slower - l, "%s%s %s @%d (%.2fx, hand-off %.0f ns)", l ? "; " : "",
                                 c->kernel, c->size, T, spd, ho);
                }
                fprintf(stderr, "  %2d thr %-8s %12.0f ns  %8.2f %s  %5.1f%% of limit  x%.2f vs 1 thr (%d rounds)\n", T,
                        mode == 0   ? "auto"
                        : mode == 1 ? "serial"
                                    : "parallel",
                        ns_call, val, c->limit == KB_LIMIT_BW ? "GB/s" : "GOP/s",
                        lim > 0 ? 100 * val / lim : 0, spd, nr);
            }
        }
        if (c->free) c->free(c);
    }
    cpu_snap_take(&snap1);
    double others = cpu_others_share(&snap0, &snap1, cpu->n_cores);
    if (others >= 0) {
        rep_meta(tb, "others", "other processes (and hypervisor steal) used %.1f%% of the %d cores during the run%s",
                 others * 100, cpu->n_cores, others > 0.1 ? ": timings of thread teams are unreliable" : "");
        if (others > 0.1)
            fprintf(stderr, "warning: other processes used %.0f%% of the CPU during the run: team timings are unreliable\n",
                    others * 100);
    }
    rep_meta(tb, "summary", "%d cases, %d failed verification, %d measurements in %.1f s", n_run, n_fail,
             n_meas, cf_now_s() - t_start);
    if (n_ho) {
        qsort(ho_v, (size_t)n_ho, sizeof ho_v[0], kb_cmp_double);
        rep_meta(tb, "hand-off", "a cache line's round trip between 2 threads, measured before each case: min %.0f, median %.0f, "
                 "max %.0f ns (cinfer info explains it; small team calls slow down with it)",
                 ho_v[0], ho_v[n_ho / 2], ho_v[n_ho - 1]);
    }
    rep_meta(tb, "slower than 1 thread (auto, speedup < 1/1.05)", "%d%s%s", n_slower, n_slower ? ": " : "", slower);
    rep_meta(tb, "slower than 1 thread by ns_min (auto, >5%)", "%d", n_slower_min);
    if (plot_dir && write_plots(plot_dir, pl_name, pl_spd, pl_pct, npl, threads, nthreads)) n_fail++;
    free(pl_spd), free(pl_pct), free(pl_name), free(pl_case);
    free(cases), free(fam_of);
    int rc = rep_write(tb, out, (rep_format)fmt);
    rep_free(tb);
    if (out != stdout && fclose(out)) rc = -1;
    if (rc) {
        fprintf(stderr, "cinfer %s: error writing the report\n", CMD);
        return CLI_FAIL;
    }
    return n_fail ? CLI_FAIL : CLI_OK;
}
