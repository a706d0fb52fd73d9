/* table/csv.c — reading CSV files for an import, without guessing silently.
 *
 * DuckDB's CSV sniffer, left alone, prefers skipping lines or taking the
 * whole line as one column to reporting a line that does not fit: a ragged
 * file became one VARCHAR column named "id,name,amount", and a file with
 * one long line became that one line. So tarn decides the dialect itself and
 * then has DuckDB read strictly:
 *
 *   1. the delimiter is the one given, or the candidate (, tab ; |) that
 *      splits the first records of the file into the same number (> 1) of
 *      fields, the most fields winning; the first record's fields are the
 *      column names (empty or duplicate names are refused);
 *   2. DuckDB's sniffer, held to that dialect, says whether there is a
 *      header and which type each column has (reading the whole file when it
 *      is small); a column it saw only empty values of is typed from all of
 *      the file, not left VARCHAR; --column-types overrides;
 *   3. the file is read with exactly those settings, strict_mode on, and
 *      every line that does not fit is stored in DuckDB's rejects table;
 *      any such line fails the import with its line number.
 *
 * An append reads the file with the table's own types (by column name), so
 * whole numbers in a DOUBLE column are doubles, and a value that does not
 * fit is reported with both types. */
#include "table/csv.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "table/input.h"
#include "table/schema.h"
#include "util/error.h"
#include "util/utf8.h"

/* Files up to this size are sniffed whole; larger ones from a sample. */
#define WHOLE_FILE_SNIFF_BYTES (32ll << 20)
/* How much of the first file is looked at for the dialect, at first. */
#define HEAD_BYTES (1u << 20)
/* Records compared to choose a delimiter. */
#define DIALECT_RECORDS 200
/* Bad lines DuckDB keeps per file (the error names the first ones). */
#define REJECTS_KEPT 100
/* Rows after which a column seen empty so far is typed from the whole file. */
#define EMPTY_SAMPLE_ROWS 2048

typedef struct dialect {
    char delim[8];
    char quote, escape;
    int64_t skip;
    const char *encoding;    /* DuckDB's name */
    const char *compression; /* DuckDB's name */
    const char *null_string; /* NULL: only empty fields are NULL */
} dialect;

/* The fields of one record, unquoted. */
typedef struct fields {
    char **v;
    size_t n, cap;
} fields;

static void fields_clear(fields *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i]);
    free(f->v);
    memset(f, 0, sizeof *f);
}

static void fields_push(fields *f, strbuf *field)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 16;
        f->v = realloc(f->v, f->cap * sizeof *f->v);
    }
    f->v[f->n++] = strdup(sb_str(field));
    field->len = 0;
    if (field->s) field->s[0] = 0;
}

/* ---- the dialect ------------------------------------------------------------------ */

/* Reads the record at *P (before END; AT_EOF: END is the end of the file):
 * 1 and *P past it, or 0 when no complete record starts there. Blank lines
 * are skipped, as DuckDB does. A field is quoted when it starts with QUOTE;
 * ESCAPE (QUOTE itself when they are equal) escapes a quote inside it. */
static int next_record(fields *out, const char **p, const char *end, int at_eof, const dialect *dl)
{
    const char *s = *p;
    size_t dlen = strlen(dl->delim);
    strbuf field = {0};
    int ok = 0;
    fields_clear(out);
    while (s < end && (*s == '\n' || *s == '\r'))
        s++;
    if (s >= end) goto done;
    for (;;) {
        if (*s == dl->quote) {
            s++;
            for (;;) {
                if (s >= end) goto done; /* the quote is not closed before END */
                if (*s == dl->escape && dl->escape != dl->quote && s + 1 < end) {
                    sb_appendn(&field, s + 1, 1);
                    s += 2;
                } else if (*s == dl->quote) {
                    if (dl->escape == dl->quote && s + 1 >= end && !at_eof) goto done;
                    if (dl->escape == dl->quote && s + 1 < end && s[1] == dl->quote) {
                        sb_appendn(&field, s, 1);
                        s += 2;
                    } else {
                        s++;
                        break;
                    }
                } else {
                    sb_appendn(&field, s++, 1);
                }
            }
        }
        /* Unquoted text, or what follows a closing quote (DuckDB's strict
         * read reports it; here it only has to be skipped). */
        while (s < end && *s != '\n' && *s != '\r' &&
               !(dlen && (size_t)(end - s) >= dlen && memcmp(s, dl->delim, dlen) == 0))
            sb_appendn(&field, s++, 1);
        /* No delimiter yet (the dialect is being looked for): one field. */
        if (dlen && (size_t)(end - s) >= dlen && memcmp(s, dl->delim, dlen) == 0) {
            fields_push(out, &field);
            s += dlen;
            continue;
        }
        if (s >= end && !at_eof) goto done;
        fields_push(out, &field);
        if (s < end && *s == '\r') s++;
        if (s < end && *s == '\n') s++;
        break;
    }
    ok = 1;
    *p = s;
done:
    sb_free(&field);
    return ok;
}

