/* sql/pool.c — the DuckDB databases a lakehouse keeps open (see pool.h).
 *
 * A short list, most recently used first, behind a mutex: a database is
 * out of the list while a caller uses it, so two threads never share one. */
#include "sql/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lake/lake.h"

#define POOL_SIZE 4

typedef struct pooled {
    char *key;
    tarn_duck d;
} pooled;

struct tarn_duck_pool {
    pthread_mutex_t mu;
    pooled items[POOL_SIZE]; /* [0] most recently used */
    size_t n;
};

tarn_duck_pool *tarn__pool_new(void)
{
    tarn_duck_pool *p = calloc(1, sizeof *p);
    if (p) pthread_mutex_init(&p->mu, NULL);
    return p;
}

void tarn__pool_free(tarn_duck_pool **pp)
{
    if (!pp || !*pp) return;
    tarn_duck_pool *p = *pp;
    for (size_t i = 0; i < p->n; i++) {
        tarn__duck_close(&p->items[i].d);
        free(p->items[i].key);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
    *pp = NULL;
}

int tarn__pool_take(tarn_duck *d, tarn_lake *lake, const char *key)
{
    tarn_duck_pool *p = lake->pool;
    if (p && key) {
        pthread_mutex_lock(&p->mu);
        for (size_t i = 0; i < p->n; i++) {
            if (strcmp(p->items[i].key, key)) continue;
            *d = p->items[i].d;
            free(p->items[i].key);
            memmove(&p->items[i], &p->items[i + 1], (p->n - i - 1) * sizeof *p->items);
            p->n--;
            pthread_mutex_unlock(&p->mu);
            return 1;
        }
        pthread_mutex_unlock(&p->mu);
    }
    return 0;
}

void tarn__pool_give(tarn_lake *lake, const char *key, tarn_duck *d)
{
    tarn_duck_pool *p = lake->pool;
    if (!p || !key || !d->db) {
        tarn__duck_close(d);
        memset(d, 0, sizeof *d);
        return;
    }
    pooled out = {NULL, {0}};
    pthread_mutex_lock(&p->mu);
    if (p->n == POOL_SIZE) out = p->items[--p->n];
    memmove(&p->items[1], &p->items[0], p->n * sizeof *p->items);
    p->items[0].key = strdup(key);
    p->items[0].d = *d;
    p->n++;
    pthread_mutex_unlock(&p->mu);
    memset(d, 0, sizeof *d);
    /* Closing waits for DuckDB's threads: outside the lock. */
    if (out.key) {
        tarn__duck_close(&out.d);
        free(out.key);
    }
}
