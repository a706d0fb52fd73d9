/* util/yaml.c — a YAML document as JSON, through libyaml's event parser.
 *
 * Project files are configuration, not programs: what YAML offers beyond
 * plain data (anchors and aliases, which can make a small file expand
 * without bound; tags naming types) is refused or ignored, so a file means
 * what it shows. The parser keeps a stack of open mappings and sequences;
 * every scalar, mapping or sequence that ends is added to the container on
 * top, under the key read before it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/error.h"
#include "util/util.h"
#include "util/yaml.h"

#define MAX_DEPTH 64

typedef struct frame {
    json_t *node;    /* an object or an array */
    char *key;       /* a mapping's key waiting for its value (NULL: none) */
    size_t path_len; /* the length of the path to this container */
} frame;

typedef struct reader {
    frame stack[MAX_DEPTH];
    size_t depth;
    json_t *root;
    json_t *lines;
    strbuf path; /* "a.b.c" of the container on top */
    tarn_error *err;
} reader;

static int is_plain_int(const char *s)
{
    if (*s == '-' || *s == '+') s++;
    if (!*s) return 0;
    return strspn(s, "0123456789") == strlen(s);
}

static int is_plain_float(const char *s)
{
    if (*s == '-' || *s == '+') s++;
    size_t digits = strspn(s, "0123456789");
    s += digits;
    size_t frac = 0;
    if (*s == '.') {
        frac = strspn(s + 1, "0123456789");
        s += 1 + frac;
    }
    if (digits + frac == 0) return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+') s++;
        size_t exp = strspn(s, "0123456789");
        if (!exp) return 0;
        s += exp;
    }
    return *s == 0;
}

/* A scalar as JSON: quoted ones and those tagged !!str are strings; plain
 * ones are typed by their text. */
static json_t *scalar_json(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || (tag && !strcmp(tag, YAML_STR_TAG)))
        return json_stringn(v, n);
    if (strlen(v) != n) return json_stringn(v, n); /* a NUL inside: text, whatever it says */
    if (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"))
        return json_null();
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")) return json_true();
    if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")) return json_false();
    char *end;
    errno = 0;
    if (is_plain_int(v)) {
        long long i = strtoll(v, &end, 10);
        if (errno == 0 && !*end) return json_integer(i);
        return json_stringn(v, n); /* too large to be a number tarn keeps exactly */
    }
    if (is_plain_float(v)) {
        double d = strtod(v, &end);
        if (errno == 0 && !*end) return json_real(d);
    }
    return json_stringn(v, n);
}

static int fail(reader *r, const yaml_event_t *ev, const char *what)
{
    return tarn__error_set(r->err, TARN_EINVALID, "line %zu: %s", (size_t)ev->start_mark.line + 1,
                           what);
}

/* Adds VALUE (stolen) to the container on top, or makes it the root. */
static int add_value(reader *r, const yaml_event_t *ev, json_t *value)
{
    if (r->depth == 0) {
        r->root = value;
        return 0;
    }
    frame *top = &r->stack[r->depth - 1];
    if (json_is_array(top->node)) {
        json_array_append_new(top->node, value);
        return 0;
    }
    if (!top->key) {
        /* a key: only scalars, each once */
        if (!json_is_string(value) && !json_is_integer(value) && !json_is_boolean(value)) {
            json_decref(value);
            return fail(r, ev, "a mapping key must be a plain word or number");
        }
        char buf[64];
        const char *k = buf;
        if (json_is_string(value))
            k = json_string_value(value);
        else if (json_is_integer(value))
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(value));
        else
            snprintf(buf, sizeof buf, "%s", json_is_true(value) ? "true" : "false");
        if (json_object_get(top->node, k)) {
            strbuf m = {0};
            sb_printf(&m, "key '%s' is given twice", k);
            int rc = fail(r, ev, sb_str(&m));
            sb_free(&m);
            json_decref(value);
            return rc;
        }
        top->key = strdup(k);
        json_decref(value);
        if (r->lines) {
            strbuf p = {0};
            sb_appendn(&p, sb_str(&r->path), top->path_len);
            sb_printf(&p, "%s%s", top->path_len ? "." : "", top->key);
            json_object_set_new(r->lines, sb_str(&p),
                                json_integer((json_int_t)ev->start_mark.line + 1));
            sb_free(&p);
        }
        return 0;
    }
    json_object_set_new(top->node, top->key, value);
    free(top->key);
    top->key = NULL;
    return 0;
}

static int open_container(reader *r, const yaml_event_t *ev, json_t *node)
{
    if (r->depth == MAX_DEPTH) {
        json_decref(node);
        return fail(r, ev, "nested deeper than 64 levels");
    }
    if (r->depth > 0) {
        frame *top = &r->stack[r->depth - 1];
        if (json_is_object(top->node) && !top->key) {
            json_decref(node);
            return fail(r, ev, "a mapping key must be a plain word or number");
        }
    }
    /* The new container's path: its parent's, then the key it sits under. */
    size_t len = 0;
    if (r->depth > 0) {
        frame *top = &r->stack[r->depth - 1];
        r->path.len = top->path_len;
        if (r->path.s) r->path.s[r->path.len] = 0;
        if (json_is_object(top->node))
            sb_printf(&r->path, "%s%s", top->path_len ? "." : "", top->key);
        len = r->path.len;
    }
    r->stack[r->depth++] = (frame){node, NULL, len};
    return 0;
}

static int close_container(reader *r, const yaml_event_t *ev)
{
    frame f = r->stack[--r->depth];
    free(f.key);
    return add_value(r, ev, f.node);
}

int tarn__yaml_to_json(json_t **out, json_t **lines, const char *text, size_t len, tarn_error *err)
{
    *out = NULL;
    if (lines) *lines = NULL;
    reader r = {0};
    r.err = err;
    r.lines = lines ? json_object() : NULL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return tarn__error_set(err, TARN_ENOMEM, "out of memory reading YAML");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0, done = 0, documents = 0;
    while (rc == 0 && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = tarn__error_set(err, TARN_EINVALID, "line %zu: %s%s%s",
                                 (size_t)parser.problem_mark.line + 1,
                                 parser.problem ? parser.problem : "not valid YAML",
                                 parser.context ? " " : "", parser.context ? parser.context : "");
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) rc = fail(&r, &ev, "a project file holds one YAML document");
            break;
        case YAML_ALIAS_EVENT:
            rc =
                fail(&r, &ev, "anchors and aliases (*name) are not supported: write the value out");
            break;
        case YAML_SCALAR_EVENT:
            if (ev.data.scalar.anchor)
                rc = fail(&r, &ev, "anchors (&name) are not supported: write the value out");
            else
                rc = add_value(&r, &ev, scalar_json(&ev));
            break;
        case YAML_MAPPING_START_EVENT:
            rc = open_container(&r, &ev, json_object());
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = open_container(&r, &ev, json_array());
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            rc = close_container(&r, &ev);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (r.depth > 0) {
        frame *f = &r.stack[--r.depth];
        free(f->key);
        json_decref(f->node);
    }
    sb_free(&r.path);
    if (rc < 0) {
        json_decref(r.root);
        json_decref(r.lines);
        return rc;
    }
    *out = r.root ? r.root : json_null();
    if (lines) *lines = r.lines;
    return 0;
}