/* How the first DIALECT_RECORDS records split with delimiter CAND: the most
 * common number of fields, how many records have it, and whether all do. */
typedef struct split {
    size_t fields, records;
    int consistent;
} split;

static split try_delimiter(const char *text, size_t len, int at_eof, const dialect *base,
                           const char *cand)
{
    dialect dl = *base;
    snprintf(dl.delim, sizeof dl.delim, "%s", cand);
    const char *p = text, *end = text + len;
    fields f = {0};
    size_t counts[DIALECT_RECORDS], n = 0;
    while (n < DIALECT_RECORDS && next_record(&f, &p, end, at_eof, &dl))
        counts[n++] = f.n;
    fields_clear(&f);
    split best = {0, 0, 1};
    for (size_t i = 0; i < n; i++) {
        size_t same = 0;
        for (size_t k = 0; k < n; k++)
            same += counts[k] == counts[i];
        if (same > best.records || (same == best.records && counts[i] > best.fields))
            best.fields = counts[i], best.records = same;
        if (counts[i] != counts[0]) best.consistent = 0;
    }
    return best;
}

/* The delimiter is the candidate that splits the records into more than
 * one field: one all records agree on first, then the one most records
 * agree on, then the one with more fields, then the order below. When the
 * header disagrees with the lines below it (comment lines above it), the
 * strict read says so at the first line that differs. */
static void detect_delimiter(dialect *dl, const char *text, size_t len, int at_eof)
{
    static const char *cands[] = {",", "\t", ";", "|"};
    int best = -1;
    split bs = {0};
    for (int i = 0; i < (int)(sizeof cands / sizeof *cands); i++) {
        split s = try_delimiter(text, len, at_eof, dl, cands[i]);
        if (s.fields < 2) continue;
        if (best < 0 || (s.consistent && !bs.consistent) ||
            (s.consistent == bs.consistent &&
             (s.records > bs.records || (s.records == bs.records && s.fields > bs.fields)))) {
            best = i;
            bs = s;
        }
    }
    /* No candidate splits the records: one column. */
    snprintf(dl->delim, sizeof dl->delim, "%s", best >= 0 ? cands[best] : ",");
}

/* *OUT = VALUE's one character (unchanged when VALUE is NULL). */
static int one_char(char *out, const char *value, const char *option, tarn_error *err)
{
    if (!value) return 0;
    if (strlen(value) != 1 || strchr("\r\n", value[0]))
        return tarn__error_set(err, TARN_EINVALID, "%s wants one character, not '%s'", option,
                               value);
    *out = value[0];
    return 0;
}

static int parse_options(dialect *dl, const tarn_import_options *o, tarn_error *err)
{
    memset(dl, 0, sizeof *dl);
    dl->quote = '"';
    dl->encoding = "utf-8";
    dl->null_string = o->null_string;
    TARN_RETURN_NOT_OK(one_char(&dl->quote, o->quote, "--quote", err));
    dl->escape = dl->quote;
    TARN_RETURN_NOT_OK(one_char(&dl->escape, o->escape, "--escape", err));
    if (o->delimiter) {
        const char *d = o->delimiter;
        if (!strcmp(d, "\\t") || !strcasecmp(d, "tab")) d = "\t";
        if (!*d || strlen(d) > 4 || strpbrk(d, "\r\n") || strchr(d, dl->quote))
            return tarn__error_set(err, TARN_EINVALID,
                                   "--delimiter wants 1 to 4 characters other than a newline and "
                                   "the quote, not '%s' (a tab is written \\t)",
                                   o->delimiter);
        snprintf(dl->delim, sizeof dl->delim, "%s", d);
    }
    if (o->skip < 0)
        return tarn__error_set(err, TARN_EINVALID, "--skip wants a number of lines >= 0");
    dl->skip = o->skip;
    if (o->header < TARN_CSV_HEADER_AUTO || o->header > TARN_CSV_HEADER_NO)
        return tarn__error_set(err, TARN_EINVALID, "unknown header option %d", (int)o->header);
    if (o->encoding) {
        const char *e = o->encoding;
        if (!strcasecmp(e, "utf-8") || !strcasecmp(e, "utf8"))
            dl->encoding = "utf-8";
        else if (!strcasecmp(e, "latin-1") || !strcasecmp(e, "latin1") ||
                 !strcasecmp(e, "iso-8859-1"))
            dl->encoding = "latin-1";
        else
            return tarn__error_set(err, TARN_EINVALID,
                                   "unknown encoding '%s' (utf-8 or latin-1; convert other "
                                   "encodings with iconv first)",
                                   e);
    }
    return 0;
}

