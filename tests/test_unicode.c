/* Unicode tables (generated from the UCD) and UTF-8 helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/unicode.h"
#include "tests/testutil.h"

#define UCD_DIR "/usr/share/unicode"

START_TEST(test_categories) {
    struct {
        uint32_t cp;
        cf_ucat cat;
    } k[] = {
        {'A', CF_UC_Lu},     {'z', CF_UC_Ll},     {'0', CF_UC_Nd},     {' ', CF_UC_Zs},     {'\n', CF_UC_Cc},
        {'~', CF_UC_Sm},     {'$', CF_UC_Sc},     {'_', CF_UC_Pc},     {'(', CF_UC_Ps},     {0xA0, CF_UC_Zs},
        {0xB2, CF_UC_No},    {0x1C5, CF_UC_Lt},   {0x2B0, CF_UC_Lm},   {0x301, CF_UC_Mn},   {0x20DD, CF_UC_Me},
        {0x903, CF_UC_Mc},   {0x2160, CF_UC_Nl},  {0x2028, CF_UC_Zl},  {0x2029, CF_UC_Zp},  {0x200D, CF_UC_Cf},
        {0x4E00, CF_UC_Lo},  {0x9FFF, CF_UC_Lo},  {0xAC00, CF_UC_Lo},  {0xD7A3, CF_UC_Lo},  {0xD800, CF_UC_Cs},
        {0xDFFF, CF_UC_Cs},  {0xE000, CF_UC_Co},  {0xFFFD, CF_UC_So},  {0xFFFF, CF_UC_Cn},  {0x1F999, CF_UC_So},
        {0x20000, CF_UC_Lo}, {0x2A6DF, CF_UC_Lo}, {0xE0001, CF_UC_Cf}, {0x10FFFD, CF_UC_Co}, {0x10FFFF, CF_UC_Cn},
        {0x110000, CF_UC_Cn}, {0xFFFFFFFF, CF_UC_Cn}, {0x2014, CF_UC_Pd}, {0x00AB, CF_UC_Pi}, {0x00BB, CF_UC_Pf},
        {0x005E, CF_UC_Sk},  {0x00A9, CF_UC_So},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        ck_assert_msg(cf_uni_category(k[i].cp) == k[i].cat, "U+%04X: %s, want %s", k[i].cp,
                      cf_uni_category_name(cf_uni_category(k[i].cp)), cf_uni_category_name(k[i].cat));
    ck_assert(cf_uni_is_letter(0x436) && !cf_uni_is_letter('1'));
    ck_assert(cf_uni_is_number(0x663) && cf_uni_is_number(0x2160) && !cf_uni_is_number('a'));
    ck_assert(cf_uni_is_punct(0x3002) && !cf_uni_is_punct('+'));
    ck_assert(cf_uni_is_symbol('+') && cf_uni_is_symbol(0x20AC));
    ck_assert(cf_uni_is_mark(0x301) && cf_uni_is_separator(0x3000) && cf_uni_is_other(0x200B));
    ck_assert_str_eq(cf_uni_category_name(CF_UC_Lu), "Lu");
    ck_assert_str_eq(cf_uni_category_name((cf_ucat)99), "??");
}
END_TEST

/* White_Space is exactly PropList's set */
START_TEST(test_whitespace) {
    static const uint32_t ws[] = {9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
                                  0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029,
                                  0x202F, 0x205F, 0x3000};
    size_t k = 0;
    uint32_t bad = 0, first_bad = 0;
    for (uint32_t cp = 0; cp <= CF_UNI_MAX + 16; cp++) { /* (Check asserts are slow: count, then assert) */
        int want = k < sizeof ws / sizeof ws[0] && ws[k] == cp;
        if (cf_uni_is_whitespace(cp) != want && !bad++) first_bad = cp;
        k += (size_t)want;
    }
    ck_assert_msg(bad == 0, "%u mismatches, first U+%04X", bad, first_bad);
    ck_assert_uint_eq(k, sizeof ws / sizeof ws[0]);
}
END_TEST

