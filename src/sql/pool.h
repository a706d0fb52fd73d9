/* sql/pool.h — DuckDB databases an open lakehouse keeps between queries,
 * each confined to one set of data files.
 *
 * Opening a DuckDB costs milliseconds; an in-process caller (Python, a
 * server) asking query after query would pay it every time. A confined
 * database can never be unconfined (its configuration is locked), so the
 * pool keeps each under the key of what it was confined to and exposes
 * (the views over exactly those files): a query reuses one only when it
 * needs exactly that. It remembers the results of pure computations
 * too (parses, verdicts on files), so that a statement asked again costs
 * only its run. */
#ifndef TARN_SQL_POOL_H
#define TARN_SQL_POOL_H

#include "sql/engine.h"

typedef struct tarn_duck_pool tarn_duck_pool;

tarn_duck_pool *tarn__pool_new(void);
/* Closes every database the pool keeps. NULL allowed. */
void tarn__pool_free(tarn_duck_pool **pool);

/* Takes the database LAKE keeps under KEY into *d: 1, and it is the
 * caller's alone until given back; 0 when none is kept. */
int tarn__pool_take(tarn_duck *d, tarn_lake *lake, const char *key);
/* Gives D back to LAKE's pool under KEY, which must say exactly what D is
 * confined to and exposes, or closes it (KEY NULL). The least recently
 * used beyond the pool's size are closed. */
void tarn__pool_give(tarn_lake *lake, const char *key, tarn_duck *d);

/* Results the lakehouse remembers between calls, for computations that
 * depend on their key alone (a statement's parse tree, a filter's verdicts
 * on immutable data files): a new copy of what is stored under KEY, or
 * NULL. A bounded number is kept, the oldest forgotten first. */
json_t *tarn__pool_recall(tarn_lake *lake, const char *key);
/* Stores a copy of VALUE under KEY. */
void tarn__pool_remember(tarn_lake *lake, const char *key, json_t *value);

#endif