/* The options every read of the file shares. */
static void dialect_sql(strbuf *q, const dialect *dl)
{
    sb_append(q, ", delim=");
    sb_append_sql_string(q, dl->delim);
    char c[2] = {dl->quote, 0};
    sb_append(q, ", quote=");
    sb_append_sql_string(q, c);
    c[0] = dl->escape;
    sb_append(q, ", escape=");
    sb_append_sql_string(q, c);
    sb_printf(q, ", skip=%lld, encoding='%s', compression='%s', nullstr=[''", (long long)dl->skip,
              dl->encoding, dl->compression);
    if (dl->null_string) {
        sb_append(q, ", ");
        sb_append_sql_string(q, dl->null_string);
    }
    sb_append(q, "]");
}

static void files_sql(strbuf *q, char **files, size_t n)
{
    sb_append(q, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_append(q, ", ");
        sb_append_sql_string(q, files[i]);
    }
    sb_append(q, "]");
}

/* The head of FILE after DL->skip lines, and whether it reaches the end of
 * the file; grows until it holds the first record (a very wide header). */
static int head_after_skip(char **text, const char **start, size_t *len, int *at_eof,
                           const char *file, const dialect *dl, tarn_error *err)
{
    size_t max = HEAD_BYTES;
    for (;;) {
        size_t n;
        TARN_RETURN_NOT_OK(tarn__input_head(text, &n, file, max, err));
        *at_eof = n < max;
        const char *p = *text, *end = *text + n;
        for (int64_t i = 0; i < dl->skip && p; i++) {
            p = memchr(p, '\n', (size_t)(end - p));
            if (p) p++;
        }
        fields f = {0};
        const char *q = p;
        int whole = p && next_record(&f, &q, end, *at_eof, dl);
        fields_clear(&f);
        if (!p && *at_eof)
            return tarn__error_set(err, TARN_EINVALID, "'%s' has fewer than %lld lines to skip",
                                   file, (long long)dl->skip);
        if (whole || *at_eof) {
            *start = p;
            *len = (size_t)(end - p);
            return 0;
        }
        free(*text);
        *text = NULL;
        if (max >= (256u << 20))
            return tarn__error_set(
                err, TARN_EINVALID,
                "the first line of '%s' is longer than 256 MiB: is it a CSV file?", file);
        max *= 4;
    }
}

/* The first record of FILE after DL->skip lines; when DETECT, the delimiter
 * is first chosen from the records at the start of the file. */
static int first_record(fields *out, const char *file, dialect *dl, int detect, tarn_error *err)
{
    char *text = NULL;
    const char *start = NULL;
    size_t len = 0;
    int at_eof;
    TARN_RETURN_NOT_OK(head_after_skip(&text, &start, &len, &at_eof, file, dl, err));
    if (detect) detect_delimiter(dl, start, len, at_eof);
    const char *p = start;
    int rc = 0;
    if (!next_record(out, &p, start + len, at_eof, dl))
        rc = tarn__error_set(err, TARN_EINVALID,
                             "'%s' has no lines%s: there are no columns to import", file,
                             dl->skip ? " after the skipped ones" : "");
    free(text);
    return rc;
}

/* ---- names and types -------------------------------------------------------------- */

/* A header field as a column name: UTF-8 (converted from Latin-1 when that
 * is the file's encoding). NULL when it is not valid UTF-8. */
static char *name_of(const char *field, const char *encoding)
{
    if (!strcmp(encoding, "latin-1")) {
        strbuf b = {0};
        for (const unsigned char *p = (const unsigned char *)field; *p; p++) {
            if (*p < 0x80) {
                sb_appendn(&b, (const char *)p, 1);
            } else {
                char two[2] = {(char)(0xC0 | (*p >> 6)), (char)(0x80 | (*p & 0x3F))};
                sb_appendn(&b, two, 2);
            }
        }
        return b.s ? b.s : strdup("");
    }
    if (tarn__utf8_valid_len(field, strlen(field)) != strlen(field)) return NULL;
    return strdup(field);
}

static int check_names(const fields *header, const char *file, const dialect *dl, tarn_error *err)
{
    for (size_t i = 0; i < header->n; i++) {
        if (!header->v[i][0])
            return tarn__error_set(err, TARN_EINVALID,
                                   "column %zu of the header of '%s' has no name: name it, or read "
                                   "the file with --no-header",
                                   i + 1, file);
        char *name = name_of(header->v[i], dl->encoding);
        if (!name)
            return tarn__error_set(err, TARN_EINVALID,
                                   "the header of '%s' is not valid UTF-8 (column %zu): read the "
                                   "file with --encoding latin-1 if that is its encoding, or "
                                   "convert it to UTF-8",
                                   file, i + 1);
        free(header->v[i]);
        header->v[i] = name;
    }
    /* DuckDB's names are case-insensitive: 'Id' and 'id' would clash. */
    tarn_column *cols = calloc(header->n, sizeof *cols);
    for (size_t i = 0; i < header->n; i++)
        cols[i].name = header->v[i];
    json_t *index = tarn__columns_index(cols, header->n, 1);
    int rc = 0;
    for (size_t i = 0; i < header->n && rc == 0; i++) {
        long first = tarn__columns_find(index, header->v[i], 1);
        if (first != (long)i)
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "the header of '%s' names column '%s' twice (columns %ld and %zu; "
                                 "names are compared ignoring case): rename one",
                                 file, header->v[i], first + 1, i + 1);
    }
    json_decref(index);
    free(cols);
    return rc;
}

