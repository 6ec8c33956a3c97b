/* cinfer tune [--out FILE] [--threads 1,2] [--budget SECONDS] [--kernels LIST] [--quick|--full] [--dry-run]
 *
 * Measures every kernel-benchmark case (bench/kb_*.c, verified against the reference first) on
 * one thread and, per thread count T > 1, forced serial and forced parallel in a T-thread team,
 * then sets each parallel threshold (kernels/tuning.h, "work per taking-part thread") so that
 * each case runs in the mode (serial or parallel in the team) that measured faster:
 *
 *   - measurements run in 3 interleaved rounds (1 thread, team serial, team parallel), and every
 *     comparison uses the median over rounds of paired ratios (team time / 1-thread time of the
 *     same round): a shared machine drifts by 10-40% over seconds, alike for the whole round.
 *   - the regret of a value is the sum over its cases (and team sizes) of the fraction by which
 *     the mode it picks is slower than the other mode (parallel counted PAR_MARGIN slower than
 *     measured: it must win clearly); the value in force is kept unless another
 *     candidate (the largest value that splits each case, or "never split") lowers the regret by
 *     more than KEEP_REGRET (one case: a tenth); it then moves to the candidate closest to it
 *     among those within KEEP_REGRET of the lowest regret, so values move only where and as far
 *     as the measurement says.  A single threshold is a single crossover: a noisy case at large work can no longer
 *     push every winning case below it back to serial.
 *   - other parameters (tile sizes, thresholds without cases) keep their values.
 * Then every case is timed again in auto mode with the new values (the "after" column), and the
 * file is written: [isa] section of the active ISA, listing only values that differ from the
 * defaults.  Default location: $CINFER_TUNING, else $XDG_CONFIG_HOME/cinfer/tuning.txt, else
 * ~/.config/cinfer/tuning.txt (what cinfer loads at start; see kernels/tuning.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/cpushare.h"
#include "bench/handoff.h"
#include "bench/kbench.h"
#include "bench/plot.h"
#include "bench/report.h"
#include "kernels/clock.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/tuning.h"
#include "tools/cli.h"

#define CMD "tune"
#define WIN_MARGIN 0.03
#define LOSE_TOL 0.05
/* a threshold in force moves only when that lowers the regret (sum over cases of the fraction by
 * which the picked mode is slower than the better one) by more than this: a tenth of one case */
#define KEEP_REGRET 0.10
/* parallel counts as better only when it wins by more than this: near the crossover a split
 * gains a few percent at best, while a team on a shared host loses 10-50% whenever the other
 * core is taken for a moment, so a case within this margin is left serial (a serial call in a
 * team takes what it takes alone) */
#define PAR_MARGIN 0.10
/* serial work in a T-thread team should take what it takes alone; a larger median ratio means
 * other processes preempt the team and every team timing is noise */
#define BUSY_RATIO 1.25
/* ... and the parallel runs' median over their fastest batch; above this, batches are being preempted */
#define BUSY_NOISE 1.3
/* ... and the CPU share other processes (or the hypervisor's steal) took while we measured */
#define BUSY_OTHERS 0.10
enum { MAX_T = 8, AFTER_ROUNDS = 3, AFTER_MAX = 9, MEAS_ROUNDS = 3 };

static void usage(FILE *f) {
    fprintf(f, "usage: cinfer tune [options]\n"
               "  --out FILE       tuning file to write (default %s)\n"
               "  --threads LIST   thread counts, 1 first (default 1,<cores>)\n"
               "  --budget SEC     approximate time for the sweep (default 120; < 300 uses the quick sweep)\n"
               "  --quick | --full sweep size regardless of the budget\n"
               "  --kernels LIST   only these kernels or families (e.g. rmsnorm,matmul)\n"
               "  --dry-run        measure and print, do not write the file\n"
               "  --force          write the file even when the machine looks busy (see below)\n"
               "  --format FMT     md (default), csv or json for the table on stdout\n"
               "Progress goes to stderr; the table of before/after times per case to stdout.  The file\n"
               "lists only values that differ from the defaults; cinfer loads it at start (CINFER_TUNING\n"
               "points elsewhere; CINFER_<NAME> environment variables override it).  When serial work in a\n"
               "team runs (median over cases) more than %.2fx slower than alone, other processes are\n"
               "preempting the team (also: parallel runs whose median exceeds their fastest batch by 30%%, or\n"
               "other processes using more than 10%% of the CPU while it measured): the file is then not\n"
               "written unless --force.\n",
            cf_tuning_path(), BUSY_RATIO);
}

