/* Errors are values: every fallible API returns an int status (0 = ok) and fills a cf_err
 * whose message says what was wrong and where (file offset, JSON pointer, regex column...). */
#ifndef CF_ERR_H
#define CF_ERR_H

enum {
    CF_OK = 0,
    CF_EINVAL = 1,       /* bad argument / malformed input */
    CF_EIO = 2,          /* open/read/mmap failed */
    CF_EFORMAT = 3,      /* file or document does not follow its format */
    CF_EUNSUPPORTED = 4, /* well-formed but not supported (type, keyword, arch) */
    CF_ELIMIT = 5,       /* a documented cap was exceeded */
    CF_ENOMEM = 6,       /* allocation failed */
};

typedef struct {
    int code;
    char msg[512];
} cf_err;

/* Sets e->code and a printf-formatted message (e may be NULL); returns code. */
int cf_errf(cf_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with more context ("while loading X: ..."); returns e->code. */
int cf_err_prefix(cf_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *cf_err_name(int code);

#endif
