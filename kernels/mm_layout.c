/* Activation buffer layout (see mm_priv.h) and the matmul work split, shared by every ISA. */
#include <assert.h>
#include <string.h>

#include "kernels/mm_priv.h"
#include "kernels/tuning.h"

static int64_t align64(int64_t v) { return (v + 63) & ~(int64_t)63; }

size_t cf_act_layout(cf_act_hdr *h, cf_act_kind kind, int layout, int group, int64_t M, int64_t K) {
    int blk = cf_act_kind_blk(kind);
    assert(M >= 0 && K >= 0 && K % blk == 0);
    if (kind == CF_ACT_F32) layout = CF_LAYOUT_ROW;
    if (layout != CF_LAYOUT_GROUP) group = 0;
    memset(h, 0, sizeof *h); /* padding too: a header's bytes never depend on the stack */
    assert(layout != CF_LAYOUT_GROUP || group > 0);
    h->magic = CF_ACT_MAGIC;
    h->kind = kind;
    h->layout = layout;
    h->group = group;
    h->blk = blk;
    h->M = M;
    h->K = K;
    h->Mp = group > 0 ? (M + group - 1) / group * group : M;
    h->nb = K / blk;
    int64_t blocks = h->Mp * h->nb;
    int64_t a_bytes, b_bytes, c_bytes;
    if (kind == CF_ACT_F32) {
        a_bytes = M * K * (int64_t)sizeof(float);
        b_bytes = c_bytes = 0;
    } else {
        a_bytes = blocks * blk;
        b_bytes = blocks * (int64_t)sizeof(float);
        c_bytes = kind == CF_ACT_Q8_0 ? blocks * 4 : blocks * 16 * 2;
    }
    h->off_b = CF_ACT_HDR + align64(a_bytes);
    h->off_c = h->off_b + align64(b_bytes);
    h->bytes = h->off_c + align64(c_bytes);
    return (size_t)h->bytes;
}

/* Tasks: N in granules of tile_mm_nc rows (rounded to whole tiles of nr), or M in whole groups.
 * Splitting M is chosen when N has too few granules to balance the team while M has enough
 * groups; both keep every output element's arithmetic unchanged (no split over K). */
void cf_mm_split(const cf_par *p, int64_t M, int64_t N, int64_t K, int nr, int mg, int64_t *m0,
                 int64_t *m1, int64_t *n0, int64_t *n1) {
    const cf_tuning *t = cf_tuning_get();
    long gran = t->tile_mm_nc > 0 ? t->tile_mm_nc : 1;
    gran = (gran + nr - 1) / nr * nr;
    int used = cf_split_nthreads((long)(M * N * K), t->thresh_matmul, p->nth);
    long lo, hi;
    long nchunks = (long)((N + gran - 1) / gran), mgroups = mg > 0 ? (long)((M + mg - 1) / mg) : 0;
    /* imbalance of each choice: largest share / ideal share */
    double imb_n = (double)((nchunks + used - 1) / used) * used / (double)(nchunks ? nchunks : 1);
    if (used > 1 && gran > nr) { /* too few granules to share evenly (N = 192 or 576 over 64-row
                                  * granules on 2 threads): split at whole tiles instead */
        long fine = (long)((N + nr - 1) / nr);
        double imb_f = (double)((fine + used - 1) / used) * used / (double)(fine ? fine : 1);
        if (imb_f < imb_n) gran = nr, nchunks = fine, imb_n = imb_f;
    }
    double imb_m = (double)((mgroups + used - 1) / used) * used / (double)(mgroups ? mgroups : 1);
    if (used > 1 && mg > 0 && imb_m < imb_n && mgroups >= used) {
        cf_split(p, mgroups, (long)(mg * N * K), t->thresh_matmul, 1, &lo, &hi);
        *m0 = lo * mg < M ? lo * mg : M;
        *m1 = hi * mg < M ? hi * mg : M;
        *n0 = 0;
        *n1 = N;
        if (*m0 >= *m1) *n0 = *n1 = N;
        return;
    }
    cf_split(p, (long)N, (long)(M * K), t->thresh_matmul, gran, &lo, &hi);
    *n0 = lo;
    *n1 = hi;
    *m0 = 0;
    *m1 = M;
}

/* ---- PK16 packed weights (layout in matmul.h) ---- */

/* Q4_0 / Q8_0: 4-byte chunks per 32-element block (0: no such layout). */
static int64_t pk_chunks(int type) { return type == CF_T_Q4_0 ? 4 : type == CF_T_Q8_0 ? 8 : 0; }

size_t cf_wmat_pack_stride(const cf_wmat *W) {
    if (W->type == CF_T_Q4_K) return (size_t)(W->k / 256) * CF_PK_Q4K_BLK;
    int64_t qb = cf_pk_qbytes(W->type), nb = W->k / (W->type == CF_T_Q6_K ? 256 : 32);
    return (size_t)((nb >> 1) * (64 + 2 * qb) + (nb & 1) * (64 + qb)); /* pairs, then an odd last block */
}

size_t cf_wmat_pack_bytes(const cf_wmat *W) {
    int64_t blk = W->type == CF_T_Q4_K || W->type == CF_T_Q6_K ? 256 : pk_chunks(W->type) ? 32 : 0;
    if (!blk || W->n < CF_PACK_ROWS || W->k % blk) return 0;
    return (size_t)(W->n / CF_PACK_ROWS) * cf_wmat_pack_stride(W);
}

/* Q4_K group: per super-block, d, dmin, the 12 scale bytes as 3 dwords and the 32 dwords of
 * packed nibbles, each as [16 rows] (layout in matmul.h). */
