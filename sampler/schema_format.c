/* `format` values as regular expressions (ECMA syntax, full match), mirroring the validator's
 * checks (sampler/validate.c).  Where a format is not regular, the regex accepts a subset:
 *   time       a leap second (:60) only where UTC is 23:59 with a whole-hour offset
 *   hostname   no "--" in label positions 3-4 (so no punycode labels); total length via max_len
 *   email      the domain's total length is not checked */
#include <string.h>

#include "sampler/schema_int.h"

#define DIG "[0-9]"
#define HEX "[0-9A-Fa-f]"

/* YYYY-MM-DD with month lengths and leap years */
#define DATE                                                                                         \
    "(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|" \
    "02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)"

/* HH:MM:SS(.frac)? followed by Z or an offset; second 60 only at 23:59 UTC, whole-hour offsets */
#define FRAC "(?:\\.[0-9]+)?"
#define OFS "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
#define TIME_NORMAL "(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]" FRAC OFS ")"
/* local hour for a leap second at offset +H:00 is (23 + H) % 24, at -H:00 it is (23 - H) % 24 */
#define LEAP                                                                                         \
    "(?:23:59:60" FRAC "(?:[Zz]|[+-]00:00)|"                                                         \
    "(?:00:59:60" FRAC "\\+01|01:59:60" FRAC "\\+02|02:59:60" FRAC "\\+03|03:59:60" FRAC "\\+04|"     \
    "04:59:60" FRAC "\\+05|05:59:60" FRAC "\\+06|06:59:60" FRAC "\\+07|07:59:60" FRAC "\\+08|"        \
    "08:59:60" FRAC "\\+09|09:59:60" FRAC "\\+10|10:59:60" FRAC "\\+11|11:59:60" FRAC "\\+12|"        \
    "12:59:60" FRAC "\\+13|13:59:60" FRAC "\\+14|14:59:60" FRAC "\\+15|15:59:60" FRAC "\\+16|"        \
    "16:59:60" FRAC "\\+17|17:59:60" FRAC "\\+18|18:59:60" FRAC "\\+19|19:59:60" FRAC "\\+20|"        \
    "20:59:60" FRAC "\\+21|21:59:60" FRAC "\\+22|22:59:60" FRAC "\\+23|"                              \
    "22:59:60" FRAC "-01|21:59:60" FRAC "-02|20:59:60" FRAC "-03|19:59:60" FRAC "-04|"                \
    "18:59:60" FRAC "-05|17:59:60" FRAC "-06|16:59:60" FRAC "-07|15:59:60" FRAC "-08|"                \
    "14:59:60" FRAC "-09|13:59:60" FRAC "-10|12:59:60" FRAC "-11|11:59:60" FRAC "-12|"                \
    "10:59:60" FRAC "-13|09:59:60" FRAC "-14|08:59:60" FRAC "-15|07:59:60" FRAC "-16|"                \
    "06:59:60" FRAC "-17|05:59:60" FRAC "-18|04:59:60" FRAC "-19|03:59:60" FRAC "-20|"                \
    "02:59:60" FRAC "-21|01:59:60" FRAC "-22|00:59:60" FRAC "-23):00)"
#define TIME "(?:" TIME_NORMAL "|" LEAP ")"

#define DUR_T "T(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)"
#define DURATION                                                                                    \
    "P(?:[0-9]+W|(?:[0-9]+Y(?:[0-9]+M(?:[0-9]+D)?)?|[0-9]+M(?:[0-9]+D)?|[0-9]+D)(?:" DUR_T ")?|" DUR_T ")"

#define UUID HEX "{8}-" HEX "{4}-" HEX "{4}-" HEX "{4}-" HEX "{12}"

#define OCT "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#define IPV4 "(?:" OCT "\\." OCT "\\." OCT "\\." OCT ")"

#define H16 HEX "{1,4}"
#define LS32 "(?:" H16 ":" H16 "|" IPV4 ")"
#define IPV6                                                                                          \
    "(?:(?:" H16 ":){6}" LS32 "|::(?:" H16 ":){5}" LS32 "|(?:" H16 ")?::(?:" H16 ":){4}" LS32 "|"     \
    "(?:(?:" H16 ":){0,1}" H16 ")?::(?:" H16 ":){3}" LS32 "|(?:(?:" H16 ":){0,2}" H16 ")?::(?:" H16   \
    ":){2}" LS32 "|(?:(?:" H16 ":){0,3}" H16 ")?::" H16 ":" LS32 "|(?:(?:" H16 ":){0,4}" H16 ")?::"  \
    LS32 "|(?:(?:" H16 ":){0,5}" H16 ")?::" H16 "|(?:(?:" H16 ":){0,6}" H16 ")?::)"

