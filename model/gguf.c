/* GGUF reader with full validation (see gguf.h). */
#include "model/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/quant.h"

typedef struct {
    const uint8_t *base;
    uint64_t size, pos;
    cf_err *err;
} rd;

static int need(rd *r, uint64_t n, const char *what) {
    if (n > r->size - r->pos)
        return cf_errf(r->err, CF_EFORMAT, "truncated file: %s at offset %" PRIu64 " needs %" PRIu64
                       " bytes, only %" PRIu64 " left (file size %" PRIu64 ")",
                       what, r->pos, n, r->size - r->pos, r->size);
    return 0;
}
static int rd_u32(rd *r, uint32_t *v, const char *what) {
    if (need(r, 4, what)) return CF_EFORMAT;
    memcpy(v, r->base + r->pos, 4);
    r->pos += 4;
    return 0;
}
static int rd_u64(rd *r, uint64_t *v, const char *what) {
    if (need(r, 8, what)) return CF_EFORMAT;
    memcpy(v, r->base + r->pos, 8);
    r->pos += 8;
    return 0;
}
/* Reads a string: returns a view; checks the length against the cap and the file. */
static int rd_str(rd *r, cf_sv *s, const char *what) {
    uint64_t at = r->pos, n;
    if (rd_u64(r, &n, what)) return CF_EFORMAT;
    if (n > CF_GGUF_MAX_STRING)
        return cf_errf(r->err, CF_EFORMAT, "%s at offset %" PRIu64 ": string length %" PRIu64
                       " exceeds the cap of %u bytes (corrupt length?)", what, at, n, CF_GGUF_MAX_STRING);
    if (need(r, n, what)) return CF_EFORMAT;
    s->ptr = (const char *)r->base + r->pos;
    s->len = n;
    r->pos += n;
    return 0;
}
static char *dup_sv(cf_sv s) {
    char *p = malloc(s.len + 1);
    if (!p) return NULL;
    memcpy(p, s.ptr, s.len);
    p[s.len] = 0;
    return p;
}

size_t cf_gguf_type_size(int type) {
    switch (type) {
    case CF_GGUF_U8: case CF_GGUF_I8: case CF_GGUF_BOOL: return 1;
    case CF_GGUF_U16: case CF_GGUF_I16: return 2;
    case CF_GGUF_U32: case CF_GGUF_I32: case CF_GGUF_F32: return 4;
    case CF_GGUF_U64: case CF_GGUF_I64: case CF_GGUF_F64: return 8;
    }
    return 0;
}

const char *cf_gguf_type_name(int type) {
    static const char *n[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                              "string", "array", "u64", "i64", "f64"};
    return (type >= 0 && type < CF_GGUF_NTYPES) ? n[type] : "?";
}

uint64_t cf_gguf_tensor_nbytes(int type, const int64_t *ne, int n_dims) {
    const cf_dtype_info *ti = cf_dtype_get(type);
    if (!ti || n_dims < 1 || n_dims > CF_GGUF_MAX_DIMS) return 0;
    if (ne[0] <= 0 || ne[0] % ti->block) return 0;
    uint64_t bytes = (uint64_t)(ne[0] / ti->block) * (uint64_t)ti->bytes;
    for (int d = 1; d < n_dims; d++) {
        if (ne[d] <= 0) return 0;
        if (bytes > UINT64_MAX / (uint64_t)ne[d]) return 0;
        bytes *= (uint64_t)ne[d];
    }
    return bytes;
}

/* Open-addressing set of names (for duplicate detection in O(n)). */
typedef struct {
    const char **slot;
    uint64_t cap;
} nameset;
static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}
static int nameset_init(nameset *ns, uint64_t n) {
    ns->cap = 16;
    while (ns->cap < 2 * n) ns->cap <<= 1;
    ns->slot = calloc(ns->cap, sizeof *ns->slot);
    return ns->slot ? 0 : -1;
}
/* Returns 1 if already present, else inserts and returns 0. */
static int nameset_add(nameset *ns, const char *s) {
    for (uint64_t i = fnv1a(s) & (ns->cap - 1);; i = (i + 1) & (ns->cap - 1)) {
        if (!ns->slot[i]) {
            ns->slot[i] = s;
            return 0;
        }
        if (strcmp(ns->slot[i], s) == 0) return 1;
    }
}

