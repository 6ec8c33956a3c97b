/* JSON Schema -> constraint: keyword semantics walked byte by byte (cross-checked against the
 * validator, sampler/validate.h), the cases users reported failing elsewhere, errors with JSON
 * pointers / regex columns, lenient mode, and pathological schemas (bounded time or refused). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "sampler/constraint.h"
#include "sampler/json.h"
#include "sampler/schema.h"
#include "sampler/validate.h"
#include "tests/testutil.h"

/* Pathological schemas must compile (or be refused) within this time. */
#define PATHOLOGICAL_MAX_S 5.0

static cf_constraint *build_opts(const char *schema, const cf_schema_opts *o) {
    cf_grammar *g = NULL;
    cf_err e = {0};
    int rc = cf_schema_compile(schema, strlen(schema), o, &g, &e);
    ck_assert_msg(rc == 0, "compile failed: %s\nschema: %s", e.msg, schema);
    cf_constraint *c = NULL;
    rc = cf_constraint_new(&c, g, NULL, &e);
    ck_assert_msg(rc == 0, "build failed: %s", e.msg);
    return c;
}

static cf_constraint *build(const char *schema) {
    cf_schema_opts o;
    cf_schema_opts_default(&o);
    return build_opts(schema, &o);
}

static int accepts(cf_constraint *c, const char *doc) {
    cf_matcher *m = NULL;
    cf_err e;
    ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
    int ok = cf_matcher_feed(m, doc, strlen(doc), &e) == 0 && cf_matcher_is_complete(m);
    cf_matcher_free(m);
    return ok;
}

#define YES(c, d) ck_assert_msg(accepts(c, d), "should accept %s", d)
#define NO(c, d) ck_assert_msg(!accepts(c, d), "should reject %s", d)

/* Every document: the constraint accepts it iff the validator says it is valid. */
static void crosscheck(const char *schema, const char *const *docs, int n) {
    cf_json_doc *sd = NULL;
    cf_err e = {0};
    ck_assert_int_eq(cf_json_parse(schema, strlen(schema), &sd, &e), 0);
    cf_constraint *c = build(schema);
    for (int i = 0; i < n; i++) {
        cf_json_doc *dd = NULL;
        ck_assert_msg(cf_json_parse(docs[i], strlen(docs[i]), &dd, &e) == 0, "bad test doc %s", docs[i]);
        cf_err why = {0};
        int v = cf_schema_validate(cf_json_root(sd), cf_json_root(dd), &why);
        ck_assert_msg(v == 0 || v == CF_EINVAL, "validator failed on %s: %s", docs[i], why.msg);
        size_t l = 0;
        char *w = cf_json_write(cf_json_root(dd), &l);
        int a = accepts(c, w);
        ck_assert_msg(a == (v == 0), "schema %s\ndoc %s: constraint %s, validator %s (%s)", schema, w,
                      a ? "accepts" : "rejects", v == 0 ? "valid" : "invalid", why.msg);
        /* the document as written (with its whitespace) must give the same answer */
        ck_assert_msg(accepts(c, docs[i]) == a, "whitespace changes the answer for %s", docs[i]);
        free(w);
        cf_json_free(dd);
    }
    cf_constraint_free(c);
    cf_json_free(sd);
}
#define CROSS(schema, ...)                                                        \
    do {                                                                          \
        static const char *const d_[] = {__VA_ARGS__};                            \
        crosscheck(schema, d_, (int)(sizeof d_ / sizeof d_[0]));                 \
    } while (0)

