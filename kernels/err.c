#include "kernels/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cf_errf(cf_err *e, int code, const char *fmt, ...) {
    if (!e) return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int cf_err_prefix(cf_err *e, const char *fmt, ...) {
    if (!e) return CF_EINVAL;
    char pre[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t pl = strlen(pre), ol = strnlen(old, sizeof old - 1), cap = sizeof e->msg - 1;
    if (pl > cap) pl = cap;
    memcpy(e->msg, pre, pl);
    size_t k = pl;
    if (k + 2 <= cap) {
        e->msg[k++] = ':';
        e->msg[k++] = ' ';
    }
    if (ol > cap - k) ol = cap - k;
    memcpy(e->msg + k, old, ol);
    e->msg[k + ol] = 0;
    return e->code;
}

const char *cf_err_name(int code) {
    switch (code) {
    case CF_OK: return "ok";
    case CF_EINVAL: return "invalid";
    case CF_EIO: return "io";
    case CF_EFORMAT: return "format";
    case CF_EUNSUPPORTED: return "unsupported";
    case CF_ELIMIT: return "limit";
    case CF_ENOMEM: return "nomem";
    }
    return "error";
}