/* a label of 1..63 alphanumerics / hyphens, not starting or ending with '-', no "--" at 3-4 */
#define AN "[A-Za-z0-9]"
#define HY "[A-Za-z0-9-]"
#define LABEL "(?:" AN "(?:" AN "|" HY AN "|" HY HY AN "|" HY "(?:" AN HY "|-" AN ")" HY "{0,58}" AN ")?)"
#define HOSTNAME LABEL "(?:\\." LABEL ")*"

#define ATEXT "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
#define EMAIL                                                                                         \
    "(?:" ATEXT "+(?:\\." ATEXT "+)*|\"(?:[^\"\\\\]|\\\\[\\s\\S])*\")@(?:" HOSTNAME "|\\[" IPV4        \
    "\\]|\\[IPv6:" IPV6 "\\])"

/* URIs (RFC 3986 as the validator reads it) */
#define PCT "%" HEX HEX
#define UNRES "A-Za-z0-9._~"
#define SUBD "!$&'()*+,;="
#define RCH "(?:[" UNRES SUBD "-]|" PCT ")"
#define UCH "(?:[" UNRES SUBD ":-]|" PCT ")"
#define PCH "(?:[" UNRES SUBD ":@/-]|" PCT ")"
#define PCH_NS "(?:[" UNRES SUBD ":@-]|" PCT ")"
#define QCH "(?:[" UNRES SUBD ":@/?-]|" PCT ")"
#define IPLIT "\\[(?:" IPV6 "|[vV]" HEX "+\\.[" UNRES SUBD ":-]+)\\]"
#define AUTH "//(?:" UCH "*@)?(?:" IPLIT "|" RCH "*)(?::[0-9]*)?(?:/" PCH "*)?"
#define NOAUTH "(?:" PCH_NS PCH "*|/(?:" PCH_NS PCH "*)?)?"
#define TAIL "(?:\\?" QCH "*)?(?:#" QCH "*)?"
#define URI "[A-Za-z][A-Za-z0-9+.-]*:(?:" AUTH "|" NOAUTH ")" TAIL
/* relative reference: the first segment has no ':' */
#define SEG0 "(?:[" UNRES SUBD "@-]|" PCT ")"
#define RELPATH "(?:" SEG0 "+(?:/" PCH "*)?|/(?:" PCH_NS PCH "*)?)?"
#define URIREF "(?:" URI "|(?:" AUTH "|" RELPATH ")" TAIL ")"

#define JSONPTR "(?:/(?:[^~/]|~[01])*)*"

static const struct {
    const char *name, *re;
    int64_t max_len;
} g_formats[] = {
    {"date", DATE, 0},
    {"time", TIME, 0},
    {"date-time", DATE "[Tt]" TIME, 0},
    {"duration", DURATION, 0},
    {"uuid", UUID, 0},
    {"ipv4", IPV4, 0},
    {"ipv6", IPV6, 0},
    {"hostname", HOSTNAME, 253},
    {"email", EMAIL, 0},
    {"uri", URI, 0},
    {"uri-reference", URIREF, 0},
    {"json-pointer", JSONPTR, 0},
};

static const char *g_unenforceable[] = {"regex",         "uri-template", "iri", "iri-reference", "idn-email",
                                        "idn-hostname", "relative-json-pointer"};

int sc_format(const char *name, const char **regex, int64_t *max_len) {
    for (size_t i = 0; i < sizeof g_formats / sizeof g_formats[0]; i++)
        if (!strcmp(name, g_formats[i].name)) {
            *regex = g_formats[i].re;
            *max_len = g_formats[i].max_len;
            return 1;
        }
    for (size_t i = 0; i < sizeof g_unenforceable / sizeof g_unenforceable[0]; i++)
        if (!strcmp(name, g_unenforceable[i])) return -1;
    return 0;
}