START_TEST(test_reported_cases) {
    /* a timestamp pattern (anchored, optional seconds) */
    cf_constraint *c = build("{\"type\":\"object\",\"properties\":{\"ts\":{\"type\":\"string\","
                             "\"pattern\":\"^\\\\d{2}:\\\\d{2}(:\\\\d{2})?$\"}},\"required\":[\"ts\"]}");
    YES(c, "{\"ts\":\"12:30\"}");
    YES(c, "{\"ts\":\"12:30:45\"}");
    YES(c, "{\"ts\": \"00:00\"}");
    NO(c, "{\"ts\":\"12:3\"}");
    NO(c, "{\"ts\":\"1:30\"}");
    NO(c, "{\"ts\":\"12:30:4\"}");
    NO(c, "{\"ts\":\"12:30:456\"}");
    NO(c, "{\"ts\":\"x12:30\"}");
    NO(c, "{}");
    cf_constraint_free(c);
    /* nested objects with regexes */
    c = build("{\"type\":\"object\",\"properties\":{\"user\":{\"type\":\"object\",\"properties\":{"
              "\"email\":{\"type\":\"string\",\"pattern\":\"^[a-z]+@[a-z]+\\\\.com$\"},"
              "\"address\":{\"type\":\"object\",\"properties\":{\"zip\":{\"type\":\"string\",\"pattern\":\"^\\\\d{5}$\"}},"
              "\"required\":[\"zip\"],\"additionalProperties\":false}},\"required\":[\"email\",\"address\"]}},"
              "\"required\":[\"user\"]}");
    YES(c, "{\"user\":{\"email\":\"ann@mail.com\",\"address\":{\"zip\":\"12345\"}}}");
    YES(c, "{\"user\":{\"address\":{\"zip\":\"00000\"},\"email\":\"b@c.com\",\"extra\":[1,{}]}}");
    NO(c, "{\"user\":{\"email\":\"Ann@mail.com\",\"address\":{\"zip\":\"12345\"}}}");
    NO(c, "{\"user\":{\"email\":\"ann@mail.com\",\"address\":{\"zip\":\"1234\"}}}");
    NO(c, "{\"user\":{\"email\":\"ann@mail.com\",\"address\":{\"zip\":\"12345\",\"city\":\"x\"}}}");
    NO(c, "{\"user\":{\"email\":\"ann@mail.com\"}}");
    cf_constraint_free(c);
    /* enum of strings with shared prefixes */
    c = build("{\"enum\":[\"app\",\"apple\",\"application\",\"apply\",\"ap\"]}");
    YES(c, "\"ap\"");
    YES(c, "\"app\"");
    YES(c, "\"apple\"");
    YES(c, "\"application\"");
    YES(c, "\"apply\"");
    NO(c, "\"appl\"");
    NO(c, "\"apples\"");
    NO(c, "\"a\"");
    NO(c, "\"\"");
    cf_constraint_free(c);
}
END_TEST

START_TEST(test_numbers) {
    CROSS("{\"type\":\"integer\",\"minimum\":3,\"exclusiveMaximum\":17}", "3", "16", "17", "2", "-3", "10.0", "1e1",
          "3.5", "\"4\"", "100");
    CROSS("{\"type\":\"integer\",\"minimum\":-250,\"maximum\":-7,\"multipleOf\":7}", "-7", "-14", "-245", "-252",
          "0", "-8", "7");
    CROSS("{\"type\":\"number\",\"minimum\":0.5,\"exclusiveMaximum\":2.25}", "0.5", "0.49", "2.2499", "2.25", "1",
          "2", "-1", "0.50000", "1.5e0");
    CROSS("{\"type\":\"number\",\"multipleOf\":0.01}", "1.23", "1.234", "100", "-0.05", "0.001");
    CROSS("{\"type\":\"number\",\"exclusiveMinimum\":0}", "0", "0.0", "1e-5", "-0", "0.000001", "12");
    CROSS("{\"type\":\"integer\"}", "0", "-0", "12345678901234567890", "1.0", "1.5", "-12", "1.00");
    CROSS("{\"$schema\":\"http://json-schema.org/draft-04/schema#\",\"type\":\"integer\"}", "1", "1.0", "-3");
    CROSS("{\"const\":1}", "1", "1.0", "1.00", "2", "\"1\"", "true");
    CROSS("{\"enum\":[1.5,2,\"2\",null,true]}", "1.5", "1.50", "2", "2.0", "\"2\"", "null", "true", "false", "3");
    /* syntax: no leading zeros, a digit after '.', exponents */
    cf_constraint *c = build("{\"type\":\"number\"}");
    NO(c, "01");
    NO(c, "1.");
    NO(c, ".5");
    NO(c, "+1");
    NO(c, "1e");
    YES(c, "-0.5e-10");
    YES(c, "1E+3");
    cf_constraint_free(c);
}
END_TEST