typedef struct {
    kb_case c;
    int fam;
    int tidx;             /* threshold parameter, -1 none */
    double s1, s1min;     /* 1 thread (median, min ns) */
    double ser[MAX_T], sermin[MAX_T], par[MAX_T], parmin[MAX_T];
    double rser[MAX_T], rpar[MAX_T]; /* median over rounds of serial / parallel in the team over 1 thread */
    double after[MAX_T], aftermin[MAX_T];
    double after1[MAX_T], ratio[MAX_T];
    int after_rounds[MAX_T]; /* after: 1-thread auto ns paired with it; median ratio 1 thr / T thr */
    double recheck[MAX_T];   /* the ratio re-measured at the end when the first read slower (0: not) */
    int split_before[MAX_T], split_after[MAX_T];
    int ok;
} tcase;

static const struct {
    const char *name;
    kb_family_fn fn;
} k_fam[] = {{"norm", kb_family_norm}, {"rope", kb_family_rope}, {"attn", kb_family_attn},
             {"ops", kb_family_ops},   {"matmul", kb_family_matmul}};
enum { N_FAM = sizeof k_fam / sizeof k_fam[0] };

static int selected(const char *list, const char *kernel, const char *fam) {
    if (!list) return 1;
    for (const char *s = list; *s;) {
        size_t k = strcspn(s, ",");
        if ((strlen(kernel) == k && !strncmp(s, kernel, k)) || (strlen(fam) == k && !strncmp(s, fam, k))) return 1;
        s += k + (s[k] == ',');
    }
    return 0;
}


/* Regret of threshold value v for parameter ti: over its cases and team sizes, how much slower
 * the mode v picks (serial or parallel in the team) is than the better of the two, as a
 * fraction (median paired ratios, same rounds).  *nmis counts cases off by more than LOSE_TOL. */
static double regret(const tcase *cs, int n, int ti, const int *th, int nth, long v, int *nmis) {
    double r = 0;
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!cs[i].ok || cs[i].tidx != ti) continue;
        for (int t = 1; t < nth; t++) {
            double ser = cs[i].rser[t], par = cs[i].rpar[t] * (1 + PAR_MARGIN);
            if (!(ser > 0) || !(par > 0)) continue;
            double pick = cf_split_nthreads(cs[i].c.work, v, th[t]) > 1 ? par : ser;
            double best = ser < par ? ser : par;
            r += pick / best - 1;
            m += pick > best * (1 + LOSE_TOL);
        }
    }
    if (nmis) *nmis = m;
    return r;
}

/* after: interleaved rounds of (1 thread, T threads) in auto mode, `rounds` of them (AFTER_MAX
 * when the first ones read slower); returns the median of the paired ratios 1 thread / T threads
 * (drift of a shared machine hits both sides of a pair alike); *after, *aftermin: the T-thread
 * median and fastest ns, *after1 the 1-thread median, *nr the rounds run (each may be NULL:
 * after, aftermin and after1 together). */
