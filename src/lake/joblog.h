/* lake/joblog.h — a job's log: every line a run prints, streamed to
 * .tarn/logs/JOBID.log (capped and rotated), with a bounded tail kept for
 * the catalog's job record. */
#ifndef TARN_LAKE_JOBLOG_H
#define TARN_LAKE_JOBLOG_H

#include "tarn/lake.h"

typedef struct tarn_joblog tarn_joblog;

/* Default cap of one job's log files together (run.log_max_mb). */
#define TARN_JOBLOG_DEFAULT_MB 64
/* Bytes of the log's end kept in memory (and in the catalog). */
#define TARN_JOBLOG_TAIL 65536

/* A log for a run that has no job yet: lines are kept in memory until
 * tarn__joblog_start. Refuses a run.log_max_mb that is not a whole number
 * of MiB >= 1. Free with tarn__joblog_close. */
int tarn__joblog_open(tarn_joblog **out, tarn_lake *lake, tarn_error *err);
/* From now on lines go to LAKE/logs/JOB_ID.log (written with the lines so
 * far). When that file would pass half the cap it becomes JOB_ID.log.1
 * (replacing the previous one) and a new file starts: the two hold the
 * job's last lines, within the cap. If the file cannot be created, err
 * says why and the log keeps only its tail from then on. */
int tarn__joblog_start(tarn_joblog *log, const char *job_id, tarn_error *err);
/* Appends one line (without its newline). Callers serialise calls. */
void tarn__joblog_line(tarn_joblog *log, const char *line);
/* Writes the buffered lines now (a run that prints nothing for a while
 * still shows its last lines to `tarn job logs`). Callers serialise calls
 * with tarn__joblog_line. NULL allowed. */
void tarn__joblog_flush(tarn_joblog *log);
/* The last lines (at most TARN_JOBLOG_TAIL bytes), malloc'd. */
char *tarn__joblog_tail(const tarn_joblog *log);
/* Writes what is buffered and frees. NULL allowed. */
void tarn__joblog_close(tarn_joblog **log);

/* The retained log of job JOB_ID (a full id), malloc'd in *text, with a
 * note where earlier lines were dropped. TARN_ENOTFOUND when the job has
 * no log file (jobs recorded before logs had files). */
int tarn__joblog_read(char **text, tarn_lake *lake, const char *job_id, tarn_error *err);
/* Appends LINE to job JOB_ID's log file, if it has one (a job settled
 * after its process died). */
void tarn__joblog_append(tarn_lake *lake, const char *job_id, const char *line);

#endif
