/* GGUF reader and writer: round trips, every shared file, and a table of malformed images (each
 * must give its own error code and message, never a crash; run under ASan by `make asan`). */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/quant.h"
#include "model/gguf.h"
#include "model/gguf_write.h"
#include "tests/testutil.h"

#define FLIP_TRIALS 20000   /* random single-byte corruptions of the small image */

/* ---- building images ---- */

static void fill_bytes(uint8_t *p, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(tu_rand_u64(&seed) >> 56);
}

/* Writes all tensor data of w (bytes from a seed per tensor) and finishes; returns the image. */
static uint8_t *finish_mem(cf_gguf_writer *w, size_t *size) {
    cf_err e;
    ck_assert_msg(cf_gguf_w_begin_mem(w, &e) == 0, "%s", e.msg);
    for (int64_t i = 0; i < cf_gguf_w_n_tensors(w); i++) {
        size_t n = (size_t)cf_gguf_w_tensor_bytes(w, i);
        uint8_t *buf = malloc(n);
        fill_bytes(buf, n, 1000 + (uint64_t)i);
        /* odd chunking on purpose: the writer must not care */
        size_t k = 0;
        while (k < n) {
            size_t c = (n - k) < 7 ? n - k : 7 + (k % 13);
            if (c > n - k) c = n - k;
            ck_assert_msg(cf_gguf_w_write(w, buf + k, c, &e) == 0, "%s", e.msg);
            k += c;
        }
        free(buf);
    }
    ck_assert_msg(cf_gguf_w_finish(w, &e) == 0, "%s", e.msg);
    uint8_t *img = cf_gguf_w_take_mem(w, size);
    ck_assert_ptr_nonnull(img);
    return img;
}

/* The small image of the malformed-file table:
 *   kv: general.architecture="llama", test.aaa u32, test.aab bool, test.arr [i32 x 3],
 *       test.strs [string x 2]
 *   tensors: a f32 [8, 2] (64 B), b q8_0 [32, 2] (68 B), c f16 [16] (32 B, ends the file) */
static uint8_t *small_image(size_t *size, uint32_t alignment) {
    cf_err e;
    cf_gguf_writer *w = cf_gguf_w_new();
    if (alignment != 32) ck_assert_int_eq(cf_gguf_w_set_alignment(w, alignment, &e), 0);
    int32_t arr[3] = {1, -2, 3};
    const char *strs[2] = {"x", "yz"};
    ck_assert_int_eq(cf_gguf_w_set_str(w, "general.architecture", "llama", &e), 0);
    ck_assert_int_eq(cf_gguf_w_set_u32(w, "test.aaa", 7, &e), 0);
    ck_assert_int_eq(cf_gguf_w_set_bool(w, "test.aab", 1, &e), 0);
    ck_assert_int_eq(cf_gguf_w_set_arr(w, "test.arr", CF_GGUF_I32, arr, 3, &e), 0);
    ck_assert_int_eq(cf_gguf_w_set_arr_str(w, "test.strs", strs, NULL, 2, &e), 0);
    int64_t ne_a[2] = {8, 2}, ne_b[2] = {32, 2}, ne_c[1] = {16};
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, "a", CF_T_F32, ne_a, 2, &e), 0);
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, "b", CF_T_Q8_0, ne_b, 2, &e), 0);
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, "c", CF_T_F16, ne_c, 1, &e), 0);
    uint8_t *img = finish_mem(w, size);
    cf_gguf_w_free(w);
    return img;
}

/* Opens a copy of img[0..n) in an exactly-sized buffer (so ASan sees any read past the end). */
static int open_copy(const uint8_t *img, size_t n, cf_err *e) {
    uint8_t *buf = malloc(n ? n : 1);
    if (n) memcpy(buf, img, n);
    cf_gguf g;
    memset(e, 0, sizeof *e);
    int rc = cf_gguf_open_mem(&g, buf, n, e);
    if (rc == 0) {
        /* touch every tensor byte and every string: all must be inside the buffer */
        unsigned sum = 0;
        for (int64_t i = 0; i < g.n_tensors; i++)
            for (uint64_t k = 0; k < g.t[i].size; k++) sum += ((const uint8_t *)g.t[i].data)[k];
        for (int64_t i = 0; i < g.n_kv; i++)
            if (g.kv[i].type == CF_GGUF_ARRAY && g.kv[i].arr_type == CF_GGUF_STRING)
                for (uint64_t k = 0; k < g.kv[i].n; k++) {
                    cf_sv s = cf_gguf_arr_str(&g, &g.kv[i], k);
                    for (uint64_t j = 0; j < s.len; j++) sum += (uint8_t)s.ptr[j];
                }
        (void)sum;
        cf_gguf_close(&g);
    } else {
        ck_assert_msg(e->msg[0] != 0, "error %d without a message", rc);
        ck_assert_int_eq(e->code, rc);
    }
    free(buf);
    return rc;
}

