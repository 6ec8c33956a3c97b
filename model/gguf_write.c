/* GGUF v3 writer (see gguf_write.h). */
#include "model/gguf_write.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/quant.h"

#define FILE_BUFFER (4u << 20)   /* stdio buffer of a file target */

typedef struct {
    char *key;
    uint8_t *blob;   /* u32 value type + value bytes, as in the file */
    size_t len;
} wkv;

typedef struct {
    char *name;
    int type, n_dims;
    int64_t ne[CF_GGUF_MAX_DIMS];
    uint64_t size, offset;
} wtensor;

struct cf_gguf_writer {
    wkv *kv;
    int64_t n_kv, cap_kv;
    wtensor *t;
    int64_t n_t, cap_t;
    uint64_t alignment;
    uint64_t data_size;      /* running padded size of the data section */
    int state;               /* 0 declaring, 1 writing, 2 finished, 3 failed */
    /* output */
    FILE *f;
    char *path, *tmp;
    uint8_t *mem;
    size_t mem_len, mem_cap;
    uint64_t pos;            /* bytes written so far */
    int64_t cur;             /* tensor being written */
    uint64_t cur_done;       /* its bytes written */
};

cf_gguf_writer *cf_gguf_w_new(void) {
    cf_gguf_writer *w = calloc(1, sizeof *w);
    if (w) w->alignment = CF_GGUF_DEFAULT_ALIGNMENT;
    return w;
}

void cf_gguf_w_free(cf_gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].blob);
    }
    for (int64_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    if (w->f) fclose(w->f);
    if (w->tmp && w->state != 2) unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w->mem);
    free(w);
}

/* ---- metadata ---- */

static int check_declaring(cf_gguf_writer *w, cf_err *err) {
    if (w->state != 0) return cf_errf(err, CF_EINVAL, "gguf writer: metadata and tensors must be declared before begin");
    return 0;
}

static int check_key(const char *key, cf_err *err) {
    size_t n = key ? strlen(key) : 0;
    if (n == 0) return cf_errf(err, CF_EINVAL, "gguf writer: empty metadata key");
    if (n > CF_GGUF_MAX_KEY) return cf_errf(err, CF_EINVAL, "gguf writer: key of %zu bytes exceeds %u", n, CF_GGUF_MAX_KEY);
    uint64_t bad = cf_gguf_ident_bad_byte(key, n);
    if (bad < n)
        return cf_errf(err, CF_EINVAL, "gguf writer: key '%.64s' has an invalid byte 0x%02x at %" PRIu64, key,
                       (uint8_t)key[bad], bad);
    return 0;
}

static int64_t find_kv(const cf_gguf_writer *w, const char *key) {
    for (int64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, key)) return i;
    return -1;
}

/* Takes ownership of blob (freed on error too). */
static int put_kv(cf_gguf_writer *w, const char *key, uint8_t *blob, size_t len, cf_err *err) {
    if (!blob) return cf_errf(err, CF_ENOMEM, "gguf writer: out of memory");
    int rc = check_declaring(w, err);
    if (!rc) rc = check_key(key, err);
    uint32_t type;
    memcpy(&type, blob, 4);
    if (!rc && !strcmp(key, "general.alignment")) {
        uint32_t a;
        if (type != CF_GGUF_U32) rc = cf_errf(err, CF_EINVAL, "gguf writer: general.alignment must be u32");
        else {
            memcpy(&a, blob + 4, 4);
            if (a < 8 || (a & (a - 1)) || a > CF_GGUF_MAX_ALIGNMENT)
                rc = cf_errf(err, CF_EINVAL, "gguf writer: alignment %u is not a power of two in [8, %u]", a,
                             CF_GGUF_MAX_ALIGNMENT);
            else if (w->n_t)
                rc = cf_errf(err, CF_EINVAL, "gguf writer: set the alignment before adding tensors");
            else w->alignment = a;
        }
    }
    if (rc) {
        free(blob);
        return rc;
    }
    int64_t i = find_kv(w, key);
    if (i >= 0) {
        free(w->kv[i].blob);
        w->kv[i].blob = blob;
        w->kv[i].len = len;
        return 0;
    }
    if (w->n_kv >= CF_GGUF_MAX_KV) {
        free(blob);
        return cf_errf(err, CF_ELIMIT, "gguf writer: more than %d metadata entries", CF_GGUF_MAX_KV);
    }
    if (w->n_kv == w->cap_kv) {
        int64_t nc = w->cap_kv ? 2 * w->cap_kv : 32;
        wkv *p = realloc(w->kv, (size_t)nc * sizeof *p);
        if (!p) {
            free(blob);
            return cf_errf(err, CF_ENOMEM, "gguf writer: out of memory");
        }
        w->kv = p;
        w->cap_kv = nc;
    }
    char *k = strdup(key);
    if (!k) {
        free(blob);
        return cf_errf(err, CF_ENOMEM, "gguf writer: out of memory");
    }
    w->kv[w->n_kv++] = (wkv){k, blob, len};
    return 0;
}

