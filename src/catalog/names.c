/* catalog/names.c — the rules for branch, tag, namespace and table names,
 * checked before a name reaches SQL, a path or the catalog, and how table
 * and namespace names compare (see names.h). */
#include "catalog/names.h"

#include <ctype.h>
#include <string.h>

#include "catalog/catalog.h"
#include "tarn/ref.h"
#include "util/error.h"

/* Names are ASCII (check_identifier): folding ASCII letters is the whole
 * of SQL's case rule for them. */
static int fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int tarn__name_ncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int ca = fold((unsigned char)a[i]), cb = fold((unsigned char)b[i]);
        if (ca != cb) return ca - cb;
        if (!ca) break;
    }
    return 0;
}

int tarn__name_cmp(const char *a, const char *b)
{
    return tarn__name_ncmp(a, b, (size_t)-1);
}

int tarn__name_order(const char *a, const char *b)
{
    int c = tarn__name_cmp(a, b);
    return c ? c : strcmp(a, b);
}

int tarn__name_in_namespace(const char *table, const char *ns)
{
    size_t len = strlen(ns);
    return tarn__name_ncmp(table, ns, len) == 0 && table[len] == '.';
}

int tarn__name_reserved(const char *ns, size_t len)
{
    /* DuckDB's own catalogs and schemas: `main.t` means DuckDB's schema
     * main (where tarn puts namespace default), `memory.t` its catalog. */
    static const char *const reserved[] = {"main",   "temp",     "system", "memory",
                                           "information_schema", "pg_catalog"};
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strlen(reserved[i]) == len && tarn__name_ncmp(ns, reserved[i], len) == 0) return 1;
    return 0;
}

int tarn_name_check_ref(const char *name, tarn_error *err)
{
    if (!name || !*name) return tarn__error_set(err, TARN_EINVALID, "a ref name cannot be empty");
    size_t len = strlen(name);
    if (len > TARN_NAME_MAX)
        return tarn__error_set(err, TARN_EINVALID, "name '%.40s...' is too long (at most %d characters)",
                               name, TARN_NAME_MAX);
    const char *why = NULL;
    if (name[0] == '-') why = "it starts with '-'";
    else if (name[0] == '/' || name[len - 1] == '/') why = "it starts or ends with '/'";
    else if (name[0] == '.' || strstr(name, "/.")) why = "a component starts with '.'";
    else if (name[len - 1] == '.') why = "it ends with '.'";
    else if (strstr(name, "..")) why = "it contains '..'";
    else if (strstr(name, "//")) why = "it contains '//'";
    else if (strstr(name, "@{")) why = "it contains '@{'";
    else if (strcmp(name, "@") == 0) why = "'@' alone is not a name";
    else if (len >= 5 && strcmp(name + len - 5, ".lock") == 0) why = "it ends with '.lock'";
    for (const char *p = name; !why && *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f) why = "it contains a control character";
        else if (c == ' ') why = "it contains a space";
        else if (strchr("~^:?*[\\'\"", c)) why = "it contains one of ~ ^ : ? * [ \\ ' \"";
    }
    if (why) return tarn__error_set(err, TARN_EINVALID, "invalid name '%s': %s", name, why);
    return 0;
}

static int check_identifier(const char *part, size_t len)
{
    if (len == 0 || len > 128) return -1;
    if (isdigit((unsigned char)part[0])) return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)part[i];
        if (!(isalnum(c) || c == '_') || c > 0x7f) return -1;
    }
    return 0;
}

int tarn__name_lookup(tarn_tree_entry **out, const tarn_tree *t, const char *name, int one_spelling,
                      tarn_error *err)
{
    tarn_tree_entry *e = tarn__tree_find(t, name);
    *out = e;
    if (!e) return 0;
    /* Entries the same under case folding sit side by side (tree order). */
    size_t i = (size_t)(e - t->entries);
    const tarn_tree_entry *other = NULL;
    if (i > 0 && tarn__name_cmp(t->entries[i - 1].name, name) == 0) other = &t->entries[i - 1];
    if (i + 1 < t->n && tarn__name_cmp(t->entries[i + 1].name, name) == 0) other = &t->entries[i + 1];
    if (!other || (one_spelling && strcmp(e->name, name) == 0)) return 0;
    *out = NULL;
    return tarn__error_set(err, TARN_EINVALID,
                           "'%s' and '%s' differ only by case, which SQL cannot tell apart: keep "
                           "one (copy the other with `tarn query \"SELECT * FROM ...\" --output "
                           "FILE` naming it alone and exactly, import FILE under a new name, then "
                           "'tarn table rm' it)",
                           e->name, other->name);
}

static int refuse_reserved(const char *name, size_t len, tarn_error *err)
{
    return tarn__error_set(err, TARN_EINVALID,
                           "namespace '%.*s' is reserved: DuckDB keeps main, temp, system, memory, "
                           "information_schema and pg_catalog for itself; choose another name",
                           (int)len, name);
}

int tarn_name_check_namespace(const char *name, tarn_error *err)
{
    if (!name || check_identifier(name, strlen(name)) != 0)
        return tarn__error_set(err, TARN_EINVALID,
                               "invalid namespace name '%s': use letters, digits and '_' "
                               "(not starting with a digit), at most 128 characters",
                               name ? name : "");
    if (tarn__name_reserved(name, strlen(name))) return refuse_reserved(name, strlen(name), err);
    return 0;
}

int tarn_name_check_table(const char *name, tarn_error *err)
{
    const char *dot = name ? strchr(name, '.') : NULL;
    int ok;
    if (!name) ok = 0;
    else if (!dot) ok = check_identifier(name, strlen(name)) == 0;
    else ok = check_identifier(name, (size_t)(dot - name)) == 0 &&
              check_identifier(dot + 1, strlen(dot + 1)) == 0;
    if (!ok)
        return tarn__error_set(err, TARN_EINVALID,
                               "invalid table name '%s': use 'table' or 'namespace.table', each part "
                               "letters, digits and '_' (not starting with a digit)",
                               name ? name : "");
    if (dot && tarn__name_reserved(name, (size_t)(dot - name)))
        return refuse_reserved(name, (size_t)(dot - name), err);
    return 0;
}
