/* Internal structures of the constraint engine (not API; see constraint.h).
 *
 * Machine model.  A configuration is a stack of frames; the top frame is (node, aux) and the rest
 * is an interned stack node id (`parent`).  node indexes K->vn (a rule-DFA state, or a native:
 * string / number / object / array / combo); aux is the native's local state (packed inline, or
 * a blob id).  A matcher state is a closed set of configurations: every push (call) and pop
 * (return) available has been taken, so only byte-consuming tops remain (plus ACCEPT once the
 * root rule has returned).  Combos (oneOf / allOf / not / if / contains) push one branch per
 * tag; when branches return, their returns are grouped per combo instance within one closure
 * and the combo passes or fails as a whole (all branches parse the same JSON value, so they end
 * on the same byte).
 *
 * Sets are interned (id -> configs), with a transition cache (set, byte) -> set.  Token masks:
 * per top frame state, a lazily built entry lists the tokens consumed entirely inside the frame
 * (acc) and the trie nodes where the frame may be left (exits); a mask ORs the acc sets and
 * explores the vocabulary trie below the exits with the real stack (see cons_mask.c). */
#ifndef CF_CONS_INT_H
#define CF_CONS_INT_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "sampler/constraint.h"
#include "sampler/grammar.h"
#include "sampler/regex.h"

#define CF_MAX_DEPTH 300          /* stack frames (nesting) */
#define CF_MAX_STR_RE 8           /* regexes one string frame runs at once (pattern, format, ...) */
#define CF_MAX_PATTERNS 32        /* patternProperties per object */
#define CF_MAX_COMBO 64           /* branches per combo */
#define CF_NUM_MAX_LEN 40         /* bytes in one number lexeme */
#define CF_STR_COUNT_CAP 65535    /* code points a length-constrained string may reach */
#define CF_RULE_MAX_STATES 400000 /* DFA states over all rules */
#define CF_NFA_MAX 2000000        /* NFA states while compiling one rule */
#define CF_SUBSET_WORK_MAX 50000000LL /* subset-construction steps per rule (~0.4 s at -O2) */

/* ---- vocabulary ---- */
struct cf_cons_vocab {
    int n_vocab;                  /* mask bits */
    int32_t eos;                  /* -1: none */
    uint8_t *pool;                /* token bytes */
    uint64_t *off;
    uint32_t *len;                /* 0: excluded (control / empty) */
    uint8_t *excluded;
    /* trie in preorder; node 0 = root (empty prefix) */
    int32_t nnodes;
    uint8_t *tbyte;               /* byte on the edge into the node */
    int32_t *tend;                /* end of subtree (exclusive) */
    int32_t *ttok;                /* first index into sorted[] of tokens ending here, -1 none */
    int32_t *ttokn;               /* number of such tokens */
    int32_t *tparent;             /* parent node (-1 for the root) */
    int32_t *sorted;              /* token ids by bytes */
    int32_t nsorted;
    int32_t root_child[256];      /* child of the root by byte, -1 none */
    int words;                    /* mask words: (n_vocab + 31) / 32 */
    /* shared mask entries for schema-independent frames (generic strings) */
    pthread_mutex_t lock;
    struct pc_entry **gstr;       /* by packed generic-string state key */
    int ngstr;
};

/* ---- VM nodes ---- */
enum { VK_ACCEPT = 0, VK_RULE, VK_STRING, VK_NUMBER, VK_OBJECT, VK_ARRAY, VK_COMBO };

typedef struct {
    uint8_t kind;
    uint8_t final;                /* VK_RULE: accepting state */
    uint8_t has_calls;            /* VK_RULE */
    uint8_t has_bytes;            /* VK_RULE: some byte edge */
    uint32_t spec;                /* rule state index / sprog / nprog / oprog / aprog / combo index */
} vnode;

typedef struct {
    uint8_t lo, hi;
    uint32_t to;                  /* vnode */
} redge;

