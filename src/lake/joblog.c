/* lake/joblog.c — a job's log on disk, capped and rotated.
 *
 * Lines are buffered (64 KiB, or 200 ms) and written to JOBID.log; past
 * half of run.log_max_mb the file is renamed JOBID.log.1 and a new one
 * starts with a "[tarn: log part N]" line. A reader that finds part N >= 2
 * in the .1 file knows parts were dropped and says so. Memory stays
 * bounded: the write buffer and a tail of the last lines for the catalog.
 * Nothing here is transactional: a log is a record for people, the
 * catalog's job row is the record of truth. */
#include "lake/joblog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/util.h"

#define WRITE_BUFFER 65536
#define FLUSH_US 200000
#define PART_HEADER "[tarn: log part "

struct tarn_joblog {
    char dir[PATH_MAX];       /* LAKE/logs */
    char path[PATH_MAX + 32]; /* JOBID.log */
    char old[PATH_MAX + 40];  /* JOBID.log.1 */
    int fd;                   /* -1 until started */
    int64_t size;             /* bytes written to the current file */
    int64_t part_max;
    int part;
    int no_file;    /* the file could not be created: keep only the tail */
    strbuf pending; /* lines before the file exists */
    strbuf wbuf;    /* lines not yet written */
    strbuf tail;
    int64_t flushed_us;
};

static void flush(tarn_joblog *log)
{
    if (log->fd >= 0 && log->wbuf.len) {
        /* A full disk loses log lines, never the run. */
        if (tarn__write_all(log->fd, log->wbuf.s, log->wbuf.len) == 0)
            log->size += (int64_t)log->wbuf.len;
    }
    log->wbuf.len = 0;
    log->flushed_us = tarn__now_us();
}

static int open_part(tarn_joblog *log)
{
    log->fd = open(log->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    log->size = 0;
    if (log->fd < 0) return -1;
    if (log->part > 1) sb_printf(&log->wbuf, PART_HEADER "%d]\n", log->part);
    return 0;
}

static void rotate(tarn_joblog *log)
{
    flush(log);
    close(log->fd);
    log->fd = -1;
    rename(log->path, log->old);
    log->part++;
    open_part(log);
}

int tarn__joblog_open(tarn_joblog **out, tarn_lake *lake, tarn_error *err)
{
    *out = NULL;
    const char *conf = tarn_lake_config(lake, "run.log_max_mb");
    long long mb = TARN_JOBLOG_DEFAULT_MB;
    if (conf && *conf) {
        char *end;
        mb = strtoll(conf, &end, 10);
        if (*end || mb < 1)
            return tarn__error_set(err, TARN_EINVALID,
                                   "run.log_max_mb in .tarn/config must be a whole number of MiB, "
                                   "at least 1 (it is '%s')",
                                   conf);
    }
    tarn_joblog *log = calloc(1, sizeof *log);
    if (!log) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    snprintf(log->dir, sizeof log->dir, "%s/logs", tarn_lake_path(lake));
    log->fd = -1;
    log->part = 1;
    log->part_max = (int64_t)mb << 19; /* two parts make the cap */
    *out = log;
    return 0;
}

int tarn__joblog_start(tarn_joblog *log, const char *job_id, tarn_error *err)
{
    snprintf(log->path, sizeof log->path, "%s/%s.log", log->dir, job_id);
    snprintf(log->old, sizeof log->old, "%s/%s.log.1", log->dir, job_id);
    if (tarn__mkdirs(log->dir, 0755) != 0 || open_part(log) != 0) {
        log->no_file = 1;
        sb_free(&log->pending);
        return tarn__error_set(err, TARN_EIO, "cannot write the job's log '%s': %s", log->path,
                               strerror(errno));
    }
    sb_appendn(&log->wbuf, sb_str(&log->pending), log->pending.len);
    sb_free(&log->pending);
    flush(log);
    return 0;
}

static void keep_tail(tarn_joblog *log, const char *line)
{
    sb_append(&log->tail, line);
    sb_append(&log->tail, "\n");
    if (log->tail.len <= 2 * TARN_JOBLOG_TAIL) return;
    /* Cut at a line start: amortised, each byte moves at most once. */
    const char *from = log->tail.s + log->tail.len - TARN_JOBLOG_TAIL;
    const char *nl = memchr(from, '\n', TARN_JOBLOG_TAIL);
    if (nl && nl[1]) from = nl + 1;
    size_t keep = log->tail.len - (size_t)(from - log->tail.s);
    memmove(log->tail.s, from, keep);
    log->tail.len = keep;
    log->tail.s[keep] = 0;
}

void tarn__joblog_line(tarn_joblog *log, const char *line)
{
    keep_tail(log, line);
    if (log->no_file) return;
    if (log->fd < 0) {
        sb_append(&log->pending, line);
        sb_append(&log->pending, "\n");
        return;
    }
    size_t n = strlen(line) + 1;
    if (log->size + (int64_t)(log->wbuf.len + n) > log->part_max &&
        log->size + (int64_t)log->wbuf.len > 0)
        rotate(log);
    sb_append(&log->wbuf, line);
    sb_append(&log->wbuf, "\n");
    if (log->wbuf.len >= WRITE_BUFFER || tarn__now_us() - log->flushed_us >= FLUSH_US) flush(log);
}

char *tarn__joblog_tail(const tarn_joblog *log)
{
    return strdup(sb_str(&log->tail));
}

void tarn__joblog_close(tarn_joblog **logp)
{
    if (!logp || !*logp) return;
    tarn_joblog *log = *logp;
    flush(log);
    if (log->fd >= 0) close(log->fd);
    sb_free(&log->pending);
    sb_free(&log->wbuf);
    sb_free(&log->tail);
    free(log);
    *logp = NULL;
}

/* Appends file PATH to OUT without its part header; returns the part
 * number its header names (1 without one), 0 if it cannot be read. */
static int append_part(strbuf *out, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (tarn__read_file(&text, &len, path) != 0) return 0;
    int part = 1;
    const char *body = text;
    if (!strncmp(text, PART_HEADER, strlen(PART_HEADER))) {
        part = atoi(text + strlen(PART_HEADER));
        const char *nl = strchr(text, '\n');
        body = nl ? nl + 1 : text + len;
    }
    sb_appendn(out, body, len - (size_t)(body - text));
    free(text);
    return part;
}

int tarn__joblog_read(char **text, tarn_lake *lake, const char *job_id, tarn_error *err)
{
    *text = NULL;
    char path[PATH_MAX + 32], old[PATH_MAX + 40];
    snprintf(path, sizeof path, "%s/logs/%s.log", tarn_lake_path(lake), job_id);
    snprintf(old, sizeof old, "%s/logs/%s.log.1", tarn_lake_path(lake), job_id);
    if (access(path, F_OK) != 0)
        return tarn__error_set(err, TARN_ENOTFOUND, "job %s has no log file", job_id);
    strbuf older = {0}, out = {0};
    if (append_part(&older, old) >= 2)
        sb_append(&out, "[... earlier lines of this job's log were dropped: a job's log is capped "
                        "by run.log_max_mb in .tarn/config ...]\n");
    sb_appendn(&out, sb_str(&older), older.len);
    sb_free(&older);
    append_part(&out, path);
    *text = out.s ? out.s : strdup("");
    return 0;
}

void tarn__joblog_append(tarn_lake *lake, const char *job_id, const char *line)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/logs/%s.log", tarn_lake_path(lake), job_id);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return;
    strbuf b = {0};
    sb_printf(&b, "%s\n", line);
    tarn__write_all(fd, b.s, b.len);
    sb_free(&b);
    close(fd);
}
