/* GGUF reader with full validation (see gguf.h for the rules and the caps). */
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

/* ---- bounded reader over the image ---- */

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
/* Reads a string (u64 length + bytes): checks the length against `cap` and the file. */
static int rd_str_cap(rd *r, cf_sv *s, uint64_t cap, const char *what) {
    uint64_t at = r->pos, n;
    if (rd_u64(r, &n, what)) return CF_EFORMAT;
    if (n > cap)
        return cf_errf(r->err, CF_EFORMAT, "%s at offset %" PRIu64 ": string length %" PRIu64
                       " exceeds the cap of %" PRIu64 " bytes (corrupt length?)", what, at, n, cap);
    if (need(r, n, what)) return CF_EFORMAT;
    s->ptr = (const char *)r->base + r->pos;
    s->len = n;
    r->pos += n;
    return 0;
}
static int rd_str(rd *r, cf_sv *s, const char *what) { return rd_str_cap(r, s, CF_GGUF_MAX_STRING, what); }

static char *dup_sv(cf_sv s) {
    char *p = malloc(s.len + 1);
    if (!p) return NULL;
    memcpy(p, s.ptr, s.len);
    p[s.len] = 0;
    return p;
}

/* Index of the first byte that breaks UTF-8 (overlong forms, surrogates and code points above
 * U+10FFFF are invalid) or that is a control character (< 0x20 or 0x7f); n if none. */
uint64_t cf_gguf_ident_bad_byte(const void *str, uint64_t n) {
    const uint8_t *s = str;
    uint64_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) return i;
            i++;
            continue;
        }
        int len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07, min = 0x10000;
        else return i;
        if ((uint64_t)len > n - i) return i;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += (uint64_t)len;
    }
    return n;
}

/* ---- type tables ---- */

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

/* GGML type ids GGUF defines but cinfer's type table does not size (named in errors). */
static const char *ggml_type_name(uint32_t type) {
    switch (type) {
    case 4: return "q4_2 (removed from ggml)";
    case 5: return "q4_3 (removed from ggml)";
    case 16: return "iq2_xxs";
    case 17: return "iq2_xs";
    case 18: return "iq3_xxs";
    case 19: return "iq1_s";
    case 20: return "iq4_nl";
    case 21: return "iq3_s";
    case 22: return "iq2_s";
    case 23: return "iq4_xs";
    case 29: return "iq1_m";
    case 31: case 32: case 33: return "q4_0_NxM (removed from gguf)";
    case 34: return "tq1_0";
    case 35: return "tq2_0";
    case 36: case 37: case 38: return "iq4_nl_NxM (removed from gguf)";
    case 39: return "mxfp4";
    }
    return NULL;
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

int64_t cf_gguf_tensor_nelements(const cf_gguf_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->n_dims; d++) n *= t->ne[d];
    return n;
}

/* ---- duplicate detection: open-addressing set of names, O(n) ---- */

typedef struct {
    const char **slot;
    uint64_t cap;
} nameset;
static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}
static void nameset_put(const char **slot, uint64_t cap, const char *s) {
    uint64_t i = fnv1a(s) & (cap - 1);
    while (slot[i]) i = (i + 1) & (cap - 1);
    slot[i] = s;
}
/* Returns 1 if already present, -1 out of memory, else inserts and returns 0. */
static int nameset_add(nameset *ns, const char *s, uint64_t count) {
    if (2 * (count + 1) > ns->cap) {
        uint64_t cap = ns->cap ? 2 * ns->cap : 64;
        const char **slot = calloc(cap, sizeof *slot);
        if (!slot) return -1;
        for (uint64_t i = 0; i < ns->cap; i++)
            if (ns->slot[i]) nameset_put(slot, cap, ns->slot[i]);
        free(ns->slot);
        ns->slot = slot;
        ns->cap = cap;
    }
    for (uint64_t i = fnv1a(s) & (ns->cap - 1);; i = (i + 1) & (ns->cap - 1)) {
        if (!ns->slot[i]) {
            ns->slot[i] = s;
            return 0;
        }
        if (strcmp(ns->slot[i], s) == 0) return 1;
    }
}