/* Every file of a glob must have the first one's header: DuckDB, given the
 * columns, would skip each file's first line without looking at it. */
static int same_header(const fields *header, char **files, size_t n, const dialect *dl,
                       tarn_error *err)
{
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++) {
        fields other = {0};
        dialect same = *dl;
        rc = first_record(&other, files[i], &same, 0, err);
        if (rc == 0) rc = check_names(&other, files[i], dl, err);
        if (rc == 0 && other.n != header->n)
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "'%s' has %zu columns but '%s' has %zu: import them separately",
                                 files[i], other.n, files[0], header->n);
        for (size_t k = 0; rc == 0 && k < header->n; k++)
            if (strcmp(other.v[k], header->v[k]))
                rc = tarn__error_set(err, TARN_EINVALID,
                                     "column %zu is '%s' in '%s' but '%s' in '%s': import them "
                                     "separately",
                                     k + 1, other.v[k], files[i], header->v[k], files[0]);
        fields_clear(&other);
    }
    return rc;
}

/* What DuckDB's sniffer, held to the dialect, says: is there a header, the
 * type of each column, the date formats. *types NULL when it cannot tell. */
typedef struct sniffed {
    int has_header;
    json_t *types; /* ["BIGINT", ...] */
    char *date_format, *timestamp_format;
} sniffed;

static void sniff(sniffed *out, tarn_duck *d, const char *file, const dialect *dl, int header,
                  int whole)
{
    memset(out, 0, sizeof *out);
    strbuf q = {0};
    sb_append(&q,
              "SELECT HasHeader::VARCHAR, DateFormat, TimestampFormat, to_json(Columns)::VARCHAR "
              "FROM sniff_csv(");
    sb_append_sql_string(&q, file);
    dialect_sql(&q, dl);
    /* ignore_errors: a line that does not fit must not make the sniffer give
     * up (the strict read reports it). */
    sb_append(&q, ", ignore_errors=true");
    if (header != TARN_CSV_HEADER_AUTO)
        sb_printf(&q, ", header=%s", header == TARN_CSV_HEADER_YES ? "true" : "false");
    if (whole) sb_append(&q, ", sample_size=-1");
    sb_append(&q, ")");
    duckdb_result res;
    if (tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "sniff", NULL) == 0 &&
        duckdb_row_count(&res) == 1) {
        char *h = tarn__duck_text(&res, 0, 0), *cols = tarn__duck_text(&res, 3, 0);
        out->has_header = h && !strcmp(h, "true");
        out->date_format = tarn__duck_text(&res, 1, 0);
        out->timestamp_format = tarn__duck_text(&res, 2, 0);
        json_t *list = cols ? json_loads(cols, 0, NULL) : NULL;
        if (json_is_array(list)) {
            out->types = json_array();
            size_t i;
            json_t *c;
            json_array_foreach(list, i, c)
                json_array_append(out->types, json_object_get(c, "type"));
        }
        json_decref(list);
        free(h);
        free(cols);
    }
    duckdb_destroy_result(&res);
    sb_free(&q);
}

static void sniffed_clear(sniffed *s)
{
    json_decref(s->types);
    free(s->date_format);
    free(s->timestamp_format);
}

/* `columns={'a': 'T', ...}` for COLS (every type VARCHAR when RAW). */
static void columns_sql(strbuf *q, const tarn_column *cols, size_t n, int raw)
{
    sb_append(q, ", columns={");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_append(q, ", ");
        sb_append_sql_string(q, cols[i].name);
        sb_append(q, ": ");
        sb_append_sql_string(q, raw ? "VARCHAR" : cols[i].type);
    }
    sb_append(q, "}");
}

/* A read of FILE with every column as text, lines that do not fit left
 * out (the strict read reports them): for typing columns. */
static void raw_read_sql(strbuf *q, const char *file, const dialect *dl, int header,
                         const tarn_column *cols, size_t n)
{
    sb_append(q, "read_csv(");
    sb_append_sql_string(q, file);
    sb_printf(q, ", auto_detect=false, header=%s, ignore_errors=true", header ? "true" : "false");
    dialect_sql(q, dl);
    columns_sql(q, cols, n, 1);
    sb_append(q, ")");
}

