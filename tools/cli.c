#include "tools/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/act_scale.h"
#include "kernels/cpu.h"
#include "kernels/tuning.h"

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "cinfer %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_USAGE;
}

int cli_long(const char *cmd, const char *flag, const char *val, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end)
        return cli_usage_error(cmd, "%s: '%s' is not an integer", flag, val);
    if (v < lo || v > hi) return cli_usage_error(cmd, "%s: %ld is out of range [%ld, %ld]", flag, v, lo, hi);
    *out = v;
    return 0;
}

int cli_int(const char *cmd, const char *flag, const char *val, int lo, int hi, int *out) {
    long v;
    int rc = cli_long(cmd, flag, val, lo, hi, &v);
    if (!rc) *out = (int)v;
    return rc;
}

int cli_double(const char *cmd, const char *flag, const char *val, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || v != v)
        return cli_usage_error(cmd, "%s: '%s' is not a number", flag, val);
    if (v < lo || v > hi) return cli_usage_error(cmd, "%s: %g is out of range [%g, %g]", flag, v, lo, hi);
    *out = v;
    return 0;
}

int cli_int_list(const char *cmd, const char *flag, const char *val, int lo, int hi, int *out, int max,
                 int *n) {
    *n = 0;
    const char *s = val;
    while (*s) {
        char buf[32];
        size_t k = strcspn(s, ",");
        if (k == 0 || k >= sizeof buf) return cli_usage_error(cmd, "%s: bad list '%s'", flag, val);
        memcpy(buf, s, k);
        buf[k] = 0;
        if (*n >= max) return cli_usage_error(cmd, "%s: at most %d values", flag, max);
        int v;
        if (cli_int(cmd, flag, buf, lo, hi, &v)) return CLI_USAGE;
        out[(*n)++] = v;
        s += k;
        if (*s == ',') s++;
    }
    if (!*n) return cli_usage_error(cmd, "%s: empty list", flag);
    return 0;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cli_unknown(const char *cmd, const char *arg) {
    return cli_usage_error(cmd, "unknown option '%s' (see cinfer %s --help)", arg, cmd);
}

int cli_init_runtime(const char *cmd) {
    cf_err e;
    if (cf_cpu_init(&e)) return cli_usage_error(cmd, "%s", e.msg);
    if (cf_tuning_reload(&e)) return cli_usage_error(cmd, "%s", e.msg);
    if (cf_act_scale_init(&e)) return cli_usage_error(cmd, "%s", e.msg);
    return 0;
}
