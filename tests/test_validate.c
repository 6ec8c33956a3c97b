/* JSON Schema validator: the official JSON-Schema-Test-Suite (draft 2020-12, with optional and
 * optional/format), error messages, schema errors, hostile schemas, and maskbench-dev documents.
 *
 * Excluded groups (the validator reports CF_EUNSUPPORTED for them, and the test checks that it
 * does): schemas that reference other documents (remote refs, the meta-schemas through
 * $schema/$ref, refRemote.json, cross-draft.json), since nothing is fetched, and idn-hostname
 * (needs the IDNA2008 tables).  Known, listed failures: KNOWN_FAIL below. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "sampler/json.h"
#include "sampler/validate.h"
#include "tests/testutil.h"

#define SUITE "schemas/json-schema-test-suite-draft2020-12"

/* "file|group description|test description" prefixes of tests allowed to fail, with reasons. */
static const char *const KNOWN_FAIL[][2] = {
    {"vocabulary.json|schema that uses custom metaschema with with no validation vocabulary|no validation: invalid number",
     "vocabularies are read from the meta-schema, which is a remote document"},
    {NULL, NULL},
};

/* Files whose groups are not run at all, with the reason. */
static const char *const SKIP_FILES[][2] = {
    {"refRemote.json", "remote references (http://localhost:1234/...) are not fetched"},
    {"optional/cross-draft.json", "references to other drafts' meta-schemas"},
    {"optional/format/idn-hostname.json", "idn-hostname is not asserted (needs IDNA2008 tables)"},
    {NULL, NULL},
};

static const char *known_fail(const char *file, const char *group, const char *test) {
    char key[1024];
    snprintf(key, sizeof key, "%s|%s|%s", file, group, test);
    for (int i = 0; KNOWN_FAIL[i][0]; i++)
        if (!strncmp(key, KNOWN_FAIL[i][0], strlen(KNOWN_FAIL[i][0]))) return KNOWN_FAIL[i][1];
    return NULL;
}

typedef struct {
    int pass, fail, known, excluded_groups, excluded_tests;
} tally;

static void run_file(const char *rel, const char *name, tally *t) {
    size_t n;
    char *txt = tu_read_file(tu_shared(rel), &n);
    ck_assert_msg(txt != NULL, "cannot read %s", rel);
    cf_json_doc *d;
    cf_err e;
    ck_assert_msg(cf_json_parse(txt, n, &d, &e) == 0, "%s: %s", rel, e.msg);
    const cf_json *groups = cf_json_root(d);
    tally f = {0};
    for (size_t g = 0; g < groups->len; g++) {
        const cf_json *grp = groups->items[g];
        const char *gdesc = cf_json_get(grp, "description")->str;
        const cf_json *schema = cf_json_get(grp, "schema");
        const cf_json *tests = cf_json_get(grp, "tests");
        cf_validator *v;
        /* format.json checks the 2020-12 default (format is an annotation); everything else,
         * optional/format included, asserts formats */
        int rc = cf_validator_new_opts(schema, strcmp(name, "format.json") ? 0 : CF_VALIDATE_FORMAT_ANNOTATION, &v, &e);
        ck_assert_msg(rc == 0, "%s: %s: schema refused: %s", name, gdesc, e.msg);
        int excluded = 0;
        for (size_t k = 0; k < tests->len; k++) {
            const cf_json *tc = tests->items[k];
            const char *tdesc = cf_json_get(tc, "description")->str;
            int want = cf_json_get(tc, "valid")->b;
            cf_err why = {0};
            rc = cf_validator_check(v, cf_json_get(tc, "data"), &why);
            if (rc == CF_EUNSUPPORTED) {   /* remote reference: the group is excluded */
                ck_assert_msg(strstr(why.msg, "remote references are not supported") != NULL, "%s", why.msg);
                excluded = 1;
                f.excluded_tests++;
                continue;
            }
            ck_assert_msg(rc == 0 || rc == CF_EINVAL, "%s: %s: %s: schema error %d: %s", name, gdesc, tdesc, rc, why.msg);
            int got = rc == 0;
            if (got == want) {
                f.pass++;
                if (!got) ck_assert_msg(strncmp(why.msg, "at ", 3) == 0, "message '%s'", why.msg);
            } else if (known_fail(name, gdesc, tdesc)) {
                f.known++;
            } else {
                f.fail++;
                printf("FAIL %s | %s | %s: want %d (%s)\n", name, gdesc, tdesc, want, why.msg);
            }
        }
        if (excluded) {
            f.excluded_groups++;
            printf("  excluded: %s | %s (remote reference)\n", name, gdesc);
        }
        cf_validator_free(v);
    }
    printf("validate %-45s pass %4d  fail %d  known %d  excluded %d groups (%d tests)\n", name, f.pass, f.fail, f.known,
           f.excluded_groups, f.excluded_tests);
    t->pass += f.pass;
    t->fail += f.fail;
    t->known += f.known;
    t->excluded_groups += f.excluded_groups;
    t->excluded_tests += f.excluded_tests;
    cf_json_free(d);
    free(txt);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void run_dir(const char *sub, tally *t) {
    char rel[512];
    snprintf(rel, sizeof rel, "%s%s%s", SUITE, sub[0] ? "/" : "", sub);
    DIR *dp = opendir(tu_shared(rel));
    ck_assert_ptr_nonnull(dp);
    char *names[256];
    int nn = 0;
    struct dirent *de;
    while ((de = readdir(dp)) && nn < 256) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".json")) names[nn++] = strdup(de->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)nn, sizeof *names, cmp_str);
    for (int i = 0; i < nn; i++) {
        char name[512], path[1024];
        snprintf(name, sizeof name, "%s%s%s", sub, sub[0] ? "/" : "", names[i]);
        snprintf(path, sizeof path, "%s/%s", SUITE, name);
        const char *skip = NULL;
        for (int k = 0; SKIP_FILES[k][0]; k++)
            if (!strcmp(name, SKIP_FILES[k][0])) skip = SKIP_FILES[k][1];
        if (skip) printf("validate %-45s skipped: %s\n", name, skip);
        else run_file(path, name, t);
        free(names[i]);
    }
}

