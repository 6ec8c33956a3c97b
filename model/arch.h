/* Per-architecture differences, as data.  One forward pass serves every entry; an architecture
 * only says how its GGUF keys are prefixed and which optional pieces it uses.
 *
 *   llama: interleaved ("normal") RoPE, no Q/K norm, head_dim = n_embd / n_head unless the file
 *          gives <arch>.attention.key_length; output.weight optional (absent: tied to token_embd).
 *   qwen3: NeoX RoPE, per-head RMSNorm on Q and K before RoPE (attn_q_norm / attn_k_norm),
 *          explicit head_dim (<arch>.attention.key_length), tied or untied output. */
#ifndef CF_ARCH_H
#define CF_ARCH_H
#include <stddef.h>

typedef struct {
    const char *name;        /* general.architecture value, also the metadata key prefix */
    int rope_mode;           /* CF_ROPE_NORM or CF_ROPE_NEOX (kernels/rope.h) */
    int qk_norm;             /* 1: blk.N.attn_q_norm / attn_k_norm required */
    int head_dim_key;        /* 1: <arch>.attention.key_length required (else optional) */
    float rope_base;         /* default <arch>.rope.freq_base */
    float norm_eps;          /* default <arch>.attention.layer_norm_rms_epsilon */
} cf_arch;

/* The entry for an architecture name (len bytes, not NUL-terminated); NULL if unsupported. */
const cf_arch *cf_arch_find(const char *name, size_t len);
/* Comma-separated list of supported names (for error messages). */
const char *cf_arch_names(void);

#endif