static int parse_value(rd *r, cf_gguf_kv *kv, const char *key) {
    kv->off = r->pos;
    kv->val = r->base + r->pos;
    kv->n = 1;
    if (kv->type == CF_GGUF_STRING) {
        cf_sv s;
        return rd_str(r, &s, "string value");
    }
    if (kv->type == CF_GGUF_ARRAY) {
        uint32_t et;
        uint64_t n, at = r->pos;
        if (rd_u32(r, &et, "array element type") || rd_u64(r, &n, "array length")) return CF_EFORMAT;
        if (et >= CF_GGUF_NTYPES || et == CF_GGUF_ARRAY)
            return cf_errf(r->err, CF_EFORMAT, "key '%s': array at offset %" PRIu64
                           " has invalid element type %u", key, at, et);
        if (n > CF_GGUF_MAX_ARRAY)
            return cf_errf(r->err, CF_EFORMAT, "key '%s': array at offset %" PRIu64 " claims %" PRIu64
                           " elements (cap %llu)", key, at, n, (unsigned long long)CF_GGUF_MAX_ARRAY);
        kv->arr_type = (int)et;
        kv->n = n;
        kv->val = r->base + r->pos;
        kv->off = r->pos;
        if (et == CF_GGUF_STRING) {
            /* each element is at least 8 bytes: reject impossible counts before allocating */
            if (n > (r->size - r->pos) / 8)
                return cf_errf(r->err, CF_EFORMAT, "key '%s': string array at offset %" PRIu64
                               " claims %" PRIu64 " elements, more than the file can hold", key, at, n);
            kv->str_off = malloc((n ? n : 1) * sizeof(uint64_t));
            if (!kv->str_off) return cf_errf(r->err, CF_ENOMEM, "out of memory for array '%s'", key);
            for (uint64_t i = 0; i < n; i++) {
                cf_sv s;
                kv->str_off[i] = r->pos;
                if (rd_str(r, &s, "array string")) return cf_err_prefix(r->err, "key '%s' element %" PRIu64, key, i);
            }
            return 0;
        }
        uint64_t es = cf_gguf_type_size((int)et);
        if (n > (r->size - r->pos) / es)
            return cf_errf(r->err, CF_EFORMAT, "key '%s': array at offset %" PRIu64 " of %" PRIu64
                           " x %s runs past the end of the file (size %" PRIu64 ")",
                           key, at, n, cf_gguf_type_name((int)et), r->size);
        r->pos += n * es;
        return 0;
    }
    size_t sz = cf_gguf_type_size(kv->type);
    if (need(r, sz, "metadata value")) return cf_err_prefix(r->err, "key '%s'", key);
    if (kv->type == CF_GGUF_BOOL && r->base[r->pos] > 1)
        return cf_errf(r->err, CF_EFORMAT, "key '%s': bool at offset %" PRIu64 " has value %u",
                       key, r->pos, r->base[r->pos]);
    r->pos += sz;
    return 0;
}

static int parse_sections(cf_gguf *g, cf_err *err, nameset *keys, nameset *names);

static int parse(cf_gguf *g, cf_err *err) {
    nameset keys = {0}, names = {0};
    int rc = parse_sections(g, err, &keys, &names);
    free(keys.slot);
    free(names.slot);
    return rc;
}

