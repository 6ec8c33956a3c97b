/* Causal grouped-query attention over a KV cache, for one or more sequences in one call.
 *
 * Per sequence s: queries q[t][n_head][head_dim] (row stride ldq floats) at positions pos[t];
 * keys/values of that sequence's cache, position j at k + j*kv_stride (n_kv_head x head_dim,
 * F32 or F16).  Query t attends cache positions 0..pos[t] (causal; the caller has written the
 * query tokens' own K/V first).  Head h uses kv head h / (n_head / n_kv_head).
 * out[t][n_head][head_dim] (row stride ldo) = softmax(scale * q.k) v, computed online in blocks
 * of tile_attn_kv positions (the score matrix is never materialised).
 *
 * Work (sequence, head, query-block) tasks split across the team (thresh_attn, in MACs); no
 * barrier at the end.  A query row's result does not depend on the other rows or sequences in
 * the call, nor on the thread count. */
#ifndef CF_ATTN_H
#define CF_ATTN_H
#include <stdint.h>

#include "kernels/cpu.h"
#include "kernels/parallel.h"

typedef struct {
    const float *q;     /* n_q rows, stride ldq */
    float *out;         /* n_q rows, stride ldo */
    const int32_t *pos; /* n_q positions (ascending), each < n_kv */
    int64_t n_q;
    const void *k, *v;  /* cache: position j at k + j*kv_stride elements */
    int64_t kv_stride;  /* elements between positions (>= n_kv_head*head_dim) */
    int64_t n_kv;       /* positions filled in the cache */
    int kv_type;        /* CF_T_F32 or CF_T_F16 */
} cf_attn_seq;

typedef struct {
    int n_head, n_kv_head, head_dim;
    int64_t ldq, ldo;
    float scale;        /* usually 1/sqrt(head_dim) */
} cf_attn_shape;

void cf_attention(const cf_par *p, const cf_attn_shape *sh, const cf_attn_seq *seqs, int n_seqs);

typedef struct {
    void (*attention)(const cf_par *p, const cf_attn_shape *sh, const cf_attn_seq *seqs,
                      int n_seqs);
} cf_attn_ops;
const cf_attn_ops *cf_attn_ops_for(cf_isa isa);

#endif