/* Grows a zero-filled array so that index i exists (amortised doubling; counts are capped). */
static int grow(void **arr, uint64_t *cap, uint64_t i, size_t elem) {
    if (i < *cap) return 0;
    uint64_t nc = *cap ? 2 * *cap : 16;
    while (nc <= i) nc *= 2;
    void *p = realloc(*arr, nc * elem);
    if (!p) return -1;
    memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
    *arr = p;
    *cap = nc;
    return 0;
}

/* ---- metadata values ---- */

static int parse_value(rd *r, cf_gguf_kv *kv, const char *key) {
    kv->off = r->pos;
    kv->val = r->base + r->pos;
    kv->n = 1;
    if (kv->type == CF_GGUF_STRING) {
        cf_sv s;
        if (rd_str(r, &s, "string value")) return cf_err_prefix(r->err, "key '%s'", key);
        return 0;
    }
    if (kv->type == CF_GGUF_ARRAY) {
        uint32_t et;
        uint64_t n, at = r->pos;
        if (rd_u32(r, &et, "array element type") || rd_u64(r, &n, "array length"))
            return cf_err_prefix(r->err, "key '%s'", key);
        if (et == CF_GGUF_ARRAY)
            return cf_errf(r->err, CF_EUNSUPPORTED, "key '%s': array at offset %" PRIu64
                           " is an array of arrays (nested arrays are not supported)", key, at);
        if (et >= CF_GGUF_NTYPES)
            return cf_errf(r->err, CF_EFORMAT, "key '%s': array at offset %" PRIu64
                           " has invalid element type %u", key, at, et);
        if (n > CF_GGUF_MAX_ARRAY)
            return cf_errf(r->err, CF_ELIMIT, "key '%s': array at offset %" PRIu64 " claims %" PRIu64
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
        if (et == CF_GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (r->base[r->pos + i] > 1)
                    return cf_errf(r->err, CF_EFORMAT, "key '%s': bool array element %" PRIu64 " at offset %"
                                   PRIu64 " has value %u (must be 0 or 1)", key, i, r->pos + i, r->base[r->pos + i]);
        r->pos += n * es;
        return 0;
    }
    size_t sz = cf_gguf_type_size(kv->type);
    if (need(r, sz, "metadata value")) return cf_err_prefix(r->err, "key '%s'", key);
    if (kv->type == CF_GGUF_BOOL && r->base[r->pos] > 1)
        return cf_errf(r->err, CF_EFORMAT, "key '%s': bool at offset %" PRIu64 " has value %u (must be 0 or 1)",
                       key, r->pos, r->base[r->pos]);
    r->pos += sz;
    return 0;
}

/* ---- sections ---- */

static int parse_header(cf_gguf *g, rd *r, uint64_t *nt, uint64_t *nkv) {
    cf_err *err = r->err;
    if (g->size < 4 || memcmp(g->map, "GGUF", 4) != 0) {
        char got[9] = {0};
        for (size_t i = 0; i < 4 && i < g->size; i++) snprintf(got + 2 * i, 3, "%02x", g->map[i]);
        return cf_errf(err, CF_EFORMAT, "bad magic at offset 0: expected 'GGUF' (47475546), got %s%s",
                       g->size < 4 ? "a file of " : "", g->size < 4 ? "< 4 bytes" : got);
    }
    if ((uint64_t)g->size > CF_GGUF_MAX_FILE)
        return cf_errf(err, CF_ELIMIT, "file of %zu bytes exceeds the cap of %llu bytes", g->size,
                       (unsigned long long)CF_GGUF_MAX_FILE);
    r->pos = 4;
    if (rd_u32(r, &g->version, "version")) return CF_EFORMAT;
    if (g->version != 2 && g->version != 3) {
        if (g->version == 1)
            return cf_errf(err, CF_EUNSUPPORTED, "GGUF version 1 (offset 4) is not supported; convert to v3");
        if ((g->version & 0xffff) == 0)
            return cf_errf(err, CF_EUNSUPPORTED, "GGUF version field at offset 4 is 0x%08x: a big-endian "
                           "(byte-swapped) file? only little-endian GGUF is supported", g->version);
        return cf_errf(err, CF_EFORMAT, "unknown GGUF version %u at offset 4 (expected 2 or 3)", g->version);
    }
    if (rd_u64(r, nt, "tensor count") || rd_u64(r, nkv, "metadata count")) return CF_EFORMAT;
    if (*nt > CF_GGUF_MAX_TENSORS)
        return cf_errf(err, CF_ELIMIT, "tensor count %" PRIu64 " at offset 8 exceeds the cap of %d",
                       *nt, CF_GGUF_MAX_TENSORS);
    if (*nkv > CF_GGUF_MAX_KV)
        return cf_errf(err, CF_ELIMIT, "metadata count %" PRIu64 " at offset 16 exceeds the cap of %d",
                       *nkv, CF_GGUF_MAX_KV);
    /* a metadata entry takes >= 14 bytes, a tensor info >= 33: reject counts the file cannot hold
     * before reading on (the allocations grow with what is actually read, never with the counts) */
    uint64_t left = g->size - r->pos;
    if (*nkv * 14 + *nt * 33 > left)
        return cf_errf(err, CF_EFORMAT, "truncated file or corrupt counts: %" PRIu64 " tensors and %" PRIu64
                       " metadata entries (counts at offset 8) need at least %" PRIu64 " bytes after the header, "
                       "the file has %" PRIu64, *nt, *nkv, *nkv * 14 + *nt * 33, left);
    return 0;
}

static int parse_kvs(cf_gguf *g, rd *r, uint64_t nkv, nameset *keys) {
    cf_err *err = r->err;
    uint64_t cap = 0;
    for (uint64_t i = 0; i < nkv; i++) {
        if (grow((void **)&g->kv, &cap, i, sizeof *g->kv)) return cf_errf(err, CF_ENOMEM, "out of memory");
        cf_gguf_kv *kv = &g->kv[i];
        cf_sv key;
        uint64_t at = r->pos;
        uint32_t type;
        if (rd_str_cap(r, &key, CF_GGUF_MAX_KEY, "metadata key"))
            return cf_err_prefix(err, "metadata entry %" PRIu64 " of %" PRIu64, i, nkv);
        if (key.len == 0)
            return cf_errf(err, CF_EFORMAT, "metadata entry %" PRIu64 " at offset %" PRIu64 " has an empty key", i, at);
        uint64_t bad = cf_gguf_ident_bad_byte((const uint8_t *)key.ptr, key.len);
        if (bad < key.len)
            return cf_errf(err, CF_EFORMAT, "metadata key at offset %" PRIu64 " has an invalid byte 0x%02x at "
                           "offset %" PRIu64 " (keys must be UTF-8 without control characters)",
                           at, (uint8_t)key.ptr[bad], at + 8 + bad);
        if (!(kv->key = dup_sv(key))) return cf_errf(err, CF_ENOMEM, "out of memory");
        g->n_kv = (int64_t)i + 1;
        int dup = nameset_add(keys, kv->key, i);
        if (dup < 0) return cf_errf(err, CF_ENOMEM, "out of memory");
        if (dup)
            return cf_errf(err, CF_EFORMAT, "duplicate metadata key '%s' at offset %" PRIu64, kv->key, at);
        uint64_t tat = r->pos;
        if (rd_u32(r, &type, "value type")) return cf_err_prefix(err, "key '%s'", kv->key);
        if (type >= CF_GGUF_NTYPES)
            return cf_errf(err, CF_EFORMAT, "key '%s': invalid value type %u at offset %" PRIu64, kv->key, type, tat);
        kv->type = (int)type;
        if (parse_value(r, kv, kv->key)) return err->code;
        if (strcmp(kv->key, "general.alignment") == 0) {
            if (kv->type != CF_GGUF_U32)
                return cf_errf(err, CF_EFORMAT, "general.alignment at offset %" PRIu64 " must be u32, is %s",
                               at, cf_gguf_type_name(kv->type));
            uint32_t a;
            memcpy(&a, kv->val, 4);
            if (a < 8 || (a & (a - 1)) || a > CF_GGUF_MAX_ALIGNMENT)
                return cf_errf(err, CF_EFORMAT, "general.alignment %u at offset %" PRIu64
                               " is not a power of two in [8, %u]", a, kv->off, CF_GGUF_MAX_ALIGNMENT);
            g->alignment = a;
        }
    }
    return 0;
}

static int parse_tensor_infos(cf_gguf *g, rd *r, uint64_t nt, nameset *names) {
    cf_err *err = r->err;
    uint64_t cap = 0;
    for (uint64_t i = 0; i < nt; i++) {
        if (grow((void **)&g->t, &cap, i, sizeof *g->t)) return cf_errf(err, CF_ENOMEM, "out of memory");
        cf_gguf_tensor *t = &g->t[i];
        cf_sv name;
        uint32_t nd, type;
        t->info_off = r->pos;
        if (rd_str(r, &name, "tensor name")) return cf_err_prefix(err, "tensor info %" PRIu64 " of %" PRIu64, i, nt);
        if (name.len == 0)
            return cf_errf(err, CF_EFORMAT, "tensor %" PRIu64 " (info at offset %" PRIu64 ") has an empty name",
                           i, t->info_off);
        if (name.len > CF_GGUF_MAX_NAME)
            return cf_errf(err, CF_EFORMAT, "tensor %" PRIu64 " (info at offset %" PRIu64 "): name of %" PRIu64
                           " bytes exceeds the GGUF limit of %d bytes", i, t->info_off, name.len, CF_GGUF_MAX_NAME);
        uint64_t bad = cf_gguf_ident_bad_byte((const uint8_t *)name.ptr, name.len);
        if (bad < name.len)
            return cf_errf(err, CF_EFORMAT, "tensor %" PRIu64 " (info at offset %" PRIu64 "): name has an invalid "
                           "byte 0x%02x at offset %" PRIu64 " (names must be UTF-8 without control characters)",
                           i, t->info_off, (uint8_t)name.ptr[bad], t->info_off + 8 + bad);
        if (!(t->name = dup_sv(name))) return cf_errf(err, CF_ENOMEM, "out of memory");
        g->n_tensors = (int64_t)i + 1;
        int dup = nameset_add(names, t->name, i);
        if (dup < 0) return cf_errf(err, CF_ENOMEM, "out of memory");
        if (dup)
            return cf_errf(err, CF_EFORMAT, "duplicate tensor name '%s' at offset %" PRIu64, t->name, t->info_off);
        uint64_t dat = r->pos;
        if (rd_u32(r, &nd, "tensor n_dims")) return cf_err_prefix(err, "tensor '%s'", t->name);
        if (nd < 1 || nd > CF_GGUF_MAX_DIMS)
            return cf_errf(err, CF_EFORMAT, "tensor '%s': n_dims %u at offset %" PRIu64 " is not in [1, %d]",
                           t->name, nd, dat, CF_GGUF_MAX_DIMS);
        t->n_dims = (int)nd;
        for (int d = 0; d < CF_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        uint64_t nel = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t v, at = r->pos;
            if (rd_u64(r, &v, "tensor dim")) return cf_err_prefix(err, "tensor '%s'", t->name);
            if (v == 0)
                return cf_errf(err, CF_EFORMAT, "tensor '%s': dim %u at offset %" PRIu64 " is zero", t->name, d, at);
            if (v > (uint64_t)INT64_MAX || nel > (uint64_t)INT64_MAX / v)
                return cf_errf(err, CF_EFORMAT, "tensor '%s': dim %u = %" PRIu64 " at offset %" PRIu64
                               " makes the element count overflow", t->name, d, v, at);
            nel *= v;
            t->ne[d] = (int64_t)v;
        }
        uint64_t tat = r->pos;
        if (rd_u32(r, &type, "tensor type") || rd_u64(r, &t->offset, "tensor offset"))
            return cf_err_prefix(err, "tensor '%s'", t->name);
        const cf_dtype_info *ti = cf_dtype_get((int)type);
        if (!ti) {
            const char *known = ggml_type_name(type);
            if (known)
                return cf_errf(err, CF_EUNSUPPORTED, "tensor '%s': tensor type %u (%s) at offset %" PRIu64
                               " is not supported", t->name, type, known, tat);
            return cf_errf(err, CF_EFORMAT, "tensor '%s': unknown tensor type %u at offset %" PRIu64,
                           t->name, type, tat);
        }
        t->type = (int)type;
        if (t->ne[0] % ti->block)
            return cf_errf(err, CF_EFORMAT, "tensor '%s' (info at offset %" PRIu64 "): row length %" PRId64
                           " is not a multiple of the %s block (%d)", t->name, t->info_off, t->ne[0], ti->name, ti->block);
        t->size = cf_gguf_tensor_nbytes(t->type, t->ne, t->n_dims);
        if (!t->size)
            return cf_errf(err, CF_EFORMAT, "tensor '%s' (info at offset %" PRIu64 "): byte size of the shape overflows",
                           t->name, t->info_off);
    }
    return 0;
}

typedef struct {
    uint64_t off, end;
    int64_t i;
} region;
static int region_cmp(const void *a, const void *b) {
    const region *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off ? 1 : (x->i > y->i) - (x->i < y->i);
}

static int place_tensors(cf_gguf *g, rd *r, uint64_t nt) {
    cf_err *err = r->err;
    uint64_t a = g->alignment;
    uint64_t data = (r->pos + a - 1) / a * a;
    if (data > g->size && nt > 0)
        return cf_errf(err, CF_EFORMAT, "truncated file: the data section would start at offset %" PRIu64
                       " (tensor infos end at %" PRIu64 ") but the file has %zu bytes", data, r->pos, g->size);
    g->data_off = data;
    uint64_t avail = data <= g->size ? g->size - data : 0;
    region *reg = malloc((nt ? nt : 1) * sizeof *reg);
    if (!reg) return cf_errf(err, CF_ENOMEM, "out of memory");
    int rc = 0;
    for (uint64_t i = 0; i < nt && !rc; i++) {
        cf_gguf_tensor *t = &g->t[i];
        if (t->offset % a)
            rc = cf_errf(err, CF_EFORMAT, "tensor '%s' (info at offset %" PRIu64 "): data offset %" PRIu64
                         " is not aligned to %" PRIu64, t->name, t->info_off, t->offset, a);
        else if (t->offset > avail || t->size > avail - t->offset)
            rc = cf_errf(err, CF_EFORMAT, "tensor '%s': data [%" PRIu64 ", +%" PRIu64 ") at file offset %" PRIu64
                         " runs past the end of the file (%zu bytes): truncated file or bad offset", t->name, t->offset, t->size,
                         data + t->offset, g->size);
        else {
            t->data = g->map + data + t->offset;
            reg[i] = (region){t->offset, t->offset + t->size, (int64_t)i};
        }
    }
    if (!rc && nt > 1) {
        qsort(reg, nt, sizeof *reg, region_cmp);
        for (uint64_t k = 1; k < nt && !rc; k++)
            if (reg[k].off < reg[k - 1].end) {
                const cf_gguf_tensor *p = &g->t[reg[k - 1].i], *q = &g->t[reg[k].i];
                rc = cf_errf(err, CF_EFORMAT, "tensor '%s' data at file offset %" PRIu64 " overlaps tensor '%s' "
                             "(file offsets %" PRIu64 "..%" PRIu64 ")", q->name, data + q->offset, p->name,
                             data + p->offset, data + p->offset + p->size);
            }
    }
    free(reg);
    return rc;
}

static int parse(cf_gguf *g, cf_err *err) {
    rd r = {g->map, g->size, 0, err};
    nameset keys = {0}, names = {0};
    uint64_t nt, nkv;
    int rc = parse_header(g, &r, &nt, &nkv);
    if (rc) return rc;
    g->alignment = CF_GGUF_DEFAULT_ALIGNMENT;
    rc = parse_kvs(g, &r, nkv, &keys);
    if (!rc) rc = parse_tensor_infos(g, &r, nt, &names);
    if (!rc) rc = place_tensors(g, &r, nt);
    free(keys.slot);
    free(names.slot);
    return rc;
}

int cf_gguf_open_mem(cf_gguf *g, const void *buf, size_t size, cf_err *err) {
    memset(g, 0, sizeof *g);
    g->map = buf;
    g->size = size;
    static const uint8_t empty[1];
    if (!g->map) {
        g->map = empty;
        g->size = 0;
    }
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
    if (g->kv)
        for (int64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].str_off);
        }
    if (g->t)
        for (int64_t i = 0; i < g->n_tensors; i++) free(g->t[i].name);
    free(g->kv);
    free(g->t);
    if (g->mapped) munmap((void *)g->map, g->size);
    memset(g, 0, sizeof *g);
}