START_TEST(test_strings) {
    CROSS("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", "\"ab\"", "\"abc\"", "\"a\"", "\"abcd\"",
          "\"\\u00e9\\u00e9\"", "\"\xc3\xa9\"", "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"", "\"a\\nb\"", "\"\"");
    CROSS("{\"type\":\"string\",\"pattern\":\"a+b\"}", "\"xaab\"", "\"ab\"", "\"ba\"", "\"xaaby\"", "\"\"");
    CROSS("{\"type\":\"string\",\"format\":\"date\"}", "\"2024-02-29\"", "\"2023-02-29\"", "\"2000-02-29\"",
          "\"1900-02-29\"", "\"2023-04-31\"", "\"2023-12-31\"", "\"2023-1-01\"", "\"2023-13-01\"");
    CROSS("{\"format\":\"date-time\"}", "\"2022-01-01T00:00:00Z\"", "\"2022-01-01 00:00:00\"",
          "\"2022-01-31T23:59:59.123+05:30\"", "\"2022-01-31T23:59:99Z\"", "\"2022-01-01t10:00:00z\"", "12");
    CROSS("{\"format\":\"email\"}", "\"joe@example.com\"", "\"joe..x@example.com\"", "\"@example.com\"",
          "\"a.b+c@sub.example.org\"", "\"joe@-bad.com\"", "\"\\\"quoted\\\"@x.org\"");
    CROSS("{\"format\":\"ipv4\"}", "\"192.168.0.1\"", "\"256.1.1.1\"", "\"01.2.3.4\"", "\"1.2.3\"");
    CROSS("{\"format\":\"ipv6\"}", "\"::1\"", "\"1:2:3:4:5:6:7:8\"", "\"1::2::3\"", "\"::ffff:1.2.3.4\"",
          "\"12345::\"");
    CROSS("{\"format\":\"uuid\"}", "\"2eb8aa08-aa98-11ea-b4aa-73b441d16380\"", "\"2eb8aa08-aa98-11ea-b4aa-73b441d1638\"",
          "\"2eb8aa08aa9811eab4aa73b441d16380\"");
    CROSS("{\"format\":\"uri\"}", "\"http://example.com/a?b=c#d\"", "\"urn:isbn:0451450523\"", "\"//no-scheme\"",
          "\"http://exa mple.com\"", "\"http://[::1]:80/\"", "\"ht tp://x\"");
    CROSS("{\"format\":\"hostname\"}", "\"example.com\"", "\"-bad.com\"", "\"a..b\"", "\"ab--cd.org\"");
    CROSS("{\"format\":\"duration\"}", "\"P1Y2M3DT4H5M6S\"", "\"P4W\"", "\"PT\"", "\"P1D2H\"", "\"PT36H\"");
    /* documented subset: punycode (A-label) host names are refused */
    cf_constraint *h = build("{\"format\":\"hostname\"}");
    NO(h, "\"xn--abc.com\"");
    cf_constraint_free(h);
    /* a pattern with maxLength: a prefix the pattern cannot finish within the length is refused */
    cf_constraint *ml = build("{\"type\":\"string\",\"pattern\":\"^a+b$\",\"maxLength\":3}");
    cf_matcher *mm = NULL;
    cf_err me;
    ck_assert_int_eq(cf_matcher_new(&mm, ml, &me), 0);
    ck_assert_int_eq(cf_matcher_feed(mm, "\"aa", 3, &me), 0);
    ck_assert_int_ne(cf_matcher_feed(mm, "a", 1, &me), 0);   /* "aaa" could never end in b */
    ck_assert_int_eq(cf_matcher_feed(mm, "b\"", 2, &me), 0);
    ck_assert(cf_matcher_is_complete(mm));
    cf_matcher_free(mm);
    cf_constraint_free(ml);
    /* escapes: JSON string syntax and surrogates */
    cf_constraint *c = build("{\"type\":\"string\"}");
    YES(c, "\"\\ud83d\\ude00\"");
    NO(c, "\"\\ud83d\"");
    NO(c, "\"\\ude00\"");
    NO(c, "\"\\x41\"");
    NO(c, "\"a\nb\"");
    NO(c, "\"\xff\"");
    NO(c, "\"\xc3\"");
    cf_constraint_free(c);
    /* a pattern with escapes decodes them before matching */
    c = build("{\"type\":\"string\",\"pattern\":\"^a\\\"b\\\\\\\\c$\"}");
    YES(c, "\"a\\\"b\\\\c\"");
    YES(c, "\"a\\u0022b\\u005cc\"");
    NO(c, "\"a\\\"bc\"");
    cf_constraint_free(c);
}
END_TEST

