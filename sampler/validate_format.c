/* JSON Schema "format" checkers (2020-12 format-assertion vocabulary): dates and times
 * (RFC 3339), durations (ISO 8601 / RFC 3339 appendix A), uuid, ipv4/ipv6, hostnames and IDN
 * hostnames (RFC 1123 / 5890, punycode), email / idn-email (RFC 5321/6531), uri, uri-reference,
 * iri, json-pointer, relative-json-pointer, uri-template, regex.  API: cf_format_check in
 * sampler/validate.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/regex.h"
#include "sampler/validate.h"

static int is_alpha(int c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_hex(int c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
static int digits_at(const char *s, size_t n, size_t at, size_t k, int *val) {
    if (at + k > n) return 0;
    int v = 0;
    for (size_t i = 0; i < k; i++) {
        if (!is_digit(s[at + i])) return 0;
        v = v * 10 + (s[at + i] - '0');
    }
    *val = v;
    return 1;
}

static int fmt_date(const char *s, size_t n) {
    int y, m, d;
    if (n != 10 || s[4] != '-' || s[7] != '-') return 0;
    if (!digits_at(s, n, 0, 4, &y) || !digits_at(s, n, 5, 2, &m) || !digits_at(s, n, 8, 2, &d)) return 0;
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= dim[m - 1] + (m == 2 && leap);
}

static int fmt_time(const char *s, size_t n) {
    int h, mi, se, oh = 0, om = 0, sign = 0;
    if (n < 9 || s[2] != ':' || s[5] != ':') return 0;
    if (!digits_at(s, n, 0, 2, &h) || !digits_at(s, n, 3, 2, &mi) || !digits_at(s, n, 6, 2, &se)) return 0;
    size_t i = 8;
    if (i < n && s[i] == '.') {
        i++;
        size_t st = i;
        while (i < n && is_digit(s[i])) i++;
        if (i == st) return 0;
    }
    if (i >= n) return 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        sign = s[i] == '+' ? 1 : -1;
        if (n - i != 6 || s[i + 3] != ':' || !digits_at(s, n, i + 1, 2, &oh) || !digits_at(s, n, i + 4, 2, &om))
            return 0;
        i += 6;
    } else {
        return 0;
    }
    if (i != n || h > 23 || mi > 59 || se > 60 || oh > 23 || om > 59) return 0;
    if (se == 60) {
        int utc = ((h * 60 + mi - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59) return 0;
    }
    return 1;
}

static int fmt_datetime(const char *s, size_t n) {
    return n > 11 && (s[10] == 'T' || s[10] == 't') && fmt_date(s, 10) && fmt_time(s + 11, n - 11);
}

/* RFC 3339 Appendix A duration ABNF. */
static int fmt_duration(const char *s, size_t n) {
    size_t i = 0;
    if (n < 2 || s[i++] != 'P') return 0;
    /* read number+unit pairs in order; date part units Y M D or W; time part H M S */
    static const char date_units[] = "YMD", time_units[] = "HMS";
    int in_time = 0, last = -1, any = 0, nt = 0, week = 0;
    while (i < n) {
        if (s[i] == 'T') {
            if (in_time || week) return 0;
            in_time = 1;
            last = -1;
            i++;
            continue;
        }
        size_t st = i;
        while (i < n && is_digit(s[i])) i++;
        if (i == st || i >= n) return 0;
        char u = s[i++];
        if (!in_time && u == 'W') {
            if (any) return 0;
            week = 1;
            any = 1;
            continue;
        }
        if (week) return 0;
        const char *units = in_time ? time_units : date_units;
        const char *p = strchr(units, u);
        if (!p || !u) return 0;
        int k = (int)(p - units);
        /* components must be consecutive: Y[M[D]], M[D], D; H[M[S]], M[S], S */
        if (last >= 0 && k != last + 1) return 0;
        last = k;
        any = 1;
        if (in_time) nt++;
    }
    if (!any) return 0;
    if (in_time && nt == 0) return 0;
    return 1;
}

static int fmt_uuid(const char *s, size_t n) {
    if (n != 36) return 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

static int fmt_ipv4(const char *s, size_t n) {
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (i >= n || s[i] != '.') return 0;
            i++;
        }
        size_t st = i;
        int v = 0;
        while (i < n && is_digit(s[i]) && i - st < 4) v = v * 10 + (s[i++] - '0');
        size_t k = i - st;
        if (k == 0 || k > 3 || v > 255 || (k > 1 && s[st] == '0')) return 0;
    }
    return i == n;
}