START_TEST(test_suite) {
    if (!tu_have_shared()) return;
    tally t = {0};
    run_dir("", &t);
    run_dir("optional", &t);
    run_dir("optional/format", &t);
    printf("validate total: pass %d, fail %d, known failures %d, excluded %d groups (%d tests)\n", t.pass, t.fail,
           t.known, t.excluded_groups, t.excluded_tests);
    ck_assert_int_gt(t.pass, 1500);
    ck_assert_int_eq(t.fail, 0);
}
END_TEST

static int check(const char *schema, const char *inst, cf_err *why) {
    cf_json_doc *s, *i;
    cf_err e;
    ck_assert_msg(cf_json_parse(schema, strlen(schema), &s, &e) == 0, "%s", e.msg);
    ck_assert_msg(cf_json_parse(inst, strlen(inst), &i, &e) == 0, "%s", e.msg);
    int rc = cf_schema_validate(cf_json_root(s), cf_json_root(i), why);
    cf_json_free(s);
    cf_json_free(i);
    return rc;
}

START_TEST(test_messages) {
    cf_err why;
    ck_assert_int_eq(check("{\"properties\":{\"items\":{\"type\":\"array\",\"items\":{\"properties\":{\"name\":{\"minLength\":3}}}}}}",
                           "{\"items\":[{\"name\":\"abc\"},{\"name\":\"ab\"}]}", &why),
                     CF_EINVAL);
    ck_assert_str_eq(why.msg, "at /items/1/name: minLength (schema /properties/items/items/properties/name/minLength): "
                              "2 code points, fewer than 3");
    ck_assert_int_eq(check("{\"required\":[\"a\"]}", "{}", &why), CF_EINVAL);
    ck_assert_ptr_nonnull(strstr(why.msg, "at (root): required"));
    ck_assert_int_eq(check("{\"additionalProperties\":false,\"properties\":{\"a~/b\":true}}", "{\"a~/b\":1,\"x/y\":2}", &why),
                     CF_EINVAL);
    ck_assert_ptr_nonnull(strstr(why.msg, "at /x~1y: additionalProperties"));
    ck_assert_int_eq(check("{\"$ref\":\"#/$defs/t\",\"$defs\":{\"t\":{\"pattern\":\"^\\\\d{2}:\\\\d{2}(:\\\\d{2})?$\"}}}",
                           "\"12:345\"", &why),
                     CF_EINVAL);
    ck_assert_ptr_nonnull(strstr(why.msg, "schema /$ref/pattern"));
    ck_assert_int_eq(check("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}", "1", &why), CF_EINVAL);
    ck_assert_ptr_nonnull(strstr(why.msg, "anyOf (schema /anyOf): none of the 2 branches matched"));
    ck_assert_int_eq(check("{\"type\":\"integer\"}", "1.0", &why), 0);
    ck_assert_int_eq(check("{\"type\":\"integer\"}", "1e400", &why), 0);
    ck_assert_int_eq(check("{\"type\":\"integer\"}", "1.5e0", &why), CF_EINVAL);
    ck_assert_int_eq(check("{\"multipleOf\":0.01}", "0.07", &why), 0);
    ck_assert_int_eq(check("{\"multipleOf\":0.01}", "0.075", &why), CF_EINVAL);
    ck_assert_int_eq(check("{\"maximum\":12345678901234567890}", "12345678901234567891", &why), CF_EINVAL);
    ck_assert_int_eq(check("{\"exclusiveMaximum\":true,\"maximum\":5}", "5", &why), CF_EINVAL);   /* draft 4 */
    ck_assert_int_eq(check("{\"items\":[{\"type\":\"string\"}],\"additionalItems\":false}", "[\"a\",1]", &why), CF_EINVAL);
    ck_assert_int_eq(check("{\"dependencies\":{\"a\":[\"b\"]}}", "{\"a\":1}", &why), CF_EINVAL);
    ck_assert_int_eq(check("{\"properties\":{\"t\":{\"format\":\"date-time\"}}}", "{\"t\":\"2024-02-30T10:00:00Z\"}", &why),
                     CF_EINVAL);
}
END_TEST

