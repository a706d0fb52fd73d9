/* remote/tables.c — namespaces and tables on a server (/api/v1/namespaces,
 * /tables). An import sends the file it names: one file as it is, the
 * files a glob matches as one archive (imported as one commit, as
 * locally), an Arrow table as its IPC stream, an s3:// URI as the URI for
 * the server to read. Messages that name the upload are given back the
 * caller's own file names. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "remote/remote.h"
#include "table/import.h"
#include "table/input.h"
#include "util/error.h"

static int import_answer(tarn_import_result *out, int rc, json_t *v);
static void import_args(rm_path *p, const char *branch, const tarn_import_options *o);

static int table_from(tarn_table_info *t, json_t *j)
{
    memset(t, 0, sizeof *t);
    t->name = strdup(tarn_remote__str(j, "name"));
    t->namespace_ = strdup(tarn_remote__str(j, "namespace"));
    t->version = strdup(tarn_remote__str(j, "version"));
    t->row_count = json_integer_value(json_object_get(j, "rows"));
    t->file_count = json_integer_value(json_object_get(j, "files"));
    t->size_bytes = json_integer_value(json_object_get(j, "size_bytes"));
    json_t *cols = json_object_get(j, "columns");
    t->ncolumns = json_array_size(cols);
    t->columns = calloc(t->ncolumns ? t->ncolumns : 1, sizeof *t->columns);
    if (!t->name || !t->namespace_ || !t->version || !t->columns) return TARN_ENOMEM;
    for (size_t c = 0; c < t->ncolumns; c++) {
        json_t *col = json_array_get(cols, c);
        t->columns[c].name = strdup(tarn_remote__str(col, "name"));
        t->columns[c].type = strdup(tarn_remote__str(col, "type"));
        if (!t->columns[c].name || !t->columns[c].type) return TARN_ENOMEM;
    }
    return 0;
}

int tarn_remote__table_list(tarn_table_info **out, size_t *count, tarn_lake *lake, const char *ref,
                            tarn_error *err)
{
    *out = NULL;
    *count = 0;
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&ref, buf, lake, ref, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/tables");
    tarn_remote__arg(&p, "ref", ref);
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", &p, NULL, err));
    json_t *list = json_object_get(v, "tables");
    size_t n = json_array_size(list);
    tarn_table_info *t = calloc(n ? n : 1, sizeof *t);
    int rc = t ? 0 : TARN_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = table_from(&t[i], json_array_get(list, i));
    json_decref(v);
    if (rc < 0) {
        tarn_table_info_free(t, n);
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    *out = t;
    *count = n;
    return 0;
}

int tarn_remote__table_get(tarn_table_info *out, tarn_lake *lake, const char *ref, const char *name,
                           tarn_error *err)
{
    memset(out, 0, sizeof *out);
    TARN_RETURN_NOT_OK(tarn_name_check_table(name, err));
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&ref, buf, lake, ref, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/tables/%s", name);
    tarn_remote__arg(&p, "ref", ref);
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", &p, NULL, err));
    int rc = table_from(out, v);
    json_decref(v);
    if (rc < 0) {
        tarn_table_info_clear(out);
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    return 0;
}

static int table_commit(tarn_commit_id *out, tarn_lake *lake, const char *method, rm_path *p,
                        json_t *body, tarn_error *err)
{
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, method, p, body, err));
    if (out) tarn_remote__commit(out, v, "commit");
    json_decref(v);
    return 0;
}

int tarn_remote__table_plan(char **plan_json, tarn_lake *lake, const char *path,
                            const tarn_import_options *opts, tarn_error *err)
{
    *plan_json = NULL;
    /* A plan reads files and writes nothing: the caller's own files are
     * read here, as the import that follows will send them; object
     * storage is read by the server, as an import of it is. */
    if (!path || strncmp(path, "s3://", 5) != 0)
        return tarn_local__table_plan(plan_json, lake, path ? path : "", opts, err);
    tarn_import_options o;
    TARN_RETURN_NOT_OK(tarn__import_options(&o, opts, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/table-plans");
    import_args(&p, NULL, &o);
    tarn_remote__arg(&p, "uri", path);
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", &p, NULL, err));
    *plan_json = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return *plan_json ? 0 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
}

int tarn_remote__table_create(tarn_import_result *out, tarn_lake *lake, const char *table,
                              const tarn_column *columns, size_t ncolumns, const char *branch,
                              const tarn_import_options *opts, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    tarn_import_options o;
    TARN_RETURN_NOT_OK(tarn__import_options(&o, opts, err));
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&branch, buf, lake, branch, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/tables/%s/create", table);
    tarn_remote__arg(&p, "branch", branch);
    json_t *cols = json_array();
    for (size_t i = 0; i < ncolumns; i++)
        json_array_append_new(cols, json_pack("{s:s,s:s}", "name", columns[i].name ? columns[i].name : "",
                                              "type", columns[i].type ? columns[i].type : ""));
    json_t *body = json_pack("{s:o,s:s}", "columns", cols, "mode",
                             o.mode == TARN_IMPORT_REPLACE ? "replace" : "create");
    if (o.commit) tarn_remote__commit_fields(body, NULL, o.commit);
    json_t *v = NULL;
    return import_answer(out, tarn_remote__json(&v, lake, "POST", &p, body, err), v);
}

int tarn_remote__table_delete(tarn_commit_id *out, tarn_lake *lake, const char *table,
                              const char *branch, const tarn_commit_options *commit,
                              tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&branch, buf, lake, branch, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/tables/%s", table);
    tarn_remote__arg(&p, "branch", branch);
    tarn_remote__commit_fields(NULL, &p, commit);
    return table_commit(out, lake, "DELETE", &p, NULL, err);
}

int tarn_remote__table_revert(tarn_commit_id *out, tarn_lake *lake, const char *table,
                              const char *source_ref, const char *into,
                              const tarn_commit_options *commit, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&into, buf, lake, into, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/tables/%s/revert", table);
    json_t *body = json_pack("{s:s,s:s}", "source", source_ref ? source_ref : "", "into", into);
    tarn_remote__commit_fields(body, NULL, commit);
    return table_commit(out, lake, "POST", &p, body, err);
}

int tarn_remote__namespace_list(char ***out, size_t *count, tarn_lake *lake, const char *ref,
                                tarn_error *err)
{
    *out = NULL;
    *count = 0;
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&ref, buf, lake, ref, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/namespaces");
    tarn_remote__arg(&p, "ref", ref);
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", &p, NULL, err));
    json_t *list = json_object_get(v, "namespaces");
    size_t n = json_array_size(list);
    char **names = calloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; names && i < n; i++)
        names[i] = strdup(json_string_value(json_array_get(list, i)));
    json_decref(v);
    if (!names) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    *out = names;
    *count = n;
    return 0;
}