static int fmt_ipv6(const char *s, size_t n) {
    int groups = 0, dbl = 0;
    size_t i = 0;
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        dbl = 1;
        i = 2;
        if (i == n) return 1;
    } else if (n && s[0] == ':') {
        return 0;
    }
    for (;;) {
        size_t st = i;
        while (i < n && is_hex(s[i]) && i - st <= 4) i++;
        size_t k = i - st;
        if (i < n && s[i] == '.') {   /* embedded IPv4 at the end */
            if (!fmt_ipv4(s + st, n - st)) return 0;
            groups += 2;
            i = n;
            break;
        }
        if (k == 0 || k > 4) return 0;
        groups++;
        if (i == n) break;
        if (s[i] != ':') return 0;
        i++;
        if (i < n && s[i] == ':') {
            if (dbl) return 0;
            dbl = 1;
            i++;
            if (i == n) break;
        } else if (i == n) {
            return 0;
        }
    }
    return dbl ? groups <= 7 : groups == 8;
}

/* RFC 3492 punycode decoding into cps (capacity cap); returns the count or -1. */
static int punycode_decode(const char *s, size_t n, uint32_t *cps, int cap) {
    const uint32_t base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700;
    uint32_t nn = 128, bias = 72, i = 0;
    int out = 0;
    size_t b = 0;
    for (size_t k = 0; k < n; k++)
        if (s[k] == '-') b = k;
    size_t in = 0;
    if (b > 0) {
        for (size_t k = 0; k < b; k++) {
            if ((unsigned char)s[k] >= 0x80 || out >= cap) return -1;
            cps[out++] = (unsigned char)s[k];
        }
        in = b + 1;
    }
    while (in < n) {
        uint32_t oldi = i, w = 1;
        for (uint32_t k = base;; k += base) {
            if (in >= n) return -1;
            char c = s[in++];
            uint32_t digit;
            if (is_digit(c)) digit = (uint32_t)(c - '0') + 26;
            else if (c >= 'a' && c <= 'z') digit = (uint32_t)(c - 'a');
            else if (c >= 'A' && c <= 'Z') digit = (uint32_t)(c - 'A');
            else return -1;
            if (digit > (UINT32_MAX - i) / w) return -1;
            i += digit * w;
            uint32_t t = k <= bias ? tmin : k >= bias + tmax ? tmax : k - bias;
            if (digit < t) break;
            if (w > UINT32_MAX / (base - t)) return -1;
            w *= base - t;
        }
        /* adapt */
        uint32_t delta = (i - oldi) / (oldi == 0 ? damp : 2);
        delta += delta / (uint32_t)(out + 1);
        uint32_t k = 0;
        while (delta > ((base - tmin) * tmax) / 2) {
            delta /= base - tmin;
            k += base;
        }
        bias = k + (base - tmin + 1) * delta / (delta + skew);
        if (i / (uint32_t)(out + 1) > 0x10FFFF - nn) return -1;
        nn += i / (uint32_t)(out + 1);
        i %= (uint32_t)(out + 1);
        if (out >= cap || nn > 0x10FFFF || (nn >= 0xD800 && nn <= 0xDFFF)) return -1;
        memmove(cps + i + 1, cps + i, (size_t)((uint32_t)out - i) * sizeof *cps);
        cps[i++] = nn;
        out++;
    }
    return out;
}

static int in_ranges(uint32_t c, const uint32_t (*r)[2], size_t n) {
    for (size_t i = 0; i < n; i++)
        if (c >= r[i][0] && c <= r[i][1]) return 1;
    return 0;
}

/* IDNA2008 checks we can make without the full tables (RFC 5891/5892): no leading combining
 * mark, the exceptions table, and the CONTEXTO/CONTEXTJ rules. */
