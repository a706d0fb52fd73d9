/* sql/pool.c — the DuckDB databases a lakehouse keeps open (see pool.h).
 *
 * A short list, most recently used first, behind a mutex: a database is
 * out of the list while a caller uses it, so two threads never share one. */
#include "sql/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lake/lake.h"
#include "util/util.h"

#define POOL_SIZE 4
#define MEMO_MAX 128

typedef struct pooled {
    char *key;
    tarn_duck d;
} pooled;

struct tarn_duck_pool {
    pthread_mutex_t mu;
    pooled items[POOL_SIZE]; /* [0] most recently used */
    size_t n;
    json_t *memo;  /* {"sha-256 of a key": value} */
    json_t *order; /* the keys of memo, oldest first */
};

tarn_duck_pool *tarn__pool_new(void)
{
    tarn_duck_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    p->memo = json_object();
    p->order = json_array();
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
    json_decref(p->memo);
    json_decref(p->order);
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

json_t *tarn__pool_recall(tarn_lake *lake, const char *key)
{
    tarn_duck_pool *p = lake->pool;
    if (!p) return NULL;
    char h[65];
    tarn__sha256_hex(h, key, strlen(key));
    pthread_mutex_lock(&p->mu);
    json_t *v = json_deep_copy(json_object_get(p->memo, h));
    pthread_mutex_unlock(&p->mu);
    return v;
}

void tarn__pool_remember(tarn_lake *lake, const char *key, json_t *value)
{
    tarn_duck_pool *p = lake->pool;
    if (!p || !value) return;
    char h[65];
    tarn__sha256_hex(h, key, strlen(key));
    json_t *copy = json_deep_copy(value);
    pthread_mutex_lock(&p->mu);
    if (!json_object_get(p->memo, h)) {
        if (json_array_size(p->order) >= MEMO_MAX) {
            json_object_del(p->memo, json_string_value(json_array_get(p->order, 0)));
            json_array_remove(p->order, 0);
        }
        json_array_append_new(p->order, json_string(h));
    }
    json_object_set_new(p->memo, h, copy);
    pthread_mutex_unlock(&p->mu);
}