static uint8_t *blob_new(uint32_t type, size_t extra, size_t *len) {
    *len = 4 + extra;
    uint8_t *b = malloc(*len);
    if (b) memcpy(b, &type, 4);
    return b;
}

int cf_gguf_w_set(cf_gguf_writer *w, const char *key, int type, const void *val, cf_err *err) {
    size_t es = cf_gguf_type_size(type);
    if (!es) return cf_errf(err, CF_EINVAL, "gguf writer: key '%s': %d is not a scalar value type", key, type);
    if (type == CF_GGUF_BOOL && *(const uint8_t *)val > 1)
        return cf_errf(err, CF_EINVAL, "gguf writer: key '%s': bool must be 0 or 1", key);
    size_t len;
    uint8_t *b = blob_new((uint32_t)type, es, &len);
    if (b) memcpy(b + 4, val, es);
    return put_kv(w, key, b, len, err);
}

int cf_gguf_w_set_u32(cf_gguf_writer *w, const char *key, uint32_t v, cf_err *err) {
    return cf_gguf_w_set(w, key, CF_GGUF_U32, &v, err);
}
int cf_gguf_w_set_i32(cf_gguf_writer *w, const char *key, int32_t v, cf_err *err) {
    return cf_gguf_w_set(w, key, CF_GGUF_I32, &v, err);
}
int cf_gguf_w_set_u64(cf_gguf_writer *w, const char *key, uint64_t v, cf_err *err) {
    return cf_gguf_w_set(w, key, CF_GGUF_U64, &v, err);
}
int cf_gguf_w_set_f32(cf_gguf_writer *w, const char *key, float v, cf_err *err) {
    return cf_gguf_w_set(w, key, CF_GGUF_F32, &v, err);
}
int cf_gguf_w_set_bool(cf_gguf_writer *w, const char *key, int v, cf_err *err) {
    uint8_t b = v ? 1 : 0;
    return cf_gguf_w_set(w, key, CF_GGUF_BOOL, &b, err);
}

int cf_gguf_w_set_strn(cf_gguf_writer *w, const char *key, const char *s, uint64_t n, cf_err *err) {
    if (n > CF_GGUF_MAX_STRING)
        return cf_errf(err, CF_EINVAL, "gguf writer: key '%s': string of %" PRIu64 " bytes exceeds %u", key, n,
                       CF_GGUF_MAX_STRING);
    size_t len;
    uint8_t *b = blob_new(CF_GGUF_STRING, 8 + (size_t)n, &len);
    if (b) {
        memcpy(b + 4, &n, 8);
        if (n) memcpy(b + 12, s, (size_t)n);
    }
    return put_kv(w, key, b, len, err);
}

int cf_gguf_w_set_str(cf_gguf_writer *w, const char *key, const char *s, cf_err *err) {
    return cf_gguf_w_set_strn(w, key, s, strlen(s), err);
}