START_TEST(test_objects) {
    CROSS("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"string\"}},"
          "\"required\":[\"a\"],\"additionalProperties\":false}",
          "{\"a\":1}", "{\"b\":\"x\",\"a\":2}", "{\"a\":1,\"c\":3}", "{\"b\":\"x\"}", "{\"a\":\"1\"}", "{}", "[]");
    CROSS("{\"properties\":{\"a\":{\"type\":\"integer\"}},\"patternProperties\":{\"^x-\":{\"type\":\"string\"}},"
          "\"additionalProperties\":{\"type\":\"boolean\"},\"minProperties\":1,\"maxProperties\":3}",
          "{\"a\":1}", "{\"x-y\":\"s\"}", "{\"x-y\":1}", "{\"z\":true}", "{\"z\":1}", "{}",
          "{\"a\":1,\"x-1\":\"s\",\"q\":false}", "{\"a\":1,\"x-1\":\"s\",\"q\":false,\"r\":true}", "7");
    CROSS("{\"type\":\"object\",\"dependentRequired\":{\"card\":[\"billing\"]},\"properties\":{\"card\":{},\"billing\":{}}}",
          "{}", "{\"card\":1}", "{\"card\":1,\"billing\":2}", "{\"billing\":2}");
    CROSS("{\"type\":\"object\",\"propertyNames\":{\"pattern\":\"^[a-z]+$\",\"maxLength\":3}}", "{\"abc\":1}",
          "{\"abcd\":1}", "{\"aB\":1}", "{}");
    CROSS("{\"type\":\"object\",\"propertyNames\":{\"enum\":[\"x\",\"y\"]},\"required\":[\"x\"]}", "{\"x\":1}",
          "{\"x\":1,\"y\":2}", "{\"x\":1,\"z\":2}", "{\"y\":1}");
    CROSS("{\"type\":\"object\",\"properties\":{\"k\":{\"const\":{\"b\":[1,{\"c\":null}],\"a\":\"s\"}}}}",
          "{\"k\":{\"a\":\"s\",\"b\":[1,{\"c\":null}]}}", "{\"k\":{\"b\":[1,{\"c\":null}],\"a\":\"s\"}}",
          "{\"k\":{\"a\":\"s\",\"b\":[1,{\"c\":0}]}}", "{\"k\":{\"a\":\"s\"}}", "{\"k\":{\"a\":\"s\",\"b\":[1,{\"c\":null}],\"d\":1}}");
    /* documented choice: a named property may appear once (the validator lets the last one win);
     * keys that only additionalProperties governs are not tracked */
    cf_constraint *d = build("{\"type\":\"object\",\"properties\":{\"a\":{}}}");
    NO(d, "{\"a\":1,\"a\":2}");
    YES(d, "{\"a\":1,\"b\":2}");
    YES(d, "{\"b\":1,\"b\":2}");
    cf_constraint_free(d);
    /* strict: additionalProperties defaults to false where properties are given */
    cf_schema_opts o;
    cf_schema_opts_default(&o);
    o.strict = 1;
    cf_constraint *c = build_opts("{\"type\":\"object\",\"properties\":{\"a\":{}}}", &o);
    YES(c, "{\"a\":1}");
    NO(c, "{\"b\":1}");
    cf_constraint_free(c);
}
END_TEST

START_TEST(test_arrays) {
    CROSS("{\"type\":\"array\",\"prefixItems\":[{\"type\":\"integer\"},{\"type\":\"string\"}],\"items\":false}",
          "[]", "[1]", "[1,\"a\"]", "[1,\"a\",2]", "[\"a\"]");
    CROSS("{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"minItems\":1,\"maxItems\":3}", "[]", "[1]",
          "[1,2,3]", "[1,2,3,4]", "[1,\"x\"]");
    CROSS("{\"type\":\"array\",\"contains\":{\"type\":\"integer\",\"minimum\":5},\"minContains\":2,\"maxContains\":3}",
          "[5,6]", "[5]", "[1,5,2,6,7]", "[5,6,7,8]", "[]", "[\"x\",5,\"y\",9]");
    CROSS("{\"items\":[{\"type\":\"string\"}],\"additionalItems\":{\"type\":\"boolean\"},"
          "\"$schema\":\"http://json-schema.org/draft-07/schema#\"}",
          "[\"a\",true,false]", "[\"a\",1]", "[1]", "[]");
}
END_TEST

