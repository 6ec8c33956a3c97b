/* PK16 packed copies of a loaded model's Q4_0 / Q8_0 / Q4_K / Q6_K matrices (layout: kernels/matmul.h). */
#include <pthread.h>
#include <stdlib.h>

#include "kernels/bigmem.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/tuning.h"
#include "model/model.h"

/* The matrices the forward pass multiplies by: 7 per layer, then the output. */
static int model_mats(cf_model *m, cf_wmat **out) {
    int n = 0;
    for (int l = 0; l < m->hp.n_layer; l++) {
        cf_layer *ly = &m->layers[l];
        cf_wmat *t[7] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w_gate, &ly->w_up, &ly->w_down};
        for (int i = 0; i < 7; i++) out[n++] = t[i];
    }
    out[n++] = &m->output;
    return n;
}

/* Packing is a copy into fresh memory: most of its time is the kernel providing (zeroing) the
 * new pages, which runs on the faulting thread, so the matrices are dealt out to a few
 * short-lived threads (plain pthreads, joined before returning: no team outlives the load). */
enum { PACK_MAX_THREADS = 8 };

typedef struct {
    cf_wmat **w;
    int n;
    char *buf;
} pack_job;

typedef struct {
    const pack_job *job;
    int ith, nth;
} pack_part;

static void *pack_part_run(void *arg) {
    const pack_part *pp = arg;
    const pack_job *j = pp->job;
    size_t at = 0;
    for (int i = 0; i < j->n; i++) {
        size_t b = cf_wmat_pack_bytes(j->w[i]);
        if (b && i % pp->nth == pp->ith) {
            cf_wmat_pack(j->w[i], j->buf + at);
            j->w[i]->pack = j->buf + at;
        }
        at += b;
    }
    return NULL;
}

static void pack_all(const pack_job *job) {
    int nth = cf_default_threads();
    if (nth > PACK_MAX_THREADS) nth = PACK_MAX_THREADS;
    if (nth > job->n) nth = job->n;
    if (nth < 1) nth = 1;
    pthread_t th[PACK_MAX_THREADS];
    pack_part parts[PACK_MAX_THREADS];
    int started[PACK_MAX_THREADS] = {0};
    for (int t = 0; t < nth; t++) parts[t] = (pack_part){job, t, nth};
    for (int t = 1; t < nth; t++) started[t] = !pthread_create(&th[t], NULL, pack_part_run, &parts[t]);
    pack_part_run(&parts[0]);
    for (int t = 1; t < nth; t++) {
        if (started[t]) pthread_join(th[t], NULL);
        else pack_part_run(&parts[t]); /* no thread: do its share here */
    }
}

size_t cf_model_pack(cf_model *m) {
    if (m->pack || cf_isa_active() < CF_ISA_AVX512VNNI || !cf_tuning_get()->mm_pack) return 0;
    int cap = 7 * m->hp.n_layer + 1;
    cf_wmat **w = malloc((size_t)cap * sizeof *w);
    if (!w) return 0;
    int n = model_mats(m, w);
    size_t total = 0;
    for (int i = 0; i < n; i++) total += cf_wmat_pack_bytes(w[i]);
    /* 2 MiB pages where the kernel allows: decode streams the whole copy per token, and with 4 KiB
     * pages the TLB misses and the prefetchers' page-boundary stops cost a third of the bandwidth */
    char *buf = total ? cf_alloc_big(total) : NULL;
    if (buf) {
        pack_job job = {w, n, buf};
        pack_all(&job);
        m->pack = buf;
        m->pack_bytes = total;
    }
    free(w);
    return m->pack_bytes;
}