START_TEST(test_schema_errors) {
    cf_err why;
    ck_assert_int_eq(check("{\"$ref\":\"#/$defs/missing\"}", "1", &why), CF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(why.msg, "schema /$ref: unresolvable reference '#/$defs/missing'"));
    ck_assert_int_eq(check("{\"$ref\":\"http://example.com/x.json\"}", "1", &why), CF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(why.msg, "remote references are not supported"));
    ck_assert_int_eq(check("{\"properties\":{\"a\":{\"pattern\":\"(a\"}}}", "{\"a\":\"x\"}", &why), CF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(why.msg, "schema /properties/a/pattern: pattern /(a/: column 1: missing ')'"));
    ck_assert_int_eq(check("{\"$ref\":\"#\"}", "1", &why), CF_ELIMIT);   /* a $ref cycle */
    ck_assert_ptr_nonnull(strstr(why.msg, "a $ref cycle"));
    ck_assert_int_eq(check("{\"multipleOf\":0}", "1", &why), CF_EFORMAT);
    ck_assert_int_eq(check("{\"properties\":{\"a\":5}}", "{\"a\":1}", &why), CF_EFORMAT);
    /* a recursive schema with a real base case validates deep documents */
    const char *tree = "{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/n\"}}}}},\"$ref\":\"#/$defs/n\"}";
    char doc[4096] = "";
    for (int i = 0; i < 50; i++) strcat(doc, "{\"kids\":[");
    for (int i = 0; i < 50; i++) strcat(doc, "]}");
    ck_assert_int_eq(check(tree, doc, &why), 0);
    /* deeper than the cap: a clean error */
    cf_json_doc *s, *x;
    char *deep = malloc(20 * 400 + 1);
    deep[0] = 0;
    size_t o = 0;
    for (int i = 0; i < 200; i++) o += (size_t)sprintf(deep + o, "{\"kids\":[");
    for (int i = 0; i < 200; i++) o += (size_t)sprintf(deep + o, "]}");
    ck_assert_int_eq(cf_json_parse(tree, strlen(tree), &s, &why), 0);
    ck_assert_int_eq(cf_json_parse(deep, o, &x, &why), 0);
    ck_assert_int_eq(cf_schema_validate(cf_json_root(s), cf_json_root(x), &why), CF_ELIMIT);
    cf_json_free(s);
    cf_json_free(x);
    free(deep);
}
END_TEST

/* Big instances stay fast: uniqueItems is O(n log n), enum/const/required linear. */
START_TEST(test_big_instances) {
    enum { N = 20000 };
    char *doc = malloc(N * 16 + 16);
    size_t o = 0;
    doc[o++] = '[';
    for (int i = 0; i < N; i++) o += (size_t)sprintf(doc + o, "%s%d", i ? "," : "", i);
    o += (size_t)sprintf(doc + o, ",{\"a\":1,\"b\":[2]},{\"b\":[2.0],\"a\":1e0}]");
    cf_json_doc *s, *x;
    cf_err e;
    const char *schema = "{\"uniqueItems\":true}";
    ck_assert_int_eq(cf_json_parse(schema, strlen(schema), &s, &e), 0);
    ck_assert_int_eq(cf_json_parse(doc, o, &x, &e), 0);
    double t0 = cf_now_s();
    ck_assert_int_eq(cf_schema_validate(cf_json_root(s), cf_json_root(x), &e), CF_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "items 20000 and 20001 are equal"));
    double dt = cf_now_s() - t0;
    printf("validate: uniqueItems over %d items: %.1f ms\n", N + 2, dt * 1e3);
    ck_assert_msg(dt < 2.0, "uniqueItems took %.2f s", dt);
    cf_json_free(x);
    cf_json_free(s);
    free(doc);
}
END_TEST