START_TEST(test_combinators) {
    CROSS("{\"anyOf\":[{\"type\":\"string\",\"maxLength\":2},{\"type\":\"integer\",\"minimum\":10}]}", "\"ab\"",
          "\"abc\"", "10", "9", "null");
    CROSS("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\",\"maximum\":5}]}", "3", "7", "4.5", "5.5",
          "\"x\"");
    CROSS("{\"type\":\"object\",\"oneOf\":[{\"required\":[\"a\"]},{\"required\":[\"b\"]}]}", "{\"a\":1}",
          "{\"b\":1}", "{\"a\":1,\"b\":2}", "{}");
    CROSS("{\"not\":{\"type\":\"string\",\"pattern\":\"^x\"}}", "\"xy\"", "\"yx\"", "1", "{\"a\":\"x\"}");
    CROSS("{\"not\":{\"enum\":[1,\"a\",[1,2]]}}", "1", "1.0", "2", "\"a\"", "\"b\"", "[1,2]", "[1,2,3]");
    CROSS("{\"if\":{\"properties\":{\"kind\":{\"const\":\"circle\"}},\"required\":[\"kind\"]},"
          "\"then\":{\"required\":[\"radius\"]},\"else\":{\"required\":[\"width\"]}}",
          "{\"kind\":\"circle\",\"radius\":1}", "{\"kind\":\"circle\",\"width\":1}", "{\"kind\":\"square\",\"width\":1}",
          "{\"kind\":\"square\",\"radius\":1}", "{}", "3");
    CROSS("{\"allOf\":[{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]},"
          "{\"properties\":{\"a\":{\"minimum\":5},\"b\":{\"type\":\"string\"}}}],\"maxProperties\":2}",
          "{\"a\":5}", "{\"a\":4}", "{\"a\":5,\"b\":\"x\"}", "{\"a\":5,\"b\":1}", "{\"a\":5,\"b\":\"x\",\"c\":1}");
    CROSS("{\"type\":\"object\",\"dependentSchemas\":{\"a\":{\"required\":[\"b\"]}}}", "{\"a\":1,\"b\":2}",
          "{\"a\":1}", "{\"b\":1}", "{}");
    /* recursion through $ref and $defs, JSON pointer escapes */
    CROSS("{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
          "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}},\"required\":[\"v\"],"
          "\"additionalProperties\":false}},\"$ref\":\"#/$defs/node\"}",
          "{\"v\":1}", "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":3}]}]}", "{\"v\":1,\"kids\":[{\"w\":2}]}",
          "{\"kids\":[]}");
    CROSS("{\"$defs\":{\"a/b\":{\"type\":\"integer\"},\"c~d\":{\"type\":\"string\"},\"e%f\":{\"type\":\"null\"}},"
          "\"properties\":{\"x\":{\"$ref\":\"#/$defs/a~1b\"},\"y\":{\"$ref\":\"#/$defs/c~0d\"},\"z\":{\"$ref\":\"#/$defs/e%25f\"}}}",
          "{\"x\":1,\"y\":\"s\",\"z\":null}", "{\"x\":\"s\"}", "{\"y\":1}", "{\"z\":0}");
}
END_TEST

static void bad(const char *schema, const cf_schema_opts *o, int code, const char *needle) {
    cf_grammar *g = NULL;
    cf_err e = {0};
    int rc = cf_schema_compile(schema, strlen(schema), o, &g, &e);
    cf_constraint *c = NULL;
    if (!rc) rc = cf_constraint_new(&c, g, NULL, &e);
    if (!rc) cf_constraint_free(c);
    ck_assert_msg(rc == code, "%s: rc %d (%s), want %d", schema, rc, e.msg, code);
    ck_assert_msg(strstr(e.msg, needle) != NULL, "%s: message '%s' lacks '%s'", schema, e.msg, needle);
}

