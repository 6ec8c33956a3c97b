/* GGUF v3 writer.  Three steps:
 *   1. metadata (any value type, arrays of numbers or strings) and the tensor table (name, type,
 *      shape) are declared, in file order;
 *   2. cf_gguf_w_begin_* writes the header, metadata, tensor infos and the padding;
 *   3. tensor data is streamed in table order with cf_gguf_w_write (any chunking: a multi-GB
 *      model never has to be in memory), then cf_gguf_w_finish checks that every byte came.
 * The writer pads each tensor's data to the alignment (default 32; cf_gguf_w_set_alignment, or a
 * u32 "general.alignment" key, changes it) so offsets are the ones llama.cpp computes.
 *
 * It refuses what the reader (gguf.h) would reject: empty / non-UTF-8 / over-long keys and
 * names, duplicates, bad dims, types without a known size, rows not a multiple of the block,
 * and data that does not match the declared sizes.  Errors are CF_EINVAL (bad call), CF_EIO
 * (write failed), CF_ENOMEM.
 *
 * A file target is written to "PATH.tmp" and renamed over PATH by cf_gguf_w_finish, so a failed
 * or abandoned write never leaves a partial PATH (cf_gguf_w_free removes the temporary). */
#ifndef CF_GGUF_WRITE_H
#define CF_GGUF_WRITE_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "model/gguf.h"

typedef struct cf_gguf_writer cf_gguf_writer;

cf_gguf_writer *cf_gguf_w_new(void);
/* Frees everything; an unfinished file target's temporary is removed. */
void cf_gguf_w_free(cf_gguf_writer *w);

/* ---- metadata (before begin).  Setting an existing key replaces its value in place. ---- */
/* Scalar of GGUF value type `type` (CF_GGUF_U8 ... CF_GGUF_F64 except string/array); val points at
 * a value of that type's C width (bool: one byte, 0 or 1). */
int cf_gguf_w_set(cf_gguf_writer *w, const char *key, int type, const void *val, cf_err *err);
int cf_gguf_w_set_u32(cf_gguf_writer *w, const char *key, uint32_t v, cf_err *err);
int cf_gguf_w_set_i32(cf_gguf_writer *w, const char *key, int32_t v, cf_err *err);
int cf_gguf_w_set_u64(cf_gguf_writer *w, const char *key, uint64_t v, cf_err *err);
int cf_gguf_w_set_f32(cf_gguf_writer *w, const char *key, float v, cf_err *err);
int cf_gguf_w_set_bool(cf_gguf_writer *w, const char *key, int v, cf_err *err);
/* String of len bytes (any bytes; NUL-terminated s with cf_gguf_w_set_str). */
int cf_gguf_w_set_strn(cf_gguf_writer *w, const char *key, const char *s, uint64_t len, cf_err *err);
int cf_gguf_w_set_str(cf_gguf_writer *w, const char *key, const char *s, cf_err *err);
/* Array of n scalars of elem_type, packed (vals: n * cf_gguf_type_size(elem_type) bytes). */
int cf_gguf_w_set_arr(cf_gguf_writer *w, const char *key, int elem_type, const void *vals, uint64_t n,
                      cf_err *err);
/* Array of n strings; lens NULL means each s[i] is NUL-terminated. */
int cf_gguf_w_set_arr_str(cf_gguf_writer *w, const char *key, const char *const *s, const uint64_t *lens,
                          uint64_t n, cf_err *err);
/* Copies one entry of an opened file as is (any type, string arrays included). */
int cf_gguf_w_copy_kv(cf_gguf_writer *w, const cf_gguf *g, const cf_gguf_kv *kv, cf_err *err);
/* Removes a key; returns 1 if it was there. */
int cf_gguf_w_remove(cf_gguf_writer *w, const char *key);
/* Power of two in [8, CF_GGUF_MAX_ALIGNMENT]; a value other than 32 is also written as the
 * u32 key general.alignment. */
int cf_gguf_w_set_alignment(cf_gguf_writer *w, uint32_t alignment, cf_err *err);
int64_t cf_gguf_w_n_kv(const cf_gguf_writer *w);

/* ---- tensor table (before begin), in the order the data will be written ---- */
/* ne[0] is the row length; n_dims in [1, 4]; type a cf_dtype with a known size. */
int cf_gguf_w_add_tensor(cf_gguf_writer *w, const char *name, int type, const int64_t *ne, int n_dims,
                         cf_err *err);
int64_t cf_gguf_w_n_tensors(const cf_gguf_writer *w);
/* Bytes of tensor i's data (0 if i is out of range). */
uint64_t cf_gguf_w_tensor_bytes(const cf_gguf_writer *w, int64_t i);

/* ---- output ---- */
/* Writes to path (via PATH.tmp, renamed by finish). */
int cf_gguf_w_begin_file(cf_gguf_writer *w, const char *path, cf_err *err);
/* Writes to a growing memory buffer (cf_gguf_w_take_mem after finish). */
int cf_gguf_w_begin_mem(cf_gguf_writer *w, cf_err *err);
/* Appends n bytes of tensor data (the tensors' bytes back to back in table order; chunks may
 * split or span tensors).  More bytes than declared is CF_EINVAL. */
int cf_gguf_w_write(cf_gguf_writer *w, const void *p, size_t n, cf_err *err);
/* Index of the tensor whose bytes the next write continues (n_tensors when all are written). */
int64_t cf_gguf_w_current(const cf_gguf_writer *w);
/* Checks all data came, flushes, closes (file target: renames PATH.tmp to PATH). */
int cf_gguf_w_finish(cf_gguf_writer *w, cf_err *err);
/* Memory target after finish: returns the malloc'ed image (caller frees) and its size. */
void *cf_gguf_w_take_mem(cf_gguf_writer *w, size_t *size);

#endif
