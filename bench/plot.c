/* SVG chart writer (see plot.h).  Layout: plot area left/top margins for the axis labels, the
 * legend to the right; ticks at 1/2/5 x 10^k steps (log2 axes: powers of two). */
#include "bench/plot.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    double x, y;
} pt;
typedef struct {
    char *name;
    pt *v;
    int n, cap;
} series;
typedef struct {
    double y;
    char *label;
} hline;

struct plot {
    char *title, *xlabel, *ylabel;
    char **cats;
    int ncat, logx;
    series *s;
    int ns;
    hline *h;
    int nh;
};

static const char *k_colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"};
enum { N_COLORS = sizeof k_colors / sizeof k_colors[0] };

static char *dup(const char *s) {
    s = s ? s : "";
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

plot *plot_new(const char *title, const char *xlabel, const char *ylabel) {
    plot *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->title = dup(title), p->xlabel = dup(xlabel), p->ylabel = dup(ylabel);
    if (!p->title || !p->xlabel || !p->ylabel) {
        plot_free(p);
        return NULL;
    }
    return p;
}

void plot_free(plot *p) {
    if (!p) return;
    free(p->title), free(p->xlabel), free(p->ylabel);
    for (int i = 0; i < p->ncat; i++) free(p->cats[i]);
    free(p->cats);
    for (int i = 0; i < p->ns; i++) free(p->s[i].name), free(p->s[i].v);
    free(p->s);
    for (int i = 0; i < p->nh; i++) free(p->h[i].label);
    free(p->h);
    free(p);
}

int plot_cats(plot *p, int n, const char *const *labels) {
    if (!p || n < 0 || p->ncat) return -1;
    p->cats = calloc(n ? n : 1, sizeof *p->cats);
    if (!p->cats) return -1;
    for (int i = 0; i < n; i++)
        if (!(p->cats[i] = dup(labels[i]))) return -1;
    p->ncat = n;
    return 0;
}

void plot_logx(plot *p, int on) {
    if (p) p->logx = on;
}

int plot_series(plot *p, const char *name) {
    if (!p) return -1;
    series *ns = realloc(p->s, sizeof *ns * (p->ns + 1));
    if (!ns) return -1;
    p->s = ns;
    memset(&p->s[p->ns], 0, sizeof *p->s);
    if (!(p->s[p->ns].name = dup(name))) return -1;
    return p->ns++;
}

int plot_add(plot *p, int si, double x, double y) {
    if (!p || si < 0 || si >= p->ns || !isfinite(x)) return -1;
    if (p->logx && !p->ncat && x <= 0) return -1;
    series *s = &p->s[si];
    if (s->n == s->cap) {
        int nc = s->cap ? 2 * s->cap : 16;
        pt *v = realloc(s->v, sizeof *v * nc);
        if (!v) return -1;
        s->v = v, s->cap = nc;
    }
    s->v[s->n++] = (pt){x, y};
    return 0;
}

int plot_hline(plot *p, double y, const char *label) {
    if (!p || !isfinite(y)) return -1;
    hline *nh = realloc(p->h, sizeof *nh * (p->nh + 1));
    if (!nh) return -1;
    p->h = nh;
    if (!(p->h[p->nh].label = dup(label))) return -1;
    p->h[p->nh++].y = y;
    return 0;
}

static void esc(FILE *f, const char *s) {
    for (; *s; s++) switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t') fputc(*s, f);
        }
}

/* 1/2/5 x 10^k step giving about `want` intervals over [lo, hi]. */
static double nice_step(double lo, double hi, int want) {
    double raw = (hi - lo) / want;
    if (!(raw > 0)) return 1;
    double e = pow(10, floor(log10(raw))), m = raw / e;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * e;
}

static void fmt_num(char *b, size_t cap, double v) {
    double a = fabs(v);
    if (a != 0 && (a >= 1e6 || a < 1e-3)) snprintf(b, cap, "%.3g", v);
    else snprintf(b, cap, "%.6g", v);
}