START_TEST(test_errors) {
    cf_schema_opts o;
    cf_schema_opts_default(&o);
    bad("{\"type\": \"object\",\n \"properties\": {,}}", &o, CF_EFORMAT, "line 2");
    bad("{\"properties\":{\"a\":{\"type\":5}}}", &o, CF_EFORMAT, "/properties/a");
    bad("{\"properties\":{\"a\":{\"minLength\":-1}}}", &o, CF_EFORMAT, "minLength");
    bad("{\"properties\":{\"tags\":{\"type\":\"array\",\"uniqueItems\":true}}}", &o, CF_EUNSUPPORTED,
        "/properties/tags: uniqueItems");
    bad("{\"properties\":{\"a\":{\"pattern\":\"ab(c\"}}}", &o, CF_EFORMAT, "/properties/a: pattern: column");
    bad("{\"properties\":{\"a\":{\"pattern\":\"(?=x)y\"}}}", &o, CF_EUNSUPPORTED, "lookahead");
    bad("{\"properties\":{\"a\":{\"$ref\":\"#/$defs/missing\"}}}", &o, CF_EINVAL,
        "/properties/a: unresolvable $ref '#/$defs/missing'");
    bad("{\"$ref\":\"http://example.com/other.json\"}", &o, CF_EUNSUPPORTED, "remote $ref");
    bad("{\"anyOf\":[{\"$ref\":\"#\"},{\"type\":\"string\"}]}", &o, CF_EFORMAT, "circular");
    bad("{\"format\":\"uri-template\"}", &o, CF_EUNSUPPORTED, "format 'uri-template'");
    bad("{\"properties\":{\"a\":{\"type\":\"number\",\"multipleOf\":1e-20}}}", &o, CF_EUNSUPPORTED, "multipleOf");
    bad("[1,2]", &o, CF_EFORMAT, "must be an object or a boolean");
    /* lenient: the keyword is dropped, with a warning naming it */
    o.lenient = 1;
    cf_grammar *g = NULL;
    cf_err e = {0};
    const char *s = "{\"properties\":{\"tags\":{\"type\":\"array\",\"uniqueItems\":true}}}";
    ck_assert_int_eq(cf_schema_compile(s, strlen(s), &o, &g, &e), 0);
    ck_assert_ptr_nonnull(g->warnings);
    ck_assert_ptr_nonnull(strstr(g->warnings, "/properties/tags: uniqueItems"));
    cf_constraint *c = NULL;
    ck_assert_int_eq(cf_constraint_new(&c, g, NULL, &e), 0);
    ck_assert_ptr_nonnull(strstr(cf_constraint_warnings(c), "uniqueItems"));
    YES(c, "{\"tags\":[1,1]}");
    cf_constraint_free(c);
    /* annotations and unknown keywords are ignored */
    c = build("{\"title\":\"t\",\"description\":\"d\",\"default\":1,\"examples\":[2],\"$comment\":\"c\","
              "\"x-custom\":{\"a\":1},\"readOnly\":true,\"deprecated\":true,\"format\":\"int32\",\"type\":\"integer\"}");
    YES(c, "5");
    NO(c, "\"5\"");
    cf_constraint_free(c);
}
END_TEST

