/* tarn/commit.h — commits: the log, merges, diffs and reverts.
 *
 * A commit is immutable and content-addressed: its tree (table name ->
 * table version), its parents (two for a merge), author, message, time and
 * properties (a JSON object). */
#ifndef TARN_COMMIT_H
#define TARN_COMMIT_H

#include "common.h"
#include "lake.h"

typedef struct tarn_commit_info {
    tarn_commit_id id;
    size_t nparents;
    tarn_commit_id parents[2];
    char *author;
    char *message;
    int64_t time_us;       /* microseconds since the epoch, UTC */
    char *properties_json; /* a JSON object, "{}" when empty */
} tarn_commit_info;

/* What a write records in its commit besides what tarn writes itself
 * (every write call takes one; NULL: tarn's message, no more). */
typedef struct tarn_commit_options {
    int version;
    const char *message; /* the first line; NULL or "": the message tarn writes */
    const char *body;    /* more text, after a blank line (NULL: none) */
    /* A JSON object of text values, e.g. {"ticket": "DATA-42"}, added to
     * the commit's properties (NULL: none). A key tarn sets on that
     * commit itself (a run's job_id, a revert's source_commit) is refused. */
    const char *properties_json;
} tarn_commit_options;

#define TARN_COMMIT_OPTIONS_VERSION 1
#define TARN_COMMIT_OPTIONS_INIT {TARN_COMMIT_OPTIONS_VERSION, NULL, NULL, NULL}

/* The log of REF (NULL: the active branch), newest first, following every
 * parent, at most LIMIT commits (0: all). Free with tarn_commit_info_free. */
TARN_EXTERN int tarn_commit_log(tarn_commit_info **out, size_t *count, tarn_lake *lake,
                                const char *ref, size_t limit, tarn_error *err);
TARN_EXTERN void tarn_commit_info_free(tarn_commit_info *list, size_t count);

typedef struct tarn_merge_result {
    tarn_commit_id commit;
    int fast_forward; /* the branch just moved to the source's commit */
    int up_to_date;   /* nothing to merge: the source is already contained */
} tarn_merge_result;

/* Merges SOURCE_REF into branch INTO (NULL: the active branch): a
 * fast-forward when possible, else a three-way merge per table against the
 * merge base. Tables to which both sides only appended merge to the base's
 * files plus both sides' new ones. Any other change on both sides is
 * TARN_ECONFLICT: nothing changes and err->tables names each table (the
 * message says why). COMMIT (may be NULL) with a message, body or
 * properties asks for a merge commit carrying them, even where a
 * fast-forward would do. */
TARN_EXTERN int tarn_branch_merge(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                                  const char *into, const tarn_commit_options *commit,
                                  tarn_error *err);

typedef enum tarn_diff_kind {
    TARN_DIFF_ADDED = 0,
    TARN_DIFF_REMOVED = 1,
    TARN_DIFF_CHANGED = 2
} tarn_diff_kind;

typedef struct tarn_diff_entry {
    char *table;
    tarn_diff_kind kind;
    int64_t rows_from; /* -1 when absent on that side */
    int64_t rows_to;
} tarn_diff_entry;

/* Tables added, removed or changed (a different table version) going from
 * ref FROM to ref TO, sorted by name. Free with tarn_diff_free. */
TARN_EXTERN int tarn_diff(tarn_diff_entry **out, size_t *count, tarn_lake *lake, const char *from,
                          const char *to, tarn_error *err);
TARN_EXTERN void tarn_diff_free(tarn_diff_entry *list, size_t count);

#endif