/* Columns the sampling sniffer typed VARCHAR without seeing a value get
 * their type from every value in the file: the narrowest of BIGINT,
 * DOUBLE, BOOLEAN, DATE, TIMESTAMP that holds them all (VARCHAR when none
 * does, or the column is empty throughout). */
static int type_empty_columns(tarn_duck *d, const char *file, const dialect *dl, int header,
                              tarn_column *cols, size_t n, tarn_error *err)
{
    strbuf q = {0};
    size_t nvar = 0;
    sb_append(&q, "SELECT ");
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cols[i].type, "VARCHAR")) continue;
        sb_append(&q, nvar++ ? ", count(" : "count(");
        sb_append_sql_ident(&q, cols[i].name);
        sb_append(&q, ")");
    }
    if (!nvar) {
        sb_free(&q);
        return 0;
    }
    sb_append(&q, " FROM (SELECT * FROM ");
    raw_read_sql(&q, file, dl, header, cols, n);
    sb_printf(&q, " LIMIT %d)", EMPTY_SAMPLE_ROWS);
    duckdb_result res;
    int rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "cannot read the file", err);
    char *empty = calloc(n, 1);
    size_t nempty = 0;
    for (size_t i = 0, k = 0; rc == 0 && i < n; i++) {
        if (strcmp(cols[i].type, "VARCHAR")) continue;
        if (duckdb_value_int64(&res, k++, 0) == 0) empty[i] = 1, nempty++;
    }
    duckdb_destroy_result(&res);
    if (rc == 0 && nempty) {
        static const char *cands[] = {"BIGINT", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP"};
        q.len = 0;
        sb_append(&q, "SELECT ");
        for (size_t i = 0, k = 0; i < n; i++) {
            if (!empty[i]) continue;
            sb_append(&q, k++ ? ", CASE" : "CASE");
            for (size_t c = 0; c < sizeof cands / sizeof *cands; c++) {
                sb_append(&q, " WHEN count(");
                sb_append_sql_ident(&q, cols[i].name);
                sb_append(&q, ") > 0 AND bool_and(");
                sb_append_sql_ident(&q, cols[i].name);
                sb_append(&q, " IS NULL OR TRY_CAST(");
                sb_append_sql_ident(&q, cols[i].name);
                sb_printf(&q, " AS %s) IS NOT NULL) THEN '%s'", cands[c], cands[c]);
            }
            sb_append(&q, " ELSE 'VARCHAR' END");
        }
        sb_append(&q, " FROM ");
        raw_read_sql(&q, file, dl, header, cols, n);
        rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "cannot read the file", err);
        for (size_t i = 0, k = 0; rc == 0 && i < n; i++) {
            if (!empty[i]) continue;
            char *t = tarn__duck_text(&res, k++, 0);
            if (t) {
                free(cols[i].type);
                cols[i].type = t;
            }
        }
        duckdb_destroy_result(&res);
    }
    free(empty);
    sb_free(&q);
    return rc;
}

/* DuckDB's name for the type TEXT, or TARN_EINVALID. Only a type: the text
 * is checked for characters a type name has before DuckDB parses it. */
static int normalize_type(char **out, tarn_duck *d, const char *column, const char *text,
                          tarn_error *err)
{
    *out = NULL;
    int ok = *text != 0;
    for (const char *p = text; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(" _(),[]", *p)) ok = 0;
    duckdb_prepared_statement st = NULL;
    strbuf q = {0};
    sb_printf(&q, "SELECT CAST(NULL AS %s)", text);
    if (ok && duckdb_prepare(d->con, sb_str(&q), &st) == DuckDBSuccess &&
        duckdb_prepared_statement_column_count(st) == 1) {
        duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(st, 0);
        *out = tarn__duck_type_name(t);
        duckdb_destroy_logical_type(&t);
    }
    duckdb_destroy_prepare(&st);
    sb_free(&q);
    if (!*out)
        return tarn__error_set(
            err, TARN_EINVALID,
            "--column-types: '%s' for column '%s' is not a type (BIGINT, DOUBLE, "
            "VARCHAR, DATE, TIMESTAMP, DECIMAL(18,2), ...)",
            text, column);
    return 0;
}

static int apply_column_types(tarn_csv_read *r, tarn_duck *d, const tarn_import_options *o,
                              tarn_error *err)
{
    for (size_t k = 0; k < o->ncolumn_types; k++) {
        const char *name = o->column_types[k].name ? o->column_types[k].name : "";
        size_t i = 0;
        while (i < r->ncols && strcasecmp(r->cols[i].name, name))
            i++;
        if (i == r->ncols) {
            strbuf known = {0};
            for (size_t j = 0; j < r->ncols && j < 20; j++)
                sb_printf(&known, "%s'%s'", j ? ", " : "", r->cols[j].name);
            int rc = tarn__error_set(err, TARN_EINVALID,
                                     "--column-types names column '%s', which the file does not "
                                     "have (its columns: %s%s)",
                                     name, sb_str(&known), r->ncols > 20 ? ", ..." : "");
            sb_free(&known);
            return rc;
        }
        char *type;
        TARN_RETURN_NOT_OK(normalize_type(
            &type, d, name, o->column_types[k].type ? o->column_types[k].type : "", err));
        free(r->cols[i].type);
        r->cols[i].type = type;
        r->given[i] = 1;
    }
    return 0;
}

