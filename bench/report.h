/* A small generic "table of named columns" writer shared by the benchmarks: add columns, add
 * rows, set cells by column, then write the whole table as Markdown, CSV or JSON.
 *
 *   rep_table *t = rep_new();
 *   rep_meta(t, "commit", "%s", sha);                 // key/value lines above the table
 *   int c_name = rep_col(t, "kernel", REP_STR), c_ns = rep_col(t, "ns_call", REP_NUM);
 *   rep_row(t); rep_str(t, c_name, "rmsnorm"); rep_num(t, c_ns, 123.4, 1);
 *   rep_write(t, stdout, REP_MD);  rep_free(t);
 *
 * Markdown: meta as "- key: value" lines, then a padded pipe table (numeric columns right-
 * aligned).  CSV: RFC 4180 quoting, one header line, no meta.  JSON: {"meta": {...}, "rows":
 * [{"col": value, ...}, ...]} with numeric cells as numbers, unset/non-finite cells as null. */
#ifndef CF_REPORT_H
#define CF_REPORT_H
#include <stdio.h>

typedef enum { REP_MD = 0, REP_CSV = 1, REP_JSON = 2 } rep_format;
typedef enum { REP_STR = 0, REP_NUM = 1 } rep_kind;

typedef struct rep_table rep_table;

rep_table *rep_new(void);
void rep_free(rep_table *t);
/* "md" | "csv" | "json" -> format, -1 if unknown. */
int rep_format_parse(const char *s);

void rep_meta(rep_table *t, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds a column; returns its index (columns may not be added after the first row). */
int rep_col(rep_table *t, const char *name, rep_kind kind);
/* Starts a new row; cells not set stay empty (null in JSON). */
void rep_row(rep_table *t);
void rep_str(rep_table *t, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Numeric cell printed with `prec` decimals (non-finite: empty / null). */
void rep_num(rep_table *t, int col, double v, int prec);
int rep_nrows(const rep_table *t);

/* Writes the table; returns 0, or -1 on a write error. */
int rep_write(const rep_table *t, FILE *f, rep_format fmt);

#endif
