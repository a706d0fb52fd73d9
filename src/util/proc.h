/* util/proc.h — running a helper process and capturing its output. */
#ifndef TARN_UTIL_PROC_H
#define TARN_UTIL_PROC_H

/* Runs ARGV (argv[0] is a path) with the extra environment entries ENV
 * ("K=V", NULL-terminated; may be NULL), stdin from /dev/null, capturing
 * stdout and stderr (malloc'd, NUL-terminated). *status is the wait status.
 * Returns 0 if the process ran (whatever its exit), -1 if it could not. */
int tarn__proc_capture(char **out, char **errout, int *status, char *const argv[],
                       char *const env[]);

#endif