int tarn_remote__namespace_create(tarn_commit_id *out, tarn_lake *lake, const char *ns,
                                  const char *branch, const tarn_commit_options *commit,
                                  tarn_error *err)
{
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&branch, buf, lake, branch, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/namespaces");
    json_t *body = json_pack("{s:s,s:s}", "name", ns ? ns : "", "branch", branch);
    tarn_remote__commit_fields(body, NULL, commit);
    return table_commit(out, lake, "POST", &p, body, err);
}

int tarn_remote__namespace_delete(tarn_commit_id *out, tarn_lake *lake, const char *ns,
                                  const char *branch, const tarn_commit_options *commit,
                                  tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_namespace(ns, err));
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&branch, buf, lake, branch, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/namespaces/%s", ns);
    tarn_remote__arg(&p, "branch", branch);
    tarn_remote__commit_fields(NULL, &p, commit);
    return table_commit(out, lake, "DELETE", &p, NULL, err);
}

/* ---- imports ------------------------------------------------------------------------- */

/* The arguments every import takes: the branch, the mode, the message and
 * how a CSV file is read. */
static void import_args(rm_path *p, const char *branch, const tarn_import_options *o)
{
    static const char *const modes[] = {"create", "append", "replace"};
    tarn_remote__arg(p, "branch", branch);
    if ((unsigned)o->mode < 3) tarn_remote__arg(p, "mode", modes[o->mode]);
    tarn_remote__arg(p, "format", o->format);
    tarn_remote__arg(p, "message", o->message);
    if (o->commit) tarn_remote__commit_fields(NULL, p, o->commit);
    tarn_remote__arg(p, "source", o->source_name);
    tarn_remote__arg(p, "delimiter", o->delimiter);
    if (o->header != TARN_CSV_HEADER_AUTO)
        tarn_remote__arg(p, "header", o->header == TARN_CSV_HEADER_YES ? "true" : "false");
    tarn_remote__arg(p, "null", o->null_string);
    if (o->skip) tarn_remote__arg_int(p, "skip", o->skip);
    tarn_remote__arg(p, "encoding", o->encoding);
    tarn_remote__arg(p, "quote", o->quote);
    tarn_remote__arg(p, "escape", o->escape);
    if (o->ncolumn_types) {
        json_t *types = json_array();
        for (size_t i = 0; i < o->ncolumn_types; i++)
            json_array_append_new(
                types, json_pack("{s:s,s:s}", "name",
                                 o->column_types[i].name ? o->column_types[i].name : "", "type",
                                 o->column_types[i].type ? o->column_types[i].type : ""));
        char *text = json_dumps(types, JSON_COMPACT);
        tarn_remote__arg(p, "column_types", text);
        free(text);
        json_decref(types);
    }
}

