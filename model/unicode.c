/* Unicode helpers: category names, class lookup by name, UTF-8 encode/decode. */
#include "model/unicode.h"

#include <ctype.h>
#include <string.h>

static const char *const k_cat_names[CF_UC_COUNT] = {
    "Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
    "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};

const char *cf_uni_category_name(cf_ucat c) {
    return (unsigned)c < CF_UC_COUNT ? k_cat_names[c] : "??";
}

/* Long property-value aliases (PropertyValueAliases.txt, gc) -> short names. */
static const char *const k_alias[][2] = {
    {"letter", "L"}, {"casedletter", "LC"}, {"l&", "LC"}, {"uppercaseletter", "Lu"},
    {"lowercaseletter", "Ll"}, {"titlecaseletter", "Lt"}, {"modifierletter", "Lm"},
    {"otherletter", "Lo"}, {"mark", "M"}, {"combiningmark", "M"}, {"nonspacingmark", "Mn"},
    {"spacingmark", "Mc"}, {"enclosingmark", "Me"}, {"number", "N"}, {"decimalnumber", "Nd"},
    {"digit", "Nd"}, {"letternumber", "Nl"}, {"othernumber", "No"}, {"punctuation", "P"},
    {"punct", "P"}, {"connectorpunctuation", "Pc"}, {"dashpunctuation", "Pd"},
    {"openpunctuation", "Ps"}, {"closepunctuation", "Pe"}, {"initialpunctuation", "Pi"},
    {"finalpunctuation", "Pf"}, {"otherpunctuation", "Po"}, {"symbol", "S"}, {"mathsymbol", "Sm"},
    {"currencysymbol", "Sc"}, {"modifiersymbol", "Sk"}, {"othersymbol", "So"},
    {"separator", "Z"}, {"spaceseparator", "Zs"}, {"lineseparator", "Zl"},
    {"paragraphseparator", "Zp"}, {"other", "C"}, {"control", "Cc"}, {"cntrl", "Cc"},
    {"format", "Cf"}, {"surrogate", "Cs"}, {"privateuse", "Co"}, {"unassigned", "Cn"},
    {"whitespace", "White_Space"}, {"space", "White_Space"}, {"wspace", "White_Space"},
};

/* lower-cased copy without '_', '-', ' ' */
static void fold(const char *s, char *out, size_t cap) {
    size_t k = 0;
    for (; *s && k + 1 < cap; s++) {
        if (*s == '_' || *s == '-' || *s == ' ') continue;
        out[k++] = (char)tolower((unsigned char)*s);
    }
    out[k] = 0;
}

int cf_uni_ranges(const char *class_name, const uint32_t (**ranges)[2], int *n) {
    if (!class_name) return -1;
    char key[64], cand[64];
    fold(class_name, key, sizeof key);
    const char *name = NULL;
    for (size_t i = 0; i < sizeof k_alias / sizeof k_alias[0]; i++)
        if (!strcmp(key, k_alias[i][0])) name = k_alias[i][1];
    for (int i = 0; i < cf_uni_n_classes; i++) {
        if (name) {
            if (strcmp(name, cf_uni_classes[i].name)) continue;
        } else {
            fold(cf_uni_classes[i].name, cand, sizeof cand);
            if (strcmp(key, cand)) continue;
        }
        if (ranges) *ranges = cf_uni_classes[i].ranges;
        if (n) *n = cf_uni_classes[i].n;
        return 0;
    }
    return -1;
}

int cf_utf8_encode(uint32_t cp, uint8_t out[4]) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp <= CF_UNI_MAX) {
        out[0] = (uint8_t)(0xF0 | (cp >> 18));
        out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (uint8_t)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

static inline int is_cont(uint8_t c) { return (c & 0xC0) == 0x80; }

size_t cf_utf8_decode_lenient(const uint8_t *s, size_t n, uint32_t *cps) {
    size_t i = 0, k = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            cps[k++] = c;
            i += 1;
        } else if ((c & 0xE0) == 0xC0 && i + 1 < n && is_cont(s[i + 1])) {
            cps[k++] = ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
            i += 2;
        } else if ((c & 0xF0) == 0xE0 && i + 2 < n && is_cont(s[i + 1]) && is_cont(s[i + 2])) {
            cps[k++] = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
            i += 3;
        } else if ((c & 0xF8) == 0xF0 && i + 3 < n && is_cont(s[i + 1]) && is_cont(s[i + 2]) &&
                   is_cont(s[i + 3]) &&
                   (((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12)) <= CF_UNI_MAX) {
            cps[k++] = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
                       ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
            i += 4;
        } else {
            cps[k++] = CF_UNI_REPLACEMENT;
            i += 1;
        }
    }
    return k;
}

int cf_utf8_next(const uint8_t *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int need;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return -1;
    for (int i = 1; i < need; i++) {
        if ((size_t)i >= n) return 0;
        uint8_t b = s[i];
        if (i == 1 ? (b < lo || b > hi) : !is_cont(b)) return -1;
    }
    uint32_t v = c & (0x7F >> need);
    for (int i = 1; i < need; i++) v = (v << 6) | (s[i] & 0x3F);
    *cp = v;
    return need;
}

int cf_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        int k = cf_utf8_next(s + i, n - i, &cp);
        if (k <= 0) return 0;
        i += (size_t)k;
    }
    return 1;
}
