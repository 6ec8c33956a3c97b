/* Constraints for the generation commands (`cinfer run`, `cinfer batch`): a JSON Schema or GBNF
 * grammar compiled against the model's vocabulary, plus the check of a finished output
 * (the JSON Schema validator's verdict, or for GBNF whether the grammar accepts the whole text). */
#ifndef CF_TOOLS_CONSTRAIN_H
#define CF_TOOLS_CONSTRAIN_H
#include <stddef.h>

#include "kernels/err.h"
#include "sampler/constraint.h"
#include "sampler/json.h"
#include "sampler/schema.h"
#include "sampler/validate.h"

#define CLI_MAX_SCHEMA_FILE (16u << 20)   /* bytes of a --json-schema / --grammar file */

typedef struct {
    int is_gbnf;
    cf_json_doc *doc;          /* JSON Schema: the parsed schema (the validator's) */
    cf_validator *val;
    cf_constraint *cons;       /* owned unless taken (set to NULL by whoever takes it) */
    char *warnings;            /* lenient relaxations, or NULL */
} cli_schema;

/* Reads `path` and compiles it (JSON Schema with options o, or GBNF when is_gbnf) for
 * vocabulary v.  The error message names the file. */
int cli_schema_load_file(cli_schema *s, const char *path, int is_gbnf, const cf_schema_opts *o,
                         const cf_cons_vocab *v, cf_err *err);
/* Same for schema text in memory (`what` names it in messages). */
int cli_schema_load_text(cli_schema *s, const char *text, size_t len, const char *what, int is_gbnf,
                         const cf_schema_opts *o, const cf_cons_vocab *v, cf_err *err);
void cli_schema_free(cli_schema *s);
/* Verdict on a finished output: 1 valid, 0 invalid (why says where), -1 on an internal error. */
int cli_schema_check(cli_schema *s, const char *text, size_t len, cf_err *why);

#endif