/* File offset where metadata entry i starts (its key's u64 length). */
static uint64_t kv_start(const cf_gguf *g, int64_t i) {
    const cf_gguf_kv *kv = &g->kv[i];
    uint64_t hdr = kv->type == CF_GGUF_ARRAY ? 12 : 0;
    return kv->off - hdr - 4 - strlen(kv->key) - 8;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Field offsets of the small image, found by parsing it. */
typedef struct {
    uint64_t key[5], val[5];          /* kv i: start of the entry, start of the value */
    uint64_t tinfo[3], tndims[3], tdim0[3], ttype[3], toff[3];
    uint64_t data_off, size;
} layout;

static layout small_layout(const uint8_t *img, size_t size) {
    layout L;
    cf_gguf g;
    cf_err e;
    ck_assert_msg(cf_gguf_open_mem(&g, img, size, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(g.n_kv, 5);
    ck_assert_int_eq(g.n_tensors, 3);
    for (int i = 0; i < 5; i++) {
        L.key[i] = kv_start(&g, i);
        L.val[i] = g.kv[i].off;
    }
    for (int i = 0; i < 3; i++) {
        uint64_t nl = strlen(g.t[i].name);
        L.tinfo[i] = g.t[i].info_off;
        L.tndims[i] = L.tinfo[i] + 8 + nl;
        L.tdim0[i] = L.tndims[i] + 4;
        L.ttype[i] = L.tdim0[i] + 8 * (uint64_t)g.t[i].n_dims;
        L.toff[i] = L.ttype[i] + 4;
    }
    L.data_off = g.data_off;
    L.size = size;
    cf_gguf_close(&g);
    return L;
}

/* ---- the malformed-file table ---- */

typedef struct {
    const char *what;
    void (*mutate)(uint8_t *img, const layout *L, size_t *size);
    int code;
    const char *expect;   /* distinctive substring of the message */
} bad_case;

#define MUT(name) static void name(uint8_t *m, const layout *L, size_t *size)
MUT(m_magic) { (void)L; (void)size; memcpy(m, "GGUX", 4); }
MUT(m_short) { (void)m; (void)L; *size = 3; }
MUT(m_v1) { (void)L; (void)size; put_u32(m + 4, 1); }
MUT(m_v9) { (void)L; (void)size; put_u32(m + 4, 9); }
MUT(m_vswap) { (void)L; (void)size; put_u32(m + 4, 0x03000000u); }
MUT(m_nt_cap) { (void)L; (void)size; put_u64(m + 8, 1ull << 40); }
MUT(m_nkv_cap) { (void)L; (void)size; put_u64(m + 16, UINT64_MAX); }
MUT(m_nt_big) { (void)L; (void)size; put_u64(m + 8, 100000); }
MUT(m_keylen_max) { (void)size; put_u64(m + L->key[0], UINT64_MAX); }
MUT(m_keylen_big) { (void)size; put_u64(m + L->key[0], 70000); }
MUT(m_key_empty) { (void)size; put_u64(m + L->key[1], 0); }
MUT(m_key_utf8) { (void)size; m[L->key[1] + 8 + 2] = 0xff; }
MUT(m_key_ctrl) { (void)size; m[L->key[1] + 8 + 2] = '\n'; }
MUT(m_key_dup) { (void)size; m[L->key[2] + 8 + 7] = 'a'; }     /* test.aab -> test.aaa */
MUT(m_vtype) { (void)size; put_u32(m + L->val[1] - 4, 99); }
MUT(m_strlen_max) { (void)size; put_u64(m + L->val[0], UINT64_MAX); }
MUT(m_strlen_past) { (void)size; put_u64(m + L->val[0], 1u << 20); }
MUT(m_bool) { (void)size; m[L->val[2]] = 2; }
MUT(m_arr_nested) { (void)size; put_u32(m + L->val[3] - 12, CF_GGUF_ARRAY); }
MUT(m_arr_etype) { (void)size; put_u32(m + L->val[3] - 12, 77); }
MUT(m_arr_cap) { (void)size; put_u64(m + L->val[3] - 8, 1ull << 40); }
MUT(m_arr_past) { (void)size; put_u64(m + L->val[3] - 8, 1ull << 31); }
MUT(m_strarr_count) { (void)size; put_u64(m + L->val[4] - 8, 1ull << 31); }
MUT(m_strarr_elem) { (void)size; put_u64(m + L->val[4], UINT64_MAX - 3); }
MUT(m_name_empty) { (void)size; put_u64(m + L->tinfo[1], 0); }
MUT(m_name_long) { (void)size; put_u64(m + L->tinfo[1], 65); }
MUT(m_name_utf8) { (void)size; m[L->tinfo[1] + 8] = 0xc0; }
MUT(m_name_dup) { (void)size; m[L->tinfo[1] + 8] = 'a'; }
MUT(m_ndims0) { (void)size; put_u32(m + L->tndims[0], 0); }
MUT(m_ndims5) { (void)size; put_u32(m + L->tndims[0], 5); }
MUT(m_dim0) { (void)size; put_u64(m + L->tdim0[0] + 8, 0); }
MUT(m_dim_huge) { (void)size; put_u64(m + L->tdim0[0], 1ull << 63); }
MUT(m_nel_ovf) { (void)size; put_u64(m + L->tdim0[0], 1ull << 32); put_u64(m + L->tdim0[0] + 8, 1ull << 32); }
MUT(m_bytes_ovf) { (void)size; put_u64(m + L->tdim0[0], 1ull << 31); put_u64(m + L->tdim0[0] + 8, 1ull << 31); }
MUT(m_type_unknown) { (void)size; put_u32(m + L->ttype[0], 99); }
MUT(m_type_iq) { (void)size; put_u32(m + L->ttype[0], 16); }
MUT(m_block) { (void)size; put_u64(m + L->tdim0[1], 16); }
MUT(m_off_misaligned) { (void)size; uint64_t o; memcpy(&o, m + L->toff[1], 8); put_u64(m + L->toff[1], o + 4); }
MUT(m_off_past) { (void)size; put_u64(m + L->toff[0], 1ull << 40); }
MUT(m_off_end) { (void)size; uint64_t o; memcpy(&o, m + L->toff[2], 8); put_u64(m + L->toff[2], o + 32); }
MUT(m_overlap) { (void)size; uint64_t o; memcpy(&o, m + L->toff[0], 8); put_u64(m + L->toff[2], o + 32); }
MUT(m_cut_header) { (void)m; *size = 20; (void)L; }
MUT(m_cut_kv) { (void)m; *size = L->key[3]; }
MUT(m_cut_info) { (void)m; *size = L->tinfo[2] + 3; }
MUT(m_cut_pad) { (void)m; *size = L->data_off - 1; }
MUT(m_cut_data) { (void)m; *size = L->size - 1; }
#undef MUT

static const bad_case k_bad[] = {
    {"bad magic", m_magic, CF_EFORMAT, "bad magic at offset 0"},
    {"3-byte file", m_short, CF_EFORMAT, "< 4 bytes"},
    {"version 1", m_v1, CF_EUNSUPPORTED, "version 1"},
    {"unknown version", m_v9, CF_EFORMAT, "unknown GGUF version 9"},
    {"byte-swapped version", m_vswap, CF_EUNSUPPORTED, "big-endian"},
    {"tensor count over the cap", m_nt_cap, CF_ELIMIT, "tensor count 1099511627776"},
    {"metadata count over the cap", m_nkv_cap, CF_ELIMIT, "metadata count"},
    {"tensor count the file cannot hold", m_nt_big, CF_EFORMAT, "corrupt counts"},
    {"key length 2^64-1", m_keylen_max, CF_EFORMAT, "string length 18446744073709551615"},
    {"key longer than 65535", m_keylen_big, CF_EFORMAT, "cap of 65535"},
    {"empty key", m_key_empty, CF_EFORMAT, "empty key"},
    {"key not UTF-8", m_key_utf8, CF_EFORMAT, "invalid byte 0xff"},
    {"key with a control char", m_key_ctrl, CF_EFORMAT, "invalid byte 0x0a"},
    {"duplicate key", m_key_dup, CF_EFORMAT, "duplicate metadata key 'test.aaa'"},
    {"invalid value type", m_vtype, CF_EFORMAT, "invalid value type 99"},
    {"string length 2^64-1", m_strlen_max, CF_EFORMAT, "key 'general.architecture'"},
    {"string past the end", m_strlen_past, CF_EFORMAT, "string value"},
    {"bool value 2", m_bool, CF_EFORMAT, "has value 2"},
    {"array of arrays", m_arr_nested, CF_EUNSUPPORTED, "array of arrays"},
    {"array element type 77", m_arr_etype, CF_EFORMAT, "invalid element type 77"},
    {"array count over the cap", m_arr_cap, CF_ELIMIT, "claims 1099511627776"},
    {"array past the end", m_arr_past, CF_EFORMAT, "runs past the end"},
    {"string array count", m_strarr_count, CF_EFORMAT, "more than the file can hold"},
    {"string array element length", m_strarr_elem, CF_EFORMAT, "element 0"},
    {"empty tensor name", m_name_empty, CF_EFORMAT, "empty name"},
    {"tensor name of 65 bytes", m_name_long, CF_EFORMAT, "limit of 64 bytes"},
    {"tensor name not UTF-8", m_name_utf8, CF_EFORMAT, "invalid byte 0xc0"},
    {"duplicate tensor name", m_name_dup, CF_EFORMAT, "duplicate tensor name 'a'"},
    {"n_dims 0", m_ndims0, CF_EFORMAT, "n_dims 0"},
    {"n_dims 5", m_ndims5, CF_EFORMAT, "n_dims 5"},
    {"zero dim", m_dim0, CF_EFORMAT, "dim 1 at offset"},
    {"dim 2^63", m_dim_huge, CF_EFORMAT, "element count overflow"},
    {"element count overflow", m_nel_ovf, CF_EFORMAT, "dim 1 = 4294967296"},
    {"byte size overflow", m_bytes_ovf, CF_EFORMAT, "byte size of the shape overflows"},
    {"unknown tensor type", m_type_unknown, CF_EFORMAT, "unknown tensor type 99"},
    {"unsupported tensor type", m_type_iq, CF_EUNSUPPORTED, "iq2_xxs"},
    {"row not a multiple of the block", m_block, CF_EFORMAT, "not a multiple of the q8_0 block"},
    {"misaligned data offset", m_off_misaligned, CF_EFORMAT, "is not aligned to 32"},
    {"data offset past the end", m_off_past, CF_EFORMAT, "runs past the end of the file"},
    {"data ending past the file", m_off_end, CF_EFORMAT, "tensor 'c': data"},
    {"overlapping tensor data", m_overlap, CF_EFORMAT, "overlaps tensor 'a'"},
    {"truncated in the header", m_cut_header, CF_EFORMAT, "metadata count at offset 16"},
    {"truncated in the metadata", m_cut_kv, CF_EFORMAT, "truncated"},
    {"truncated in the tensor infos", m_cut_info, CF_EFORMAT, "truncated"},
    {"truncated in the padding", m_cut_pad, CF_EFORMAT, "data section would start"},
    {"truncated in the data", m_cut_data, CF_EFORMAT, "tensor 'c'"},
};

START_TEST(test_malformed_table) {
    size_t size;
    uint8_t *img = small_image(&size, 32);
    layout L = small_layout(img, size);
    cf_err e;
    ck_assert_int_eq(open_copy(img, size, &e), 0);
    uint8_t *m = malloc(size);
    for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
        const bad_case *c = &k_bad[i];
        size_t n = size;
        memcpy(m, img, size);
        c->mutate(m, &L, &n);
        int rc = open_copy(m, n, &e);
        ck_assert_msg(rc == c->code, "%s: code %d (%s), want %d: %s", c->what, rc, cf_err_name(rc), c->code, e.msg);
        ck_assert_msg(strstr(e.msg, c->expect) != NULL, "%s: message '%s' lacks '%s'", c->what, e.msg, c->expect);
        /* every message names a byte offset (or the file size, for the shortest files) */
        ck_assert_msg(strstr(e.msg, "offset") || strstr(e.msg, "bytes"), "%s: no offset in '%s'", c->what, e.msg);
        if (getenv("CINFER_TEST_VERBOSE")) printf("| %s | %s | %s |\n", c->what, cf_err_name(rc), e.msg);
    }
    free(m);
    free(img);
}
END_TEST

START_TEST(test_alignment_table) {
    size_t size;
    uint8_t *img = small_image(&size, 64);
    cf_gguf g;
    cf_err e;
    ck_assert_msg(cf_gguf_open_mem(&g, img, size, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(g.alignment, 64);
    ck_assert_int_eq(g.data_off % 64, 0);
    for (int64_t i = 0; i < g.n_tensors; i++) ck_assert_int_eq(g.t[i].offset % 64, 0);
    const cf_gguf_kv *kv = cf_gguf_get(&g, "general.alignment");
    ck_assert_ptr_nonnull(kv);
    uint64_t at = kv->off;
    cf_gguf_close(&g);
    static const struct { uint32_t type, val; int code; const char *expect; } cases[] = {
        {CF_GGUF_I32, 64, CF_EFORMAT, "must be u32, is i32"},
        {CF_GGUF_F32, 64, CF_EFORMAT, "must be u32, is f32"},
        {CF_GGUF_U32, 0, CF_EFORMAT, "alignment 0 at offset"},
        {CF_GGUF_U32, 48, CF_EFORMAT, "not a power of two"},
        {CF_GGUF_U32, 4, CF_EFORMAT, "alignment 4"},
        {CF_GGUF_U32, 1u << 30, CF_EFORMAT, "alignment 1073741824"},
        {CF_GGUF_U32, 32, CF_EFORMAT, "is not aligned to 32"},   /* data padded for 64, offsets fine... */
    };
    uint8_t *m = malloc(size);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(m, img, size);
        put_u32(m + at - 4, cases[i].type);
        put_u32(m + at, cases[i].val);
        int rc = open_copy(m, size, &e);
        if (cases[i].val == 32) {
            /* 32 divides 64: offsets stay aligned, but the data section now starts earlier than the
             * writer placed it, so the file is still valid (different bytes per tensor) */
            ck_assert_msg(rc == 0, "alignment 32: %s", e.msg);
            continue;
        }
        ck_assert_msg(rc == cases[i].code, "case %zu: %d %s", i, rc, e.msg);
        ck_assert_msg(strstr(e.msg, cases[i].expect), "case %zu: '%s' lacks '%s'", i, e.msg, cases[i].expect);
    }
    free(m);
    free(img);
}
END_TEST

/* Truncation at every byte: always an error, never a crash or a read past the end. */
START_TEST(test_truncate_every_byte) {
    size_t size;
    uint8_t *img = small_image(&size, 32);
    cf_err e;
    for (size_t n = 0; n < size; n++) {
        int rc = open_copy(img, n, &e);
        ck_assert_msg(rc == CF_EFORMAT, "cut at %zu: rc %d (%s)", n, rc, e.msg);
    }
    free(img);
}
END_TEST

/* Random byte corruptions: any result is fine except a crash, a hang or a silent bad read. */
START_TEST(test_random_flips) {
    size_t size;
    uint8_t *img = small_image(&size, 32);
    layout L = small_layout(img, size);
    uint8_t *m = malloc(size);
    uint64_t s = 42;
    cf_err e;
    for (int k = 0; k < FLIP_TRIALS; k++) {
        memcpy(m, img, size);
        int nflips = 1 + (int)(tu_rand_u64(&s) % 3);
        for (int f = 0; f < nflips; f++) {
            size_t at = (size_t)(tu_rand_u64(&s) % L.data_off);   /* the header: data bytes are free */
            m[at] = (uint8_t)tu_rand_u64(&s);
        }
        open_copy(m, size, &e);
    }
    free(m);
    free(img);
}
END_TEST

/* The same for a real file: truncation at every byte of its header and at every section boundary. */
START_TEST(test_truncate_stories) {
    if (!tu_have_shared()) return;
    size_t size;
    char *img = tu_read_file(tu_shared("models/stories260K.gguf"), &size);
    ck_assert_ptr_nonnull(img);
    cf_gguf g;
    cf_err e;
    ck_assert_msg(cf_gguf_open_mem(&g, img, size, &e) == 0, "%s", e.msg);
    uint64_t data_off = g.data_off;
    /* section boundaries: header fields, each kv, each tensor info, each tensor's data */
    uint64_t cuts[512];
    int nc = 0;
    uint64_t fixed[] = {0, 4, 8, 16, 24};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) cuts[nc++] = fixed[i];
    for (int64_t i = 0; i < g.n_kv; i++) cuts[nc++] = kv_start(&g, i);
    for (int64_t i = 0; i < g.n_tensors; i++) {
        cuts[nc++] = g.t[i].info_off;
        cuts[nc++] = g.data_off + g.t[i].offset;
        cuts[nc++] = g.data_off + g.t[i].offset + g.t[i].size - 1;
    }
    cuts[nc++] = data_off;
    cf_gguf_close(&g);
    for (int i = 0; i < nc; i++) {
        int rc = open_copy((const uint8_t *)img, (size_t)cuts[i], &e);
        ck_assert_msg(rc == CF_EFORMAT, "cut at %" PRIu64 ": rc %d (%s)", cuts[i], rc, e.msg);
    }
    for (size_t n = 0; n <= data_off; n += 1 + n / 4096) {
        int rc = open_copy((const uint8_t *)img, n, &e);
        ck_assert_msg(rc == CF_EFORMAT, "cut at %zu: rc %d (%s)", n, rc, e.msg);
    }
    free(img);
}
END_TEST

/* Corruptions of a real file at fields found by parsing it. */
START_TEST(test_mutate_stories) {
    if (!tu_have_shared()) return;
    size_t size;
    uint8_t *img = (uint8_t *)tu_read_file(tu_shared("models/stories260K.gguf"), &size);
    ck_assert_ptr_nonnull(img);
    cf_gguf g;
    cf_err e;
    ck_assert_msg(cf_gguf_open_mem(&g, img, size, &e) == 0, "%s", e.msg);
    const cf_gguf_kv *tok = cf_gguf_get(&g, "tokenizer.ggml.tokens");
    uint64_t tok100 = tok->str_off[100];                   /* u64 length of token 100 */
    uint64_t ttype_off = cf_gguf_get(&g, "tokenizer.ggml.token_type")->off - 12;
    const cf_gguf_tensor *t10 = &g.t[10], *t4 = &g.t[4];
    uint64_t t10_type = t10->info_off + 8 + strlen(t10->name) + 4 + 8 * (uint64_t)t10->n_dims;
    uint64_t t10_off = t10_type + 4, t10_dim1 = t10->info_off + 8 + strlen(t10->name) + 4 + 8;
    uint64_t t4_off = t4->info_off + 8 + strlen(t4->name) + 4 + 8 * (uint64_t)t4->n_dims + 4;
    uint64_t t10_data = t10->offset, t4_data = t4->offset;
    cf_gguf_close(&g);
    struct { uint64_t at; int width; uint64_t val; int code; const char *expect; } cases[] = {
        {tok100, 8, UINT64_MAX, CF_EFORMAT, "key 'tokenizer.ggml.tokens' element 100"},
        {tok100, 8, 1u << 24, CF_EFORMAT, "truncated"},
        {ttype_off, 4, CF_GGUF_ARRAY, CF_EUNSUPPORTED, "array of arrays"},
        {t10_type, 4, 40, CF_EFORMAT, "unknown tensor type 40"},
        {t10_off, 8, t10_data + 8, CF_EFORMAT, "not aligned to 32"},
        {t10_off, 8, t4_data, CF_EFORMAT, "overlaps"},
        {t4_off, 8, t10_data + 32, CF_EFORMAT, "overlaps"},
        {t10_dim1, 8, 0, CF_EFORMAT, "is zero"},
        {t10_dim1, 8, 1u << 30, CF_EFORMAT, "runs past the end"},
        {4, 4, 2, 0, NULL},                                    /* v2 has the same layout: still valid */
    };
    uint8_t *m = malloc(size);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(m, img, size);
        if (cases[i].width == 4) put_u32(m + cases[i].at, (uint32_t)cases[i].val);
        else put_u64(m + cases[i].at, cases[i].val);
        int rc = open_copy(m, size, &e);
        ck_assert_msg(rc == cases[i].code, "case %zu: rc %d (%s)", i, rc, e.msg);
        if (cases[i].expect)
            ck_assert_msg(strstr(e.msg, cases[i].expect), "case %zu: '%s' lacks '%s'", i, e.msg, cases[i].expect);
    }
    free(m);
    free(img);
}
END_TEST

/* Every file under ../shared/models and models/vocab opens cleanly. */
static int open_dir(const char *rel) {
    DIR *d = opendir(tu_shared(rel));
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".gguf")) continue;
        char rel2[512];
        snprintf(rel2, sizeof rel2, "%s/%s", rel, de->d_name);
        cf_gguf g;
        cf_err e;
        ck_assert_msg(cf_gguf_open(&g, tu_shared(rel2), &e) == 0, "%s", e.msg);
        ck_assert_int_ge(g.n_kv, 1);
        cf_sv arch;
        ck_assert_int_eq(cf_gguf_get_str(&g, "general.architecture", &arch, &e), 0);
        const cf_gguf_kv *tok = cf_gguf_get(&g, "tokenizer.ggml.tokens");
        ck_assert_ptr_nonnull(tok);
        ck_assert_int_eq(tok->arr_type, CF_GGUF_STRING);
        ck_assert_int_ge(tok->n, 256);
        char buf[256];
        for (int64_t i = 0; i < g.n_kv; i++) {
            cf_gguf_format_value(&g, &g.kv[i], buf, sizeof buf, 40);
            ck_assert(strlen(buf) < sizeof buf);
        }
        cf_gguf_close(&g);
        n++;
    }
    closedir(d);
    return n;
}

