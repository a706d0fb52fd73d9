/* output.h — how the `tarn` command prints: errors, JSON, aligned tables,
 * short hashes, sizes and times.
 *
 * The output mode is the command line's only global state: `-O json` sets
 * it once in main, before any command runs. */
#ifndef TARN_CLI_OUTPUT_H
#define TARN_CLI_OUTPUT_H

#include <jansson.h>
#include <stdio.h>

#include <tarn/tarn.h>

extern int out_json_mode; /* 1: every command prints JSON on stdout */

/* Prints ERR from a call that returned RC (`tarn: error: ...` on stderr,
 * or the JSON error object on stdout), clears it and returns 1. */
int out_fail(int rc, tarn_error *err);
/* Prints a usage error message in JSON mode (the caller handles the
 * terminal). */
void out_usage_json(const char *message);

/* Prints V on stdout (indented, newline) and releases it. V NULL means a
 * document could not be built: an error document is printed instead and
 * the process exits 1, so that a script never reads nothing as success. */
void out_json(json_t *v);
/* S as a JSON string (null for NULL). Bytes that are not UTF-8 (a Latin-1
 * CSV cell, a model's print) become U+FFFD: JSON cannot carry them, and
 * jansson would refuse the whole string. Every string from outside the
 * command (names, messages, logs, values) goes into JSON through this. */
json_t *out_jstr(const char *s);

/* The first 12 hex digits of a hash, into BUF (at least 13 bytes). */
const char *out_short(char *buf, const char *hex);
/* "512 B", "12.3 KiB", ... into BUF (at least 24 bytes). */
const char *out_size(char *buf, int64_t bytes);
/* "2026-11-26T10:00:00.123456Z" into BUF (at least 32 bytes). */
const char *out_iso_time(char *buf, int64_t time_us);
/* git's date form in UTC, "Thu Nov 26 10:00:00 2026 +0000" (BUF >= 40). */
const char *out_git_time(char *buf, int64_t time_us);

/* An aligned table of text cells, kept until printed. */
typedef struct out_table {
    size_t ncols, nrows, cap;
    char **cells; /* nrows x ncols, row-major, each malloc'd */
    int *right;   /* per column: right-align (numbers) */
} out_table;

void out_table_init(out_table *t, size_t ncols);
/* Adds a row of NCOLS cells (copied; NULL prints as an empty cell). */
void out_table_add(out_table *t, const char *const *cells);
/* GRID: psql-like, " | " between columns and a separator under the first
 * row; otherwise two spaces between columns and no separator. */
void out_table_print(const out_table *t, FILE *f, int grid);
void out_table_free(out_table *t);

/* Exits with a message when memory runs out (the CLI does not recover). */
void *out_xmalloc(size_t n);
char *out_xstrdup(const char *s);

#endif