/* An append: the file's columns must be the table's (any order); each is
 * read with the table's type. Without a header the fields are the table's
 * columns in order. */
static int match_table(tarn_csv_read *r, const tarn_column *table, size_t ntable, const char *file,
                       tarn_error *err)
{
    strbuf why = {0};
    int bad = 0, by_position = !r->cols[0].name[0];
    if (r->ncols != ntable && by_position) {
        sb_printf(&why, "the file has %zu fields a line and the table %zu columns", r->ncols,
                  ntable);
        bad = 1;
    }
    json_t *in_table = tarn__columns_index(table, ntable, 0);
    json_t *in_file = tarn__columns_index(r->cols, r->ncols, 0);
    for (size_t i = 0; !bad && i < r->ncols; i++) {
        if (!r->cols[i].name[0]) { /* no header: by position */
            free(r->cols[i].name);
            r->cols[i].name = strdup(table[i].name);
            free(r->cols[i].type);
            r->cols[i].type = strdup(table[i].type);
            continue;
        }
        long k = tarn__columns_find(in_table, r->cols[i].name, 0);
        if (k < 0) {
            sb_printf(&why, "%scolumn '%s' is not in the table", bad++ ? "; " : "",
                      r->cols[i].name);
            continue;
        }
        free(r->cols[i].type);
        r->cols[i].type = strdup(table[k].type);
    }
    for (size_t k = 0; k < ntable && !by_position; k++)
        if (tarn__columns_find(in_file, table[k].name, 0) < 0)
            sb_printf(&why, "%scolumn '%s' (%s) is missing from the new data", bad++ ? "; " : "",
                      table[k].name, table[k].type);
    json_decref(in_table);
    json_decref(in_file);
    int rc = 0;
    if (bad)
        rc = tarn__error_set(err, TARN_EINVALID, "the columns of '%s' are not the table's: %s",
                             file, sb_str(&why));
    sb_free(&why);
    return rc;
}

/* ---- the strict read -------------------------------------------------------------- */

void tarn__csv_read_clear(tarn_csv_read *r)
{
    tarn__columns_free(r->cols, r->ncols);
    free(r->given);
    memset(r, 0, sizeof *r);
}

int tarn__csv_select(tarn_csv_read *r, strbuf *select, tarn_duck *d, char **files, size_t n,
                     const tarn_import_options *o, const tarn_column *table, size_t ntable,
                     tarn_error *err)
{
    memset(r, 0, sizeof *r);
    dialect dl;
    TARN_RETURN_NOT_OK(parse_options(&dl, o, err));
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *comp;
        TARN_RETURN_NOT_OK(tarn__input_compression(&comp, files[i], err));
        if (i && strcmp(comp, dl.compression))
            return tarn__error_set(err, TARN_EINVALID,
                                   "'%s' (compression: %s) and '%s' (%s) differ: import them "
                                   "separately",
                                   files[0], dl.compression, files[i], comp);
        dl.compression = comp;
        struct stat st;
        if (stat(files[i], &st) == 0) total += (int64_t)st.st_size;
    }

    int rc;
    fields header = {0};
    sniffed sn = {0};
    if ((rc = first_record(&header, files[0], &dl, !o->delimiter, err)) < 0) goto done;

    /* The header, and the types; the sniffer is told the dialect. */
    sniff(&sn, d, files[0], &dl, o->header, total <= WHOLE_FILE_SNIFF_BYTES);
    int has_header = o->header == TARN_CSV_HEADER_AUTO ? (sn.types ? sn.has_header : 1)
                                                       : o->header == TARN_CSV_HEADER_YES;
    if (has_header && (rc = check_names(&header, files[0], &dl, err)) < 0) goto done;
    if (has_header && (rc = same_header(&header, files, n, &dl, err)) < 0) goto done;
    r->ncols = header.n;
    r->cols = calloc(r->ncols, sizeof *r->cols);
    r->given = calloc(r->ncols, 1);
    int typed = sn.types && json_array_size(sn.types) == r->ncols;
    for (size_t i = 0; i < r->ncols; i++) {
        char gen[32];
        snprintf(gen, sizeof gen, "column%zu", i);
        /* An append without a header takes the table's names (match_table). */
        r->cols[i].name = strdup(has_header ? header.v[i] : table ? "" : gen);
        const char *t = typed ? json_string_value(json_array_get(sn.types, i)) : NULL;
        r->cols[i].type = strdup(t ? t : "VARCHAR");
    }
    if (table) {
        r->append = 1;
        if (o->ncolumn_types) {
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "--column-types cannot be used to append: the table's types are "
                                 "used");
            goto done;
        }
        if ((rc = match_table(r, table, ntable, files[0], err)) < 0) goto done;
    } else {
        if (total > WHOLE_FILE_SNIFF_BYTES &&
            (rc = type_empty_columns(d, files[0], &dl, has_header, r->cols, r->ncols, err)) < 0)
            goto done;
        if ((rc = apply_column_types(r, d, o, err)) < 0) goto done;
    }
    r->byte_lines = !strcmp(dl.encoding, "utf-8");
    memcpy(r->delim, dl.delim, sizeof r->delim);
    r->quote = dl.quote;
    r->escape = dl.escape;

    /* The strict read. */
    sb_append(select, "SELECT ");
    for (size_t i = 0; i < (table ? ntable : r->ncols); i++) {
        if (i) sb_append(select, ", ");
        sb_append_sql_ident(select, table ? table[i].name : r->cols[i].name);
    }
    sb_append(select, " FROM read_csv(");
    files_sql(select, files, n);
    sb_printf(select, ", auto_detect=false, header=%s, strict_mode=true",
              has_header ? "true" : "false");
    dialect_sql(select, &dl);
    columns_sql(select, r->cols, r->ncols, 0);
    if (sn.date_format && typed) {
        sb_append(select, ", dateformat=");
        sb_append_sql_string(select, sn.date_format);
    }
    if (sn.timestamp_format && typed) {
        sb_append(select, ", timestampformat=");
        sb_append_sql_string(select, sn.timestamp_format);
    }
    sb_printf(select, ", store_rejects=true, rejects_limit=%d)", REJECTS_KEPT);
    rc = 0;