static void pk16_pack_group_q4k(const cf_wmat *W, int64_t row0, uint8_t *dst) {
    int64_t nb = W->k / 256;
    assert(W->row_bytes == (size_t)nb * sizeof(cf_blk_q4_k) && row0 >= 0 && row0 < W->n);
    for (int i = 0; i < CF_PACK_ROWS; i++) {
        int64_t r = row0 + i < W->n ? row0 + i : W->n - 1;
        const cf_blk_q4_k *blk = (const cf_blk_q4_k *)((const uint8_t *)W->data + r * W->row_bytes);
        for (int64_t b = 0; b < nb; b++, blk++) {
            uint8_t *o = dst + b * CF_PK_Q4K_BLK;
            memcpy(o + 2 * i, &blk->d, 2);
            memcpy(o + 32 + 2 * i, &blk->dmin, 2);
            for (int c = 0; c < 3; c++) memcpy(o + 64 + c * 64 + 4 * i, blk->scales + 4 * c, 4);
            for (int c = 0; c < 32; c++) memcpy(o + 256 + c * 64 + 4 * i, blk->qs + 4 * c, 4);
        }
    }
}

/* Q6_K group: per super-block the scales transposed ([16 sub-blocks][16 rows] bytes), then per
 * half and chunk c the dwords ql[4c..], ql[32+4c..], qh[4c..] of the half, each as [16 rows];
 * super-blocks in pairs behind their d's (layout in matmul.h). */
static void pk16_pack_group_q6k(const cf_wmat *W, int64_t row0, uint8_t *dst) {
    int64_t nb = W->k / 256, qb = CF_PK_Q6K_BLK;
    assert(W->row_bytes == (size_t)nb * sizeof(cf_blk_q6_k) && row0 >= 0 && row0 < W->n);
    if (nb & 1) memset(dst + cf_pk_d_off(qb, nb - 1) + 32, 0, 32); /* the odd last block's unused d half */
    for (int i = 0; i < CF_PACK_ROWS; i++) {
        int64_t r = row0 + i < W->n ? row0 + i : W->n - 1;
        const cf_blk_q6_k *blk = (const cf_blk_q6_k *)((const uint8_t *)W->data + r * W->row_bytes);
        for (int64_t b = 0; b < nb; b++, blk++) {
            uint8_t *o = dst + cf_pk_q_off(qb, b);
            memcpy(dst + cf_pk_d_off(qb, b) + 2 * i, &blk->d, 2);
            for (int j = 0; j < 16; j++) o[j * CF_PACK_ROWS + i] = (uint8_t)blk->scales[j];
            for (int h = 0; h < 2; h++)
                for (int c = 0; c < 8; c++) {
                    uint8_t *q = o + 256 + (h * 8 + c) * 3 * 64 + 4 * i;
                    memcpy(q, blk->ql + 64 * h + 4 * c, 4);
                    memcpy(q + 64, blk->ql + 64 * h + 32 + 4 * c, 4);
                    memcpy(q + 128, blk->qh + 32 * h + 4 * c, 4);
                }
        }
    }
}

void cf_pk16_pack_group(const cf_wmat *W, int64_t row0, void *dst) {
    if (W->type == CF_T_Q4_K) {
        pk16_pack_group_q4k(W, row0, dst);
        return;
    }
    if (W->type == CF_T_Q6_K) {
        pk16_pack_group_q6k(W, row0, dst);
        return;
    }
    int64_t C = pk_chunks(W->type), nb = W->k / 32, qb = cf_pk_qbytes(W->type);
    size_t bs = W->type == CF_T_Q4_0 ? sizeof(cf_blk_q4_0) : sizeof(cf_blk_q8_0);
    uint32_t flip = W->type == CF_T_Q8_0 ? 0x80808080u : 0; /* Q8_0: q + 128 as unsigned bytes */
    assert(C && W->row_bytes == (size_t)nb * bs && row0 >= 0 && row0 < W->n);
    uint8_t *g = dst;
    if (nb & 1) memset(g + cf_pk_d_off(qb, nb - 1) + 32, 0, 32); /* the odd last block's unused d half */
    for (int i = 0; i < CF_PACK_ROWS; i++) {
        int64_t r = row0 + i < W->n ? row0 + i : W->n - 1;
        const uint8_t *blk = (const uint8_t *)W->data + r * W->row_bytes;
        for (int64_t b = 0; b < nb; b++, blk += bs) {
            memcpy(g + cf_pk_d_off(qb, b) + 2 * i, blk, 2); /* d is the block's first field */
            uint8_t *o = g + cf_pk_q_off(qb, b) + 4 * i;
            for (int64_t c = 0; c < C; c++) {
                uint32_t v;
                memcpy(&v, blk + 2 + 4 * c, 4);
                v ^= flip;
                memcpy(o + c * CF_PACK_ROWS * 4, &v, 4);
            }
        }
    }
}

void cf_wmat_pack(const cf_wmat *W, void *dst) {
    size_t stride = cf_wmat_pack_stride(W);
    for (int64_t g = 0; g < W->n / CF_PACK_ROWS; g++) cf_pk16_pack_group(W, g * CF_PACK_ROWS, (uint8_t *)dst + g * stride);
}

cf_wmat cf_wmat_rows(const cf_wmat *W, int64_t r0, int64_t n) {
    cf_wmat s = *W;
    s.data = (const char *)W->data + (size_t)r0 * W->row_bytes;
    s.n = n;
    s.pack = W->pack && r0 % CF_PACK_ROWS == 0 ? (const char *)W->pack + (size_t)(r0 / CF_PACK_ROWS) * cf_wmat_pack_stride(W)
                                               : NULL;
    return s;
}