static int parse_sections(cf_gguf *g, cf_err *err, nameset *keys, nameset *names) {
    rd r = {g->map, g->size, 0, err};
    if (g->size < 4 || memcmp(g->map, "GGUF", 4) != 0) {
        char got[9] = {0};
        for (size_t i = 0; i < 4 && i < g->size; i++)
            snprintf(got + 2 * i, 3, "%02x", g->map[i]);
        return cf_errf(err, CF_EFORMAT, "bad magic at offset 0: expected 'GGUF' (47475546), got %s%s",
                       g->size < 4 ? "a file of " : "", g->size < 4 ? "< 4 bytes" : got);
    }
    r.pos = 4;
    if (rd_u32(&r, &g->version, "version")) return CF_EFORMAT;
    if (g->version != 2 && g->version != 3) {
        if (g->version == 1)
            return cf_errf(err, CF_EUNSUPPORTED, "GGUF version 1 (offset 4) is not supported; convert to v3");
        if ((g->version & 0xffff) == 0)
            return cf_errf(err, CF_EUNSUPPORTED, "GGUF version field at offset 4 is %u: a big-endian file? "
                           "only little-endian GGUF is supported", g->version);
        return cf_errf(err, CF_EFORMAT, "unknown GGUF version %u at offset 4 (expected 2 or 3)", g->version);
    }
    uint64_t nt, nkv;
    if (rd_u64(&r, &nt, "tensor count") || rd_u64(&r, &nkv, "metadata count")) return CF_EFORMAT;
    if (nt > CF_GGUF_MAX_TENSORS)
        return cf_errf(err, CF_ELIMIT, "tensor count %" PRIu64 " at offset 8 exceeds the cap of %d", nt, CF_GGUF_MAX_TENSORS);
    if (nkv > CF_GGUF_MAX_KV)
        return cf_errf(err, CF_ELIMIT, "metadata count %" PRIu64 " at offset 16 exceeds the cap of %d", nkv, CF_GGUF_MAX_KV);
    /* every kv needs >= 12 bytes and every tensor info >= 24: reject counts the file cannot hold */
    if (nkv > (g->size - r.pos) / 12 || nt > (g->size - r.pos) / 24)
        return cf_errf(err, CF_EFORMAT, "counts (%" PRIu64 " tensors, %" PRIu64
                       " metadata) at offset 8 are more than a %zu-byte file can hold", nt, nkv, g->size);
    g->kv = calloc(nkv ? nkv : 1, sizeof *g->kv);
    g->t = calloc(nt ? nt : 1, sizeof *g->t);
    if (!g->kv || !g->t || nameset_init(keys, nkv) || nameset_init(names, nt)) return cf_errf(err, CF_ENOMEM, "out of memory");
    g->alignment = 32;
    for (uint64_t i = 0; i < nkv; i++) {
        cf_gguf_kv *kv = &g->kv[i];
        cf_sv key;
        uint64_t at = r.pos;
        uint32_t type;
        if (rd_str(&r, &key, "metadata key")) return cf_err_prefix(err, "metadata entry %" PRIu64, i);
        if (key.len == 0) return cf_errf(err, CF_EFORMAT, "metadata entry %" PRIu64 " at offset %" PRIu64 " has an empty key", i, at);
        if (!(kv->key = dup_sv(key))) return cf_errf(err, CF_ENOMEM, "out of memory");
        g->n_kv = (int64_t)i + 1;
        if (memchr(key.ptr, 0, key.len))
            return cf_errf(err, CF_EFORMAT, "metadata key at offset %" PRIu64 " contains a NUL byte", at);
        if (nameset_add(keys, kv->key))
                return cf_errf(err, CF_EFORMAT, "duplicate metadata key '%s' at offset %" PRIu64, kv->key, at);
        uint64_t tat = r.pos;
        if (rd_u32(&r, &type, "value type")) return cf_err_prefix(err, "key '%s'", kv->key);
        if (type >= CF_GGUF_NTYPES)
            return cf_errf(err, CF_EFORMAT, "key '%s': invalid value type %u at offset %" PRIu64, kv->key, type, tat);
        kv->type = (int)type;
        if (parse_value(&r, kv, kv->key)) return err->code;
        if (strcmp(kv->key, "general.alignment") == 0) {
            if (kv->type != CF_GGUF_U32)
                return cf_errf(err, CF_EFORMAT, "general.alignment at offset %" PRIu64 " must be u32, is %s",
                               at, cf_gguf_type_name(kv->type));
            uint32_t a;
            memcpy(&a, kv->val, 4);
            if (a == 0 || (a & (a - 1)) || a > CF_GGUF_MAX_ALIGNMENT)
                return cf_errf(err, CF_EFORMAT, "general.alignment %u at offset %" PRIu64
                               " is not a power of two in [1, %u]", a, kv->off, CF_GGUF_MAX_ALIGNMENT);
            g->alignment = a;
        }
    }
    for (uint64_t i = 0; i < nt; i++) {
        cf_gguf_tensor *t = &g->t[i];
        cf_sv name;
        uint32_t nd, type;
        t->info_off = r.pos;
        if (rd_str(&r, &name, "tensor name")) return cf_err_prefix(err, "tensor %" PRIu64, i);
        if (!(t->name = dup_sv(name))) return cf_errf(err, CF_ENOMEM, "out of memory");
        g->n_tensors = (int64_t)i + 1;
        if (rd_u32(&r, &nd, "tensor n_dims")) return cf_err_prefix(err, "tensor '%s'", t->name);
        if (nd < 1 || nd > CF_GGUF_MAX_DIMS)
            return cf_errf(err, CF_EFORMAT, "tensor '%s' (info at offset %" PRIu64 "): n_dims %u not in [1, %d]",
                           t->name, t->info_off, nd, CF_GGUF_MAX_DIMS);
        t->n_dims = (int)nd;
        for (int d = 0; d < CF_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t v, at = r.pos;
            if (rd_u64(&r, &v, "tensor dim")) return cf_err_prefix(err, "tensor '%s'", t->name);
            if (v == 0 || v > (uint64_t)INT64_MAX / 2)
                return cf_errf(err, CF_EFORMAT, "tensor '%s': dim %u = %" PRIu64 " at offset %" PRIu64 " is invalid",
                               t->name, d, v, at);
            t->ne[d] = (int64_t)v;
        }
        uint64_t tat = r.pos;
        if (rd_u32(&r, &type, "tensor type") || rd_u64(&r, &t->offset, "tensor offset"))
            return cf_err_prefix(err, "tensor '%s'", t->name);
        const cf_dtype_info *ti = cf_dtype_get((int)type);
        if (!ti)
            return cf_errf(err, CF_EUNSUPPORTED, "tensor '%s': unknown tensor type %u at offset %" PRIu64,
                           t->name, type, tat);
        t->type = (int)type;
        if (t->ne[0] % ti->block)
            return cf_errf(err, CF_EFORMAT, "tensor '%s': row length %" PRId64 " is not a multiple of the %s block (%d)",
                           t->name, t->ne[0], ti->name, ti->block);
        t->size = cf_gguf_tensor_nbytes(t->type, t->ne, t->n_dims);
        if (!t->size)
            return cf_errf(err, CF_EFORMAT, "tensor '%s' (info at offset %" PRIu64 "): size of shape overflows",
                           t->name, t->info_off);
        if (nameset_add(names, t->name))
                return cf_errf(err, CF_EFORMAT, "duplicate tensor name '%s' at offset %" PRIu64, t->name, t->info_off);
    }
    uint64_t a = g->alignment;
    uint64_t data = (r.pos + a - 1) / a * a;
    if (data > g->size && nt > 0)
        return cf_errf(err, CF_EFORMAT, "truncated file: data section would start at offset %" PRIu64
                       " but the file has %zu bytes", data, g->size);
    g->data_off = data;
    uint64_t avail = data <= g->size ? g->size - data : 0;
    for (uint64_t i = 0; i < nt; i++) {
        cf_gguf_tensor *t = &g->t[i];
        if (t->offset % a)
            return cf_errf(err, CF_EFORMAT, "tensor '%s': data offset %" PRIu64 " is not aligned to %" PRIu64,
                           t->name, t->offset, a);
        if (t->offset > avail || t->size > avail - t->offset)
            return cf_errf(err, CF_EFORMAT, "tensor '%s': data [%" PRIu64 ", %" PRIu64 ") of the data section "
                           "(file offset %" PRIu64 ") runs past the end of the file (%zu bytes)",
                           t->name, t->offset, t->offset + t->size, data + t->offset, g->size);
        t->data = g->map + data + t->offset;
    }
    return CF_OK;
}