/* ---- lookups and typed getters ---- */

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
        if (v > INT64_MAX)
            return cf_errf(err, CF_EFORMAT, "key '%s' (offset %" PRIu64 ") value %" PRIu64 " is out of range",
                           key, kv->off, v);
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

/* ---- text rendering ---- */

/* Appends s (n bytes) escaped: quotes, backslash and controls as C escapes, bytes that are not
 * valid UTF-8 as \xNN; at most `max` source bytes, then "...".  Never splits an escape or a
 * UTF-8 sequence, always leaves buf NUL-terminated. */
static void put_escaped(char *buf, size_t cap, size_t *k, const char *s, uint64_t n, size_t max) {
    const uint8_t *u = (const uint8_t *)s;
    uint64_t i = 0;
    while (i < n) {
        if (i >= max) {
            if (*k + 4 < cap) *k += (size_t)snprintf(buf + *k, cap - *k, "...");
            break;
        }
        char tmp[8];
        size_t tl = 0;
        uint64_t step = 1;
        uint8_t c = u[i];
        if (c == '\n') tl = (size_t)snprintf(tmp, sizeof tmp, "\\n");
        else if (c == '\t') tl = (size_t)snprintf(tmp, sizeof tmp, "\\t");
        else if (c == '"' || c == '\\') tl = (size_t)snprintf(tmp, sizeof tmp, "\\%c", c);
        else if (c < 32 || c == 127) tl = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c);
        else if (c < 128) tmp[tl++] = (char)c;
        else {
            /* a valid multi-byte sequence is copied whole; anything else is escaped */
            uint64_t lim = n - i < 4 ? n - i : 4, len = 0;
            for (uint64_t l = 2; l <= lim && !len; l++)
                if (cf_gguf_ident_bad_byte(u + i, l) == l) len = l;
            if (len) {
                memcpy(tmp, u + i, len);
                tl = len;
                step = len;
            } else {
                tl = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c);
            }
        }
        if (*k + tl + 4 >= cap) break;
        memcpy(buf + *k, tmp, tl);
        *k += tl;
        i += step;
    }
    buf[*k < cap ? *k : cap - 1] = 0;
}

