#include "kernels/tuning.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *k_names[] = {
#define N(name, doc, r, a2, a5, a5v) #name,
    CF_TUNING_PARAMS(N)
#undef N
};
static const char *k_docs[] = {
#define D(name, doc, r, a2, a5, a5v) doc,
    CF_TUNING_PARAMS(D)
#undef D
};
static const long k_defaults[][CF_ISA_COUNT] = {
#define V(name, doc, r, a2, a5, a5v) {r, a2, a5, a5v},
    CF_TUNING_PARAMS(V)
#undef V
};

static cf_tuning g_t;
static cf_tsrc g_src[CF_TUNING_COUNT];
static int g_loaded;

int cf_tuning_count(void) { return (int)CF_TUNING_COUNT; }
const char *cf_tuning_name(int i) { return k_names[i]; }
const char *cf_tuning_doc(int i) { return k_docs[i]; }
long cf_tuning_value(const cf_tuning *t, int i) { return ((const long *)t)[i]; }
void cf_tuning_set_value(cf_tuning *t, int i, long v) { ((long *)t)[i] = v; }
cf_tsrc cf_tuning_source(int i) {
    cf_tuning_get();
    return g_src[i];
}
const char *cf_tsrc_name(cf_tsrc s) {
    switch (s) {
    case CF_TSRC_DEFAULT: return "default";
    case CF_TSRC_FILE: return "file";
    case CF_TSRC_ENV: return "env";
    case CF_TSRC_SET: return "set";
    }
    return "?";
}

int cf_tuning_find(const char *name) {
    for (int i = 0; i < (int)CF_TUNING_COUNT; i++)
        if (strcmp(k_names[i], name) == 0) return i;
    return -1;
}

void cf_tuning_defaults(cf_isa isa, cf_tuning *t) {
    for (int i = 0; i < (int)CF_TUNING_COUNT; i++) cf_tuning_set_value(t, i, k_defaults[i][isa]);
}

const char *cf_tuning_path(void) {
    static char buf[1024];
    const char *p = getenv("CINFER_TUNING");
    if (p && *p) return p;
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && *x) snprintf(buf, sizeof buf, "%s/cinfer/tuning.txt", x);
    else snprintf(buf, sizeof buf, "%s/.config/cinfer/tuning.txt", getenv("HOME") ? getenv("HOME") : ".");
    return buf;
}

static int parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s) return -1;
    while (isspace((unsigned char)*end)) end++;
    if (*end) return -1;
    if (v < 0) return -1;
    *out = v;
    return 0;
}

int cf_tuning_load_file(const char *path, cf_isa isa, cf_tuning *t, cf_tsrc *src, cf_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return CF_OK;
    char line[512];
    int lineno = 0, in_section = 0, rc = CF_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        char *hash = strchr(s, '#');
        if (hash) *hash = 0;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
        if (!n) continue;
        if (s[0] == '[') {
            if (s[n - 1] != ']') {
                rc = cf_errf(err, CF_EFORMAT, "%s:%d: unterminated section header", path, lineno);
                break;
            }
            s[n - 1] = 0;
            int lv = cf_isa_parse(s + 1);
            if (lv < 0) {
                rc = cf_errf(err, CF_EFORMAT, "%s:%d: unknown ISA section '%s'", path, lineno, s + 1);
                break;
            }
            in_section = (lv == (int)isa);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = cf_errf(err, CF_EFORMAT, "%s:%d: expected 'name = value'", path, lineno);
            break;
        }
        *eq = 0;
        char *name = s, *val = eq + 1;
        size_t nl = strlen(name);
        while (nl && isspace((unsigned char)name[nl - 1])) name[--nl] = 0;
        while (isspace((unsigned char)*val)) val++;
        int idx = cf_tuning_find(name);
        long v;
        if (idx < 0) {
            rc = cf_errf(err, CF_EFORMAT, "%s:%d: unknown tuning parameter '%s'", path, lineno, name);
            break;
        }
        if (parse_long(val, &v)) {
            rc = cf_errf(err, CF_EFORMAT, "%s:%d: '%s' is not a non-negative integer", path, lineno, val);
            break;
        }
        if (!in_section) continue;
        cf_tuning_set_value(t, idx, v);
        if (src) src[idx] = CF_TSRC_FILE;
    }
    fclose(f);
    return rc;
}

