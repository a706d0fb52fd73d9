/* table/input.h — the files an import reads, looked at before DuckDB reads
 * them: globs, compression, the first bytes, line numbers, JSON depth. */
#ifndef TARN_TABLE_INPUT_H
#define TARN_TABLE_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "tarn/common.h"

/* JSON nested deeper than this is refused: DuckDB's schema inference
 * recurses once per level and crashes (SIGSEGV) at about 10,000. */
#define TARN_JSON_MAX_DEPTH 1000

/* The files PATH names: itself, or the sorted matches of a glob. None, or
 * PATH unreadable: TARN_ENOTFOUND. Free with tarn__input_files_free. */
int tarn__input_expand(char ***files, size_t *n, const char *path, tarn_error *err);
void tarn__input_files_free(char **files, size_t n);
/* "none" or "gzip" (DuckDB's names), from the file's first bytes, not its
 * name; a Zstandard file is refused (TARN_EINVALID). */
int tarn__input_compression(const char **out, const char *path, tarn_error *err);
/* The first MAX bytes of PATH, decompressed (malloc'd, NUL-terminated;
 * *len may be less at the end of the file). */
int tarn__input_head(char **out, size_t *len, const char *path, size_t max, tarn_error *err);
/* The 1-based line of PATH (decompressed) on which byte OFFSET lies; -1
 * when PATH cannot be read. */
int64_t tarn__input_line_at(const char *path, int64_t offset);
/* Refuses (TARN_EINVALID, with the line) a JSON file whose arrays and
 * objects nest deeper than LIMIT; reads the whole file once. */
int tarn__input_json_depth(const char *path, int limit, tarn_error *err);

#endif