/* The tables agree with UnicodeData.txt line by line (when the UCD is installed). */
START_TEST(test_against_ucd) {
    FILE *f = fopen(UCD_DIR "/UnicodeData.txt", "r");
    if (!f) return;
    char line[512];
    uint32_t first = 0, checked = 0, prev = 0, bad = 0, first_bad = 0;
    int have_first = 0;
    while (fgets(line, sizeof line, f)) {
        char *f1 = strchr(line, ';');
        if (!f1) continue;
        char *f2 = strchr(f1 + 1, ';');
        ck_assert_ptr_nonnull(f2);
        uint32_t cp = (uint32_t)strtoul(line, NULL, 16);
        char gc[3] = {f2[1], f2[2], 0};
        if (strstr(f1, ", First>")) {
            first = cp;
            have_first = 1;
            continue;
        }
        uint32_t lo = have_first ? first : cp;
        have_first = 0;
        for (uint32_t x = prev; x < lo; x++)
            if (cf_uni_category(x) != CF_UC_Cn && !bad++) first_bad = x;
        for (uint32_t x = lo; x <= cp; x++, checked++)
            if (strcmp(cf_uni_category_name(cf_uni_category(x)), gc) && !bad++) first_bad = x;
        prev = cp + 1;
    }
    fclose(f);
    ck_assert_msg(bad == 0, "%u code points differ from the UCD, first U+%04X", bad, first_bad);
    ck_assert_uint_gt(checked, 280000);
}
END_TEST

/* range lists: sorted, disjoint, and membership equals the category predicate everywhere */
START_TEST(test_ranges) {
    struct {
        const char *name;
        int (*pred)(uint32_t);
    } k[] = {{"L", cf_uni_is_letter}, {"N", cf_uni_is_number}, {"P", cf_uni_is_punct},
             {"S", cf_uni_is_symbol}, {"M", cf_uni_is_mark},   {"Z", cf_uni_is_separator},
             {"C", cf_uni_is_other},  {"White_Space", cf_uni_is_whitespace}};
    for (size_t c = 0; c < sizeof k / sizeof k[0]; c++) {
        const uint32_t(*r)[2];
        int n;
        ck_assert_int_eq(cf_uni_ranges(k[c].name, &r, &n), 0);
        ck_assert_int_gt(n, 0);
        int i = 0;
        uint32_t bad = 0, first_bad = 0;
        for (uint32_t cp = 0; cp <= CF_UNI_MAX; cp++) {
            while (i < n && r[i][1] < cp) i++;
            int in = i < n && r[i][0] <= cp;
            if (in != !!k[c].pred(cp) && !bad++) first_bad = cp;
        }
        ck_assert_msg(bad == 0, "%s: %u mismatches, first U+%04X", k[c].name, bad, first_bad);
        for (int j = 1; j < n; j++) ck_assert(r[j][0] > r[j - 1][1] + 1); /* merged */
    }
    /* every two-letter category covers exactly its code points; the 30 partition the space */
    uint64_t total = 0;
    for (int cat = 0; cat < CF_UC_COUNT; cat++) {
        const uint32_t(*r)[2];
        int n;
        ck_assert_int_eq(cf_uni_ranges(cf_uni_category_name((cf_ucat)cat), &r, &n), 0);
        for (int j = 0; j < n; j++) {
            total += r[j][1] - r[j][0] + 1;
            ck_assert(cf_uni_category(r[j][0]) == (cf_ucat)cat && cf_uni_category(r[j][1]) == (cf_ucat)cat);
        }
    }
    ck_assert_uint_eq(total, CF_UNI_MAX + 1);
    /* aliases */
    const uint32_t(*a)[2], (*b)[2];
    int na, nb;
    ck_assert_int_eq(cf_uni_ranges("Letter", &a, &na), 0);
    ck_assert_int_eq(cf_uni_ranges("L", &b, &nb), 0);
    ck_assert(a == b && na == nb);
    ck_assert_int_eq(cf_uni_ranges("uppercase_letter", &a, &na), 0);
    ck_assert_int_eq(cf_uni_ranges("Lu", &b, &nb), 0);
    ck_assert(a == b);
    ck_assert_int_eq(cf_uni_ranges("Decimal Number", &a, &na), 0);
    ck_assert_int_eq(cf_uni_ranges("L&", &a, &na), 0);
    ck_assert_int_eq(cf_uni_ranges("space", &a, &na), 0);
    ck_assert_int_eq(cf_uni_ranges("Xx", &a, &na), -1);
    ck_assert_int_eq(cf_uni_ranges(NULL, &a, &na), -1);
}
END_TEST

