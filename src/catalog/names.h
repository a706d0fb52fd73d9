/* catalog/names.h — how tarn compares table and namespace names.
 *
 * Names follow SQL's rule for identifiers, as DuckDB applies it: letters
 * compare without regard to case, and a name keeps the case it was first
 * written with. Two names that differ only by case are one name. */
#ifndef TARN_CATALOG_NAMES_H
#define TARN_CATALOG_NAMES_H

#include <stddef.h>

/* Compares A and B with ASCII letters folded to lower case: 0 when they
 * are the same name, else <0 or >0 like strcmp. */
int tarn__name_cmp(const char *a, const char *b);
/* The same for the first N bytes at most. */
int tarn__name_ncmp(const char *a, const char *b, size_t n);
/* A total order consistent with tarn__name_cmp: names that are the same
 * under case folding are ordered by their bytes. Trees are sorted by it. */
int tarn__name_order(const char *a, const char *b);
/* 1 when qualified table name TABLE ("ns.t") lives in namespace NS. */
int tarn__name_in_namespace(const char *table, const char *ns);
/* 1 when NS is a namespace name the SQL engine keeps for itself (main,
 * temp, system, memory, information_schema, pg_catalog): a table in it
 * could never be queried. */
int tarn__name_reserved(const char *ns, size_t len);

struct tarn_tree;
struct tarn_tree_entry;
struct tarn_error;
/* The entry of T named NAME (qualified) into *out (NULL if none). A tree
 * written before names compared this way may hold names that differ only
 * by case, which SQL cannot tell apart: looking one up is TARN_EINVALID
 * with a message naming both, unless ONE_SPELLING (the caller's statement
 * writes this name one way only) and NAME is one of them exactly. */
int tarn__name_lookup(struct tarn_tree_entry **out, const struct tarn_tree *t, const char *name,
                      int one_spelling, struct tarn_error *err);

#endif