typedef struct {
    int32_t tl;                   /* target list */
    uint32_t ret;                 /* vnode to continue at */
} rcall;

typedef struct {
    int32_t e_off, e_n;
    int32_t c_off, c_n;
    uint32_t fb[8];
} rstate;

/* A target list: vnodes pushed together (alternatives) by a call. */
typedef struct {
    int32_t off, n;               /* into K->tl_items */
} tlist;

/* ---- string programs ---- */
typedef struct {
    int32_t *first;               /* per trie node: first edge */
    int32_t *nedge;
    uint8_t *ebyte;
    int32_t *eto;
    int32_t *term;                /* literal index ending here, -1 none */
    int32_t *lo, *hi;             /* range of literal indices (sorted) below the node */
    int32_t nnodes, nedges;
} ltrie;

typedef struct {
    int key_mode;                 /* object key: result = (prop + 1) | patbits << 32 */
    int closed;                   /* key mode: key must be a property name or match a pattern */
    int has_trie;                 /* value: must be one of the literals; key: property names */
    ltrie trie;
    cf_regex *re[CF_MAX_STR_RE];  /* value: all must match; key: re[0..nmust) must match (propertyNames),
                                     re[nmust..nre) are patternProperties (reported as bits) */
    int nre, nmust;
    int64_t min_len, max_len;     /* max < 0: none */
    int counted;
    int decode;                   /* decoded bytes are fed to trie/regex: \u limited to ASCII */
    int blob;                     /* state needs a blob (trie / >1 regex / key seen-set) */
    int seen_words;               /* key mode closed: words of the seen bitset carried in the state */
    uint64_t init_aux;
    int generic;                  /* no trie/regex/key: masks shared through the vocabulary */
    struct mindc *mind;           /* per regex: code points still needed to match, by DFA state (lazy) */
    int always_live;              /* value string whose regexes never die: accepts what a decoded
                                     generic string accepts, only its end differs */
} sprog;

/* unpacked string state */
typedef struct {
    uint8_t phase, utf8, hex;
    uint32_t count;
    int32_t trie;
    int32_t re[CF_MAX_STR_RE];
    uint32_t seen[1];             /* flexible in blobs; here unused */
} sstate;

enum {
    SP_START = 0, SP_BODY, SP_ESC, SP_U1, SP_U2, SP_U3, SP_U4, SP_LBS, SP_LU, SP_L1, SP_L2, SP_L3, SP_L4,
    SP_CLOSED
};

/* ---- number programs ---- */
typedef struct {
    int int_only, no_frac;
    int exact;                    /* bounds / multipleOf / value set: track the value */
    __int128 lo, hi;              /* scaled by 1e12, inclusive; has_lo / has_hi */
    int has_lo, has_hi;
    __int128 mult;                /* scaled; 0 = none */
    __int128 *vals;               /* sorted, scaled */
    int nval, has_vals;
    uint64_t init_aux;
} nprog;

/* ---- object / array programs ---- */
typedef struct {
    int nprop;
    int32_t *prop_tl;             /* target list per property (properties sorted by name bytes) */
    uint32_t *required;           /* bitset */
    int nreq;
    int npat;
    int32_t *pat_tl;
    int32_t add_tl;               /* -1: not allowed */
    int64_t min_props, max_props;
    uint32_t key_vn;              /* key string vnode */
    int words;                    /* seen bitset words */
    int32_t **dep;                /* dependentRequired per property (NULL none), dep[i][0] = count */
    int blob;                     /* state in a blob (has properties or patterns) */
    uint64_t init_aux;
    /* lazily built ALL combos for keys matching several schemas: (prop, patbits) -> target list */
    struct { int32_t prop; uint32_t pats; int32_t tl; } *multi;
    int nmulti, capmulti;
} oprog;

typedef struct {
    int nprefix;
    int32_t *prefix_tl;
    int32_t items_tl;             /* -1: no more items */
    int64_t min_items, max_items;
    int has_contains;
    int64_t min_contains, max_contains;
} aprog;