int cf_gguf_w_set_arr(cf_gguf_writer *w, const char *key, int elem_type, const void *vals, uint64_t n,
                      cf_err *err) {
    size_t es = cf_gguf_type_size(elem_type);
    if (!es)
        return cf_errf(err, CF_EINVAL, "gguf writer: key '%s': arrays of %s need cf_gguf_w_set_arr_str or are "
                       "not supported", key, cf_gguf_type_name(elem_type));
    if (n > CF_GGUF_MAX_ARRAY || n > (SIZE_MAX - 16) / es)
        return cf_errf(err, CF_EINVAL, "gguf writer: key '%s': array of %" PRIu64 " elements is too long", key, n);
    if (elem_type == CF_GGUF_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (((const uint8_t *)vals)[i] > 1)
                return cf_errf(err, CF_EINVAL, "gguf writer: key '%s': bool element %" PRIu64 " is not 0 or 1", key, i);
    size_t len;
    uint8_t *b = blob_new(CF_GGUF_ARRAY, 12 + (size_t)n * es, &len);
    if (b) {
        uint32_t et = (uint32_t)elem_type;
        memcpy(b + 4, &et, 4);
        memcpy(b + 8, &n, 8);
        if (n) memcpy(b + 16, vals, (size_t)n * es);
    }
    return put_kv(w, key, b, len, err);
}

int cf_gguf_w_set_arr_str(cf_gguf_writer *w, const char *key, const char *const *s, const uint64_t *lens,
                          uint64_t n, cf_err *err) {
    if (n > CF_GGUF_MAX_ARRAY) return cf_errf(err, CF_EINVAL, "gguf writer: key '%s': array too long", key);
    size_t total = 12;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t l = lens ? lens[i] : strlen(s[i]);
        if (l > CF_GGUF_MAX_STRING)
            return cf_errf(err, CF_EINVAL, "gguf writer: key '%s': element %" PRIu64 " is too long", key, i);
        total += 8 + (size_t)l;
    }
    size_t len;
    uint8_t *b = blob_new(CF_GGUF_ARRAY, total, &len);
    if (b) {
        uint32_t et = CF_GGUF_STRING;
        memcpy(b + 4, &et, 4);
        memcpy(b + 8, &n, 8);
        size_t k = 16;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t l = lens ? lens[i] : strlen(s[i]);
            memcpy(b + k, &l, 8);
            if (l) memcpy(b + k + 8, s[i], (size_t)l);
            k += 8 + (size_t)l;
        }
    }
    return put_kv(w, key, b, len, err);
}

int cf_gguf_w_copy_kv(cf_gguf_writer *w, const cf_gguf *g, const cf_gguf_kv *kv, cf_err *err) {
    size_t len, body;
    uint8_t *b;
    if (kv->type == CF_GGUF_ARRAY) {
        const uint8_t *start = kv->val, *end;
        if (kv->arr_type == CF_GGUF_STRING) {
            if (kv->n == 0) end = start;
            else {
                cf_sv last = cf_gguf_arr_str(g, kv, kv->n - 1);
                end = (const uint8_t *)last.ptr + last.len;
            }
        } else {
            end = start + kv->n * cf_gguf_type_size(kv->arr_type);
        }
        body = (size_t)(end - start);
        b = blob_new(CF_GGUF_ARRAY, 12 + body, &len);
        if (b) {
            uint32_t et = (uint32_t)kv->arr_type;
            memcpy(b + 4, &et, 4);
            memcpy(b + 8, &kv->n, 8);
            memcpy(b + 16, start, body);
        }
    } else if (kv->type == CF_GGUF_STRING) {
        uint64_t n;
        memcpy(&n, kv->val, 8);
        body = 8 + (size_t)n;
        b = blob_new(CF_GGUF_STRING, body, &len);
        if (b) memcpy(b + 4, kv->val, body);
    } else {
        body = cf_gguf_type_size(kv->type);
        b = blob_new((uint32_t)kv->type, body, &len);
        if (b) memcpy(b + 4, kv->val, body);
    }
    return put_kv(w, kv->key, b, len, err);
}

int cf_gguf_w_remove(cf_gguf_writer *w, const char *key) {
    int64_t i = find_kv(w, key);
    if (i < 0 || w->state != 0) return 0;
    free(w->kv[i].key);
    free(w->kv[i].blob);
    memmove(&w->kv[i], &w->kv[i + 1], (size_t)(w->n_kv - i - 1) * sizeof *w->kv);
    w->n_kv--;
    if (!strcmp(key, "general.alignment") && w->n_t == 0) w->alignment = CF_GGUF_DEFAULT_ALIGNMENT;
    return 1;
}

int cf_gguf_w_set_alignment(cf_gguf_writer *w, uint32_t a, cf_err *err) {
    if (a == CF_GGUF_DEFAULT_ALIGNMENT && find_kv(w, "general.alignment") < 0) {
        if (w->n_t) return cf_errf(err, CF_EINVAL, "gguf writer: set the alignment before adding tensors");
        w->alignment = a;
        return 0;
    }
    return cf_gguf_w_set_u32(w, "general.alignment", a, err);
}

int64_t cf_gguf_w_n_kv(const cf_gguf_writer *w) { return w->n_kv; }

/* ---- tensors ---- */

