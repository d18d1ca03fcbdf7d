/*
 * interp.c - the allocation pattern of a dynamic language's interpreter
 * (CPython-like objects), since the Ruby and Python benchmarks are whole
 * runtimes: many small objects of mixed sizes with reference counts, lists
 * that grow and shrink with realloc, hash tables that are rebuilt larger
 * and smaller, strings concatenated in place with realloc, and a long-lived
 * "module" table whose entries are replaced as the program runs.
 *
 * Objects: int (16 B; -5..256 preallocated and never freed, as CPython
 * does), str (24 B + text, hash cached), list (pointer array grown by 1/8
 * + 6 with realloc, shrunk by half when under half full) and dict (open
 * addressing, rebuilt to 2x when 2/3 full and to 1/2 when under 1/8 full:
 * malloc the new table, reinsert, free the old one).  Dropping the last
 * reference frees an object and what it holds, recursively.
 *
 * Each of CALLS "function calls" tokenizes generated text into a list of
 * fresh strings, counts the words in a dict (a new int per increment),
 * concatenates the repeated words into one string, builds a list of
 * [word, count] pairs, deletes the words seen once (the dict shrinks),
 * stores some pairs in the module table (replacing older entries, which
 * then die), and drops everything else.
 *
 * The checksum is computed from the words, counts and hashes only, never
 * from addresses.
 */
#include "workload.h"

enum { T_INT, T_STR, T_LIST, T_DICT };

typedef struct obj {
    uint32_t refs, type;
} obj;

typedef struct {
    obj h;
    int64_t v;
} intobj;

typedef struct {
    obj h;
    uint32_t len, hash;
    char s[];
} strobj;

typedef struct {
    obj h;
    size_t n, cap;
    obj **item;
} listobj;

struct entry {
    strobj *key; /* NULL empty, &dummy deleted */
    obj *val;
};

typedef struct {
    obj h;
    size_t used, fill, mask;
    struct entry *tab;
} dictobj;

#define IMMORTAL 0x40000000u
static intobj small_int[262];
static strobj dummy;

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        fprintf(stderr, "interp: realloc(%zu) failed\n", n);
        exit(1);
    }
    return q;
}

static void incref(obj *o)
{
    o->refs++;
}

static void decref(obj *o);

static obj *int_new(int64_t v)
{
    if (v >= -5 && v <= 256)
        return &small_int[v + 5].h;
    intobj *i = wl_malloc(sizeof *i);
    i->h.refs = 1;
    i->h.type = T_INT;
    i->v = v;
    return &i->h;
}

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h ? h : 1;
}

static strobj *str_new(const char *s, size_t n)
{
    strobj *o = wl_malloc(sizeof *o + n + 1);
    o->h.refs = 1;
    o->h.type = T_STR;
    o->len = (uint32_t)n;
    o->hash = 0;
    memcpy(o->s, s, n);
    o->s[n] = '\0';
    return o;
}

static uint32_t str_hash(strobj *o)
{
    if (o->hash == 0)
        o->hash = hash_bytes(o->s, o->len);
    return o->hash;
}

/* s += t: in place (realloc) when s has no other reference, as CPython does */
static strobj *str_concat(strobj *s, const strobj *t)
{
    if (s->h.refs != 1) {
        strobj *n = str_new(s->s, s->len);
        decref(&s->h);
        s = n;
    }
    s = xrealloc(s, sizeof *s + s->len + t->len + 1);
    memcpy(s->s + s->len, t->s, t->len + 1);
    s->len += t->len;
    s->hash = 0;
    return s;
}

static listobj *list_new(void)
{
    listobj *l = wl_malloc(sizeof *l);
    l->h.refs = 1;
    l->h.type = T_LIST;
    l->n = l->cap = 0;
    l->item = NULL;
    return l;
}

/* steals the reference */
static void list_append(listobj *l, obj *o)
{
    if (l->n == l->cap) {
        l->cap = l->cap + (l->cap >> 3) + 6;
        l->item = xrealloc(l->item, l->cap * sizeof *l->item);
    }
    l->item[l->n++] = o;
}