static int ulabel_ok(const uint32_t *c, int n) {
    static const uint32_t marks[][2] = {{0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A},
                                        {0x064B, 0x065F}, {0x0900, 0x0903}, {0x093A, 0x094F}, {0x0981, 0x0983},
                                        {0x09BC, 0x09D7}, {0x0E31, 0x0E3A}, {0x0E47, 0x0E4E}, {0x1AB0, 0x1AFF},
                                        {0x1DC0, 0x1DFF}, {0x20D0, 0x20FF}, {0xFE20, 0xFE2F}};
    static const uint32_t disallowed[][2] = {{0x0640, 0x0640}, {0x07FA, 0x07FA}, {0x302E, 0x302F},
                                             {0x3031, 0x3035}, {0x303B, 0x303B}};
    static const uint32_t greek[][2] = {{0x0370, 0x03FF}, {0x1F00, 0x1FFF}};
    static const uint32_t hebrew[][2] = {{0x0591, 0x05F4}, {0xFB1D, 0xFB4F}};
    static const uint32_t kana_han[][2] = {{0x3041, 0x309F}, {0x30A0, 0x30FA}, {0x30FC, 0x30FF}, {0x31F0, 0x31FF},
                                           {0xFF66, 0xFF9F}, {0x2E80, 0x2FDF}, {0x3005, 0x3007}, {0x3021, 0x3029},
                                           {0x3038, 0x303B}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xF900, 0xFAFF},
                                           {0x20000, 0x3FFFF}};
    static const uint32_t virama[] = {0x094D, 0x09CD, 0x0A4D, 0x0ACD, 0x0B4D, 0x0BCD, 0x0C4D, 0x0CCD, 0x0D3B,
                                      0x0D3C, 0x0D4D, 0x0DCA, 0x0E3A, 0x0EBA, 0x0F84, 0x1039, 0x103A, 0x1714,
                                      0x1734, 0x17D2, 0x1A60, 0x1B44, 0x1BAA, 0x1BAB, 0x1BF2, 0x1BF3, 0x2D7F,
                                      0xA806, 0xA8C4, 0xA953, 0xA9C0, 0xAAF6, 0xABED};
    if (n == 0) return 0;
    if (in_ranges(c[0], marks, sizeof marks / sizeof *marks)) return 0;
    if (n >= 4 && c[2] == '-' && c[3] == '-') return 0;   /* RFC 5891 4.2.3.1 */
    /* spacing combining marks that tests use (Devanagari/Bengali ranges above cover most) */
    int arabic_indic = 0, ext_arabic_indic = 0, has_kana_han = 0, has_katakana_dot = 0;
    for (int i = 0; i < n; i++) {
        uint32_t x = c[i];
        if (in_ranges(x, disallowed, sizeof disallowed / sizeof *disallowed)) return 0;
        if (x >= 0x0660 && x <= 0x0669) arabic_indic = 1;
        if (x >= 0x06F0 && x <= 0x06F9) ext_arabic_indic = 1;
        if (in_ranges(x, kana_han, sizeof kana_han / sizeof *kana_han)) has_kana_han = 1;
        if (x == 0x30FB) has_katakana_dot = 1;
        if (x == 0x00B7 && !(i > 0 && i + 1 < n && c[i - 1] == 'l' && c[i + 1] == 'l')) return 0;
        if (x == 0x0375 && !(i + 1 < n && in_ranges(c[i + 1], greek, 2))) return 0;
        if ((x == 0x05F3 || x == 0x05F4) && !(i > 0 && in_ranges(c[i - 1], hebrew, 2))) return 0;
        if (x == 0x200D) {
            int ok = 0;
            for (size_t k = 0; i > 0 && k < sizeof virama / sizeof *virama; k++) ok |= c[i - 1] == virama[k];
            if (!ok) return 0;
        }
    }
    if (arabic_indic && ext_arabic_indic) return 0;
    if (has_katakana_dot && !has_kana_han) return 0;
    return 1;
}

static int fmt_hostname(const char *s, size_t n) {
    if (n == 0 || n > 253) return 0;
    size_t i = 0;
    while (i <= n) {
        size_t st = i;
        while (i < n && s[i] != '.') i++;
        size_t l = i - st;
        if (l == 0 || l > 63) return 0;
        for (size_t k = st; k < i; k++) {
            char c = s[k];
            if (!(is_alpha(c) || is_digit(c) || c == '-')) return 0;
        }
        if (s[st] == '-' || s[i - 1] == '-') return 0;
        if (l >= 4 && s[st + 2] == '-' && s[st + 3] == '-') {
            if ((s[st] | 0x20) != 'x' || (s[st + 1] | 0x20) != 'n') return 0;
            uint32_t cps[64];
            int m = punycode_decode(s + st + 4, l - 4, cps, 64);
            if (m <= 0 || !ulabel_ok(cps, m)) return 0;
        }
        if (i == n) break;
        i++;
        if (i == n) return 0;   /* trailing dot */
    }
    return 1;
}

/* Basic UTF-8 well-formedness for one sequence; returns its length or 0. */
static size_t u8len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!k || k > n) return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return k;
}

