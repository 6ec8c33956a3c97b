/* Matmul steps of the forward pass: several products split over the team as one job list,
 * balanced by weight bytes (decode reads every weight once, so bytes are time). */
#include <stddef.h>

#include "model/fwd_int.h"

#define MM_GRANULE 16   /* weight rows: a multiple of every kernel's register tile */

/* Row of job j where byte offset `at` (of the concatenation) falls, rounded down to the granule. */
static void mm_locate(const cf_fwd_mm_job *jobs, int nj, size_t at, int *jj, int64_t *row) {
    for (int j = 0; j < nj; j++) {
        size_t jb = jobs[j].w->row_bytes * (size_t)jobs[j].w->n;
        if (at < jb) {
            int64_t r = (int64_t)(at / jobs[j].w->row_bytes);
            *jj = j;
            *row = r - r % MM_GRANULE;
            return;
        }
        at -= jb;
    }
    *jj = nj;
    *row = 0;
}

void cf_fwd_mm_run(const cf_par *p, const cf_fwd_mm_job *jobs, int nj, int64_t M, long thresh) {
    if (M <= 0) return;
    size_t total = 0;
    int64_t rows = 0;
    for (int j = 0; j < nj; j++) {
        total += jobs[j].w->row_bytes * (size_t)jobs[j].w->n;
        rows += jobs[j].w->n;
    }
    int used = cf_split_nthreads((long)(rows * M * jobs[0].w->k), thresh, p->nth);
    if (p->ith >= used) return;
    int j0, j1;
    int64_t r0, r1;
    mm_locate(jobs, nj, total * (size_t)p->ith / (size_t)used, &j0, &r0);
    if (p->ith + 1 == used) {
        j1 = nj;
        r1 = 0;
    } else {
        mm_locate(jobs, nj, total * (size_t)(p->ith + 1) / (size_t)used, &j1, &r1);
    }
    for (int j = j0; j <= j1 && j < nj; j++) {
        int64_t a = j == j0 ? r0 : 0, b = j == j1 ? r1 : jobs[j].w->n;
        if (b <= a) continue;
        cf_wmat sub = cf_wmat_rows(jobs[j].w, a, b - a); /* a: a multiple of the granule (keeps PK16) */
        cf_matmul_act(&cf_par_serial, &sub, jobs[j].act, M, jobs[j].y + a, jobs[j].ldy);
    }
}

void cf_fwd_mm_cols(const cf_par *p, const cf_fwd_mm_job *jobs, int nj, int64_t M, long thresh, int64_t gran,
                    int64_t *n0, int64_t *n1) {
    *n0 = *n1 = 0;
    if (M <= 0) return;
    const cf_wmat *w = jobs[0].w;
    long lo, hi;
    cf_split(p, (long)w->n, (long)(nj * M * w->k), thresh, (long)gran, &lo, &hi);
    if (hi <= lo) return;
    for (int j = 0; j < nj; j++) {
        cf_wmat sub = cf_wmat_rows(jobs[j].w, lo, hi - lo); /* lo: a multiple of gran (keeps PK16) */
        cf_matmul_act(&cf_par_serial, &sub, jobs[j].act, M, jobs[j].y + lo, jobs[j].ldy);
    }
    *n0 = lo, *n1 = hi;
}

void cf_fwd_mm_one(const cf_par *p, const cf_wmat *w, const void *act, int64_t M, float *y, int64_t ldy, long thresh) {
    cf_fwd_mm_job j = {w, act, y, ldy};
    cf_fwd_mm_run(p, &j, 1, M, thresh);
}