START_TEST(test_shared_files) {
    if (!tu_have_shared()) return;
    ck_assert_int_ge(open_dir("models"), 7);
    ck_assert_int_ge(open_dir("models/vocab"), 6);
    cf_gguf g;
    cf_err e;
    ck_assert_int_ne(cf_gguf_open(&g, tu_shared("models/aidreams260K.bin"), &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "bad magic"));
    ck_assert_int_eq(cf_gguf_open(&g, tu_shared("models/no-such-file.gguf"), &e), CF_EIO);
    ck_assert_int_eq(cf_gguf_open(&g, tu_shared("models"), &e), CF_EIO);
}
END_TEST

/* ---- writer round trip ---- */

START_TEST(test_roundtrip) {
    for (int pass = 0; pass < 2; pass++) {
        uint32_t align = pass ? 128 : 32;
        cf_err e;
        cf_gguf_writer *w = cf_gguf_w_new();
        if (pass) ck_assert_int_eq(cf_gguf_w_set_alignment(w, align, &e), 0);
        uint8_t u8 = 200, b = 1;
        int8_t i8 = -100;
        uint16_t u16 = 60000;
        int16_t i16 = -30000;
        uint32_t u32 = 4000000000u;
        int32_t i32 = -2000000000;
        float f32 = 3.25f;
        uint64_t u64 = UINT64_MAX - 5;
        int64_t i64 = INT64_MIN + 7;
        double f64 = -1.0 / 3.0;
        const void *vals[] = {&u8, &i8, &u16, &i16, &u32, &i32, &f32, &b, NULL, NULL, &u64, &i64, &f64};
        char key[64];
        for (int t = 0; t < CF_GGUF_NTYPES; t++) {
            if (!vals[t]) continue;
            snprintf(key, sizeof key, "s.%s", cf_gguf_type_name(t));
            ck_assert_int_eq(cf_gguf_w_set(w, key, t, vals[t], &e), 0);
            /* array of 5 of each numeric type */
            uint8_t arr[5 * 8];
            for (int k = 0; k < 5; k++) memcpy(arr + k * cf_gguf_type_size(t), vals[t], cf_gguf_type_size(t));
            snprintf(key, sizeof key, "a.%s", cf_gguf_type_name(t));
            ck_assert_int_eq(cf_gguf_w_set_arr(w, key, t, arr, 5, &e), 0);
        }
        const char weird[] = "tab\there \"q\" \xff\xfe caf\xc3\xa9 \xe2\x96\x81";
        ck_assert_int_eq(cf_gguf_w_set_strn(w, "s.string", weird, sizeof weird - 1, &e), 0);
        ck_assert_int_eq(cf_gguf_w_set_str(w, "s.empty", "", &e), 0);
        const char *strs[4] = {"", "a", weird, "<0x0A>"};
        uint64_t lens[4] = {0, 1, sizeof weird - 1, 6};
        ck_assert_int_eq(cf_gguf_w_set_arr_str(w, "a.string", strs, lens, 4, &e), 0);
        ck_assert_int_eq(cf_gguf_w_set_arr(w, "a.empty", CF_GGUF_F32, NULL, 0, &e), 0);
        ck_assert_int_eq(cf_gguf_w_set_arr_str(w, "a.empty_str", NULL, NULL, 0, &e), 0);
        /* replacing keeps the position, removing drops it */
        ck_assert_int_eq(cf_gguf_w_set_u32(w, "s.replaced", 1, &e), 0);
        ck_assert_int_eq(cf_gguf_w_set_str(w, "s.replaced", "now a string", &e), 0);
        ck_assert_int_eq(cf_gguf_w_set_u32(w, "s.removed", 1, &e), 0);
        ck_assert_int_eq(cf_gguf_w_remove(w, "s.removed"), 1);
        ck_assert_int_eq(cf_gguf_w_remove(w, "s.removed"), 0);
        /* one tensor of every type with a known size, shapes of 1..4 dims */
        int ntens = 0;
        for (int t = 0; t < CF_T_COUNT; t++) {
            const cf_dtype_info *ti = cf_dtype_get(t);
            if (!ti) continue;
            int64_t ne[4] = {ti->block * (1 + ntens % 3), 1 + ntens % 2, 2, 3};
            char name[64];
            snprintf(name, sizeof name, "t.%s", ti->name);
            ck_assert_msg(cf_gguf_w_add_tensor(w, name, t, ne, 1 + ntens % 4, &e) == 0, "%s", e.msg);
            ntens++;
        }
        size_t size;
        uint8_t *img = finish_mem(w, &size);
        cf_gguf_w_free(w);
        ck_assert_int_eq(size % align, 0);

        cf_gguf g;
        ck_assert_msg(cf_gguf_open_mem(&g, img, size, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(g.version, 3);
        ck_assert_int_eq(g.alignment, align);
        ck_assert_int_eq(g.n_tensors, ntens);
        for (int t = 0; t < CF_GGUF_NTYPES; t++) {
            if (!vals[t]) continue;
            snprintf(key, sizeof key, "s.%s", cf_gguf_type_name(t));
            const cf_gguf_kv *kv = cf_gguf_get(&g, key);
            ck_assert_ptr_nonnull(kv);
            ck_assert_int_eq(kv->type, t);
            ck_assert(memcmp(kv->val, vals[t], cf_gguf_type_size(t)) == 0);
            snprintf(key, sizeof key, "a.%s", cf_gguf_type_name(t));
            kv = cf_gguf_get(&g, key);
            ck_assert_int_eq(kv->type, CF_GGUF_ARRAY);
            ck_assert_int_eq(kv->arr_type, t);
            ck_assert_int_eq(kv->n, 5);
            ck_assert(memcmp(kv->val + 4 * cf_gguf_type_size(t), vals[t], cf_gguf_type_size(t)) == 0);
        }
        int64_t iv;
        double dv;
        ck_assert_int_eq(cf_gguf_get_int(&g, "s.i64", &iv, &e), 0);
        ck_assert(iv == i64);
        ck_assert_int_eq(cf_gguf_get_int(&g, "s.u64", &iv, &e), CF_EFORMAT);   /* > INT64_MAX */
        ck_assert_int_eq(cf_gguf_get_float(&g, "s.f64", &dv, &e), 0);
        ck_assert(dv == f64);
        ck_assert_int_eq(cf_gguf_get_int(&g, "s.f32", &iv, &e), CF_EFORMAT);
        ck_assert_int_eq(cf_gguf_get_int(&g, "nope", &iv, &e), -1);
        cf_sv sv;
        ck_assert_int_eq(cf_gguf_get_str(&g, "s.string", &sv, &e), 0);
        ck_assert_int_eq(sv.len, sizeof weird - 1);
        ck_assert(memcmp(sv.ptr, weird, sv.len) == 0);
        ck_assert_int_eq(cf_gguf_get_str(&g, "s.empty", &sv, &e), 0);
        ck_assert_int_eq(sv.len, 0);
        ck_assert_int_eq(cf_gguf_get_str(&g, "s.replaced", &sv, &e), 0);
        ck_assert_int_eq(cf_gguf_get_str(&g, "s.u8", &sv, &e), CF_EFORMAT);
        ck_assert_ptr_null(cf_gguf_get(&g, "s.removed"));
        const cf_gguf_kv *as = cf_gguf_get(&g, "a.string");
        ck_assert_int_eq(as->n, 4);
        for (int k = 0; k < 4; k++) {
            cf_sv x = cf_gguf_arr_str(&g, as, (uint64_t)k);
            ck_assert_int_eq(x.len, lens[k]);
            ck_assert(memcmp(x.ptr, strs[k], x.len) == 0);
        }
        ck_assert_int_eq(cf_gguf_get(&g, "a.empty")->n, 0);
        ck_assert_int_eq(cf_gguf_get(&g, "a.empty_str")->n, 0);
        /* tensors: shape, type, offsets aligned, bytes identical to what was written */
        for (int64_t i = 0; i < g.n_tensors; i++) {
            const cf_gguf_tensor *t = &g.t[i];
            ck_assert_int_eq(t->offset % align, 0);
            ck_assert_int_eq(((const uint8_t *)t->data - img) % align, 0);
            uint8_t *want = malloc(t->size);
            fill_bytes(want, t->size, 1000 + (uint64_t)i);
            ck_assert(memcmp(t->data, want, t->size) == 0);
            free(want);
        }
        /* re-writing a file's metadata with copy_kv reproduces the header exactly */
        cf_gguf_writer *w2 = cf_gguf_w_new();
        for (int64_t i = 0; i < g.n_kv; i++) ck_assert_int_eq(cf_gguf_w_copy_kv(w2, &g, &g.kv[i], &e), 0);
        for (int64_t i = 0; i < g.n_tensors; i++)
            ck_assert_int_eq(cf_gguf_w_add_tensor(w2, g.t[i].name, g.t[i].type, g.t[i].ne, g.t[i].n_dims, &e), 0);
        size_t size2;
        uint8_t *img2 = finish_mem(w2, &size2);
        cf_gguf_w_free(w2);
        ck_assert_int_eq(size2, size);
        ck_assert(memcmp(img2, img, size) == 0);
        free(img2);
        cf_gguf_close(&g);
        free(img);
    }
}
END_TEST

START_TEST(test_writer_file_and_errors) {
    cf_err e;
    char path[] = "/tmp/cf_gguf_w_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    struct stat st;

    /* a file target streams to PATH.tmp and renames on finish */
    cf_gguf_writer *w = cf_gguf_w_new();
    int64_t ne[2] = {64, 3};
    ck_assert_int_eq(cf_gguf_w_set_str(w, "general.architecture", "llama", &e), 0);
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, "w", CF_T_Q4_0, ne, 2, &e), 0);
    ck_assert_int_eq(cf_gguf_w_tensor_bytes(w, 0), 3 * 2 * 18);
    ck_assert_int_eq(cf_gguf_w_begin_file(w, path, &e), 0);
    ck_assert_int_eq(stat(tmp, &st), 0);
    uint8_t data[108];
    fill_bytes(data, sizeof data, 5);
    ck_assert_int_eq(cf_gguf_w_write(w, data, 100, &e), 0);
    ck_assert_int_eq(cf_gguf_w_current(w), 0);
    ck_assert_int_eq(cf_gguf_w_finish(w, &e), CF_EINVAL);      /* 8 bytes missing */
    ck_assert_ptr_nonnull(strstr(e.msg, "got 100 of 108"));
    cf_gguf_w_free(w);
    ck_assert_int_ne(stat(tmp, &st), 0);                        /* abandoned: temporary removed */

    w = cf_gguf_w_new();
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, "w", CF_T_Q4_0, ne, 2, &e), 0);
    ck_assert_int_eq(cf_gguf_w_begin_file(w, path, &e), 0);
    ck_assert_int_eq(cf_gguf_w_write(w, data, sizeof data, &e), 0);
    ck_assert_int_eq(cf_gguf_w_current(w), 1);
    ck_assert_int_eq(cf_gguf_w_write(w, data, 1, &e), CF_EINVAL);   /* beyond the last tensor */
    cf_gguf_w_free(w);

    w = cf_gguf_w_new();
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, "w", CF_T_Q4_0, ne, 2, &e), 0);
    ck_assert_int_eq(cf_gguf_w_begin_file(w, path, &e), 0);
    ck_assert_int_eq(cf_gguf_w_write(w, data, sizeof data, &e), 0);
    ck_assert_int_eq(cf_gguf_w_finish(w, &e), 0);
    cf_gguf_w_free(w);
    ck_assert_int_ne(stat(tmp, &st), 0);
    cf_gguf g;
    ck_assert_msg(cf_gguf_open(&g, path, &e) == 0, "%s", e.msg);
    ck_assert(memcmp(g.t[0].data, data, sizeof data) == 0);
    cf_gguf_close(&g);
    unlink(path);

    /* bad declarations */
    w = cf_gguf_w_new();
    int64_t bad_ne[2] = {33, 2}, zero_ne[2] = {32, 0};
    ck_assert_int_eq(cf_gguf_w_set_u32(w, "", 1, &e), CF_EINVAL);
    ck_assert_int_eq(cf_gguf_w_set_u32(w, "bad\xff", 1, &e), CF_EINVAL);
    ck_assert_int_eq(cf_gguf_w_set_u32(w, "general.alignment", 12, &e), CF_EINVAL);
    ck_assert_int_eq(cf_gguf_w_set_f32(w, "general.alignment", 64, &e), CF_EINVAL);
    uint8_t two = 2;
    ck_assert_int_eq(cf_gguf_w_set(w, "b", CF_GGUF_BOOL, &two, &e), CF_EINVAL);
    ck_assert_int_eq(cf_gguf_w_set(w, "s", CF_GGUF_STRING, "x", &e), CF_EINVAL);
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, "x", CF_T_Q8_0, bad_ne, 2, &e), CF_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "block"));
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, "x", CF_T_Q8_0, zero_ne, 2, &e), CF_EINVAL);
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, "x", 4, ne, 2, &e), CF_EINVAL);
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, "x", CF_T_F32, ne, 5, &e), CF_EINVAL);
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, "", CF_T_F32, ne, 2, &e), CF_EINVAL);
    char longname[80];
    memset(longname, 'n', 65);
    longname[65] = 0;
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, longname, CF_T_F32, ne, 2, &e), CF_EINVAL);
    longname[64] = 0;
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, longname, CF_T_F32, ne, 2, &e), 0);   /* 64 is allowed */
    ck_assert_int_eq(cf_gguf_w_add_tensor(w, longname, CF_T_F32, ne, 2, &e), CF_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "duplicate"));
    ck_assert_int_eq(cf_gguf_w_set_alignment(w, 64, &e), CF_EINVAL);             /* after tensors */
    ck_assert_int_eq(cf_gguf_w_write(w, data, 1, &e), CF_EINVAL);                /* before begin */
    ck_assert_int_eq(cf_gguf_w_begin_file(w, "/nonexistent-dir/x.gguf", &e), CF_EIO);
    cf_gguf_w_free(w);
}
END_TEST

