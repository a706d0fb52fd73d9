/* sql/early.h — data files fetched on a guess before a statement is
 * parsed (sql/early.c). */
#ifndef TARN_SQL_EARLY_H
#define TARN_SQL_EARLY_H

#include "lake/lake.h"

struct tarn_tree;

/* Starts downloading, in the background, the files SQL will surely read
 * at TREE when that is certain from its words alone; else nothing. */
void tarn__sql_fetch_early(tarn_lake *lake, const struct tarn_tree *tree, const char *sql);

#endif