START_TEST(test_pathological) {
    cf_schema_opts o;
    cf_schema_opts_default(&o);
    /* deep nesting: 200 levels of objects */
    size_t cap = 1 << 16;
    char *s = malloc(cap), *d = malloc(cap);
    strcpy(s, "");
    for (int i = 0; i < 200; i++) strcat(s, "{\"type\":\"object\",\"properties\":{\"a\":");
    strcat(s, "{\"type\":\"integer\"}");
    for (int i = 0; i < 200; i++) strcat(s, "},\"required\":[\"a\"]}");
    strcpy(d, "");
    for (int i = 0; i < 200; i++) strcat(d, "{\"a\":");
    strcat(d, "1");
    for (int i = 0; i < 200; i++) strcat(d, "}");
    double t0 = cf_now_s();
    cf_constraint *c = build(s);
    YES(c, d);
    d[strlen(d) - 1] = 0;
    NO(c, d);
    cf_constraint_free(c);
    ck_assert(cf_now_s() - t0 < PATHOLOGICAL_MAX_S);
    /* a huge enum: 20000 strings with shared prefixes */
    free(s);
    cap = 1 << 20;
    s = malloc(cap);
    strcpy(s, "{\"enum\":[");
    size_t k = strlen(s);
    for (int i = 0; i < 20000; i++) k += (size_t)snprintf(s + k, cap - k, "%s\"item-%d\"", i ? "," : "", i);
    strcpy(s + k, "]}");
    t0 = cf_now_s();
    c = build(s);
    YES(c, "\"item-19999\"");
    YES(c, "\"item-0\"");
    NO(c, "\"item-20000\"");
    NO(c, "\"item-\"");
    cf_constraint_free(c);
    ck_assert(cf_now_s() - t0 < PATHOLOGICAL_MAX_S);
    /* {1000} repetitions: bounded (compiles lazily) or refused, never a hang */
    t0 = cf_now_s();
    const char *rep = "{\"type\":\"string\",\"pattern\":\"^(a|b){1000}$\"}";
    cf_grammar *g = NULL;
    cf_err e = {0};
    int rc = cf_schema_compile(rep, strlen(rep), &o, &g, &e);
    if (!rc) {
        cf_constraint *c2 = NULL;
        ck_assert_int_eq(cf_constraint_new(&c2, g, NULL, &e), 0);
        char doc[1010];
        doc[0] = '"';
        memset(doc + 1, 'a', 1000);
        doc[1001] = '"';
        doc[1002] = 0;
        YES(c2, doc);
        doc[500] = 'c';
        NO(c2, doc);
        cf_constraint_free(c2);
    } else {
        ck_assert_int_eq(rc, CF_ELIMIT);
    }
    ck_assert(cf_now_s() - t0 < PATHOLOGICAL_MAX_S);
    /* exponential allOf of if/then: linear, not 2^n */
    strcpy(s, "{\"allOf\":[");
    k = strlen(s);
    for (int i = 0; i < 40; i++)
        k += (size_t)snprintf(s + k, cap - k,
                              "%s{\"if\":{\"properties\":{\"t\":{\"const\":%d}}},\"then\":{\"anyOf\":[{\"required\":[\"a\"]},"
                              "{\"required\":[\"b\"]}]},\"else\":{\"properties\":{\"x%d\":{\"type\":\"integer\"}}}}",
                              i ? "," : "", i, i);
    strcpy(s + k, "]}");
    t0 = cf_now_s();
    c = build(s);
    YES(c, "{\"t\":3,\"a\":1}");
    NO(c, "{\"t\":3}");
    NO(c, "{\"t\":5,\"b\":1,\"x0\":\"s\"}");
    cf_constraint_free(c);
    ck_assert(cf_now_s() - t0 < PATHOLOGICAL_MAX_S);
    free(s);
    free(d);
}
END_TEST

START_TEST(test_maskbench_sample) {
    /* a sample of MaskBench schemas: every valid document accepted, every invalid one rejected,
     * byte by byte (the token-level walk is in test_constraint and `cinfer bench schema`) */
    if (!tu_have_shared()) return;
    static const char *files[] = {"Github_medium---o10079.json", "Github_medium---o10297.json",
                                  "Github_easy---o2231.json", "BFCL_java_0.json", "Github_easy---o74022.json",
                                  "JsonSchemaStore---minecraft-recipe.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "schemas/maskbench-dev/%s", files[i]);
        size_t len = 0;
        char *txt = tu_read_file(tu_shared(path), &len);
        ck_assert_msg(txt != NULL, "%s missing", path);
        cf_json_doc *doc = NULL;
        cf_err e = {0};
        ck_assert_int_eq(cf_json_parse(txt, len, &doc, &e), 0);
        const cf_json *root = cf_json_root(doc);
        cf_grammar *g = NULL;
        cf_schema_opts o;
        cf_schema_opts_default(&o);
        ck_assert_msg(cf_schema_compile_json(cf_json_get(root, "schema"), &o, &g, &e) == 0, "%s: %s", files[i], e.msg);
        cf_constraint *c = NULL;
        ck_assert_int_eq(cf_constraint_new(&c, g, NULL, &e), 0);
        const cf_json *tests = cf_json_get(root, "tests");
        for (size_t t = 0; t < tests->len; t++) {
            size_t dl = 0;
            char *ds = cf_json_write(cf_json_get(tests->items[t], "data"), &dl);
            int valid = cf_json_get(tests->items[t], "valid")->b;
            ck_assert_msg(accepts(c, ds) == valid, "%s test %zu (%s): %s", files[i], t, valid ? "valid" : "invalid", ds);
            free(ds);
        }
        cf_constraint_free(c);
        cf_json_free(doc);
        free(txt);
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("schema");
    TCase *tc = tcase_create("schema");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_reported_cases);
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_objects);
    tcase_add_test(tc, test_arrays);
    tcase_add_test(tc, test_combinators);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_pathological);
    tcase_add_test(tc, test_maskbench_sample);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