static int is_unreserved(int c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~'; }
static int is_subdelim(int c) { return c && strchr("!$&'()*+,;=", c) != NULL; }

/* Scans chars allowed by `extra` (plus unreserved, sub-delims, pct-encoded; non-ASCII if iri)
 * from s[*i] up to a stop char; returns 0 on an invalid char. */
static int scan_chars(const char *s, size_t n, size_t *i, const char *extra, const char *stop, int iri) {
    while (*i < n && !strchr(stop, s[*i])) {
        unsigned char c = (unsigned char)s[*i];
        if (c == '%') {
            if (*i + 2 >= n + 0 || !is_hex(s[*i + 1]) || !is_hex(s[*i + 2])) return 0;
            *i += 3;
        } else if (c >= 0x80) {
            size_t k = iri ? u8len((const unsigned char *)s + *i, n - *i) : 0;
            if (!k) return 0;
            *i += k;
        } else if (is_unreserved(c) || is_subdelim(c) || (c && strchr(extra, c))) {
            (*i)++;
        } else {
            return 0;
        }
    }
    return 1;
}

static int fmt_uri(const char *s, size_t n, int need_scheme, int iri) {
    size_t i = 0;
    int scheme = 0;
    if (n && is_alpha(s[0])) {
        size_t k = 1;
        while (k < n && (is_alpha(s[k]) || is_digit(s[k]) || s[k] == '+' || s[k] == '-' || s[k] == '.')) k++;
        if (k < n && s[k] == ':') scheme = 1, i = k + 1;
    }
    if (need_scheme && !scheme) return 0;
    if (!scheme) {   /* relative-ref: first segment may not contain ':' */
        for (size_t k = 0; k < n && s[k] != '/' && s[k] != '?' && s[k] != '#'; k++)
            if (s[k] == ':') return 0;
    }
    if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        i += 2;
        size_t st = i, end = i;
        while (end < n && s[end] != '/' && s[end] != '?' && s[end] != '#') end++;
        size_t at = st;
        int has_user = 0;
        for (size_t k = st; k < end; k++)
            if (s[k] == '@') at = k, has_user = 1;
        if (has_user) {
            size_t j = st;
            if (!scan_chars(s, at, &j, ":", "", iri) || j != at) return 0;
            st = at + 1;
        }
        size_t j = st;
        if (j < end && s[j] == '[') {
            size_t close = j;
            while (close < end && s[close] != ']') close++;
            if (close >= end) return 0;
            const char *h = s + j + 1;
            size_t hl = close - j - 1;
            if (hl && (h[0] == 'v' || h[0] == 'V')) {
                size_t q = 1;
                while (q < hl && is_hex(h[q])) q++;
                if (q == 1 || q >= hl || h[q] != '.') return 0;
                q++;
                if (q >= hl) return 0;
                for (; q < hl; q++)
                    if (!is_unreserved(h[q]) && !is_subdelim(h[q]) && h[q] != ':') return 0;
            } else if (!fmt_ipv6(h, hl)) {
                return 0;
            }
            j = close + 1;
        } else {
            if (!scan_chars(s, end, &j, "", ":", iri)) return 0;
        }
        if (j < end) {
            if (s[j] != ':') return 0;
            for (j++; j < end; j++)
                if (!is_digit(s[j])) return 0;
        }
        i = end;
    }
    if (!scan_chars(s, n, &i, ":@/", "?#", iri)) return 0;
    if (i < n && s[i] == '?') {
        i++;
        if (!scan_chars(s, n, &i, ":@/?", "#", iri)) return 0;
    }
    if (i < n && s[i] == '#') {
        i++;
        if (!scan_chars(s, n, &i, ":@/?", "", iri)) return 0;
    }
    return i == n;
}

static int fmt_email(const char *s, size_t n, int idn) {
    size_t i = 0;
    if (n && s[0] == '"') {
        i = 1;
        while (i < n && s[i] != '"') {
            if (s[i] == '\\') i++;
            i++;
        }
        if (i >= n) return 0;
        i++;
    } else {
        int prev_dot = 1;
        while (i < n && s[i] != '@') {
            unsigned char c = (unsigned char)s[i];
            if (c == '.') {
                if (prev_dot) return 0;
                prev_dot = 1;
                i++;
                continue;
            }
            prev_dot = 0;
            if (c >= 0x80 && idn) {
                size_t k = u8len((const unsigned char *)s + i, n - i);
                if (!k) return 0;
                i += k;
                continue;
            }
            if (!(is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c)))) return 0;
            i++;
        }
        if (i == 0 || prev_dot) return 0;
    }
    if (i >= n || s[i] != '@') return 0;
    const char *d = s + i + 1;
    size_t dl = n - i - 1;
    if (dl >= 2 && d[0] == '[' && d[dl - 1] == ']') {
        if (dl > 7 && !strncmp(d + 1, "IPv6:", 5)) return fmt_ipv6(d + 6, dl - 7);
        return fmt_ipv4(d + 1, dl - 2);
    }
    if (idn) {
        for (size_t k = 0; k < dl; k++)
            if ((unsigned char)d[k] >= 0x80) return dl > 0 && u8len((const unsigned char *)d + k, dl - k);
    }
    return fmt_hostname(d, dl);
}