static void list_pop(listobj *l)
{
    decref(l->item[--l->n]);
    if (l->cap > 16 && l->n < l->cap / 2) {
        l->cap = l->n + (l->n >> 3) + 6;
        l->item = xrealloc(l->item, l->cap * sizeof *l->item);
    }
}

static dictobj *dict_new(void)
{
    dictobj *d = wl_malloc(sizeof *d);
    d->h.refs = 1;
    d->h.type = T_DICT;
    d->used = d->fill = 0;
    d->mask = 7;
    d->tab = calloc(8, sizeof *d->tab);
    if (d->tab == NULL)
        exit(1);
    return d;
}

static struct entry *dict_find(dictobj *d, strobj *k)
{
    uint32_t h = str_hash(k);
    struct entry *free_slot = NULL;
    for (size_t i = h & d->mask, step = 1;; i = (i + step++) & d->mask) {
        struct entry *e = &d->tab[i];
        if (e->key == NULL)
            return free_slot ? free_slot : e;
        if (e->key == &dummy) {
            if (free_slot == NULL)
                free_slot = e;
        } else if (e->key == k || (e->key->hash == h && e->key->len == k->len &&
                                   memcmp(e->key->s, k->s, k->len) == 0)) {
            return e;
        }
    }
}

static void dict_resize(dictobj *d, size_t want)
{
    size_t size = 8;
    while (size < want)
        size <<= 1;
    struct entry *old = d->tab;
    size_t old_size = d->mask + 1;
    d->tab = calloc(size, sizeof *d->tab);
    if (d->tab == NULL)
        exit(1);
    d->mask = size - 1;
    d->fill = d->used;
    for (size_t i = 0; i < old_size; i++)
        if (old[i].key != NULL && old[i].key != &dummy)
            *dict_find(d, old[i].key) = old[i];
    free(old);
}

static obj *dict_get(dictobj *d, strobj *k)
{
    struct entry *e = dict_find(d, k);
    return e->key != NULL && e->key != &dummy ? e->val : NULL;
}

/* steals the value's reference; takes a new one on the key */
static void dict_set(dictobj *d, strobj *k, obj *v)
{
    struct entry *e = dict_find(d, k);
    if (e->key != NULL && e->key != &dummy) {
        obj *old = e->val;
        e->val = v;
        decref(old);
        return;
    }
    if (e->key == NULL)
        d->fill++;
    incref(&k->h);
    e->key = k;
    e->val = v;
    d->used++;
    if (d->fill * 3 >= (d->mask + 1) * 2)
        dict_resize(d, d->used * 3);
}

static void dict_del_entry(dictobj *d, struct entry *e)
{
    strobj *k = e->key;
    obj *v = e->val;
    e->key = &dummy;
    e->val = NULL;
    d->used--;
    decref(&k->h);
    decref(v);
}

static void dict_maybe_shrink(dictobj *d)
{
    if (d->mask + 1 > 8 && d->used < (d->mask + 1) / 8)
        dict_resize(d, d->used * 3);
}

static void decref(obj *o)
{
    if (o->refs >= IMMORTAL || --o->refs > 0)
        return;
    switch (o->type) {
    case T_LIST: {
        listobj *l = (listobj *)o;
        for (size_t i = 0; i < l->n; i++)
            decref(l->item[i]);
        free(l->item);
        break;
    }
    case T_DICT: {
        dictobj *d = (dictobj *)o;
        for (size_t i = 0; i <= d->mask; i++)
            if (d->tab[i].key != NULL && d->tab[i].key != &dummy) {
                decref(&d->tab[i].key->h);
                decref(d->tab[i].val);
            }
        free(d->tab);
        break;
    }
    default: break;
    }
    free(o);
}

static int64_t int_val(const obj *o)
{
    return ((const intobj *)o)->v;
}

static const char syllable[][4] = {"ka", "lo", "mi", "ne", "ru", "ta", "shi", "po",
                                   "an", "el", "ro", "tu", "ve", "xo", "qui", "zed"};

static strobj *word(uint64_t *rng, uint64_t vocab)
{
    /* a Zipf-ish pick: word w of the vocabulary, small w far more often */
    uint64_t w = wl_logsize(rng, 1, vocab) - 1, x = w * 0x9e3779b97f4a7c15ULL;
    char buf[64];
    size_t n = 0;
    int parts = 1 + (int)(w % 5);
    for (int i = 0; i < parts; i++, x >>= 4) {
        const char *s = syllable[x & 15];
        while (*s)
            buf[n++] = *s++;
    }
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%u", (unsigned)(w / 80));
    return str_new(buf, n);
}