START_TEST(test_formats) {
    ck_assert_int_eq(cf_format_check("date", "2024-02-29", 10), 1);
    ck_assert_int_eq(cf_format_check("date", "2023-02-29", 10), 0);
    ck_assert_int_eq(cf_format_check("ipv6", "::ffff:1.2.3.4", 14), 1);
    ck_assert_int_eq(cf_format_check("ipv6", "1::2::3", 7), 0);
    ck_assert_int_eq(cf_format_check("uuid", "123e4567-e89b-12d3-a456-426614174000", 36), 1);
    ck_assert_int_eq(cf_format_check("no-such-format", "x", 1), -1);
    /* hostile: long inputs, invalid UTF-8 stay bounded */
    char big[100000];
    memset(big, 'a', sizeof big);
    const char *fmts[] = {"date", "time", "date-time", "duration", "uuid", "email", "idn-email", "hostname", "ipv4",
                          "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uri-template", "json-pointer",
                          "relative-json-pointer", "regex"};
    for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++) {
        ck_assert_int_ge(cf_format_check(fmts[i], big, sizeof big), 0);
        ck_assert_int_ge(cf_format_check(fmts[i], "\xff\xfe%", 3), 0);
        ck_assert_int_ge(cf_format_check(fmts[i], "", 0), 0);
    }
}
END_TEST

/* maskbench-dev: every document labelled valid validates, every invalid one fails (or the
 * schema is refused with a clear reason).  Reports counts. */
START_TEST(test_maskbench) {
    if (!tu_have_shared()) return;
    DIR *dp = opendir(tu_shared("schemas/maskbench-dev"));
    ck_assert_ptr_nonnull(dp);
    struct dirent *de;
    int files = 0, refused = 0, docs = 0, agree = 0, disagree = 0;
    double t0 = cf_now_s();
    while ((de = readdir(dp))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".json")) continue;
        char rel[600];
        snprintf(rel, sizeof rel, "schemas/maskbench-dev/%s", de->d_name);
        size_t n;
        char *txt = tu_read_file(tu_shared(rel), &n);
        cf_json_doc *d;
        cf_err e;
        ck_assert_int_eq(cf_json_parse(txt, n, &d, &e), 0);
        files++;
        const cf_json *schema = cf_json_get(cf_json_root(d), "schema");
        const cf_json *tests = cf_json_get(cf_json_root(d), "tests");
        cf_validator *v;
        if (cf_validator_new(schema, &v, &e)) {
            refused++;
        } else {
            int file_refused = 0;
            for (size_t k = 0; tests && k < tests->len; k++) {
                const cf_json *tc = tests->items[k];
                int want = cf_json_get(tc, "valid")->b;
                cf_err why = {0};
                int rc = cf_validator_check(v, cf_json_get(tc, "data"), &why);
                if (rc != 0 && rc != CF_EINVAL) {
                    if (!file_refused) printf("maskbench schema error %s: %s\n", de->d_name, why.msg);
                    file_refused = 1;
                    ck_assert_msg(why.msg[0] != 0, "%s: empty schema error", de->d_name);
                    continue;
                }
                docs++;
                if ((rc == 0) == want) agree++;
                else {
                    disagree++;
                    if (disagree <= 30)
                        printf("maskbench disagree %s test %zu: want %d: %s\n", de->d_name, k, want, rc ? why.msg : "valid");
                }
            }
            refused += file_refused;
            cf_validator_free(v);
        }
        cf_json_free(d);
        free(txt);
    }
    closedir(dp);
    printf("maskbench: %d schemas (%d with schema errors), %d documents: %d agree with the labels, %d disagree (%.1f s)\n",
           files, refused, docs, agree, disagree, cf_now_s() - t0);
    ck_assert_int_gt(docs, 10000);
    ck_assert_int_le(disagree, docs / 200);
}
END_TEST

int main(void) {
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("validate");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_suite);
    tcase_add_test(tc, test_messages);
    tcase_add_test(tc, test_schema_errors);
    tcase_add_test(tc, test_formats);
    tcase_add_test(tc, test_big_instances);
    tcase_add_test(tc, test_maskbench);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
