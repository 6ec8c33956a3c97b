/* GGUF v2/v3 reader: the file is mmap'ed (weights are never copied) and everything read from it
 * is validated before use.  Any malformed file gives an error (never a crash, a hang or a read
 * past the end) whose message names the problem and its byte offset:
 *   CF_EFORMAT       the file breaks the format (bad magic, truncation, bad lengths, types, dims,
 *                    offsets, overlaps, duplicates, bad bool, bad alignment, ...)
 *   CF_EUNSUPPORTED  well-formed but not handled: GGUF v1, big-endian files, arrays of arrays,
 *                    GGML tensor types cinfer has no size for (IQ*, TQ*, MXFP4)
 *   CF_ELIMIT        a cap below is exceeded
 *
 * Layout: "GGUF" u32 version, u64 n_tensors, u64 n_kv, n_kv x (string key, u32 type, value),
 * n_tensors x (string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset), padding to
 * general.alignment (default 32), tensor data.  Strings are u64 length + bytes (no NUL).
 *
 * Rules enforced beyond the plain layout:
 *   - version 2 or 3 (they share this layout); little-endian only (a byte-swapped version field
 *     is reported as a big-endian file);
 *   - keys: 1..CF_GGUF_MAX_KEY bytes, unique, valid UTF-8 without control characters (the spec
 *     asks for ASCII; non-ASCII UTF-8 is accepted, invalid UTF-8 rejected);
 *   - string VALUES may hold any bytes (vocabularies carry partial UTF-8 pieces): consumers check
 *     what they use;
 *   - bool values (also in arrays) are 0 or 1; array element types are scalars or strings;
 *   - general.alignment, if present, is a u32 power of two in [8, CF_GGUF_MAX_ALIGNMENT];
 *   - tensor names: 1..CF_GGUF_MAX_NAME bytes, unique, UTF-8 without control characters;
 *   - n_dims in [1, 4], every dim >= 1, element count and byte size fit in 63/64 bits, row
 *     length a multiple of the type's block;
 *   - every tensor's data offset is a multiple of the alignment, its bytes lie inside the file,
 *     and no two tensors' data overlap (gaps and trailing bytes are allowed). */
#ifndef CF_GGUF_H
#define CF_GGUF_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"

/* Caps (documented limits; exceeding one is CF_ELIMIT unless noted). */
#define CF_GGUF_MAX_FILE      (1ull << 40)     /* bytes in one file (1 TiB) */
#define CF_GGUF_MAX_KV        (1 << 20)        /* metadata entries */
#define CF_GGUF_MAX_TENSORS   (1 << 20)        /* tensors */
#define CF_GGUF_MAX_STRING    (64u << 20)      /* bytes in one string value (CF_EFORMAT: a corrupt length) */
#define CF_GGUF_MAX_KEY       65535u           /* bytes in a key (GGUF spec; CF_EFORMAT) */
#define CF_GGUF_MAX_NAME      64               /* bytes in a tensor name (GGUF spec; CF_EFORMAT) */
#define CF_GGUF_MAX_ARRAY     (1ull << 32)     /* elements in one array */
#define CF_GGUF_MAX_DIMS      4
#define CF_GGUF_MAX_ALIGNMENT (1u << 20)
#define CF_GGUF_DEFAULT_ALIGNMENT 32

enum {
    CF_GGUF_U8 = 0, CF_GGUF_I8 = 1, CF_GGUF_U16 = 2, CF_GGUF_I16 = 3, CF_GGUF_U32 = 4,
    CF_GGUF_I32 = 5, CF_GGUF_F32 = 6, CF_GGUF_BOOL = 7, CF_GGUF_STRING = 8, CF_GGUF_ARRAY = 9,
    CF_GGUF_U64 = 10, CF_GGUF_I64 = 11, CF_GGUF_F64 = 12, CF_GGUF_NTYPES = 13
};

typedef struct {
    const char *ptr;   /* not NUL-terminated; points into the map */
    uint64_t len;
} cf_sv;

typedef struct {
    char *key;         /* NUL-terminated copy */
    int type;          /* CF_GGUF_* */
    int arr_type;      /* element type when type == CF_GGUF_ARRAY */
    uint64_t n;        /* element count for arrays, else 1 */
    const uint8_t *val;/* value bytes in the map (strings: at the u64 length; arrays: first element) */
    uint64_t off;      /* file offset of the value */
    uint64_t *str_off; /* string arrays: file offset of each element's u64 length */
} cf_gguf_kv;

typedef struct {
    char *name;        /* NUL-terminated copy */
    int n_dims;
    int64_t ne[CF_GGUF_MAX_DIMS]; /* ne[0] = row length (contiguous); unused dims are 1 */
    int type;          /* cf_dtype */
    uint64_t offset;   /* relative to the data section */
    uint64_t size;     /* bytes */
    const void *data;  /* in the map */
    uint64_t info_off; /* file offset of this tensor's info record */
} cf_gguf_tensor;

typedef struct {
    const uint8_t *map;
    size_t size;
    int mapped;        /* 1: munmap on close */
    uint32_t version;
    uint64_t alignment;
    uint64_t data_off; /* file offset of the data section */
    int64_t n_kv, n_tensors;
    cf_gguf_kv *kv;
    cf_gguf_tensor *t;
} cf_gguf;

/* Opens and validates a file (mmap). */
int cf_gguf_open(cf_gguf *g, const char *path, cf_err *err);
/* Validates an in-memory image (not copied; must outlive g).  For tests and fuzzing. */
int cf_gguf_open_mem(cf_gguf *g, const void *buf, size_t size, cf_err *err);
void cf_gguf_close(cf_gguf *g);

const cf_gguf_kv *cf_gguf_get(const cf_gguf *g, const char *key);
const cf_gguf_tensor *cf_gguf_tensor_get(const cf_gguf *g, const char *name);

/* Typed getters: 0 = ok, -1 = key missing, CF_EFORMAT = wrong type (message in err). */
int cf_gguf_get_int(const cf_gguf *g, const char *key, int64_t *out, cf_err *err);   /* any int/bool */
int cf_gguf_get_float(const cf_gguf *g, const char *key, double *out, cf_err *err);  /* float or int */
int cf_gguf_get_str(const cf_gguf *g, const char *key, cf_sv *out, cf_err *err);
/* Array elements (caller checks i < kv->n and the element type). */
cf_sv cf_gguf_arr_str(const cf_gguf *g, const cf_gguf_kv *kv, uint64_t i);
double cf_gguf_arr_num(const cf_gguf_kv *kv, uint64_t i);   /* any numeric element type */

const char *cf_gguf_type_name(int type);
/* Size in bytes of a scalar value type (0 for string/array/unknown). */
size_t cf_gguf_type_size(int type);
/* Writes a value as text (strings escaped and truncated to max chars; arrays summarised). */
void cf_gguf_format_value(const cf_gguf *g, const cf_gguf_kv *kv, char *buf, size_t cap, size_t max);
/* Bytes of a tensor from its type and shape; 0 if invalid. */
uint64_t cf_gguf_tensor_nbytes(int type, const int64_t *ne, int n_dims);
/* Index of the first byte of a key / tensor name that breaks the rules (invalid UTF-8 or a control
 * character); n if none. */
uint64_t cf_gguf_ident_bad_byte(const void *s, uint64_t n);
/* Elements of a (validated) tensor: product of its dims. */
int64_t cf_gguf_tensor_nelements(const cf_gguf_tensor *t);

#endif