/* Replaces every FROM in ERR's message with TO. */
static void rename_in_message(tarn_error *err, const char *from, const char *to)
{
    if (!err || !*from) return;
    strbuf b = {0};
    const char *m = err->message, *at;
    size_t n = strlen(from);
    while ((at = strstr(m, from))) {
        sb_appendn(&b, m, (size_t)(at - m));
        sb_append(&b, to);
        m = at + n;
    }
    sb_append(&b, m);
    snprintf(err->message, sizeof err->message, "%s", sb_str(&b));
    sb_free(&b);
}

static int import_answer(tarn_import_result *out, int rc, json_t *v)
{
    if (rc == 0) {
        tarn_remote__commit(&out->commit, v, "commit");
        out->rows = json_integer_value(json_object_get(v, "rows"));
        out->files = json_integer_value(json_object_get(v, "files"));
    }
    json_decref(v);
    return rc;
}

/* The file name an archive entry gets: its place in the match order and
 * its own format suffix, so that the server reads the files in the order
 * and the formats the caller's glob gave. */
static void entry_name(char *out, size_t size, size_t i, const char *file)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    const char *dot = strchr(base, '.');
    snprintf(out, size, "%06zu%s", i, dot ? dot : "");
}

static int open_file(int *fd, const char *path, tarn_error *err)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return tarn__error_set(err, TARN_ENOTFOUND, "cannot read '%s': %s", path, strerror(errno));
    return 0;
}

int tarn_remote__table_import(tarn_import_result *out, tarn_lake *lake, const char *table,
                              const char *path, const char *branch, const tarn_import_options *opts,
                              tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_import_options o;
    TARN_RETURN_NOT_OK(tarn__import_options(&o, opts, err));
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&branch, buf, lake, branch, err));
    /* The commit message names the data as the caller did, not as the
     * server's copy of it. */
    if (!o.source_name) o.source_name = path;
    rm_path p;
    tarn_remote__path(&p, "/api/v1/tables/%s/import", table);
    import_args(&p, branch, &o);
    json_t *v = NULL;
    if (path && strncmp(path, "s3://", 5) == 0) {
        /* Object storage is read by the server, with its credentials. */
        tarn_remote__arg(&p, "uri", path);
        return import_answer(out, tarn_remote__json(&v, lake, "POST", &p, NULL, err), v);
    }
    char **files = NULL;
    size_t n = 0;
    int rc = tarn__input_expand(&files, &n, path ? path : "", err);
    if (rc < 0) {
        sb_free(&p.b);
        return rc;
    }
    int fd = -1;
    const char *base = strrchr(files[0], '/');
    tarn_remote__arg(&p, "filename", base ? base + 1 : files[0]);
    if (n == 1) {
        rc = open_file(&fd, files[0], err);
        if (rc == 0)
            rc = tarn_remote__upload(&v, lake, &p, fd, err);
        else
            sb_free(&p.b);
        rename_in_message(err, "the uploaded file", files[0]);
    } else {
        tarn_remote__arg(&p, "archive", "tar");
        char **names = calloc(n, sizeof *names);
        rc = names ? 0 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
        for (size_t i = 0; rc == 0 && i < n; i++) {
            char name[64];
            entry_name(name, sizeof name, i, files[i]);
            names[i] = strdup(name);
        }
        if (rc == 0)
            rc = tarn_remote__tar_files(&fd, (const char *const *)files, (const char *const *)names,
                                        n, err);
        if (rc == 0)
            rc = tarn_remote__upload(&v, lake, &p, fd, err);
        else
            sb_free(&p.b);
        for (size_t i = 0; names && i < n; i++) {
            if (rc < 0 && names[i]) rename_in_message(err, names[i], files[i]);
            free(names[i]);
        }
        free(names);
    }
    if (fd >= 0) close(fd);
    tarn__input_files_free(files, n);
    return import_answer(out, rc, v);
}

int tarn_remote__table_import_arrow_fd(tarn_import_result *out, tarn_lake *lake, const char *table,
                                       int fd, const char *branch, const tarn_import_options *opts,
                                       tarn_error *err)
{
    memset(out, 0, sizeof *out);
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&branch, buf, lake, branch, err));
    /* CSV options go along too: the server refuses them as a local call does. */
    tarn_import_options o;
    TARN_RETURN_NOT_OK(tarn__import_options(&o, opts, err));
    o.format = "arrow";
    rm_path p;
    tarn_remote__path(&p, "/api/v1/tables/%s/import", table);
    import_args(&p, branch, &o);
    json_t *v = NULL;
    return import_answer(out, tarn_remote__upload(&v, lake, &p, fd, err), v);
}
