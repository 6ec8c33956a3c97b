/* The process-wide Q8_0-kind activation scale convention (see act_scale.h). */
#include "kernels/act_scale.h"

#include <stdlib.h>
#include <strings.h>

/* -1 = not read from the environment yet; atomics because the first reader may be any thread of
 * a team (all of them store the same value). */
static int g_scale = -1;

int cf_act_scale_parse(const char *s) {
    if (!s) return -1;
    if (!strcasecmp(s, "f16")) return CF_ACT_SCALE_F16;
    if (!strcasecmp(s, "bf16")) return CF_ACT_SCALE_BF16;
    return -1;
}

const char *cf_act_scale_name(cf_act_scale s) { return s == CF_ACT_SCALE_BF16 ? "bf16" : "f16"; }

static int from_env(void) {
    int v = cf_act_scale_parse(getenv("CINFER_ACT_SCALE"));
    return v < 0 ? CF_ACT_SCALE_F16 : v;
}

int cf_act_scale_init(cf_err *err) {
    const char *e = getenv("CINFER_ACT_SCALE");
    if (!e || !*e) return CF_OK;
    int v = cf_act_scale_parse(e);
    if (v < 0) return cf_errf(err, CF_EINVAL, "CINFER_ACT_SCALE='%s' is not one of f16, bf16", e);
    __atomic_store_n(&g_scale, v, __ATOMIC_RELAXED);
    return CF_OK;
}

cf_act_scale cf_act_scale_get(void) {
    int v = __atomic_load_n(&g_scale, __ATOMIC_RELAXED);
    if (v < 0) {
        v = from_env();
        __atomic_store_n(&g_scale, v, __ATOMIC_RELAXED);
    }
    return (cf_act_scale)v;
}

void cf_act_scale_set(cf_act_scale s) { __atomic_store_n(&g_scale, (int)s, __ATOMIC_RELAXED); }
