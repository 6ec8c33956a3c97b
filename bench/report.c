/* Table writer (see report.h).  Cells are stored as strings; kinds only affect alignment and
 * JSON typing. */
#include "bench/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    rep_kind kind;
} col;

struct rep_table {
    col *cols;
    int ncol, capcol;
    char **cells; /* nrow x ncol, NULL = empty */
    int nrow, caprow;
    char **meta; /* key, value pairs */
    int nmeta, capmeta;
};

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "cinfer: out of memory (report table)\n");
        abort();
    }
    return q;
}

static char *vfmt(const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *s = xrealloc(NULL, (size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(s, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
    return s;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

rep_table *rep_new(void) {
    rep_table *t = calloc(1, sizeof *t);
    if (!t) abort();
    return t;
}

void rep_free(rep_table *t) {
    if (!t) return;
    for (int i = 0; i < t->ncol; i++) free(t->cols[i].name);
    for (long i = 0; i < (long)t->nrow * t->ncol; i++) free(t->cells[i]);
    for (int i = 0; i < 2 * t->nmeta; i++) free(t->meta[i]);
    free(t->cols), free(t->cells), free(t->meta), free(t);
}

int rep_format_parse(const char *s) {
    if (!strcmp(s, "md")) return REP_MD;
    if (!strcmp(s, "csv")) return REP_CSV;
    if (!strcmp(s, "json")) return REP_JSON;
    return -1;
}

void rep_meta(rep_table *t, const char *key, const char *fmt, ...) {
    if (t->nmeta == t->capmeta) {
        t->capmeta = t->capmeta ? 2 * t->capmeta : 8;
        t->meta = xrealloc(t->meta, sizeof(char *) * 2 * t->capmeta);
    }
    va_list ap;
    va_start(ap, fmt);
    t->meta[2 * t->nmeta] = xstrdup(key);
    t->meta[2 * t->nmeta + 1] = vfmt(fmt, ap);
    va_end(ap);
    t->nmeta++;
}

int rep_col(rep_table *t, const char *name, rep_kind kind) {
    if (t->nrow) return -1;
    if (t->ncol == t->capcol) {
        t->capcol = t->capcol ? 2 * t->capcol : 16;
        t->cols = xrealloc(t->cols, sizeof(col) * t->capcol);
    }
    t->cols[t->ncol] = (col){xstrdup(name), kind};
    return t->ncol++;
}

void rep_row(rep_table *t) {
    if (t->nrow == t->caprow) {
        t->caprow = t->caprow ? 2 * t->caprow : 64;
        t->cells = xrealloc(t->cells, sizeof(char *) * (size_t)t->caprow * t->ncol);
    }
    memset(t->cells + (size_t)t->nrow * t->ncol, 0, sizeof(char *) * t->ncol);
    t->nrow++;
}

int rep_nrows(const rep_table *t) { return t->nrow; }

static char **cell(rep_table *t, int c) {
    if (!t->nrow || c < 0 || c >= t->ncol) return NULL;
    return &t->cells[(size_t)(t->nrow - 1) * t->ncol + c];
}

void rep_str(rep_table *t, int c, const char *fmt, ...) {
    char **p = cell(t, c);
    if (!p) return;
    va_list ap;
    va_start(ap, fmt);
    free(*p);
    *p = vfmt(fmt, ap);
    va_end(ap);
}

void rep_num(rep_table *t, int c, double v, int prec) {
    char **p = cell(t, c);
    if (!p) return;
    free(*p);
    *p = NULL;
    if (!isfinite(v)) return;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", prec < 0 ? 0 : prec > 12 ? 12 : prec, v);
    *p = xstrdup(buf);
}

/* ---- writers ---- */

static const char *at(const rep_table *t, int r, int c) {
    const char *s = t->cells[(size_t)r * t->ncol + c];
    return s ? s : "";
}

/* Display width: UTF-8 characters, plus one per '|' (escaped). */
static int md_width(const char *s) {
    int n = 0;
    for (const char *p = s; *p; p++) n += (((unsigned char)*p & 0xC0) != 0x80) + (*p == '|');
    return n;
}

static void md_cell(FILE *f, const char *s, int w, int right) {
    int n = md_width(s);
    fputc(' ', f);
    if (right) fprintf(f, "%*s", w - n, "");
    for (const char *p = s; *p; p++) {
        if (*p == '|') fputc('\\', f);
        fputc(*p == '\n' ? ' ' : *p, f);
    }
    if (!right) fprintf(f, "%*s", w - n, "");
    fputs(" |", f);
}

static void write_md(const rep_table *t, FILE *f) {
    for (int i = 0; i < t->nmeta; i++) fprintf(f, "- %s: %s\n", t->meta[2 * i], t->meta[2 * i + 1]);
    if (t->nmeta) fputc('\n', f);
    int *w = calloc(t->ncol ? t->ncol : 1, sizeof(int));
    if (!w) abort();
    for (int c = 0; c < t->ncol; c++) {
        w[c] = md_width(t->cols[c].name);
        if (w[c] < 3) w[c] = 3;
        for (int r = 0; r < t->nrow; r++) {
            int n = md_width(at(t, r, c));
            if (n > w[c]) w[c] = n;
        }
    }
    fputc('|', f);
    for (int c = 0; c < t->ncol; c++) md_cell(f, t->cols[c].name, w[c], 0);
    fputs("\n|", f);
    for (int c = 0; c < t->ncol; c++) {
        fputc(' ', f);
        for (int k = 0; k < w[c] - 1; k++) fputc('-', f);
        fputc(t->cols[c].kind == REP_NUM ? ':' : '-', f);
        fputs(" |", f);
    }
    fputc('\n', f);
    for (int r = 0; r < t->nrow; r++) {
        fputc('|', f);
        for (int c = 0; c < t->ncol; c++) md_cell(f, at(t, r, c), w[c], t->cols[c].kind == REP_NUM);
        fputc('\n', f);
    }
    free(w);
}

static void csv_cell(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static void write_csv(const rep_table *t, FILE *f) {
    for (int c = 0; c < t->ncol; c++) {
        if (c) fputc(',', f);
        csv_cell(f, t->cols[c].name);
    }
    fputc('\n', f);
    for (int r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) {
            if (c) fputc(',', f);
            csv_cell(f, at(t, r, c));
        }
        fputc('\n', f);
    }
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void write_json(const rep_table *t, FILE *f) {
    fputs("{\n  \"meta\": {", f);
    for (int i = 0; i < t->nmeta; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        json_str(f, t->meta[2 * i]);
        fputs(": ", f);
        json_str(f, t->meta[2 * i + 1]);
    }
    fputs(t->nmeta ? "\n  },\n  \"rows\": [" : "},\n  \"rows\": [", f);
    for (int r = 0; r < t->nrow; r++) {
        fputs(r ? ",\n    {" : "\n    {", f);
        for (int c = 0; c < t->ncol; c++) {
            if (c) fputs(", ", f);
            json_str(f, t->cols[c].name);
            fputs(": ", f);
            const char *s = t->cells[(size_t)r * t->ncol + c];
            if (!s)
                fputs("null", f);
            else if (t->cols[c].kind == REP_NUM)
                fputs(s, f);
            else
                json_str(f, s);
        }
        fputc('}', f);
    }
    fputs(t->nrow ? "\n  ]\n}\n" : "]\n}\n", f);
}

int rep_write(const rep_table *t, FILE *f, rep_format fmt) {
    if (fmt == REP_CSV)
        write_csv(t, f);
    else if (fmt == REP_JSON)
        write_json(t, f);
    else
        write_md(t, f);
    return ferror(f) ? -1 : 0;
}