int plot_svg(const plot *p, FILE *f) {
    if (!p || !f) return -1;
    /* data ranges */
    double xmin = INFINITY, xmax = -INFINITY, ymin = 0, ymax = -INFINITY;
    for (int i = 0; i < p->ns; i++)
        for (int j = 0; j < p->s[i].n; j++) {
            pt v = p->s[i].v[j];
            if (!isfinite(v.y)) continue;
            double x = p->logx && !p->ncat ? log2(v.x) : v.x;
            if (x < xmin) xmin = x;
            if (x > xmax) xmax = x;
            if (v.y < ymin) ymin = v.y;
            if (v.y > ymax) ymax = v.y;
        }
    for (int i = 0; i < p->nh; i++) {
        if (p->h[i].y > ymax) ymax = p->h[i].y;
        if (p->h[i].y < ymin) ymin = p->h[i].y;
    }
    if (!isfinite(ymax)) ymax = 1;
    if (ymax <= ymin) ymax = ymin + 1;
    if (p->ncat) xmin = -0.5, xmax = p->ncat - 0.5;
    if (!isfinite(xmin)) xmin = 0, xmax = 1;
    if (xmax <= xmin) xmin -= 0.5, xmax += 0.5;
    double ystep = nice_step(ymin, ymax, 6);
    ymax = ceil(ymax / ystep - 1e-9) * ystep;
    ymin = floor(ymin / ystep + 1e-9) * ystep;

    /* geometry: rotated category labels need a taller bottom margin */
    size_t maxlab = 0;
    for (int i = 0; i < p->ncat; i++)
        if (strlen(p->cats[i]) > maxlab) maxlab = strlen(p->cats[i]);
    size_t maxleg = 0;
    for (int i = 0; i < p->ns; i++)
        if (strlen(p->s[i].name) > maxleg) maxleg = strlen(p->s[i].name);
    for (int i = 0; i < p->nh; i++)
        if (strlen(p->h[i].label) > maxleg) maxleg = strlen(p->h[i].label);
    double pw = p->ncat > 12 ? 14.0 * p->ncat * (p->ns > 2 ? 1.5 : 1) : 560, ph = 320;
    if (pw < 560) pw = 560;
    double ml = 80, mt = 50, mr = 40 + 7.0 * (double)(maxleg > 40 ? 40 : maxleg), mb = 60;
    int rot = p->ncat > 6;
    if (rot) mb = 40 + 6.0 * (double)(maxlab > 60 ? 60 : maxlab);
    double W = ml + pw + mr, H = mt + ph + mb;
#define XS(x) (ml + ((x) - xmin) / (xmax - xmin) * pw)
#define YS(y) (mt + ph - ((y) - ymin) / (ymax - ymin) * ph)

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">", ml + pw / 2);
    esc(f, p->title);
    fprintf(f, "</text>\n");
    /* y grid and ticks */
    char b[64];
    for (double y = ymin; y <= ymax + ystep * 1e-6; y += ystep) {
        double yy = YS(y);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", ml, yy, ml + pw, yy);
        fmt_num(b, sizeof b, fabs(y) < ystep * 1e-9 ? 0 : y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", ml - 6, yy + 4, b);
    }
    /* x ticks */
    if (p->ncat) {
        for (int i = 0; i < p->ncat; i++) {
            double xx = XS(i);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", xx, mt + ph, xx,
                    mt + ph + 4);
            if (rot)
                fprintf(f,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\" "
                        "transform=\"rotate(-45 %.1f %.1f)\">",
                        xx, mt + ph + 14, xx, mt + ph + 14);
            else
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", xx, mt + ph + 18);
            esc(f, p->cats[i]);
            fprintf(f, "</text>\n");
        }
    } else if (p->logx) {
        for (double e = ceil(xmin - 1e-9); e <= xmax + 1e-9; e += 1) {
            double xx = XS(e);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", xx, mt, xx, mt + ph);
            fmt_num(b, sizeof b, pow(2, e));
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", xx, mt + ph + 18, b);
        }
    } else {
        double xs = nice_step(xmin, xmax, 8);
        if (xs < 1 && xmax - xmin >= 1 && floor(xmin) == xmin) xs = 1; /* integer axes (threads) */
        for (double x = ceil(xmin / xs - 1e-9) * xs; x <= xmax + xs * 1e-6; x += xs) {
            double xx = XS(x);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", xx, mt, xx, mt + ph);
            fmt_num(b, sizeof b, x);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", xx, mt + ph + 18, b);
        }
    }
    /* axes and labels */
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", ml, mt + ph, ml + pw, mt + ph);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", ml, mt, ml, mt + ph);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ml + pw / 2, H - 10);
    esc(f, p->xlabel);
    fprintf(f, "</text>\n<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.1f)\">",
            mt + ph / 2, mt + ph / 2);
    esc(f, p->ylabel);
    fprintf(f, "</text>\n");
    /* data */
    if (p->ncat) {
        double gw = pw / p->ncat * 0.8, bw = gw / (p->ns ? p->ns : 1);
        for (int i = 0; i < p->ns; i++)
            for (int j = 0; j < p->s[i].n; j++) {
                pt v = p->s[i].v[j];
                if (!isfinite(v.y) || v.x < 0 || v.x >= p->ncat) continue;
                double x0 = XS(v.x) - gw / 2 + i * bw, y0 = YS(v.y > 0 ? v.y : 0), y1 = YS(v.y > 0 ? 0 : v.y);
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x0, y0, bw,
                        y1 - y0, k_colors[i % N_COLORS]);
                esc(f, p->s[i].name);
                fmt_num(b, sizeof b, v.y);
                fprintf(f, ": %s</title></rect>\n", b);
            }
    } else {
        for (int i = 0; i < p->ns; i++) {
            const char *col = k_colors[i % N_COLORS];
            int started = 0;
            for (int j = 0; j < p->s[i].n; j++) {
                pt v = p->s[i].v[j];
                if (!isfinite(v.y)) continue;
                double x = p->logx ? log2(v.x) : v.x;
                if (!started) fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
                fprintf(f, "%s%.1f,%.1f", started ? " " : "", XS(x), YS(v.y));
                started = 1;
            }
            if (started) fprintf(f, "\"/>\n");
            for (int j = 0; j < p->s[i].n; j++) {
                pt v = p->s[i].v[j];
                if (!isfinite(v.y)) continue;
                double x = p->logx ? log2(v.x) : v.x;
                fmt_num(b, sizeof b, v.y);
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%s</title></circle>\n", XS(x),
                        YS(v.y), col, b);
            }
        }
    }
    for (int i = 0; i < p->nh; i++) {
        double yy = YS(p->h[i].y);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444444\" stroke-dasharray=\"6,4\"/>\n",
                ml, yy, ml + pw, yy);
    }
    /* legend: series, then reference lines */
    double ly = mt + 8;
    for (int i = 0; i < p->ns; i++, ly += 18) {
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"%s\"/>\n", ml + pw + 12, ly - 9,
                k_colors[i % N_COLORS]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", ml + pw + 32, ly);
        esc(f, p->s[i].name);
        fprintf(f, "</text>\n");
    }
    for (int i = 0; i < p->nh; i++, ly += 18) {
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444444\" stroke-dasharray=\"6,4\"/>\n",
                ml + pw + 12, ly - 4, ml + pw + 26, ly - 4);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", ml + pw + 32, ly);
        esc(f, p->h[i].label);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
#undef XS
#undef YS
    return ferror(f) ? -1 : 0;
}

int plot_write_svg(const plot *p, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int rc = plot_svg(p, f);
    if (fclose(f)) rc = -1;
    return rc;
}

int plot_mkdir(const char *dir) {
    char buf[1024];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++)
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0777) && errno != EEXIST) return -1;
            buf[i] = c;
        }
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

void plot_slug(char *dst, size_t cap, const char *src) {
    size_t k = 0;
    for (; *src && k + 1 < cap; src++) {
        char c = *src;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '_' || c == '-';
        dst[k++] = ok ? c : '_';
    }
    if (cap) dst[k] = 0;
}
