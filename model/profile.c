/* Profile accounting (see profile.h): forward-pass step times -> kernel-family rows per token. */
#include "model/profile.h"

#include <string.h>

#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"

void cf_profile_start(cf_fwd_prof *mark) {
    cf_forward_prof_enable(1);
    cf_forward_prof_read(mark);
}

/* Row by name (created on first use). */
static cf_prof_row *row(cf_prof_report *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->rows[i].name, name)) return &r->rows[i];
    if (r->n == CF_PROF_MAX_ROWS) return &r->rows[CF_PROF_MAX_ROWS - 1];
    cf_prof_row *w = &r->rows[r->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->bound = "";
    w->pct = -1;
    return w;
}

static int is_int8(int type) { return cf_act_kind_of(type) != CF_ACT_F32; }

/* A matmul step: its time shared among the weight types of ws[] by bytes read.  passes: forward
 * passes reading the weights; rows: activation rows multiplied (for the ops); row_reads: single
 * weight rows read on their own, one activation row each (logit subsets). */
static void mm_step(cf_prof_report *r, double ns, const cf_wmat *const *ws, int nw, double passes, double rows,
                    double row_reads) {
    double total = 0;
    for (int i = 0; i < nw; i++) total += (double)ws[i]->row_bytes * (double)ws[i]->n;
    if (total <= 0) return;
    for (int i = 0; i < nw; i++) {
        const cf_wmat *w = ws[i];
        const cf_dtype_info *d = cf_dtype_get(w->type);
        char name[32];
        snprintf(name, sizeof name, "matmul %s", d ? d->name : "?");
        cf_prof_row *x = row(r, name);
        double b = (double)w->row_bytes * (double)w->n;
        x->ns += ns * b / total;
        x->bytes += b * passes + row_reads * (double)w->row_bytes;
        x->ops += 2.0 * (rows * (double)w->n + row_reads) * (double)w->k;
        x->bound = is_int8(w->type) ? "int8" : "fp32"; /* the compute side; resolved below */
    }
}

int cf_profile_build(cf_prof_report *r, const cf_context *c, const cf_fwd_prof *mark, double wall_s,
                     double sample_s, const cf_prof_limits *lim) {
    memset(r, 0, sizeof *r);
    r->bottleneck = -1;
    if (lim) r->lim = *lim;
    cf_fwd_prof now;
    cf_forward_prof_read(&now);
    double ns[CF_PROF_COUNT];
    for (int i = 0; i < CF_PROF_COUNT; i++) ns[i] = (double)(now.ns[i] - mark->ns[i]);
    double F = (double)(now.n_forward - mark->n_forward), T = (double)(now.tokens - mark->tokens);
    double O = (double)(now.out_rows - mark->out_rows), KV = (double)(now.kv_attended - mark->kv_attended);
    double fwd_wall = (double)(now.wall_ns - mark->wall_ns);
    if (T <= 0 || F <= 0) return -1;
    r->tokens = T, r->forwards = F;
    const cf_model *m = c->m;
    const cf_hparams *hp = &m->hp;
    const int L = hp->n_layer;
    const double d = hp->n_embd, ff = hp->n_ff, qd = c->q_dim, kvd = c->kv_dim, elt = (double)c->kv.elt;
    /* rows through layers 0..L-2 are T; the last layer past attention runs the logits rows only */
    double rows_all = T, rows_post = (L > 1 ? T * (L - 1) : 0) + O;

    /* matmuls: the layers' weights of one step, each layer a job list */
    const cf_wmat *ws[64];
    int nw;
#define MM(STEP, ROWS, ...)                                                                        \
    do {                                                                                           \
        double per_layer = ns[STEP] / L;                                                            \
        for (int l = 0; l < L; l++) {                                                               \
            const cf_layer *ly = &m->layers[l];                                                     \
            const cf_wmat *list[] = {__VA_ARGS__};                                                  \
            nw = (int)(sizeof list / sizeof list[0]);                                               \
            memcpy(ws, list, sizeof list);                                                          \
            mm_step(r, per_layer, ws, nw, F, (ROWS) / L, 0);                                           \
        }                                                                                          \
    } while (0)
    /* Layers of one model share shapes; a step's time is spread evenly over them (its per-type
     * share then follows each layer's bytes). */
    MM(CF_PROF_QKV, rows_all * L, &ly->wq, &ly->wk, &ly->wv);
    MM(CF_PROF_WO, rows_post, &ly->wo);
    MM(CF_PROF_FFN_UP, rows_post, &ly->w_gate, &ly->w_up);
    MM(CF_PROF_FFN_DOWN, rows_post, &ly->w_down);
#undef MM
    if (O > 0) {
        /* the whole product in the passes where some row wanted all logits, plus one output-matrix
         * row per id of the logit subsets */
        ws[0] = &m->output;
        double FP = (double)(now.out_full_passes - mark->out_full_passes), FR = (double)(now.out_full_rows - mark->out_full_rows);
        double SI = (double)(now.out_subset_ids - mark->out_subset_ids);
        mm_step(r, ns[CF_PROF_OUTPUT], ws, 1, FP, FR, SI);
    }

    cf_prof_row *x = row(r, "attention");
    x->ns += ns[CF_PROF_ATTN];
    x->bytes += (double)L * KV * kvd * 2 * elt;
    x->ops += 4.0 * L * KV * hp->n_head * hp->head_dim;
    x->bound = "fp32";

    x = row(r, "rope+kv");
    x->ns += ns[CF_PROF_ROPE];
    x->bytes += T * L * ((qd + kvd) * 4 * 2 + 2 * kvd * elt);
    x->ops += T * L * (qd + kvd) * 3;
    x->bound = "fp32";

    x = row(r, "norms");
    x->ns += ns[CF_PROF_EMBED] + ns[CF_PROF_NORM];
    x->bytes += T * d * 8 + (rows_all * L + rows_post) * d * (4 * 4 + 1);
    x->ops += (rows_all * L + rows_post) * d * 5;
    x->bound = "fp32";

    x = row(r, "ops (swiglu)");
    x->ns += ns[CF_PROF_SWIGLU];
    x->bytes += rows_post * ff * (3 * 4 + 1);
    x->ops += rows_post * ff * 8;
    x->bound = "fp32";

    if (sample_s >= 0) {
        x = row(r, "sampling");
        x->ns += sample_s * 1e9;
        x->bytes += O * hp->n_vocab * 4.0;
        x->ops += O * hp->n_vocab * 2.0;
        x->bound = "fp32";
    }

    x = row(r, "barrier wait");
    x->ns += ns[CF_PROF_BARRIER];
    double in_steps = 0;
    for (int i = 0; i < CF_PROF_COUNT; i++) in_steps += ns[i];
    x = row(r, "team start/join");
    x->ns += fwd_wall > in_steps ? fwd_wall - in_steps : 0;

    /* per token, achieved rates, roofline % */
    double best = -1;
    for (int i = 0; i < r->n; i++) {
        cf_prof_row *w = &r->rows[i];
        w->ns /= T, w->bytes /= T, w->ops /= T;
        r->sum_ns += w->ns;
        if (w->ns > best) best = w->ns, r->bottleneck = i;
        if (w->ns <= 0 || (w->bytes <= 0 && w->ops <= 0)) continue;
        w->gbs = w->bytes / w->ns, w->gops = w->ops / w->ns;
        double peak = !strcmp(w->bound, "int8") ? r->lim.int8_gops : r->lim.fp32_gflops;
        double t_mem = r->lim.dram_gbs > 0 ? w->bytes / r->lim.dram_gbs : 0;
        double t_cmp = peak > 0 ? w->ops / peak : 0;
        if (t_mem <= 0 && t_cmp <= 0) continue;
        if (t_mem >= t_cmp) w->bound = "dram";
        w->pct = 100.0 * (t_mem > t_cmp ? t_mem : t_cmp) / w->ns;
    }
    r->wall_ns = wall_s * 1e9 / T;
    return 0;
}