typedef struct {
    int kind;                     /* CF_COMBO_* or COMBO_CONTAINS */
    int nb;
    int32_t tl[CF_MAX_COMBO];     /* target list per branch */
} cprog;
#define COMBO_CONTAINS 100

/* ---- interning ---- */
typedef struct {
    uint32_t node, parent;
    uint64_t aux;
} cfg;

typedef struct {
    uint64_t *keys;               /* generic open-addressing table of ids; 0 = empty slot */
    uint32_t *ids;
    uint64_t mask, n;
} htab;

/* ---- mask entries ---- */
typedef struct {
    int32_t tnode;                /* trie node where the frame may be left */
    uint32_t xnode;               /* frame state there */
    uint64_t xaux;                /* (strings: count relative to the entry's start) */
    uint16_t delta;               /* strings: most code points needed on the way (as acc_delta) */
} pc_exit;

typedef struct pc_entry {
    uint32_t *acc;                /* dense bitset, or NULL */
    int32_t *acc_list;            /* sparse list (when acc == NULL) */
    uint16_t *acc_delta;          /* per acc token (strings): the largest count + code points the
                                     regexes still need at any byte of the token, or NULL */
    int32_t *acc_tok;             /* tokens in acc with delta > 0 (for count filtering), sorted by delta desc */
    int32_t nacc, nacc_delta;
    uint16_t max_delta;
    uint32_t **cum;               /* cum[r]: acc tokens with delta <= r (lazy), r < max_delta */
    pc_exit *exits;
    int32_t nexits;
    int self_xnode;               /* exits store xnode relative: 1 = "the entry's own node" */
    const struct pc_entry *acc_from;  /* derived entry: the acc sets are those of this shared entry */
    uint32_t key_node;            /* what the entry was built for (per-constraint entries) */
    uint64_t key_aux;
    size_t bytes;
} pc_entry;

typedef struct {
    uint32_t *bits;               /* cached full mask */
} setmeta;

struct cf_constraint {
    pthread_mutex_t lock;
    cf_grammar *g;
    const cf_cons_vocab *v;
    /* program */
    vnode *vn;
    uint32_t nvn, capvn;
    rstate *rs;
    int32_t nrs, caprs;
    redge *re_;
    int32_t nre_, capre_;
    rcall *rc;
    int32_t nrc, caprc;
    tlist *tl;
    int32_t ntl, captl;
    uint32_t *tl_items;
    int32_t ntli, captli;
    int32_t *rule_tl;             /* target list per grammar rule */
    sprog *sp;
    int nsp, capsp;
    nprog *np;
    int nnp, capnp;
    oprog *op;
    int nop, capop;
    aprog *ap;
    int nap, capap;
    cprog *cp;
    int ncp, capcp;
    int32_t *native_vn;           /* vnode per grammar native */
    int32_t root_tl;
    int max_ws;
    /* blobs */
    uint8_t *bpool;
    uint64_t nbpool, capbpool;
    uint64_t *boff;
    uint32_t *blen;
    uint32_t nblob, capblob;
    htab bh;
    /* stack nodes */
    cfg *sn;
    uint16_t *sn_depth;
    uint8_t *sn_combo;            /* some frame at or below is a combo tag */
    uint32_t nsn, capsn;
    htab snh;
    /* sets */
    cfg *scfg;
    uint64_t nscfg, capscfg;
    uint64_t *s_off;
    uint32_t *s_n;
    uint8_t *s_flags;             /* SF_* */
    uint32_t (*s_fb)[8];
    setmeta *s_meta;
    uint32_t nsets, capsets;
    htab sh;                      /* set content hash -> id */
    htab th;                      /* (set << 8 | byte) -> next set */
    size_t cache_bytes;           /* masks + entries */
    htab ph;                      /* mask entries: key -> index into pcs */
    pc_entry **pcs;
    uint32_t npcs, cappcs;
    uint64_t gen;                 /* bumped when the caches are flushed */
    /* scratch for closure */
    cfg *w;
    uint32_t nw, capw;
    cfg *out;
    uint32_t nout, capout;
    int oom;
    /* stats */
    uint64_t n_closures, n_entries, n_mask_hits;
};