int main(int argc, char **argv)
{
    long scale = wl_scale(argc, argv,
                          "interpreter style: refcounted objects, growing and shrinking lists, "
                          "dicts and strings, a long-lived module table.\n");
    uint64_t calls = wl_scaled(3500, scale), rng = 0x1e7e9, sum = 0;
    dictobj *module = dict_new();
    strobj *sep = str_new(",", 1);

    for (int i = 0; i < 262; i++) {
        small_int[i].h.refs = IMMORTAL;
        small_int[i].h.type = T_INT;
        small_int[i].v = i - 5;
    }
    dummy.h.refs = IMMORTAL;
    for (uint64_t c = 0; c < calls; c++) {
        uint64_t ntok = wl_range(&rng, 200, 2000), vocab = wl_range(&rng, 100, 5000);
        listobj *tokens = list_new();
        for (uint64_t t = 0; t < ntok; t++)
            list_append(tokens, &word(&rng, vocab)->h);

        dictobj *counts = dict_new();
        for (size_t t = 0; t < tokens->n; t++) {
            strobj *k = (strobj *)tokens->item[t];
            obj *v = dict_get(counts, k);
            dict_set(counts, k, int_new(v ? int_val(v) + 1 : 1));
        }

        strobj *s = str_new("", 0);
        for (size_t t = 0; t < tokens->n && t < 400; t++) {
            strobj *k = (strobj *)tokens->item[t];
            if (int_val(dict_get(counts, k)) > 1) {
                s = str_concat(s, k);
                s = str_concat(s, sep);
            }
        }
        sum += str_hash(s) + s->len;

        listobj *pairs = list_new();
        for (size_t i = 0; i <= counts->mask; i++) {
            struct entry *e = &counts->tab[i];
            if (e->key == NULL || e->key == &dummy)
                continue;
            listobj *p = list_new();
            incref(&e->key->h);
            list_append(p, &e->key->h);
            incref(e->val);
            list_append(p, e->val);
            list_append(pairs, &p->h);
            sum += (uint64_t)int_val(e->val) * str_hash(e->key);
        }

        for (size_t i = 0; i <= counts->mask; i++) {
            struct entry *e = &counts->tab[i];
            if (e->key != NULL && e->key != &dummy && int_val(e->val) == 1)
                dict_del_entry(counts, e);
        }
        dict_maybe_shrink(counts);
        sum += counts->used * 0x10001 + counts->mask;

        /* some pairs outlive the call, in the module table, replacing older ones */
        for (size_t i = 0; i < pairs->n; i += 7) {
            char name[32];
            int n = snprintf(name, sizeof name, "g%u", (unsigned)((c * 131 + i) % 6000));
            strobj *key = str_new(name, (size_t)n);
            incref(pairs->item[i]);
            dict_set(module, key, pairs->item[i]);
            decref(&key->h);
        }
        /* the list shrinks as it is emptied from the end */
        while (tokens->n > ntok / 4)
            list_pop(tokens);
        decref(&tokens->h);
        decref(&pairs->h);
        decref(&counts->h);
        decref(&s->h);
        /* the module is sometimes cleared of half its entries */
        if (c % 500 == 499) {
            for (size_t i = 0; i <= module->mask; i++) {
                struct entry *e = &module->tab[i];
                if (e->key != NULL && e->key != &dummy && (str_hash(e->key) & 1))
                    dict_del_entry(module, e);
            }
            dict_maybe_shrink(module);
        }
    }
    for (size_t i = 0; i <= module->mask; i++) {
        struct entry *e = &module->tab[i];
        if (e->key != NULL && e->key != &dummy) {
            listobj *p = (listobj *)e->val;
            sum += str_hash(e->key) ^
                   (str_hash((strobj *)p->item[0]) + (uint64_t)int_val(p->item[1]));
        }
    }
    sum += module->used;
    decref(&module->h);
    decref(&sep->h);
    wl_checksum("interp", sum);
    return 0;
}