done:
    sniffed_clear(&sn);
    fields_clear(&header);
    return rc;
}

/* ---- what went wrong -------------------------------------------------------------- */

/* The narrowest type that holds VALUE, to say what the new data holds. */
static char *type_of_value(tarn_duck *d, const char *value)
{
    strbuf q = {0};
    sb_append(&q, "SELECT CASE");
    static const char *cands[] = {"BIGINT", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP"};
    for (size_t c = 0; c < sizeof cands / sizeof *cands; c++) {
        sb_append(&q, " WHEN TRY_CAST(");
        sb_append_sql_string(&q, value);
        sb_printf(&q, " AS %s) IS NOT NULL THEN '%s'", cands[c], cands[c]);
    }
    sb_append(&q, " ELSE 'VARCHAR' END");
    duckdb_result res;
    char *t = NULL;
    if (tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "type", NULL) == 0)
        t = tarn__duck_text(&res, 0, 0);
    duckdb_destroy_result(&res);
    sb_free(&q);
    return t ? t : strdup("VARCHAR");
}

/* The line's text, short enough for a message. */
static void quote_line(strbuf *b, const char *line)
{
    size_t n = line ? strcspn(line, "\r\n") : 0;
    sb_append(b, " (\"");
    sb_appendn(b, line ? line : "", n > 80 ? 80 : n);
    sb_append(b, n > 80 ? "...\")" : "\")");
}

static void describe_reject(strbuf *b, const tarn_csv_read *r, tarn_duck *d, const char *type,
                            int64_t column_idx, const char *line, const char *message)
{
    int a, f;
    if ((!strcmp(type, "TOO MANY COLUMNS") || !strcmp(type, "MISSING COLUMNS")) && message &&
        sscanf(message, "Expected Number of Columns: %d Found: %d", &a, &f) == 2) {
        sb_printf(b, "expected %d field%s, found %d", a, a == 1 ? "" : "s", f);
    } else if (!strcmp(type, "CAST") && column_idx >= 1 && (size_t)column_idx <= r->ncols) {
        /* The field itself, from the line as DuckDB kept it. */
        const tarn_column *c = &r->cols[column_idx - 1];
        dialect dl = {0};
        char *value = NULL;
        if (line) {
            fields fl = {0};
            const char *p = line;
            memcpy(dl.delim, r->delim, sizeof dl.delim);
            dl.quote = r->quote;
            dl.escape = r->escape;
            if (next_record(&fl, &p, line + strlen(line), 1, &dl) && (size_t)column_idx <= fl.n)
                value = strdup(fl.v[column_idx - 1]);
            fields_clear(&fl);
        }
        if (r->append) {
            char *vt = type_of_value(d, value ? value : "");
            sb_printf(b, "column '%s' is %s in the table but the new data holds %s values", c->name,
                      c->type, vt);
            if (value) sb_printf(b, " ('%s')", value);
            free(vt);
        } else {
            sb_printf(b, "column '%s': ", c->name);
            if (value) sb_printf(b, "'%s' ", value);
            sb_printf(b, "is not a %s", c->type);
            if (r->given[column_idx - 1])
                sb_append(b, " (as --column-types says)");
            else
                sb_printf(b,
                          " (the type its first rows suggest): give it a type with "
                          "--column-types %s=VARCHAR",
                          c->name);
        }
        free(value);
        return;
    } else if (!strcmp(type, "INVALID ENCODING") || !strcmp(type, "INVALID UNICODE")) {
        sb_append(b, "the text is not valid UTF-8");
        quote_line(b, line);
        sb_append(b, ": read the file with --encoding latin-1 if that is its encoding, or convert "
                     "it to UTF-8");
        return;
    } else if (!strcmp(type, "UNQUOTED VALUE")) {
        sb_append(b, "a quote inside an unquoted field, or text after a closing quote");
        quote_line(b, line);
        sb_append(b, ": quote the whole field and double the quotes inside it, or set --quote "
                     "and --escape");
        return;
    } else {
        sb_append(b, message ? message : type);
    }
    quote_line(b, line);
}

