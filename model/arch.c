#include "model/arch.h"

#include <string.h>

#include "kernels/rope.h"

static const cf_arch k_arch[] = {
    {"llama", CF_ROPE_NORM, 0, 0, 10000.0f, 1e-5f},
    {"qwen3", CF_ROPE_NEOX, 1, 1, 1000000.0f, 1e-6f},
};

const cf_arch *cf_arch_find(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof k_arch / sizeof k_arch[0]; i++)
        if (strlen(k_arch[i].name) == len && memcmp(k_arch[i].name, name, len) == 0) return &k_arch[i];
    return NULL;
}

const char *cf_arch_names(void) { return "llama, qwen3"; }