void cf_gguf_format_value(const cf_gguf *g, const cf_gguf_kv *kv, char *buf, size_t cap, size_t max) {
    size_t k = 0;
    if (!cap) return;
    buf[0] = 0;
    if (cap < 16) return;
    if (kv->type == CF_GGUF_STRING) {
        cf_sv s;
        memcpy(&s.len, kv->val, 8);
        s.ptr = (const char *)kv->val + 8;
        buf[k++] = '"';
        put_escaped(buf, cap, &k, s.ptr, s.len, max);
        if (k + 2 < cap) {
            buf[k++] = '"';
            buf[k] = 0;
        }
        return;
    }
    if (kv->type == CF_GGUF_ARRAY) {
        k += (size_t)snprintf(buf, cap, "[%s x %" PRIu64 "]", cf_gguf_type_name(kv->arr_type), kv->n);
        uint64_t shown = kv->n < 4 ? kv->n : 4;
        for (uint64_t i = 0; i < shown && k + 40 < cap; i++) {
            buf[k++] = i ? ',' : ' ';
            if (i) buf[k++] = ' ';
            buf[k] = 0;
            if (kv->arr_type == CF_GGUF_STRING) {
                cf_sv s = cf_gguf_arr_str(g, kv, i);
                buf[k++] = '"';
                put_escaped(buf, cap, &k, s.ptr, s.len, max < 24 ? max : 24);
                if (k + 2 < cap) buf[k++] = '"';
                buf[k] = 0;
            } else if (kv->arr_type == CF_GGUF_BOOL) {
                k += (size_t)snprintf(buf + k, cap - k, "%s", cf_gguf_arr_num(kv, i) ? "true" : "false");
            } else {
                k += (size_t)snprintf(buf + k, cap - k, "%.9g", cf_gguf_arr_num(kv, i));
            }
        }
        if (kv->n > shown && k + 5 < cap) snprintf(buf + k, cap - k, ", ...");
        return;
    }
    double v = scalar_num(kv->type, kv->val);
    if (kv->type == CF_GGUF_BOOL) snprintf(buf, cap, "%s", v ? "true" : "false");
    else if (kv->type == CF_GGUF_F32 || kv->type == CF_GGUF_F64) snprintf(buf, cap, "%.9g", v);
    else if (kv->type == CF_GGUF_U64) { uint64_t u; memcpy(&u, kv->val, 8); snprintf(buf, cap, "%" PRIu64, u); }
    else if (kv->type == CF_GGUF_I64) { int64_t u; memcpy(&u, kv->val, 8); snprintf(buf, cap, "%" PRId64, u); }
    else snprintf(buf, cap, "%.0f", v);
}