static double after_ratio(kb_case *c, int T, double min_time, int rounds, int *nr, double *after, double *aftermin,
                          double *after1) {
    double r1[AFTER_MAX], rT[AFTER_MAX], rat[AFTER_MAX], mn = 0;
    int k = 0;
    for (int want = rounds; k < want; k++) {
        double m1 = 0, mT = 0;
        r1[k] = kb_time_case(c, 1, 0, min_time, &m1, NULL, NULL);
        rT[k] = kb_time_case(c, T, 0, min_time, &mT, NULL, NULL);
        rat[k] = rT[k] > 0 ? r1[k] / rT[k] : 0;
        if (k == 0 || mT < mn) mn = mT;
        /* a case that reads slower gets more rounds: a real slowdown persists, noise does not */
        if (k + 1 == want && want < AFTER_MAX && kb_median(rat, k + 1) < 1 / (1 + LOSE_TOL)) want = AFTER_MAX;
    }
    if (nr) *nr = k;
    if (after) *after = kb_median(rT, k), *aftermin = mn, *after1 = kb_median(r1, k);
    return kb_median(rat, k);
}

/* Candidate i: the largest value that splits case i (work / thresh >= 2 takes a second thread);
 * i < 0: "never split". */
static long cand(const tcase *cs, int i, long maxw) {
    long v = i < 0 ? maxw + 1 : cs[i].c.work / 2;
    return v < 1 ? 1 : v;
}

/* New value for threshold parameter ti from the measurements (see the header). */
static long decide(const tcase *cs, int n, int ti, const int *th, int nth, long cur, int *changed, char *why,
                   size_t cap) {
    long maxw = 0;
    int any = 0;
    for (int i = 0; i < n; i++)
        if (cs[i].ok && cs[i].tidx == ti) {
            any = 1;
            if (cs[i].c.work > maxw) maxw = cs[i].c.work;
        }
    *changed = 0;
    if (!any) {
        snprintf(why, cap, "no case");
        return cur;
    }
    /* candidates: the value in force, "never split", and for every case and team size the
     * largest value that splits it (work / thresh >= 2 takes a second thread) */
    int mis_cur;
    double r_cur = regret(cs, n, ti, th, nth, cur, &mis_cur), r_best = r_cur;
    for (int i = -1; i < n; i++) { /* the lowest regret of any candidate */
        if (i >= 0 && (!cs[i].ok || cs[i].tidx != ti)) continue;
        double r = regret(cs, n, ti, th, nth, cand(cs, i, maxw), NULL);
        if (r < r_best) r_best = r;
    }
    if (r_cur - r_best <= KEEP_REGRET) {
        snprintf(why, cap, "kept: regret %.2f, best possible %.2f (%d case%s off by >5%%)", r_cur, r_best, mis_cur,
                 mis_cur == 1 ? "" : "s");
        return cur;
    }
    /* among the candidates within KEEP_REGRET of the best (the same within noise), the one
     * closest to the value in force (log scale): values move only as far as measured */
    long best = cur;
    double db = INFINITY, rb = r_cur;
    for (int i = -1; i < n; i++) {
        if (i >= 0 && (!cs[i].ok || cs[i].tidx != ti)) continue;
        long v = cand(cs, i, maxw);
        double r = regret(cs, n, ti, th, nth, v, NULL), dv = fabs(log((double)v / (double)cur));
        if (r <= r_best + KEEP_REGRET && dv < db) best = v, db = dv, rb = r;
    }
    r_best = rb;
    int mis_best;
    regret(cs, n, ti, th, nth, best, &mis_best);
    *changed = 1;
    snprintf(why, cap, "regret %.2f -> %.2f; cases off by >5%%: %d -> %d", r_cur, r_best, mis_cur, mis_best);
    return best;
}