enum { SF_COMPLETE = 1, SF_COMBO = 2, SF_LIVE = 4 };

/* ---- cons_vm.c ---- */
uint64_t cons_hash64(uint64_t x);
uint64_t cons_hash_bytes(const void *p, size_t n, uint64_t seed);
int htab_init(htab *h, uint64_t cap);
void htab_free(htab *h);
/* Finds key (nonzero); returns the slot's id or UINT32_MAX. */
uint32_t htab_get(const htab *h, uint64_t key);
int htab_put(htab *h, uint64_t key, uint32_t id);
/* Ids stored under key, one per call: start with *slot = UINT64_MAX; UINT32_MAX when done. */
uint32_t htab_next(const htab *h, uint64_t key, uint64_t *slot);
void htab_clear(htab *h);

uint32_t cons_blob(cf_constraint *K, const void *p, uint32_t n);   /* interned id, UINT32_MAX on OOM */
const void *cons_blob_ptr(const cf_constraint *K, uint32_t id, uint32_t *n);
uint32_t cons_stack(cf_constraint *K, uint32_t node, uint64_t aux, uint32_t parent);  /* 0 on failure */

/* Closure of the configurations in cs[0..n) -> interned set id (0 = empty). */
uint32_t cons_close(cf_constraint *K, const cfg *cs, uint32_t n);
/* Same, but the returned set omits `self` (used below mask exits). *full_nonempty: closure had
 * at least one configuration (including self). */
uint32_t cons_close_without(cf_constraint *K, const cfg *c, const cfg *self, int *full_nonempty);
uint32_t cons_step(cf_constraint *K, uint32_t set, uint8_t byte);   /* cached */
/* Interns an already closed, sorted configuration array. */
uint32_t cons_intern(cf_constraint *K, const cfg *cs, uint32_t n);
static inline const cfg *cons_set(const cf_constraint *K, uint32_t id, uint32_t *n) {
    *n = K->s_n[id];
    return K->scfg + K->s_off[id];
}
uint32_t cons_root_set(cf_constraint *K);
void cons_flush_caches(cf_constraint *K);

/* frame dispatch (cons_vm.c) */
int fr_step(cf_constraint *K, uint32_t *node, uint64_t *aux, uint8_t b);
int fr_final(cf_constraint *K, uint32_t node, uint64_t aux, uint64_t *result);
int fr_has_calls(cf_constraint *K, uint32_t node, uint64_t aux);
int fr_local(cf_constraint *K, uint32_t node, uint64_t aux);        /* may consume a byte */
void fr_first(cf_constraint *K, uint32_t node, uint64_t aux, uint32_t fb[8]);

/* ---- cons_str.c ---- */
void str_unpack(const cf_constraint *K, const sprog *p, uint64_t aux, sstate *s, uint32_t *seen);
uint64_t str_pack(cf_constraint *K, const sprog *p, const sstate *s, const uint32_t *seen);
/* rel: ignore min/max length (mask entries track relative counts) */
int str_step_u(const sprog *p, sstate *s, const uint32_t *seen, uint8_t b, int rel);
int str_final(const sprog *p, const sstate *s, uint64_t *result);
void str_first(const sprog *p, const sstate *s, uint32_t fb[8]);
/* Turns an exit state with relative count into an absolute one; 0 if the count is out of range. */
int str_rebase(cf_constraint *K, const sprog *p, uint64_t rel_aux, uint32_t count0, uint64_t *abs_aux);
/* Code points the regexes still need before the string can close (0 if unknown). */
uint32_t str_mind(const sprog *p, const sstate *s);
int sprog_mind_init(sprog *p);
static inline uint32_t str_count(uint64_t aux) { return (uint32_t)(aux & 0xFFFF); }
int sprog_build_trie(ltrie *t, char **lits, const size_t *lens, int n);
void sprog_free(sprog *p);
int32_t ltrie_next(const ltrie *t, int32_t node, uint8_t b);