START_TEST(test_utf8) {
    uint8_t b[4];
    uint32_t bad = 0, first_bad = 0;
    for (uint32_t cp = 0; cp <= CF_UNI_MAX; cp++) { /* every code point round-trips */
        int n = cf_utf8_encode(cp, b), ok = n >= 1 && n <= 4;
        uint32_t back[4], c2 = 0;
        ok = ok && cf_utf8_decode_lenient(b, (size_t)n, back) == 1 && back[0] == cp;
        int k = cf_utf8_next(b, (size_t)n, &c2);
        if (cp >= 0xD800 && cp <= 0xDFFF) ok = ok && k == -1; /* strict: no surrogates */
        else {
            ok = ok && k == n && c2 == cp;
            for (int p = 1; p < n; p++) ok = ok && cf_utf8_next(b, (size_t)p, &c2) == 0; /* incomplete */
        }
        if (!ok && !bad++) first_bad = cp;
    }
    ck_assert_msg(bad == 0, "%u code points fail, first U+%04X", bad, first_bad);
    ck_assert_int_eq(cf_utf8_encode(0x110000, b), 0);
    /* lenient decoding, llama.cpp's rule: invalid bytes -> U+FFFD each; overlongs accepted */
    static const struct {
        const char *s;
        size_t n;
        uint32_t cps[8];
        size_t ncp;
    } k[] = {
        {"a\xff" "b", 3, {'a', 0xFFFD, 'b'}, 3},
        {"\xc3", 1, {0xFFFD}, 1},                          /* truncated */
        {"\xc3(", 2, {0xFFFD, '('}, 2},                    /* bad continuation */
        {"\xc0\x80", 2, {0}, 1},                           /* overlong NUL accepted */
        {"\xed\xa0\x80", 3, {0xD800}, 1},                  /* surrogate accepted */
        {"\xf4\x90\x80\x80", 4, {0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD}, 4}, /* > U+10FFFF */
        {"\xf7\xbf\xbf\xbf", 4, {0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD}, 4},
        {"\xf8\x88\x80\x80\x80", 5, {0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD}, 5},
        {"\x80\xbf", 2, {0xFFFD, 0xFFFD}, 2},
        {"\xe4\xb8\xad\xf0\x9f\xa6\x99", 7, {0x4E2D, 0x1F999}, 2},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        uint32_t out[8];
        size_t n = cf_utf8_decode_lenient((const uint8_t *)k[i].s, k[i].n, out);
        ck_assert_msg(n == k[i].ncp, "case %zu: %zu code points", i, n);
        for (size_t j = 0; j < n; j++) ck_assert_msg(out[j] == k[i].cps[j], "case %zu cp %zu: %X", i, j, out[j]);
    }
    /* strict validation */
    ck_assert(cf_utf8_valid((const uint8_t *)"", 0));
    ck_assert(cf_utf8_valid((const uint8_t *)"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
    ck_assert(!cf_utf8_valid((const uint8_t *)"\xc0\x80", 2));
    ck_assert(!cf_utf8_valid((const uint8_t *)"\xe0\x80\x80", 3));
    ck_assert(!cf_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));
    ck_assert(!cf_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));
    ck_assert(!cf_utf8_valid((const uint8_t *)"\xe2\x82", 2));
    ck_assert(!cf_utf8_valid((const uint8_t *)"\xff", 1));
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("unicode");
    TCase *tc = tcase_create("unicode");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_categories);
    tcase_add_test(tc, test_whitespace);
    tcase_add_test(tc, test_against_ucd);
    tcase_add_test(tc, test_ranges);
    tcase_add_test(tc, test_utf8);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
