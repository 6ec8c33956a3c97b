/* A small SVG chart writer for the benchmarks (no dependencies): line charts over a numeric x
 * axis (optionally log2) or grouped bar charts over categories, with axes, ticks, labels, a
 * legend and optional horizontal reference lines.
 *
 *   plot *p = plot_new("tg tokens/s vs threads", "threads", "tokens/s");
 *   int s = plot_series(p, "q4_0");  plot_add(p, s, 1, 41.2);  plot_add(p, s, 2, 70.3);
 *   plot_hline(p, 100, "roofline");           // dashed reference line
 *   plot_write_svg(p, "out/tg.svg");  plot_free(p);
 *
 * Bar charts: plot_cats(p, n, labels) first; then plot_add(p, s, i, y) sets category i's bar
 * of series s.  Points with a non-finite y are skipped.  Text is XML-escaped. */
#ifndef CF_PLOT_H
#define CF_PLOT_H
#include <stdio.h>

typedef struct plot plot;

plot *plot_new(const char *title, const char *xlabel, const char *ylabel);
void plot_free(plot *p);
/* Categorical x axis (grouped bars); labels are copied. */
int plot_cats(plot *p, int n, const char *const *labels);
/* Log2 x axis for line charts (thread counts, sequence counts); x must be > 0. */
void plot_logx(plot *p, int on);
/* Adds a series (legend entry); returns its index or -1. */
int plot_series(plot *p, const char *name);
/* Adds a point (line) or sets a bar (categories: x = category index); returns 0 or -1. */
int plot_add(plot *p, int series, double x, double y);
/* A dashed horizontal line at y with a label (e.g. "ideal", "100% of limit"). */
int plot_hline(plot *p, double y, const char *label);

/* Writes the chart as a standalone SVG document; returns 0 or -1 (write error). */
int plot_svg(const plot *p, FILE *f);
int plot_write_svg(const plot *p, const char *path);

/* mkdir -p; returns 0 or -1.  For --plot DIR. */
int plot_mkdir(const char *dir);
/* A file name made from free text: [A-Za-z0-9._-], others become '_'. */
void plot_slug(char *dst, size_t cap, const char *src);

#endif