/* ---- cons_num.c ---- */
int num_prog_init(nprog *p, const cf_nat_number *n, cf_err *err);
void num_prog_free(nprog *p);
int num_step(cf_constraint *K, const nprog *p, uint64_t *aux, uint8_t b);
int num_final(cf_constraint *K, const nprog *p, uint64_t aux);
uint64_t num_init_aux(cf_constraint *K, const nprog *p);
void num_first(cf_constraint *K, const nprog *p, uint64_t aux, uint32_t fb[8]);
/* Exact decimal lexeme -> value scaled by 1e12.  dir: 0 exact (fails if not representable),
 * +1 round up, -1 round down.  *inf: +1/-1 if beyond the cap. */
int num_parse_scaled(const char *s, int dir, __int128 *out, int *inf);

/* ---- cons_obj.c ---- */
int obj_step(cf_constraint *K, uint32_t node, uint64_t *aux, uint8_t b);
int obj_final(cf_constraint *K, uint32_t node, uint64_t aux);
int obj_resume(cf_constraint *K, uint32_t node, uint64_t *aux, uint64_t result);
void obj_first(cf_constraint *K, uint32_t node, uint64_t aux, uint32_t fb[8]);
/* pushes: returns number of calls written (target list, return aux) */
int obj_calls(cf_constraint *K, uint32_t node, uint64_t aux, int32_t *tl, uint64_t *ret_aux, uint64_t *init_aux);
int arr_step(cf_constraint *K, uint32_t node, uint64_t *aux, uint8_t b);
int arr_final(cf_constraint *K, uint32_t node, uint64_t aux);
int arr_resume(cf_constraint *K, uint32_t node, uint64_t *aux, uint64_t result);
void arr_first(cf_constraint *K, uint32_t node, uint64_t aux, uint32_t fb[8]);
int arr_calls(cf_constraint *K, uint32_t node, uint64_t aux, int32_t *tl, uint64_t *ret_aux);
int obj_phase_local(cf_constraint *K, uint32_t node, uint64_t aux);
int arr_phase_local(cf_constraint *K, uint32_t node, uint64_t aux);
int obj_has_calls(cf_constraint *K, uint32_t node, uint64_t aux);
uint64_t obj_init_aux(cf_constraint *K, const oprog *p);
int arr_has_calls(cf_constraint *K, uint32_t node, uint64_t aux);

/* ---- cons_build.c ---- */
int cons_build(cf_constraint *K, cf_err *err);
int32_t cons_new_tlist(cf_constraint *K, const uint32_t *items, int n);
uint32_t cons_new_vnode(cf_constraint *K, int kind, uint32_t spec);
int32_t cons_combo_tl(cf_constraint *K, int kind, const int32_t *branch_tl, int nb);   /* new combo, its target list */
uint64_t cons_init_aux(cf_constraint *K, uint32_t node);

/* ---- cons_mask.c ---- */
int cons_mask(cf_constraint *K, uint32_t set, uint32_t *bits);
/* Builds the shared mask entries every schema needs (generic string start / body). */
int cons_vocab_warm(cf_cons_vocab *v);
void pc_free(pc_entry *e);

/* bit helpers */
static inline void fb_set(uint32_t *fb, unsigned b) { fb[b >> 5] |= 1u << (b & 31); }
static inline int fb_has(const uint32_t *fb, unsigned b) { return (fb[b >> 5] >> (b & 31)) & 1; }
static inline void fb_range(uint32_t *fb, unsigned lo, unsigned hi) {
    for (unsigned b = lo; b <= hi; b++) fb_set(fb, b);
}
static inline int is_ws(uint8_t b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }

#endif