int tarn__csv_check_rejects(const tarn_csv_read *r, tarn_duck *d, tarn_error *err)
{
    duckdb_result res;
    /* DuckDB may record one line several times (a line with two fields too
     * many: "Found: 4", then "Found: 5"): count lines, and report the
     * longest complaint about the first one. */
    if (tarn__duck_query(&res, d, "SELECT count(DISTINCT (file_id, line)) FROM reject_errors",
                         TARN_EIO, "cannot check the lines read", err) < 0) {
        duckdb_destroy_result(&res);
        return TARN_EIO;
    }
    int64_t bad = duckdb_value_int64(&res, 0, 0);
    duckdb_destroy_result(&res);
    if (bad == 0) return 0;
    int rc = tarn__duck_query(
        &res, d,
        "SELECT s.file_path, e.line::VARCHAR, e.line_byte_position::VARCHAR, "
        "e.column_idx::VARCHAR, "
        "e.error_type::VARCHAR, e.csv_line, e.error_message FROM reject_errors e JOIN reject_scans "
        "s "
        "ON e.scan_id = s.scan_id AND e.file_id = s.file_id "
        "ORDER BY e.file_id, e.line, length(e.error_message) DESC, e.error_message DESC LIMIT 1",
        TARN_EIO, "cannot check the lines read", err);
    if (rc == 0 && duckdb_row_count(&res) == 1) {
        char *file = tarn__duck_text(&res, 0, 0), *type = tarn__duck_text(&res, 4, 0),
             *line_text = tarn__duck_text(&res, 5, 0), *message = tarn__duck_text(&res, 6, 0);
        int64_t line = tarn__duck_int(&res, 1, 0), at = tarn__duck_int(&res, 2, 0);
        int64_t column_idx = tarn__duck_int(&res, 3, 0);
        /* DuckDB counts records; a quoted field may span lines. The byte
         * offset (1-based) of the record gives the line in the file. */
        if (r->byte_lines && at > 0 && file) {
            int64_t physical = tarn__input_line_at(file, at - 1);
            if (physical > 0) line = physical;
        }
        strbuf b = {0};
        sb_printf(&b, "line %lld of '%s': ", (long long)line, file ? file : "?");
        describe_reject(&b, r, d, type ? type : "", column_idx, line_text, message);
        if (bad > 1)
            sb_printf(&b, " (and %s%lld more bad line%s)", bad >= REJECTS_KEPT ? "at least " : "",
                      (long long)(bad - 1), bad == 2 ? "" : "s");
        sb_append(&b, ". Nothing was imported: fix the file, or read it with explicit options "
                      "(--delimiter, --header/--no-header, --skip, --null, --column-types; see "
                      "'tarn table import --help')");
        rc = tarn__error_set(err, TARN_EINVALID, "%s", sb_str(&b));
        sb_free(&b);
        free(file);
        free(type);
        free(line_text);
        free(message);
    } else if (rc == 0) {
        rc = tarn__error_set(err, TARN_EINVALID, "%lld lines of the file could not be read",
                             (long long)bad);
    }
    duckdb_destroy_result(&res);
    return rc;
}

int tarn__csv_options_unused(const tarn_import_options *o, const char *format, tarn_error *err)
{
    const char *opt = o->delimiter ? "--delimiter"
                      : o->header  ? (o->header == TARN_CSV_HEADER_YES ? "--header" : "--no-header")
                      : o->null_string   ? "--null"
                      : o->ncolumn_types ? "--column-types"
                      : o->skip          ? "--skip"
                      : o->encoding      ? "--encoding"
                      : o->quote         ? "--quote"
                      : o->escape        ? "--escape"
                                         : NULL;
    if (!opt) return 0;
    return tarn__error_set(err, TARN_EINVALID, "%s applies to CSV files, not to %s", opt, format);
}