START_TEST(test_format_value) {
    cf_err e;
    cf_gguf_writer *w = cf_gguf_w_new();
    const char s[] = "line1\nline2 \"q\" \\ \x01 \xff caf\xc3\xa9";
    ck_assert_int_eq(cf_gguf_w_set_strn(w, "s", s, sizeof s - 1, &e), 0);
    float fl[6] = {1.5f, 2, 3, 4, 5, 6};
    ck_assert_int_eq(cf_gguf_w_set_arr(w, "f", CF_GGUF_F32, fl, 6, &e), 0);
    const char *strs[2] = {"\xe2\x96\x81the", "x"};
    ck_assert_int_eq(cf_gguf_w_set_arr_str(w, "t", strs, NULL, 2, &e), 0);
    ck_assert_int_eq(cf_gguf_w_set_bool(w, "b", 1, &e), 0);
    size_t size;
    uint8_t *img = finish_mem(w, &size);
    cf_gguf_w_free(w);
    cf_gguf g;
    ck_assert_int_eq(cf_gguf_open_mem(&g, img, size, &e), 0);
    char buf[256];
    cf_gguf_format_value(&g, cf_gguf_get(&g, "s"), buf, sizeof buf, 100);
    ck_assert_str_eq(buf, "\"line1\\nline2 \\\"q\\\" \\\\ \\x01 \\xff caf\xc3\xa9\"");
    cf_gguf_format_value(&g, cf_gguf_get(&g, "s"), buf, sizeof buf, 4);
    ck_assert_str_eq(buf, "\"line...\"");
    cf_gguf_format_value(&g, cf_gguf_get(&g, "f"), buf, sizeof buf, 100);
    ck_assert_str_eq(buf, "[f32 x 6] 1.5, 2, 3, 4, ...");
    cf_gguf_format_value(&g, cf_gguf_get(&g, "t"), buf, sizeof buf, 100);
    ck_assert_str_eq(buf, "[string x 2] \"\xe2\x96\x81the\", \"x\"");
    cf_gguf_format_value(&g, cf_gguf_get(&g, "b"), buf, sizeof buf, 100);
    ck_assert_str_eq(buf, "true");
    /* tiny buffers stay terminated */
    for (size_t cap = 1; cap < 40; cap++) {
        char small[40];
        memset(small, 'Z', sizeof small);
        cf_gguf_format_value(&g, cf_gguf_get(&g, "s"), small, cap, 100);
        ck_assert(memchr(small, 0, cap) != NULL);
        ck_assert(small[cap] == 'Z' || cap == sizeof small);
    }
    cf_gguf_close(&g);
    free(img);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("gguf");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_malformed_table);
    tcase_add_test(tc, test_alignment_table);
    tcase_add_test(tc, test_truncate_every_byte);
    tcase_add_test(tc, test_random_flips);
    tcase_add_test(tc, test_truncate_stories);
    tcase_add_test(tc, test_mutate_stories);
    tcase_add_test(tc, test_shared_files);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_writer_file_and_errors);
    tcase_add_test(tc, test_format_value);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