static int write_file(const char *path, cf_isa isa, const cf_tuning *t, const char *comment, int changed_only,
                      cf_err *err);

int cf_tuning_write_file(const char *path, cf_isa isa, const cf_tuning *t, const char *comment,
                         cf_err *err) {
    return write_file(path, isa, t, comment, 0, err);
}

int cf_tuning_write_changed(const char *path, cf_isa isa, const cf_tuning *t, const char *comment,
                            cf_err *err) {
    return write_file(path, isa, t, comment, 1, err);
}

static int write_file(const char *path, cf_isa isa, const cf_tuning *t, const char *comment, int changed_only,
                      cf_err *err) {
    /* Keep other ISA sections of an existing file; rewrite only ours. */
    char *keep = NULL;
    size_t keep_len = 0;
    FILE *in = fopen(path, "r");
    if (in) {
        FILE *mem = open_memstream(&keep, &keep_len);
        char line[512];
        int skipping = 0;
        while (fgets(line, sizeof line, in)) {
            if (line[0] == '[') {
                char name[64] = {0};
                sscanf(line, "[%63[^]]", name);
                skipping = (cf_isa_parse(name) == (int)isa);
            }
            if (!skipping && line[0] != '#') fputs(line, mem);
        }
        fclose(in);
        fclose(mem);
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        free(keep);
        return cf_errf(err, CF_EIO, "cannot write tuning file '%s': %s", path, strerror(errno));
    }
    fprintf(f, "# cinfer tuning file: [isa] sections of name = value (see kernels/tuning.h)\n");
    for (const char *c = comment; c && *c;) { /* one '# ' line per comment line */
        size_t n = strcspn(c, "\n");
        fprintf(f, "# %.*s\n", (int)n, c);
        c += n + (c[n] == '\n');
    }
    if (keep) fputs(keep, f);
    fprintf(f, "[%s]\n", cf_isa_name(isa));
    for (int i = 0; i < (int)CF_TUNING_COUNT; i++)
        if (!changed_only || cf_tuning_value(t, i) != k_defaults[i][isa])
            fprintf(f, "%s = %ld\n", k_names[i], cf_tuning_value(t, i));
    free(keep);
    if (fclose(f)) return cf_errf(err, CF_EIO, "cannot write tuning file '%s'", path);
    return CF_OK;
}

static int apply_env(cf_tuning *t, cf_tsrc *src, cf_err *err) {
    for (int i = 0; i < (int)CF_TUNING_COUNT; i++) {
        char env[96] = "CINFER_";
        size_t k = strlen(env);
        for (const char *p = k_names[i]; *p && k + 1 < sizeof env; p++) env[k++] = (char)toupper((unsigned char)*p);
        env[k] = 0;
        const char *v = getenv(env);
        if (!v || !*v) continue;
        long x;
        if (parse_long(v, &x)) return cf_errf(err, CF_EINVAL, "%s='%s' is not a non-negative integer", env, v);
        cf_tuning_set_value(t, i, x);
        src[i] = CF_TSRC_ENV;
    }
    return CF_OK;
}

int cf_tuning_reload(cf_err *err) {
    cf_isa isa = cf_isa_active();
    cf_tuning_defaults(isa, &g_t);
    for (int i = 0; i < (int)CF_TUNING_COUNT; i++) g_src[i] = CF_TSRC_DEFAULT;
    int rc = cf_tuning_load_file(cf_tuning_path(), isa, &g_t, g_src, err);
    if (!rc) rc = apply_env(&g_t, g_src, err);
    __atomic_store_n(&g_loaded, 1, __ATOMIC_RELEASE);
    return rc;
}

static void first_load(void) {
    cf_err e;
    if (cf_tuning_reload(&e)) fprintf(stderr, "cinfer: warning: tuning: %s\n", e.msg);
}

const cf_tuning *cf_tuning_get(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!__atomic_load_n(&g_loaded, __ATOMIC_ACQUIRE)) pthread_once(&once, first_load);
    return &g_t;
}

cf_tuning *cf_tuning_mut(void) {
    cf_tuning_get();
    return &g_t;
}
