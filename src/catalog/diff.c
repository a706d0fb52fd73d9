/* catalog/diff.c — which tables differ between two refs, with row counts. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/names.h"
#include "util/error.h"

static int64_t version_rows(tarn_lake *lake, const char *id)
{
    tarn_version v;
    if (TARN_CAT(lake)->vt->version_get(TARN_CAT(lake), id, &v, 0, NULL) < 0) return -1;
    int64_t rows = v.row_count;
    tarn__version_clear(&v);
    return rows;
}

static void push(tarn_diff_entry **list, size_t *n, size_t *cap, const char *name,
                 tarn_diff_kind kind, int64_t from, int64_t to)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *list = realloc(*list, *cap * sizeof **list);
    }
    (*list)[*n] = (tarn_diff_entry){strdup(name), kind, from, to};
    (*n)++;
}

int tarn_local__diff(tarn_diff_entry **out, size_t *count, tarn_lake *lake, const char *from,
                     const char *to, tarn_error *err)
{
    *out = NULL;
    *count = 0;
    tarn_tree a = {0}, b = {0};
    int rc = tarn__ref_tree(&a, NULL, lake, from, err);
    if (rc == 0) rc = tarn__ref_tree(&b, NULL, lake, to, err);
    if (rc < 0) goto done;
    size_t i = 0, j = 0, cap = 0;
    /* Both trees are sorted: one merge pass. Namespaces are not tables. */
    while (i < a.n || j < b.n) {
        int c = i >= a.n ? 1 : j >= b.n ? -1 : tarn__name_order(a.entries[i].name, b.entries[j].name);
        if (c < 0) {
            if (a.entries[i].kind == TARN_ENTRY_TABLE)
                push(out, count, &cap, a.entries[i].name, TARN_DIFF_REMOVED,
                     version_rows(lake, a.entries[i].version), -1);
            i++;
        } else if (c > 0) {
            if (b.entries[j].kind == TARN_ENTRY_TABLE)
                push(out, count, &cap, b.entries[j].name, TARN_DIFF_ADDED, -1,
                     version_rows(lake, b.entries[j].version));
            j++;
        } else {
            if (a.entries[i].kind == TARN_ENTRY_TABLE &&
                strcmp(a.entries[i].version, b.entries[j].version) != 0)
                push(out, count, &cap, a.entries[i].name, TARN_DIFF_CHANGED,
                     version_rows(lake, a.entries[i].version), version_rows(lake, b.entries[j].version));
            i++;
            j++;
        }
    }
done:
    tarn__tree_clear(&a);
    tarn__tree_clear(&b);
    return rc;
}

void tarn_diff_free(tarn_diff_entry *list, size_t count)
{
    for (size_t i = 0; i < count; i++) free(list[i].table);
    free(list);
}