int cf_gguf_w_add_tensor(cf_gguf_writer *w, const char *name, int type, const int64_t *ne, int n_dims,
                         cf_err *err) {
    if (check_declaring(w, err)) return err->code;
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > CF_GGUF_MAX_NAME)
        return cf_errf(err, CF_EINVAL, "gguf writer: tensor name '%.80s' must have 1..%d bytes", name ? name : "",
                       CF_GGUF_MAX_NAME);
    if (cf_gguf_ident_bad_byte(name, nl) < nl)
        return cf_errf(err, CF_EINVAL, "gguf writer: tensor name '%s' is not UTF-8 without control characters", name);
    const cf_dtype_info *ti = cf_dtype_get(type);
    if (!ti) return cf_errf(err, CF_EINVAL, "gguf writer: tensor '%s': unknown type %d", name, type);
    if (n_dims < 1 || n_dims > CF_GGUF_MAX_DIMS)
        return cf_errf(err, CF_EINVAL, "gguf writer: tensor '%s': n_dims %d not in [1, %d]", name, n_dims,
                       CF_GGUF_MAX_DIMS);
    for (int d = 0; d < n_dims; d++)
        if (ne[d] < 1) return cf_errf(err, CF_EINVAL, "gguf writer: tensor '%s': dim %d is %" PRId64, name, d, ne[d]);
    if (ne[0] % ti->block)
        return cf_errf(err, CF_EINVAL, "gguf writer: tensor '%s': row length %" PRId64 " is not a multiple of the "
                       "%s block (%d)", name, ne[0], ti->name, ti->block);
    uint64_t size = cf_gguf_tensor_nbytes(type, ne, n_dims);
    uint64_t a = w->alignment;
    if (!size || size > UINT64_MAX / 2 || w->data_size > UINT64_MAX / 2 - size - a)
        return cf_errf(err, CF_EINVAL, "gguf writer: tensor '%s': size overflows", name);
    for (int64_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name)) return cf_errf(err, CF_EINVAL, "gguf writer: duplicate tensor name '%s'", name);
    if (w->n_t >= CF_GGUF_MAX_TENSORS)
        return cf_errf(err, CF_ELIMIT, "gguf writer: more than %d tensors", CF_GGUF_MAX_TENSORS);
    if (w->n_t == w->cap_t) {
        int64_t nc = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *p = realloc(w->t, (size_t)nc * sizeof *p);
        if (!p) return cf_errf(err, CF_ENOMEM, "gguf writer: out of memory");
        w->t = p;
        w->cap_t = nc;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return cf_errf(err, CF_ENOMEM, "gguf writer: out of memory");
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < CF_GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->size = size;
    t->offset = w->data_size;
    w->data_size += (size + a - 1) / a * a;
    w->n_t++;
    return 0;
}

int64_t cf_gguf_w_n_tensors(const cf_gguf_writer *w) { return w->n_t; }

uint64_t cf_gguf_w_tensor_bytes(const cf_gguf_writer *w, int64_t i) {
    return i >= 0 && i < w->n_t ? w->t[i].size : 0;
}

/* ---- output ---- */

static int out(cf_gguf_writer *w, const void *p, size_t n, cf_err *err) {
    if (!n) return 0;
    if (w->f) {
        if (fwrite(p, 1, n, w->f) != n) {
            w->state = 3;
            return cf_errf(err, CF_EIO, "cannot write '%s': %s", w->tmp, strerror(errno));
        }
    } else {
        if (n > w->mem_cap - w->mem_len) {
            size_t nc = w->mem_cap ? w->mem_cap : 4096;
            while (nc - w->mem_len < n) nc *= 2;
            uint8_t *m = realloc(w->mem, nc);
            if (!m) {
                w->state = 3;
                return cf_errf(err, CF_ENOMEM, "gguf writer: out of memory for a %zu-byte image", nc);
            }
            w->mem = m;
            w->mem_cap = nc;
        }
        memcpy(w->mem + w->mem_len, p, n);
        w->mem_len += n;
    }
    w->pos += n;
    return 0;
}

static int out_zeros(cf_gguf_writer *w, uint64_t n, cf_err *err) {
    static const uint8_t z[256];
    while (n) {
        size_t k = n < sizeof z ? (size_t)n : sizeof z;
        if (out(w, z, k, err)) return err->code;
        n -= k;
    }
    return 0;
}

static int out_u32(cf_gguf_writer *w, uint32_t v, cf_err *err) { return out(w, &v, 4, err); }
static int out_u64(cf_gguf_writer *w, uint64_t v, cf_err *err) { return out(w, &v, 8, err); }
static int out_str(cf_gguf_writer *w, const char *s, cf_err *err) {
    uint64_t n = strlen(s);
    if (out_u64(w, n, err)) return err->code;
    return out(w, s, (size_t)n, err);
}

