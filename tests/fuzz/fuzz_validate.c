/* libFuzzer target: the JSON Schema validator (sampler/validate.h).
 * Input: schema JSON text, a NUL byte, instance JSON text (raw NUL cannot occur in JSON, so the
 * split is unambiguous).  Without a NUL the input is both the schema and the instance.
 * Invariants (abort on violation):
 *   - results are 0, CF_EINVAL with a non-empty reason, or a schema error from the documented set;
 *   - checking the same instance twice (caches warm) and the one-shot cf_schema_validate agree;
 *   - cf_format_check answers -1, 0 or 1 for every format name on every string instance. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/json.h"
#include "sampler/validate.h"

static const char *const fzv_formats[] = {
    "date", "time", "date-time", "duration", "uuid", "email", "idn-email", "hostname", "idn-hostname", "ipv4",
    "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uri-template", "json-pointer",
    "relative-json-pointer", "regex", "no-such-format",
};

static int fzv_schema_err_ok(int rc) {
    return rc == CF_EFORMAT || rc == CF_EUNSUPPORTED || rc == CF_ELIMIT || rc == CF_ENOMEM || rc == CF_EINVAL;
}

/* Returns the validation result (0 / CF_EINVAL) or -1 if the validator could not be built. */
static int fzv_check(const cf_json *schema, const cf_json *inst, unsigned flags) {
    cf_validator *v = NULL;
    cf_err e = {0};
    int rc = cf_validator_new_opts(schema, flags, &v, &e);
    if (rc) {
        if (v || !fzv_schema_err_ok(rc) || e.code != rc || !e.msg[0]) abort();
        return -1;
    }
    cf_err why = {0};
    int r1 = cf_validator_check(v, inst, &why);
    if (r1 == CF_EINVAL && (why.code != CF_EINVAL || !why.msg[0])) abort();
    if (r1 && !fzv_schema_err_ok(r1)) abort();
    int r2 = cf_validator_check(v, inst, &why);
    if (r1 != r2) abort();
    cf_validator_free(v);
    if (!flags) {
        int r3 = cf_schema_validate(schema, inst, &why);
        if (r3 != r1) abort();
    }
    return r1;
}

static void fzv_check_formats(const cf_json *inst) {
    if (inst->type != CF_JSON_STRING) return;
    for (size_t i = 0; i < sizeof fzv_formats / sizeof fzv_formats[0]; i++) {
        int r = cf_format_check(fzv_formats[i], inst->str, inst->len);
        if (r < -1 || r > 1) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t sl = nul ? (size_t)(nul - data) : size;
    const char *it = nul ? (const char *)nul + 1 : (const char *)data;
    size_t il = nul ? size - sl - 1 : size;
    cf_json_doc *sd = NULL, *id = NULL;
    cf_err e = {0};
    if (cf_json_parse((const char *)data, sl, &sd, &e)) return 0;
    if (cf_json_parse(it, il, &id, &e)) {
        cf_json_free(sd);
        return 0;
    }
    const cf_json *schema = cf_json_root(sd), *inst = cf_json_root(id);
    /* (format as annotation is not a superset of assertion: `not` / `if` can flip it) */
    (void)fzv_check(schema, inst, 0);
    (void)fzv_check(schema, inst, CF_VALIDATE_FORMAT_ANNOTATION);
    if (nul) (void)fzv_check(schema, schema, 0);             /* the schema as its own instance */
    fzv_check_formats(inst);
    cf_json_free(id);
    cf_json_free(sd);
    return 0;
}
