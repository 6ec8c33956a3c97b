/* Causal grouped-query attention over a KV cache, for one or more sequences in one call.
 *
 * Per sequence s: queries q[t][n_head][head_dim] (row stride ldq floats) at positions pos[t];
 * keys/values of that sequence's cache, position j at k + j*kv_stride (n_kv_head x head_dim,
 * F32 or F16).  Query t attends cache positions 0..pos[t] (causal; the caller has written the
 * query tokens' own K/V first).  Head h uses kv head h / (n_head / n_kv_head).
 * out[t][n_head][head_dim] (row stride ldo) = softmax(scale * q.k) v, computed online in blocks
 * of tile_attn_kv positions (the score matrix is never materialised).  Block boundaries are
 * fixed multiples of the tile in absolute cache position.
 *
 * Work: tasks of (sequence, kv head, up to tile_attn_rh query rows x heads of that kv head's
 * group), so each K/V block load serves the whole GQA group and several query rows; tasks are
 * split across the team by estimated cost (thresh_attn, in MACs: 2 x head_dim per attended
 * position per query head); no barrier at the end.  A query row's result does not depend on
 * the other rows or sequences in the call, nor on the thread count.
 * Preconditions (asserted): n_head % n_kv_head == 0, 0 < head_dim <= CF_ATTN_MAX_HEAD_DIM,
 * 0 <= pos[t] < n_kv, kv_stride >= n_kv_head * head_dim, kv_type F32 or F16. */
#ifndef CF_ATTN_H
#define CF_ATTN_H
#include <stdint.h>

#include "kernels/cpu.h"
#include "kernels/parallel.h"

enum { CF_ATTN_MAX_HEAD_DIM = 512, CF_ATTN_MAX_TILE = 256, CF_ATTN_MAX_RH = 16 };

typedef struct {
    const float *q;     /* n_q rows, stride ldq */
    float *out;         /* n_q rows, stride ldo */
    const int32_t *pos; /* n_q positions (ascending), each < n_kv */
    int64_t n_q;
    const void *k, *v; /* cache: position j at k + j*kv_stride elements */
    int64_t kv_stride; /* elements between positions (>= n_kv_head*head_dim) */
    int64_t n_kv;      /* positions filled in the cache */
    int kv_type;       /* CF_T_F32 or CF_T_F16 */
} cf_attn_seq;

typedef struct {
    int n_head, n_kv_head, head_dim;
    int64_t ldq, ldo;
    float scale; /* usually 1/sqrt(head_dim) */
} cf_attn_shape;

void cf_attention(const cf_par *p, const cf_attn_shape *sh, const cf_attn_seq *seqs, int n_seqs);

typedef struct {
    void (*attention)(const cf_par *p, const cf_attn_shape *sh, const cf_attn_seq *seqs, int n_seqs);
} cf_attn_ops;
const cf_attn_ops *cf_attn_ops_for(cf_isa isa);

/* ---- shared by the ISA paths (kernels/attn.c) ---- */

/* One unit of work: query rows [t0, t1) of sequence seq, query heads [h0, h0 + nh) (all in kv
 * head kvh's group). */
typedef struct {
    int seq, kvh, h0, nh;
    int64_t t0, t1;
} cf_attn_task;

/* Calls fn for every task this thread owns, in the order sequence, row block, kv head, head
 * subgroup.  Tasks hold at most rh_max rows x heads; they are dealt out in order so each thread
 * gets a contiguous run of about equal estimated cost, using cf_split_nthreads(total cost,
 * thresh_attn, nth) threads; when that gives fewer than 4 tasks per thread, tasks hold one head
 * each (same row blocks) so the shares can be balanced.  (The SIMD paths merge a run's tasks that
 * share rows into one pass over the kv blocks, tasks of one kv head into one segment; a row-head's
 * arithmetic does not depend on what it is merged with.) */
void cf_attn_for_tasks(const cf_par *p, const cf_attn_shape *sh, const cf_attn_seq *seqs, int n_seqs,
                       int rh_max, void (*fn)(const cf_attn_task *t, void *ctx), void *ctx);
/* tile_attn_kv clamped to [8, CF_ATTN_MAX_TILE] and rounded down to a multiple of 8. */
int cf_attn_tile(void);
/* tile_attn_rh clamped to [1, CF_ATTN_MAX_RH]. */
int cf_attn_rh(void);

#endif
