/* bench_profile_report (bench.h): model/profile.h's report against the measured roofline. */
#include "bench/bench.h"
#include "bench/roofline.h"
#include "kernels/parallel.h"

int bench_profile_report(FILE *f, const cf_context *c, const cf_fwd_prof *mark, double wall_s, double sample_s,
                         const char *title, cf_prof_report *out) {
    int nth = c->p.n_threads > 0 ? c->p.n_threads : cf_default_threads();
    cf_roofline rl;
    cf_roofline_measure(nth, &rl);
    cf_prof_limits lim = {rl.dram_gbs, rl.fp32_gflops, rl.int8_gops, nth};
    cf_prof_report r;
    if (cf_profile_build(&r, c, mark, wall_s, sample_s, &lim)) {
        fprintf(f, "%s: no forward pass was profiled\n", title ? title : "profile");
        return -1;
    }
    cf_profile_print(f, &r, title);
    if (out) *out = r;
    return 0;
}
