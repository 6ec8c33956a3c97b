/* `cinfer gguf MODEL [--json] [--full] [--no-tensors]`: a GGUF file's header, metadata, tensor
 * table and totals.  Values are shown compactly (strings escaped and truncated, arrays as their
 * element type, length and first few elements) unless --full.  Exit 2 on a bad file. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quant.h"
#include "model/gguf.h"
#include "tools/cli.h"

#define STR_MAX_SHORT 60      /* bytes of a string value shown by default */
#define ARR_HEAD_JSON 8       /* array elements listed in --json without --full */

static void usage(FILE *f) {
    fprintf(f, "usage: cinfer gguf MODEL.gguf [--json] [--full] [--no-tensors]\n"
               "  prints the version, alignment, metadata, tensor table (name, type, shape, bytes,\n"
               "  offset) and totals (tensors, parameters, bytes, bytes per type)\n"
               "  --json        machine-readable output\n"
               "  --full        do not truncate strings or arrays\n"
               "  --no-tensors  omit the per-tensor table (totals are still printed)\n");
}

/* JSON string: escapes quotes, backslash, controls; bytes that are not valid UTF-8 as \u00XX. */
static void json_str(FILE *f, const char *s, uint64_t n, uint64_t max) {
    const uint8_t *u = (const uint8_t *)s;
    fputc('"', f);
    uint64_t i = 0;
    while (i < n && i < max) {
        uint8_t c = u[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else if (c < 0x80) fputc(c, f);
        else {
            int len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
            int ok = len && (uint64_t)len <= n - i;
            uint32_t cp = ok ? (uint32_t)(c & (0x7f >> len)) : 0;
            for (int k = 1; ok && k < len; k++) {
                if ((u[i + k] & 0xc0) != 0x80) ok = 0;
                cp = (cp << 6) | (u[i + k] & 0x3f);
            }
            static const uint32_t mins[5] = {0, 0, 0x80, 0x800, 0x10000};
            if (ok && (cp < mins[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = 0;
            if (ok) {
                fwrite(u + i, 1, (size_t)len, f);
                i += (uint64_t)len;
                continue;
            }
            fprintf(f, "\\u%04x", c);
        }
        i++;
    }
    if (i < n) fputs("...", f);
    fputc('"', f);
}

static void json_num(FILE *f, int type, double v) {
    if (type == CF_GGUF_BOOL) fputs(v ? "true" : "false", f);
    else if (v != v || v - v != 0) fputs("null", f);          /* NaN / inf are not JSON */
    else fprintf(f, "%.17g", v);
}

static void json_value(FILE *f, const cf_gguf *g, const cf_gguf_kv *kv, int full) {
    if (kv->type == CF_GGUF_STRING) {
        cf_sv s;
        cf_gguf_get_str(g, kv->key, &s, NULL);
        json_str(f, s.ptr, s.len, full ? UINT64_MAX : 4096);
    } else if (kv->type == CF_GGUF_ARRAY) {
        uint64_t shown = full ? kv->n : (kv->n < ARR_HEAD_JSON ? kv->n : ARR_HEAD_JSON);
        fprintf(f, "{\"array\": \"%s\", \"n\": %" PRIu64 ", \"%s\": [", cf_gguf_type_name(kv->arr_type), kv->n,
                shown == kv->n ? "values" : "head");
        for (uint64_t i = 0; i < shown; i++) {
            if (i) fputs(", ", f);
            if (kv->arr_type == CF_GGUF_STRING) {
                cf_sv s = cf_gguf_arr_str(g, kv, i);
                json_str(f, s.ptr, s.len, full ? UINT64_MAX : 256);
            } else if (kv->arr_type == CF_GGUF_U64 || kv->arr_type == CF_GGUF_I64) {
                uint64_t u;
                memcpy(&u, kv->val + 8 * i, 8);
                if (kv->arr_type == CF_GGUF_U64) fprintf(f, "%" PRIu64, u);
                else fprintf(f, "%" PRId64, (int64_t)u);
            } else {
                json_num(f, kv->arr_type, cf_gguf_arr_num(kv, i));
            }
        }
        fputs("]}", f);
    } else if (kv->type == CF_GGUF_U64 || kv->type == CF_GGUF_I64) {
        uint64_t u;
        memcpy(&u, kv->val, 8);
        if (kv->type == CF_GGUF_U64) fprintf(f, "%" PRIu64, u);
        else fprintf(f, "%" PRId64, (int64_t)u);
    } else {
        double v;
        cf_gguf_get_float(g, kv->key, &v, NULL);
        json_num(f, kv->type, v);
    }
}

static void shape_str(const cf_gguf_tensor *t, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (int d = 0; d < t->n_dims && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, d ? " x " : "", t->ne[d]);
}

typedef struct {
    int64_t n_tensors, n_params;
    uint64_t bytes;
    int64_t count[CF_T_COUNT], params[CF_T_COUNT];
    uint64_t tbytes[CF_T_COUNT];
} totals;

static void sum_totals(const cf_gguf *g, totals *s) {
    memset(s, 0, sizeof *s);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const cf_gguf_tensor *t = &g->t[i];
        int64_t ne = cf_gguf_tensor_nelements(t);
        s->n_tensors++;
        s->n_params += ne;
        s->bytes += t->size;
        s->count[t->type]++;
        s->params[t->type] += ne;
        s->tbytes[t->type] += t->size;
    }
}

static void print_json(const char *path, const cf_gguf *g, int full, int tensors) {
    FILE *f = stdout;
    totals s;
    sum_totals(g, &s);
    fputs("{\"file\": ", f);
    json_str(f, path, strlen(path), UINT64_MAX);
    fprintf(f, ", \"size\": %zu, \"version\": %u, \"alignment\": %" PRIu64 ", \"data_offset\": %" PRIu64 ",\n",
            g->size, g->version, g->alignment, g->data_off);
    fputs(" \"metadata\": {", f);
    for (int64_t i = 0; i < g->n_kv; i++) {
        const cf_gguf_kv *kv = &g->kv[i];
        fputs(i ? ",\n  " : "\n  ", f);
        json_str(f, kv->key, strlen(kv->key), UINT64_MAX);
        fputs(": ", f);
        json_value(f, g, kv, full);
    }
    fputs("},\n", f);
    if (tensors) {
        fputs(" \"tensors\": [", f);
        for (int64_t i = 0; i < g->n_tensors; i++) {
            const cf_gguf_tensor *t = &g->t[i];
            fputs(i ? ",\n  " : "\n  ", f);
            fputs("{\"name\": ", f);
            json_str(f, t->name, strlen(t->name), UINT64_MAX);
            fprintf(f, ", \"type\": \"%s\", \"shape\": [", cf_dtype_get(t->type)->name);
            for (int d = 0; d < t->n_dims; d++) fprintf(f, "%s%" PRId64, d ? ", " : "", t->ne[d]);
            fprintf(f, "], \"bytes\": %" PRIu64 ", \"offset\": %" PRIu64 "}", t->size, g->data_off + t->offset);
        }
        fputs("],\n", f);
    }
    fprintf(f, " \"totals\": {\"tensors\": %" PRId64 ", \"params\": %" PRId64 ", \"bytes\": %" PRIu64 ", \"by_type\": {",
            s.n_tensors, s.n_params, s.bytes);
    int first = 1;
    for (int t = 0; t < CF_T_COUNT; t++)
        if (s.count[t]) {
            fprintf(f, "%s\"%s\": {\"tensors\": %" PRId64 ", \"params\": %" PRId64 ", \"bytes\": %" PRIu64 "}",
                    first ? "" : ", ", cf_dtype_get(t)->name, s.count[t], s.params[t], s.tbytes[t]);
            first = 0;
        }
    fputs("}}}\n", f);
}

static void print_text(const char *path, const cf_gguf *g, int full, int tensors) {
    FILE *f = stdout;
    totals s;
    sum_totals(g, &s);
    fprintf(f, "%s: GGUF v%u, %zu bytes, alignment %" PRIu64 ", data section at offset %" PRIu64 "\n", path,
            g->version, g->size, g->alignment, g->data_off);
    fprintf(f, "\nmetadata (%" PRId64 " entries):\n", g->n_kv);
    size_t kw = 8;
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strlen(g->kv[i].key) > kw) kw = strlen(g->kv[i].key);
    if (kw > 48) kw = 48;
    size_t cap = full ? 1u << 20 : 512;
    char *buf = malloc(cap);
    for (int64_t i = 0; buf && i < g->n_kv; i++) {
        const cf_gguf_kv *kv = &g->kv[i];
        char ty[24];
        if (kv->type == CF_GGUF_ARRAY) snprintf(ty, sizeof ty, "%s[]", cf_gguf_type_name(kv->arr_type));
        else snprintf(ty, sizeof ty, "%s", cf_gguf_type_name(kv->type));
        cf_gguf_format_value(g, kv, buf, cap, full ? cap : STR_MAX_SHORT);
        fprintf(f, "  %-*s %-8s %s\n", (int)kw, kv->key, ty, buf);
    }
    free(buf);
    if (tensors && g->n_tensors) {
        size_t nw = 4;
        for (int64_t i = 0; i < g->n_tensors; i++)
            if (strlen(g->t[i].name) > nw) nw = strlen(g->t[i].name);
        fprintf(f, "\ntensors (%" PRId64 "):\n  %5s %-*s %-5s %-24s %12s %12s\n", g->n_tensors, "#", (int)nw, "name",
                "type", "shape", "bytes", "offset");
        for (int64_t i = 0; i < g->n_tensors; i++) {
            const cf_gguf_tensor *t = &g->t[i];
            char sh[96];
            shape_str(t, sh, sizeof sh);
            fprintf(f, "  %5" PRId64 " %-*s %-5s %-24s %12" PRIu64 " %12" PRIu64 "\n", i, (int)nw, t->name,
                    cf_dtype_get(t->type)->name, sh, t->size, g->data_off + t->offset);
        }
    }
    fprintf(f, "\ntotals: %" PRId64 " tensors, %" PRId64 " parameters (%.2f M), %" PRIu64 " bytes (%.2f MiB)\n",
            s.n_tensors, s.n_params, s.n_params / 1e6, s.bytes, s.bytes / 1048576.0);
    for (int t = 0; t < CF_T_COUNT; t++)
        if (s.count[t])
            fprintf(f, "  %-5s %5" PRId64 " tensors %12" PRId64 " params %14" PRIu64 " bytes (%5.1f%%, %.3f bits/param)\n",
                    cf_dtype_get(t)->name, s.count[t], s.params[t], s.tbytes[t],
                    s.bytes ? 100.0 * (double)s.tbytes[t] / (double)s.bytes : 0.0,
                    8.0 * (double)s.tbytes[t] / (double)s.params[t]);
}

int cmd_gguf(int argc, char **argv) {
    const char *cmd = "gguf", *path = NULL;
    int json = 0, full = 0, tensors = 1;
    if (cli_init_runtime(cmd)) return CLI_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--full")) full = 1;
        else if (!strcmp(a, "--no-tensors")) tensors = 0;
        else if (a[0] == '-' && a[1]) return cli_unknown(cmd, a);
        else if (path) return cli_usage_error(cmd, "one MODEL expected, got '%s' and '%s'", path, a);
        else path = a;
    }
    if (!path) {
        usage(stderr);
        return CLI_USAGE;
    }
    cf_gguf g;
    cf_err e;
    if (cf_gguf_open(&g, path, &e)) return cli_usage_error(cmd, "%s", e.msg);
    if (json) print_json(path, &g, full, tensors);
    else print_text(path, &g, full, tensors);
    cf_gguf_close(&g);
    return CLI_OK;
}