static int write_head(cf_gguf_writer *w, cf_err *err) {
    w->state = 1;
    if (out(w, "GGUF", 4, err) || out_u32(w, 3, err) || out_u64(w, (uint64_t)w->n_t, err) ||
        out_u64(w, (uint64_t)w->n_kv, err))
        return err->code;
    for (int64_t i = 0; i < w->n_kv; i++)
        if (out_str(w, w->kv[i].key, err) || out(w, w->kv[i].blob, w->kv[i].len, err)) return err->code;
    for (int64_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        if (out_str(w, t->name, err) || out_u32(w, (uint32_t)t->n_dims, err)) return err->code;
        for (int d = 0; d < t->n_dims; d++)
            if (out_u64(w, (uint64_t)t->ne[d], err)) return err->code;
        if (out_u32(w, (uint32_t)t->type, err) || out_u64(w, t->offset, err)) return err->code;
    }
    uint64_t a = w->alignment;
    if (w->n_t && out_zeros(w, (a - w->pos % a) % a, err)) return err->code;
    w->cur = 0;
    w->cur_done = 0;
    return 0;
}

int cf_gguf_w_begin_file(cf_gguf_writer *w, const char *path, cf_err *err) {
    if (check_declaring(w, err)) return err->code;
    size_t n = strlen(path);
    w->path = strdup(path);
    w->tmp = malloc(n + 5);
    if (!w->path || !w->tmp) return cf_errf(err, CF_ENOMEM, "gguf writer: out of memory");
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        int e = errno;
        free(w->tmp);
        w->tmp = NULL;
        w->state = 3;
        return cf_errf(err, CF_EIO, "cannot create '%s.tmp': %s", path, strerror(e));
    }
    setvbuf(w->f, NULL, _IOFBF, FILE_BUFFER);
    return write_head(w, err);
}

int cf_gguf_w_begin_mem(cf_gguf_writer *w, cf_err *err) {
    if (check_declaring(w, err)) return err->code;
    return write_head(w, err);
}

int cf_gguf_w_write(cf_gguf_writer *w, const void *p, size_t n, cf_err *err) {
    if (w->state != 1) return cf_errf(err, CF_EINVAL, "gguf writer: write outside begin..finish");
    const uint8_t *b = p;
    while (n) {
        if (w->cur >= w->n_t) {
            w->state = 3;
            return cf_errf(err, CF_EINVAL, "gguf writer: %zu bytes of data beyond the last tensor", n);
        }
        const wtensor *t = &w->t[w->cur];
        uint64_t left = t->size - w->cur_done;
        size_t k = n < left ? n : (size_t)left;
        if (out(w, b, k, err)) return err->code;
        b += k;
        n -= k;
        w->cur_done += k;
        if (w->cur_done == t->size) {
            uint64_t a = w->alignment;
            if (out_zeros(w, (a - t->size % a) % a, err)) return err->code;
            w->cur++;
            w->cur_done = 0;
        }
    }
    return 0;
}

int64_t cf_gguf_w_current(const cf_gguf_writer *w) { return w->cur; }

int cf_gguf_w_finish(cf_gguf_writer *w, cf_err *err) {
    if (w->state != 1) return cf_errf(err, CF_EINVAL, "gguf writer: finish without a successful begin");
    if (w->cur < w->n_t) {
        w->state = 3;
        return cf_errf(err, CF_EINVAL, "gguf writer: tensor '%s' (%" PRId64 " of %" PRId64 ") got %" PRIu64 " of %"
                       PRIu64 " bytes", w->t[w->cur].name, w->cur, w->n_t, w->cur_done, w->t[w->cur].size);
    }
    if (w->f) {
        int bad = fflush(w->f) != 0 || ferror(w->f);
        int e = errno;
        if (fclose(w->f) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        w->f = NULL;
        if (bad) {
            w->state = 3;
            return cf_errf(err, CF_EIO, "cannot write '%s': %s", w->tmp, strerror(e));
        }
        if (rename(w->tmp, w->path) != 0) {
            e = errno;
            w->state = 3;
            return cf_errf(err, CF_EIO, "cannot rename '%s' to '%s': %s", w->tmp, w->path, strerror(e));
        }
    }
    w->state = 2;
    return 0;
}

void *cf_gguf_w_take_mem(cf_gguf_writer *w, size_t *size) {
    if (w->state != 2 || w->f || w->tmp) return NULL;
    void *m = w->mem;
    *size = w->mem_len;
    w->mem = NULL;
    w->mem_len = w->mem_cap = 0;
    return m;
}