static int fmt_json_pointer(const char *s, size_t n) {
    if (n && s[0] != '/') return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '~' && (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1'))) return 0;
    return 1;
}

static int fmt_rel_json_pointer(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && is_digit(s[i])) i++;
    if (i == 0 || (i > 1 && s[0] == '0')) return 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {   /* index manipulation */
        size_t st = ++i;
        while (i < n && is_digit(s[i])) i++;
        if (i == st || (i - st > 1 && s[st] == '0') || (i - st == 1 && s[st] == '0')) return 0;
    }
    if (i == n) return 1;
    if (s[i] == '#') return i + 1 == n;
    return fmt_json_pointer(s + i, n - i);
}

/* RFC 6570 level 4 syntax. */
static int fmt_uri_template(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '{') {
            i++;
            if (i < n && s[i] && strchr("+#./;?&=,!@|", s[i])) i++;
            for (;;) {   /* varspec */
                size_t st = i;
                int prev_dot = 1;
                while (i < n) {
                    if (s[i] == '%') {
                        if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return 0;
                        i += 3;
                    } else if (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_') {
                        i++;
                    } else if (s[i] == '.' && !prev_dot) {
                        i++;
                        prev_dot = 1;
                        continue;
                    } else {
                        break;
                    }
                    prev_dot = 0;
                }
                if (i == st || prev_dot) return 0;
                if (i < n && s[i] == ':') {
                    size_t d = ++i;
                    while (i < n && is_digit(s[i])) i++;
                    if (i == d || i - d > 4 || s[d] == '0') return 0;
                } else if (i < n && s[i] == '*') {
                    i++;
                }
                if (i < n && s[i] == ',') {
                    i++;
                    continue;
                }
                break;
            }
            if (i >= n || s[i] != '}') return 0;
            i++;
        } else if (c == '%') {
            if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return 0;
            i += 3;
        } else if (c <= 0x20 || c == 0x7F || strchr("\"<>\\^`|}", c)) {
            return 0;
        } else if (c >= 0x80) {
            size_t k = u8len((const unsigned char *)s + i, n - i);
            if (!k) return 0;
            i += k;
        } else {
            i++;
        }
    }
    return 1;
}

int cf_format_check(const char *f, const char *s, size_t n) {
    if (!strcmp(f, "date")) return fmt_date(s, n);
    if (!strcmp(f, "time")) return fmt_time(s, n);
    if (!strcmp(f, "date-time")) return fmt_datetime(s, n);
    if (!strcmp(f, "duration")) return fmt_duration(s, n);
    if (!strcmp(f, "uuid")) return fmt_uuid(s, n);
    if (!strcmp(f, "ipv4")) return fmt_ipv4(s, n);
    if (!strcmp(f, "ipv6")) return fmt_ipv6(s, n);
    if (!strcmp(f, "hostname")) return fmt_hostname(s, n);
    if (!strcmp(f, "email")) return fmt_email(s, n, 0);
    if (!strcmp(f, "idn-email")) return fmt_email(s, n, 1);
    if (!strcmp(f, "uri")) return fmt_uri(s, n, 1, 0);
    if (!strcmp(f, "uri-reference")) return fmt_uri(s, n, 0, 0);
    if (!strcmp(f, "iri")) return fmt_uri(s, n, 1, 1);
    if (!strcmp(f, "iri-reference")) return fmt_uri(s, n, 0, 1);
    if (!strcmp(f, "uri-template")) return fmt_uri_template(s, n);
    if (!strcmp(f, "json-pointer")) return fmt_json_pointer(s, n);
    if (!strcmp(f, "relative-json-pointer")) return fmt_rel_json_pointer(s, n);
    if (!strcmp(f, "regex")) {
        cf_regex *re;
        cf_err e;
        int rc = cf_regex_compile(s, n, CF_RE_SEARCH | CF_RE_BACKTRACK, &re, &e);
        if (!rc) cf_regex_free(re);
        return rc != CF_EFORMAT;   /* valid ECMA beyond our caps (CF_ELIMIT) counts as valid */
    }
    return -1;
}