int cf_gguf_open_mem(cf_gguf *g, const void *buf, size_t size, cf_err *err) {
    memset(g, 0, sizeof *g);
    g->map = buf;
    g->size = size;
    static const uint8_t empty[1];
    if (!g->map) g->map = empty;
    int rc = parse(g, err);
    if (rc) cf_gguf_close(g);
    return rc;
}

int cf_gguf_open(cf_gguf *g, const char *path, cf_err *err) {
    memset(g, 0, sizeof *g);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return cf_errf(err, CF_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return cf_errf(err, CF_EIO, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return cf_errf(err, CF_EFORMAT, "'%s' is empty (0 bytes): bad magic at offset 0", path);
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return cf_errf(err, CF_EIO, "cannot mmap '%s': %s", path, strerror(errno));
    g->map = m;
    g->size = (size_t)st.st_size;
    g->mapped = 1;
    int rc = parse(g, err);
    if (rc) {
        cf_err_prefix(err, "%s", path);
        cf_gguf_close(g);
    }
    return rc;
}

void cf_gguf_close(cf_gguf *g) {
    for (int64_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].str_off);
    }
    for (int64_t i = 0; i < g->n_tensors; i++) free(g->t[i].name);
    free(g->kv);
    free(g->t);
    if (g->mapped) munmap((void *)g->map, g->size);
    memset(g, 0, sizeof *g);
}