int cmd_tune(int argc, char **argv) {
    const char *out_path = NULL, *kernels = NULL;
    int th[MAX_T] = {1, 0}, nth = 0, quick = -1, dry = 0, fmt = REP_MD, force = 0;
    double budget = 120;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--out")) {
            if (!(out_path = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_int_list(CMD, a, v, 1, 256, th, MAX_T, &nth)) return CLI_USAGE;
        } else if (!strcmp(a, "--budget")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_double(CMD, a, v, 1, 86400, &budget)) return CLI_USAGE;
        } else if (!strcmp(a, "--kernels")) {
            if (!(kernels = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--quick")) {
            quick = 1;
        } else if (!strcmp(a, "--full")) {
            quick = 0;
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else if (!strcmp(a, "--dry-run")) {
            dry = 1;
        } else if (!strcmp(a, "--format")) {
            if (!(v = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
            if ((fmt = rep_format_parse(v)) < 0) return cli_usage_error(CMD, "--format: '%s' is not md, csv or json", v);
        } else {
            return cli_unknown(CMD, a);
        }
    }
    if (cli_init_runtime(CMD)) return CLI_USAGE;
    if (!nth) {
        th[0] = 1, th[1] = cf_default_threads(), nth = th[1] > 1 ? 2 : 1;
    }
    if (th[0] != 1) return cli_usage_error(CMD, "--threads: the list must start with 1 (the baseline)");
    if (nth < 2) return cli_usage_error(CMD, "--threads: need a count > 1 to tune (e.g. 1,2)");
    if (quick < 0) quick = budget < 300;
    if (!out_path) out_path = cf_tuning_path();
    cf_isa isa = cf_isa_active();

    /* cases */
    kb_case *raw = NULL;
    int nraw = 0, cap = 0, *fam_of = NULL;
    for (int f = 0; f < N_FAM; f++) {
        int before = nraw;
        int *nf;
        if (k_fam[f].fn(quick, &raw, &nraw, &cap) || !(nf = realloc(fam_of, sizeof(int) * (nraw ? nraw : 1)))) {
            fprintf(stderr, "cinfer %s: family '%s' failed to build its cases\n", CMD, k_fam[f].name);
            return CLI_FAIL;
        }
        fam_of = nf;
        for (int i = before; i < nraw; i++) fam_of[i] = f;
    }
    tcase *cs = calloc(nraw ? nraw : 1, sizeof *cs);
    int n = 0;
    for (int i = 0; i < nraw; i++) {
        if (!selected(kernels, raw[i].kernel, k_fam[fam_of[i]].name) || !raw[i].thresh ||
            cf_tuning_find(raw[i].thresh) < 0) {
            if (raw[i].free) raw[i].free(&raw[i]);
            continue;
        }
        cs[n].c = raw[i];
        cs[n].fam = fam_of[i];
        cs[n].tidx = cf_tuning_find(raw[i].thresh);
        n++;
    }
    free(raw), free(fam_of);
    if (!n) {
        free(cs);
        return cli_usage_error(CMD, "--kernels: no case selected ('%s')", kernels ? kernels : "");
    }
    int per_case = 1 + 3 * (nth - 1);
    double min_time = budget * 0.6 / ((double)n * per_case);
    if (min_time > 0.1) min_time = 0.1;
    if (min_time < 0.003) min_time = 0.003;
    fprintf(stderr, "cinfer tune: %d cases (%s sweep), threads", n, quick ? "quick" : "full");
    for (int t = 0; t < nth; t++) fprintf(stderr, "%s%d", t ? "," : " ", th[t]);
    fprintf(stderr, ", ISA %s, %.3f s per measurement, budget %.0f s\n", cf_isa_name(isa), min_time, budget);

    /* measure: 1 thread, then serial and parallel in each larger team */
    double load = -1;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf", &load) != 1) load = -1;
        fclose(lf);
    }
    if (load > 0.5)
        fprintf(stderr, "warning: load average %.2f on %d cores: other processes compete, team timings are unreliable\n",
                load, cf_cpu()->n_cores);
    double t_start = cf_now_s();
    double ho0 = cf_handoff_ns(5, NULL), ho1 = -1; /* the team's hand-off cost, before and after */
    cpu_snap snap0, snap1;
    cpu_snap_take(&snap0);
    const cf_tuning *tu = cf_tuning_get();
    for (int i = 0; i < n; i++) {
        tcase *x = &cs[i];
        char msg[256] = "";
        fprintf(stderr, "[%d/%d] %s %s %s (%.0f s)\n", i + 1, n, x->c.kernel, x->c.size, x->c.type, cf_now_s() - t_start);
        if (x->c.verify && x->c.verify(&x->c, msg, sizeof msg)) {
            fprintf(stderr, "  verification FAILED: %s (not used)\n", msg);
            continue;
        }
        x->ok = 1;
        long cur = cf_tuning_value(tu, x->tidx);
        /* interleaved rounds of (1 thread, serial and parallel in each team), so drift of a shared
         * machine hits all sides alike; decisions use the median over rounds of paired ratios */
        double s1r[MEAS_ROUNDS], serr[MAX_T][MEAS_ROUNDS], parr[MAX_T][MEAS_ROUNDS];
        for (int r = 0; r < MEAS_ROUNDS; r++) {
            double mn;
            s1r[r] = kb_time_case(&x->c, 1, 1, min_time / MEAS_ROUNDS, &mn, NULL, NULL);
            if (r == 0 || mn < x->s1min) x->s1min = mn;
            for (int t = 1; t < nth; t++) {
                serr[t][r] = kb_time_case(&x->c, th[t], 1, min_time / MEAS_ROUNDS, &mn, NULL, NULL);
                if (r == 0 || mn < x->sermin[t]) x->sermin[t] = mn;
                parr[t][r] = kb_time_case(&x->c, th[t], 2, min_time / MEAS_ROUNDS, &mn, NULL, NULL);
                if (r == 0 || mn < x->parmin[t]) x->parmin[t] = mn;
            }
        }
        x->s1 = kb_median(s1r, MEAS_ROUNDS);
        for (int t = 1; t < nth; t++) {
            double rs[MEAS_ROUNDS], rp[MEAS_ROUNDS];
            for (int r = 0; r < MEAS_ROUNDS; r++) {
                rs[r] = s1r[r] > 0 ? serr[t][r] / s1r[r] : 0;
                rp[r] = s1r[r] > 0 ? parr[t][r] / s1r[r] : 0;
            }
            x->ser[t] = kb_median(serr[t], MEAS_ROUNDS), x->par[t] = kb_median(parr[t], MEAS_ROUNDS);
            x->rser[t] = kb_median(rs, MEAS_ROUNDS), x->rpar[t] = kb_median(rp, MEAS_ROUNDS);
            x->split_before[t] = cf_split_nthreads(x->c.work, cur, th[t]);
        }
    }

    cpu_snap_take(&snap1);
    ho1 = cf_handoff_ns(5, NULL);
    double others = cpu_others_share(&snap0, &snap1, cf_cpu()->n_cores);
    /* busy check: serial work in the team vs alone */
    double *rat = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1)), busy = 1;   /* n > 0: gcc -O1 + ASan range warning */
    int nr = 0;
    for (int i = 0; rat && i < n; i++)
        if (cs[i].ok && cs[i].s1min > 0 && cs[i].sermin[1] > 0) rat[nr++] = cs[i].sermin[1] / cs[i].s1min;
    if (nr) {
        for (int i = 1; i < nr; i++) /* insertion sort: n is small */
            for (int j = i; j > 0 && rat[j] < rat[j - 1]; j--) {
                double t = rat[j];
                rat[j] = rat[j - 1], rat[j - 1] = t;
            }
        busy = rat[nr / 2];
    }
    /* noise: median over cases of (median / fastest batch) of the parallel runs */
    double noise = 1;
    nr = 0;
    for (int i = 0; rat && i < n; i++)
        if (cs[i].ok && cs[i].parmin[1] > 0) rat[nr++] = cs[i].par[1] / cs[i].parmin[1];
    if (nr) {
        for (int i = 1; i < nr; i++)
            for (int j = i; j > 0 && rat[j] < rat[j - 1]; j--) {
                double t = rat[j];
                rat[j] = rat[j - 1], rat[j - 1] = t;
            }
        noise = rat[nr / 2];
    }
    free(rat);
    /* the load average before the run is only reported: it counts our own earlier runs; what other
     * processes did while we measured is the CPU share below */
    int is_busy = busy > BUSY_RATIO || noise > BUSY_NOISE || others > BUSY_OTHERS;
    fprintf(stderr, "others check: other processes (and steal) used %.1f%% of the %d cores while measuring (> %.0f%% = busy)\n",
            others * 100, cf_cpu()->n_cores, BUSY_OTHERS * 100);
    fprintf(stderr, "noise check: parallel runs' median / fastest batch = %.2f (median over cases; > %.2f = busy)\n",
            noise, BUSY_NOISE);
    fprintf(stderr, "team check: serial work in a %d-thread team takes %.2fx its 1-thread time (median of %d cases)%s\n",
            th[1], busy, nr, is_busy ? ": the machine is busy, team timings are noise" : "");

    /* decide per threshold parameter */
    cf_tuning fresh; /* defaults + file, without the environment: what the file should hold */
    cf_err e;
    cf_tuning_defaults(isa, &fresh);
    if (cf_tuning_load_file(out_path, isa, &fresh, NULL, &e)) {
        fprintf(stderr, "cinfer %s: %s (starting from the defaults)\n", CMD, e.msg);
        cf_tuning_defaults(isa, &fresh);
    }
    cf_tuning def;
    cf_tuning_defaults(isa, &def);
    rep_table *tt = rep_new();
    int a_p = rep_col(tt, "parameter", REP_STR), a_def = rep_col(tt, "default", REP_NUM), a_old = rep_col(tt, "before", REP_NUM),
        a_new = rep_col(tt, "after", REP_NUM), a_why = rep_col(tt, "decision", REP_STR);
    long old_val[64];
    for (int ti = 0; ti < cf_tuning_count() && ti < 64; ti++) {
        old_val[ti] = cf_tuning_value(tu, ti);
        int has = 0;
        for (int i = 0; i < n; i++) has |= cs[i].ok && cs[i].tidx == ti;
        if (!has) continue;
        char why[160];
        int changed;
        long v = decide(cs, n, ti, th, nth, old_val[ti], &changed, why, sizeof why);
        cf_tuning_set_value(cf_tuning_mut(), ti, v);
        cf_tuning_set_value(&fresh, ti, v);
        rep_row(tt);
        rep_str(tt, a_p, "%s", cf_tuning_name(ti));
        rep_num(tt, a_def, (double)cf_tuning_value(&def, ti), 0);
        rep_num(tt, a_old, (double)old_val[ti], 0);
        rep_num(tt, a_new, (double)v, 0);
        rep_str(tt, a_why, "%s", why);
        fprintf(stderr, "%s: %ld -> %ld (%s)\n", cf_tuning_name(ti), old_val[ti], v, why);
    }

    /* after: auto mode with the new values */
    int n_slower = 0, n_mis = 0, n_recheck = 0;
    rep_table *tb = rep_new();
    int c_k = rep_col(tb, "kernel", REP_STR), c_sz = rep_col(tb, "size", REP_STR), c_ty = rep_col(tb, "type", REP_STR),
        c_w = rep_col(tb, "work", REP_NUM), c_thr = rep_col(tb, "threshold", REP_STR), c_T = rep_col(tb, "threads", REP_NUM),
        c_1 = rep_col(tb, "ns_1thr", REP_NUM), c_s = rep_col(tb, "ns_serial", REP_NUM), c_pa = rep_col(tb, "ns_parallel", REP_NUM),
        c_b = rep_col(tb, "ns_before", REP_NUM), c_sb = rep_col(tb, "split_before", REP_NUM),
        c_a = rep_col(tb, "ns_after", REP_NUM), c_sa = rep_col(tb, "split_after", REP_NUM),
        c_a1 = rep_col(tb, "ns_after_1thr", REP_NUM),
        c_r = rep_col(tb, "after_vs_1thr", REP_NUM), c_ar = rep_col(tb, "rounds", REP_NUM),
        c_rc = rep_col(tb, "recheck", REP_NUM), c_v = rep_col(tb, "verdict", REP_STR);
    char slower[1024] = "";
    for (int i = 0; i < n; i++) {
        tcase *x = &cs[i];
        if (!x->ok) continue;
        long v = cf_tuning_value(cf_tuning_get(), x->tidx);
        fprintf(stderr, "after [%d/%d] %s %s\n", i + 1, n, x->c.kernel, x->c.size);
        for (int t = 1; t < nth; t++) {
            x->split_after[t] = cf_split_nthreads(x->c.work, v, th[t]);
            x->ratio[t] = after_ratio(&x->c, th[t], min_time, AFTER_ROUNDS, &x->after_rounds[t], &x->after[t],
                                      &x->aftermin[t], &x->after1[t]);
        }
    }
    /* a case that read slower is measured again now, minutes later: a slowdown of the kernel
     * persists, a host disturbance of those minutes (another VM's burst, the vCPUs moving) does
     * not; the verdict needs both readings slower, and the table shows both */
    for (int i = 0; i < n; i++)
        for (int t = 1; t < nth; t++) {
            tcase *x = &cs[i];
            if (!x->ok || x->ratio[t] >= 1 / (1 + LOSE_TOL)) continue;
            fprintf(stderr, "recheck %s %s @%d (read %.2fx)\n", x->c.kernel, x->c.size, th[t], x->ratio[t]);
            /* the table keeps the first reading's times */
            x->recheck[t] = after_ratio(&x->c, th[t], min_time, AFTER_MAX, NULL, NULL, NULL, NULL);
        }
    for (int i = 0; i < n; i++) {
        tcase *x = &cs[i];
        if (!x->ok) continue;
        long v = cf_tuning_value(cf_tuning_get(), x->tidx);
        for (int t = 1; t < nth; t++) {
            int first = x->ratio[t] < 1 / (1 + LOSE_TOL);
            int sl = first && x->recheck[t] < 1 / (1 + LOSE_TOL);
            /* a threshold mistake: the new value picks the mode (serial / parallel in the team) that
             * measured more than 5% slower than the other one (serial: by more than PAR_MARGIN) */
            int mis = x->split_after[t] > 1 ? x->rpar[t] > x->rser[t] * (1 + LOSE_TOL)
                                             : x->rser[t] > x->rpar[t] * (1 + PAR_MARGIN);
            n_slower += sl, n_mis += mis, n_recheck += first && !sl;
            if (sl) {
                size_t l = strlen(slower);
                if (l + 100 < sizeof slower)
                    snprintf(slower + l, sizeof slower - l, "%s%s %s @%d (%.2fx, recheck %.2fx)", l ? "; " : "", x->c.kernel,
                             x->c.size, th[t], x->ratio[t], x->recheck[t]);
            }
            double before = x->split_before[t] > 1 ? x->par[t] : x->ser[t];
            rep_row(tb);
            rep_str(tb, c_k, "%s", x->c.kernel), rep_str(tb, c_sz, "%s", x->c.size), rep_str(tb, c_ty, "%s", x->c.type);
            rep_num(tb, c_w, (double)x->c.work, 0);
            rep_str(tb, c_thr, "%s %ld->%ld", x->c.thresh, old_val[x->tidx], v);
            rep_num(tb, c_T, th[t], 0);
            rep_num(tb, c_1, x->s1, 0), rep_num(tb, c_s, x->ser[t], 0), rep_num(tb, c_pa, x->par[t], 0);
            rep_num(tb, c_b, before, 0), rep_num(tb, c_sb, x->split_before[t], 0);
            rep_num(tb, c_a, x->after[t], 0), rep_num(tb, c_sa, x->split_after[t], 0);
            rep_num(tb, c_a1, x->after1[t], 0);
            rep_num(tb, c_r, x->ratio[t], 2);
            rep_num(tb, c_ar, x->after_rounds[t], 0);
            if (first) rep_num(tb, c_rc, x->recheck[t], 2);
            rep_str(tb, c_v, "%s%s", sl ? "SLOWER than 1 thread"
                                     : first ? "slower at first, not on recheck"
                                     : x->ratio[t] > 1 + WIN_MARGIN ? "faster" : "same",
                    mis ? "; worse than the best split" : "");
        }
    }
    rep_meta(tb, "command", "cinfer tune%s%s --budget %.0f", quick ? " --quick" : " --full", dry ? " --dry-run" : "", budget);
    rep_meta(tb, "isa", "%s", cf_isa_name(isa));
    if (load >= 0) rep_meta(tb, "load", "%.2f (1-min load average before the run, %d cores)", load, cf_cpu()->n_cores);
    rep_meta(tb, "timing", "ns = median critical-path ns per call (%.3f s per case and mode); decisions use "
                           "the median over 3 interleaved rounds of the paired ratio team / 1 thread; before = the measurement matching the old split, after = "
                           "re-timed in auto mode with the new value, in 3 rounds interleaved with 1-thread auto runs "
                           "(ns_after_1thr; 9 rounds when 3 read slower); after_vs_1thr = median over the rounds of the paired ratio 1 thread / T threads; "
                           "a case under 1/1.05 is measured again (9 rounds) after all the others (recheck): SLOWER needs both readings under 1/1.05",
             min_time);
    rep_meta(tb, "slower than 1 thread after tuning (auto, median paired ratio < 1/1.05, first reading and recheck)", "%d%s%s",
             n_slower, n_slower ? ": " : "", slower);
    rep_meta(tb, "slower at first, not on recheck", "%d", n_recheck);
    rep_meta(tb, "threshold mistakes", "%d (cases where the new value picks the mode that measured slower: parallel by >%.0f%%, serial by >%.0f%%)",
             n_mis, LOSE_TOL * 100, PAR_MARGIN * 100);
    rep_meta(tb, "busy check",
             "serial work in a %d-thread team: %.2fx its 1-thread time (> %.2f = busy); parallel median / fastest "
             "batch %.2f (> %.2f = busy); other processes' CPU share while measuring %.1f%% (> %.0f%% = busy)%s",
             th[1], busy, BUSY_RATIO, noise, BUSY_NOISE, others * 100, BUSY_OTHERS * 100,
             is_busy ? (force ? ": busy, written anyway (--force)" : ": busy, file NOT written") : ": idle enough");
    if (ho0 > 0 && ho1 > 0)
        rep_meta(tb, "hand-off", "core-to-core round trip %.0f ns before measuring, %.0f ns after%s", ho0, ho1,
                 ho1 > 2 * ho0 || ho0 > 2 * ho1
                     ? ": it changed while measuring (the host moved the vCPUs), so thresholds of small calls fit "
                       "neither placement well"
                     : "");
    rep_meta(tb, "elapsed", "%.1f s", cf_now_s() - t_start);
    rep_write(tt, stdout, (rep_format)fmt);
    printf("\n");
    rep_write(tb, stdout, (rep_format)fmt);
    rep_free(tt), rep_free(tb);
    for (int i = 0; i < n; i++)
        if (cs[i].c.free) cs[i].c.free(&cs[i].c);
    free(cs);

    int rc = CLI_OK;
    if (!dry && is_busy && !force) {
        fprintf(stderr, "cinfer %s: not writing %s: the machine is busy (team %.2fx, noise %.2f, others %.0f%% of the CPU); "
                        "rerun when it is idle, or pass --force\n", CMD, out_path, busy, noise, others * 100);
        rc = CLI_FAIL;
    } else if (!dry) {
        /* the file's directory may not exist yet */
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", out_path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) *slash = 0, plot_mkdir(dir);
        char comment[256];
        snprintf(comment, sizeof comment, "written by cinfer tune (%s, threads 1..%d); values equal to the defaults are omitted",
                 cf_cpu()->name, th[nth - 1]);
        if (cf_tuning_write_changed(out_path, isa, &fresh, comment, &e)) {
            fprintf(stderr, "cinfer %s: %s\n", CMD, e.msg);
            rc = CLI_FAIL;
        } else {
            fprintf(stderr, "wrote %s ([%s]); cinfer loads it at start%s\n", out_path, cf_isa_name(isa),
                    getenv("CINFER_TUNING") ? " (CINFER_TUNING)" : "");
        }
    }
    cf_tuning_reload(&e);
    return rc;
}
