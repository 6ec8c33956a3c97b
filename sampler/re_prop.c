/* Unicode properties for \p{..}: general categories (and their long aliases, "gc=" /
 * "General_Category=" prefixes) and White_Space from model/unicode.h, plus Any, ASCII and
 * ASCII_Hex_Digit.  Names match loosely (case, '_', '-', ' ' ignored).  Scripts are refused. */
#include <ctype.h>
#include <string.h>

#include "model/unicode.h"
#include "sampler/re_internal.h"

/* Loose name matching as UAX#44 suggests: case-insensitive, '_' '-' ' ' ignored. */
static int loose_eq(const char *a, size_t n, const char *b) {
    size_t i = 0;
    for (;;) {
        while (i < n && (a[i] == '_' || a[i] == '-' || a[i] == ' ')) i++;
        while (*b == '_' || *b == '-' || *b == ' ') b++;
        if (i == n || !*b) return i == n && !*b;
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)*b)) return 0;
        i++;
        b++;
    }
}

int re_set_property(re_set *s, const char *name, size_t n) {
    /* strip "General_Category=" / "gc=" */
    const char *eq = memchr(name, '=', n);
    if (eq) {
        size_t kl = (size_t)(eq - name);
        if (!loose_eq(name, kl, "General_Category") && !loose_eq(name, kl, "gc")) return -1;
        n -= kl + 1;
        name = eq + 1;
    }
    if (loose_eq(name, n, "Any")) return re_set_add(s, 0, RE_MAX_CP);
    if (loose_eq(name, n, "ASCII")) return re_set_add(s, 0, 0x7F);
    if (loose_eq(name, n, "ASCII_Hex_Digit"))
        return re_set_add(s, '0', '9') | re_set_add(s, 'A', 'F') | re_set_add(s, 'a', 'f');
    char key[64];
    if (n >= sizeof key) return -1;
    memcpy(key, name, n);
    key[n] = 0;
    const uint32_t(*r)[2];
    int nr;
    if (cf_uni_ranges(key, &r, &nr)) return -1;
    for (int i = 0; i < nr; i++)
        if (re_set_add(s, r[i][0], r[i][1])) return -1;
    return 0;
}