const cf_gguf_kv *cf_gguf_get(const cf_gguf *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    return NULL;
}

const cf_gguf_tensor *cf_gguf_tensor_get(const cf_gguf *g, const char *name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->t[i].name, name) == 0) return &g->t[i];
    return NULL;
}

static double scalar_num(int type, const uint8_t *p) {
    switch (type) {
    case CF_GGUF_U8: case CF_GGUF_BOOL: return *p;
    case CF_GGUF_I8: return (int8_t)*p;
    case CF_GGUF_U16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case CF_GGUF_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case CF_GGUF_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case CF_GGUF_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case CF_GGUF_F32: { float v; memcpy(&v, p, 4); return v; }
    case CF_GGUF_U64: { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    case CF_GGUF_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case CF_GGUF_F64: { double v; memcpy(&v, p, 8); return v; }
    }
    return 0;
}

int cf_gguf_get_int(const cf_gguf *g, const char *key, int64_t *out, cf_err *err) {
    const cf_gguf_kv *kv = cf_gguf_get(g, key);
    if (!kv) return -1;
    switch (kv->type) {
    case CF_GGUF_U64: {
        uint64_t v;
        memcpy(&v, kv->val, 8);
        if (v > INT64_MAX) return cf_errf(err, CF_EFORMAT, "key '%s' value %" PRIu64 " is out of range", key, v);
        *out = (int64_t)v;
        return 0;
    }
    case CF_GGUF_I64: memcpy(out, kv->val, 8); return 0;
    case CF_GGUF_U8: case CF_GGUF_I8: case CF_GGUF_U16: case CF_GGUF_I16: case CF_GGUF_U32:
    case CF_GGUF_I32: case CF_GGUF_BOOL:
        *out = (int64_t)scalar_num(kv->type, kv->val);
        return 0;
    }
    return cf_errf(err, CF_EFORMAT, "key '%s' (offset %" PRIu64 ") should be an integer but is %s",
                   key, kv->off, cf_gguf_type_name(kv->type));
}

int cf_gguf_get_float(const cf_gguf *g, const char *key, double *out, cf_err *err) {
    const cf_gguf_kv *kv = cf_gguf_get(g, key);
    if (!kv) return -1;
    if (kv->type == CF_GGUF_STRING || kv->type == CF_GGUF_ARRAY)
        return cf_errf(err, CF_EFORMAT, "key '%s' (offset %" PRIu64 ") should be a number but is %s",
                       key, kv->off, cf_gguf_type_name(kv->type));
    *out = scalar_num(kv->type, kv->val);
    return 0;
}

int cf_gguf_get_str(const cf_gguf *g, const char *key, cf_sv *out, cf_err *err) {
    const cf_gguf_kv *kv = cf_gguf_get(g, key);
    if (!kv) return -1;
    if (kv->type != CF_GGUF_STRING)
        return cf_errf(err, CF_EFORMAT, "key '%s' (offset %" PRIu64 ") should be a string but is %s",
                       key, kv->off, cf_gguf_type_name(kv->type));
    memcpy(&out->len, kv->val, 8);
    out->ptr = (const char *)kv->val + 8;
    return 0;
}

cf_sv cf_gguf_arr_str(const cf_gguf *g, const cf_gguf_kv *kv, uint64_t i) {
    cf_sv s = {"", 0};
    if (kv->type != CF_GGUF_ARRAY || kv->arr_type != CF_GGUF_STRING || i >= kv->n) return s;
    const uint8_t *p = g->map + kv->str_off[i];
    memcpy(&s.len, p, 8);
    s.ptr = (const char *)p + 8;
    return s;
}

double cf_gguf_arr_num(const cf_gguf_kv *kv, uint64_t i) {
    if (kv->type != CF_GGUF_ARRAY || i >= kv->n) return 0;
    size_t es = cf_gguf_type_size(kv->arr_type);
    if (!es) return 0;
    return scalar_num(kv->arr_type, kv->val + i * es);
}

static void put_escaped(char *buf, size_t cap, size_t *k, const char *s, uint64_t n, size_t max) {
    for (uint64_t i = 0; i < n && *k + 8 < cap; i++) {
        if (i >= max) {
            *k += (size_t)snprintf(buf + *k, cap - *k, "...");
            return;
        }
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') *k += (size_t)snprintf(buf + *k, cap - *k, "\\n");
        else if (c == '"' || c == '\\') *k += (size_t)snprintf(buf + *k, cap - *k, "\\%c", c);
        else if (c < 32 || c == 127) *k += (size_t)snprintf(buf + *k, cap - *k, "\\x%02x", c);
        else buf[(*k)++] = (char)c;
    }
    buf[*k < cap ? *k : cap - 1] = 0;
}

void cf_gguf_format_value(const cf_gguf *g, const cf_gguf_kv *kv, char *buf, size_t cap, size_t max) {
    size_t k = 0;
    if (!cap) return;
    buf[0] = 0;
    if (kv->type == CF_GGUF_STRING) {
        cf_sv s;
        memcpy(&s.len, kv->val, 8);
        s.ptr = (const char *)kv->val + 8;
        buf[k++] = '"';
        put_escaped(buf, cap, &k, s.ptr, s.len, max);
        if (k + 2 < cap) { buf[k++] = '"'; buf[k] = 0; }
        return;
    }
    if (kv->type == CF_GGUF_ARRAY) {
        k += (size_t)snprintf(buf, cap, "[%s x %" PRIu64 "] ", cf_gguf_type_name(kv->arr_type), kv->n);
        for (uint64_t i = 0; i < kv->n && i < 4 && k + 32 < cap; i++) {
            if (kv->arr_type == CF_GGUF_STRING) {
                cf_sv s = cf_gguf_arr_str(g, kv, i);
                buf[k++] = '"';
                put_escaped(buf, cap, &k, s.ptr, s.len, 24);
                k += (size_t)snprintf(buf + k, cap - k, "\", ");
            } else {
                k += (size_t)snprintf(buf + k, cap - k, "%g, ", cf_gguf_arr_num(kv, i));
            }
        }
        if (kv->n > 4 && k + 4 < cap) snprintf(buf + k, cap - k, "...");
        return;
    }
    double v = scalar_num(kv->type, kv->val);
    if (kv->type == CF_GGUF_BOOL) snprintf(buf, cap, "%s", v ? "true" : "false");
    else if (kv->type == CF_GGUF_F32 || kv->type == CF_GGUF_F64) snprintf(buf, cap, "%g", v);
    else if (kv->type == CF_GGUF_U64) { uint64_t u; memcpy(&u, kv->val, 8); snprintf(buf, cap, "%" PRIu64, u); }
    else if (kv->type == CF_GGUF_I64) { int64_t u; memcpy(&u, kv->val, 8); snprintf(buf, cap, "%" PRId64, u); }
    else snprintf(buf, cap, "%.0f", v);
}