void cf_profile_print(FILE *f, const cf_prof_report *r, const char *title) {
    fprintf(f, "%s: %.0f tokens in %.0f forward passes; limits at %d thread%s: DRAM %.1f GB/s, FP32 %.1f GFLOP/s, "
               "int8 %.1f GOP/s\n",
            title ? title : "profile", r->tokens, r->forwards, r->lim.nth, r->lim.nth == 1 ? "" : "s", r->lim.dram_gbs,
            r->lim.fp32_gflops, r->lim.int8_gops);
    fprintf(f, "  %-16s %10s %6s %10s %10s %9s %9s %-5s %7s\n", "family", "us/token", "share", "MB/token",
            "MOP/token", "GB/s", "GOP/s", "bound", "%limit");
    for (int i = 0; i < r->n; i++) {
        const cf_prof_row *w = &r->rows[i];
        fprintf(f, "  %-16s %10.2f %5.1f%% %10.3f %10.3f %9.2f %9.2f %-5s ", w->name, w->ns * 1e-3,
                r->sum_ns > 0 ? 100 * w->ns / r->sum_ns : 0.0, w->bytes * 1e-6, w->ops * 1e-6, w->gbs, w->gops,
                w->bound[0] ? w->bound : "-");
        if (w->pct >= 0) fprintf(f, "%6.1f%%\n", w->pct);
        else fprintf(f, "%7s\n", "-");
    }
    double wbytes = 0; /* matmul bytes per forward pass = the weights */
    for (int i = 0; i < r->n; i++)
        if (!strncmp(r->rows[i].name, "matmul ", 7)) wbytes += r->rows[i].bytes * r->tokens / (r->forwards > 0 ? r->forwards : 1);
    const cf_cpu_info *cpu = cf_cpu();
    if (wbytes > 0 && wbytes <= (double)cpu->l3)
        fprintf(f, "  note: the weights (%.2f MiB) fit in L3 (%zu MiB): rows bound by DRAM can exceed 100%%\n",
                wbytes / (1 << 20), cpu->l3 >> 20);
    double diff = r->wall_ns > 0 ? 100 * (r->sum_ns - r->wall_ns) / r->wall_ns : 0;
    fprintf(f, "  sum of rows %.2f us/token; wall %.2f us/token (%+.1f%%)\n", r->sum_ns * 1e-3, r->wall_ns * 1e-3, diff);
    if (r->bottleneck >= 0) {
        const cf_prof_row *w = &r->rows[r->bottleneck];
        fprintf(f, "  bottleneck: %s, %.0f%% of the time", w->name, r->sum_ns > 0 ? 100 * w->ns / r->sum_ns : 0.0);
        if (w->pct >= 0)
            fprintf(f, ", at %.0f%% of the %s limit (%.1f GB/s, %.1f GOP/s)", w->pct,
                    !strcmp(w->bound, "dram") ? "DRAM bandwidth" : !strcmp(w->bound, "int8") ? "int8 peak" : "FP32 peak",
                    w->gbs, w->gops);
        fprintf(f, "\n");
    }
}
