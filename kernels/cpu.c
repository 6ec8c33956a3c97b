#include "kernels/cpu.h"

#include <cpuinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cf_cpu_info g_cpu;
static int g_inited;

static size_t sysfs_cache(int want_level, const char *want_type) {
    for (int i = 0; i < 8; i++) {
        char path[128], buf[64];
        int level = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) break;
        if (fscanf(f, "%d", &level) != 1) level = 0;
        fclose(f);
        if (level != want_level) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        f = fopen(path, "r");
        if (!f) continue;
        buf[0] = 0;
        if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
        fclose(f);
        if (strncmp(buf, want_type, strlen(want_type)) != 0) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        f = fopen(path, "r");
        if (!f) continue;
        size_t kb = 0;
        char unit = 'K';
        if (fscanf(f, "%zu%c", &kb, &unit) < 1) kb = 0;
        fclose(f);
        return unit == 'M' ? kb << 20 : kb << 10;
    }
    return 0;
}

static void detect(void) {
    cf_cpu_info *c = &g_cpu;
    memset(c, 0, sizeof *c);
    int ok = cpuinfo_initialize();
    c->n_cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (c->n_cores < 1) c->n_cores = 1;
    snprintf(c->name, sizeof c->name, "unknown x86-64");
    if (ok) {
        const struct cpuinfo_package *p = cpuinfo_get_package(0);
        if (p && p->name[0]) snprintf(c->name, sizeof c->name, "%s", p->name);
        c->avx2 = cpuinfo_has_x86_avx2();
        c->fma = cpuinfo_has_x86_fma3();
        c->f16c = cpuinfo_has_x86_f16c();
        c->avx512f = cpuinfo_has_x86_avx512f();
        c->avx512bw = cpuinfo_has_x86_avx512bw();
        c->avx512vl = cpuinfo_has_x86_avx512vl();
        c->avx512dq = cpuinfo_has_x86_avx512dq();
        c->avx512vnni = cpuinfo_has_x86_avx512vnni();
        c->avx512bf16 = cpuinfo_has_x86_avx512bf16();
        const struct cpuinfo_cache *l1 = cpuinfo_get_l1d_cache(0);
        const struct cpuinfo_cache *l2 = cpuinfo_get_l2_cache(0);
        const struct cpuinfo_cache *l3 = cpuinfo_get_l3_cache(0);
        c->l1d = l1 ? l1->size : 0;
        c->l2 = l2 ? l2->size : 0;
        c->l3 = l3 ? l3->size : 0;
        c->cache_src = "cpuinfo";
    }
    if (!c->l1d || !c->l2) { /* cpuinfo reports 0 on some VMs */
        c->l1d = sysfs_cache(1, "Data");
        c->l2 = sysfs_cache(2, "Unified");
        c->l3 = sysfs_cache(3, "Unified");
        c->cache_src = "sysfs";
    }
    if (!c->l1d || !c->l2) {
        c->l1d = 32u << 10;
        c->l2 = 512u << 10;
        c->l3 = 8u << 20;
        c->cache_src = "default";
    }
    if (!c->l3) c->l3 = 8u << 20;
    c->best = CF_ISA_REF;
    if (c->avx2 && c->fma && c->f16c) c->best = CF_ISA_AVX2;
    if (c->best == CF_ISA_AVX2 && c->avx512f && c->avx512bw && c->avx512vl && c->avx512dq)
        c->best = CF_ISA_AVX512;
    if (c->best == CF_ISA_AVX512 && c->avx512vnni) c->best = CF_ISA_AVX512VNNI;
    c->active = c->best;
    c->active_src = "detected";
}

static const char *k_names[CF_ISA_COUNT] = {"ref", "avx2", "avx512", "avx512vnni"};

const char *cf_isa_name(cf_isa isa) {
    return (unsigned)isa < CF_ISA_COUNT ? k_names[isa] : "?";
}

int cf_isa_parse(const char *s) {
    for (int i = 0; i < CF_ISA_COUNT; i++)
        if (s && strcmp(s, k_names[i]) == 0) return i;
    return -1;
}

int cf_isa_supported(cf_isa isa) { return isa <= cf_cpu()->best; }

int cf_isa_set(cf_isa isa, cf_err *err) {
    const cf_cpu_info *c = cf_cpu();
    if ((unsigned)isa >= CF_ISA_COUNT) return cf_errf(err, CF_EINVAL, "unknown ISA level %d", (int)isa);
    if (isa > c->best)
        return cf_errf(err, CF_EUNSUPPORTED,
                       "ISA level '%s' is not supported by this CPU (%s); best available is '%s'",
                       cf_isa_name(isa), c->name, cf_isa_name(c->best));
    g_cpu.active = isa;
    return CF_OK;
}

int cf_cpu_init(cf_err *err) {
    if (!g_inited) {
        detect();
        g_inited = 1;
    }
    const char *env = getenv("CINFER_ISA");
    if (!env || !*env) return CF_OK;
    int lv = cf_isa_parse(env);
    if (lv < 0)
        return cf_errf(err, CF_EINVAL, "CINFER_ISA='%s' is not one of ref, avx2, avx512, avx512vnni", env);
    int rc = cf_isa_set((cf_isa)lv, err);
    if (rc) return cf_err_prefix(err, "CINFER_ISA");
    g_cpu.active_src = "CINFER_ISA";
    return CF_OK;
}

const cf_cpu_info *cf_cpu(void) {
    if (!g_inited) {
        cf_err e;
        if (cf_cpu_init(&e)) fprintf(stderr, "cinfer: warning: %s; using '%s'\n", e.msg, cf_isa_name(g_cpu.best));
    }
    return &g_cpu;
}

cf_isa cf_isa_active(void) { return cf_cpu()->active; }
