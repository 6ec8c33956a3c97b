/* PK16 packed copies of a loaded model's Q4_0 / Q8_0 matrices (layout: kernels/matmul.h). */
#include <stdlib.h>
#include <sys/mman.h>

#include "kernels/cpu.h"
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
    size_t huge = (size_t)2 << 20, alloc = (total + huge - 1) / huge * huge;
    char *buf = total ? aligned_alloc(huge, alloc) : NULL;
#ifdef MADV_HUGEPAGE
    if (buf) madvise(buf, alloc, MADV_HUGEPAGE);
#endif
    if (buf) {
        size_t at = 0;
        for (int i = 0; i < n; i++) {
            size_t b = cf_wmat_pack_bytes(w[i]);
            if (!b) continue;
            cf_wmat_pack(w[i], buf + at);
            w[i]->pack = buf + at;
            at += b;
        }
        m->pack = buf;
        m->pack_bytes = total;
    }
    free(w);
    return m->pack_bytes;
}
