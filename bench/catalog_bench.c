/* bench/catalog_bench.c — how fast the git-for-data catalog is, how it
 * grows with the catalog (never with the data), SQLite and PostgreSQL side
 * by side, and how commits scale with concurrent writers.
 *
 *   catalog_bench OUT_DIR [COMMITS...]       (default: 100 1000 10000)
 *
 * With BENCH_PG_URL set (a postgresql:// URL), every measurement runs on
 * the embedded SQLite catalog and on a PostgreSQL schema of its own.
 *
 * For each catalog size N it builds a fresh lakehouse OUT_DIR/catalog-N
 * holding 1,000 tables and N commits on main, then times, through the
 * public API (median of several runs):
 *   - branch create           tarn_branch_create from main
 *   - commit                  tarn_namespace_create: one catalog commit,
 *                             no data written
 *   - commit (one table)      a commit that appends a data file to one of
 *                             the 1,000 tables (what an import commits)
 *   - merge 10 ahead          tarn_branch_merge of a branch 10 commits
 *                             ahead (one table each) while main moved one
 *                             commit: a three-way merge, whose merge base
 *                             is found by a walk bounded by generations
 *   - merge 100 of 1,000      a branch that changed 100 of the 1,000
 *                             tables while main changed one other
 *   - merge 100 append+append both sides appended to the same 100 tables
 *   - log -n 20 / log         tarn_commit_log of main: the newest 20, and
 *                             every commit (10,000 at N = 10,000)
 *   - table ls                tarn_table_list of main (1,000 tables)
 * and reports the size of catalog.db afterwards. The commits made while
 * measuring add to the N built.
 *
 * Concurrency (at the smallest N): W writer processes, each with its own
 * connection, each making K commits (one table's append), on W separate
 * branches and all on main; commits per second against one writer, and
 * the CPU time per commit in the writers and in the PostgreSQL server
 * (what bounds the rate once the machine's cores are busy; the server's
 * when BENCH_PG_PIDFILE names its postmaster.pid).
 *
 *   catalog_bench --files OUT_DIR [FILES...]  (default: 10 1000 10000)
 *
 * Merges of one table of FILES data files: a branch and main each append
 * one file to it, then the branch is merged (three-way; the file lists of
 * base, ours and theirs are compared). Median of several merges, with the
 * time per file of the table: a merge that compared file lists pairwise
 * would cost 1,000x more per file at 10,000 files than at 10.
 *
 * How the catalog is built cheaply: one real import of a 2-row CSV
 * (tarn_table_import, which runs DuckDB once) gives a real data file and
 * schema. Every other table and commit is made with the library's internal
 * commit path, tarn__branch_commit (src/catalog/catalog.h), whose edit
 * callback sets tree entries: the first commit points 1,000 table names at
 * the seed's table version; every later commit appends one more data-file
 * record to one table (a new table version = its old files + the new key,
 * exactly what `tarn table import --mode append` commits). The added files
 * are catalog records only (keys under data/bench/, 1 row each): no catalog
 * operation reads data files, which is the point — data size cannot matter.
 * The internal path does the same catalog writes as an import's commit
 * minus the DuckDB work, in one transaction per commit, so N commits really
 * are N commits in the catalog (content-addressed, each with its parent).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "lake/lake.h"
#include "tarn/tarn.h"
#include "util/error.h"
#include "util/util.h"

#define NTABLES 1000
#define NCHANGED 100

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* This process's CPU time: what an operation costs here whatever else
 * the machine runs (for SQLite, all of it; for PostgreSQL, the client's). */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, const tarn_error *err)
{
    fprintf(stderr, "catalog_bench: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

/* ---- edits --------------------------------------------------------------- */

static char seed_version[65];
static long file_seq;

static void table_name(char *out, size_t size, int k)
{
    snprintf(out, size, "default.t%04d", k);
}

static int edit_create_all(tarn_lake *lake, tarn_tree *tree, void *ctx, tarn_error *err)
{
    (void)lake, (void)ctx, (void)err;
    char name[64];
    for (int k = 0; k < NTABLES; k++) {
        table_name(name, sizeof name, k);
        tarn__tree_set(tree, name, TARN_ENTRY_TABLE, seed_version);
    }
    return 0;
}

/* Appends one new data-file record to each table named in ctx. */
typedef struct append_edit {
    const int *tables;
    int n;
} append_edit;

static int append_one(tarn_lake *lake, tarn_tree *tree, const char *name, tarn_error *err)
{
    tarn_tree_entry *e = tarn__tree_find(tree, name);
    if (!e) return tarn__error_set(err, TARN_ENOTFOUND, "no table %s", name);
    tarn_version old = {0}, v = {0};
    TARN_RETURN_NOT_OK(tarn__version_load(&old, lake, e->version, err));
    char key[128];
    snprintf(key, sizeof key, "data/bench/f%08ld-%d.parquet", ++file_seq, (int)getpid());
    tarn_data_file f = {key, 1, 100, "{}"};
    int rc = tarn__data_file_insert(lake, &f, err);
    if (rc == 0) {
        v.schema_json = old.schema_json;
        snprintf(v.parent, sizeof v.parent, "%s", old.id);
        v.nfiles = old.nfiles + 1;
        v.files = malloc(v.nfiles * sizeof *v.files);
        for (size_t i = 0; i < old.nfiles; i++) v.files[i] = old.files[i];
        v.files[old.nfiles] = key;
        rc = tarn__version_store(lake, &v, err);
        if (rc == 0) tarn__tree_set(tree, name, TARN_ENTRY_TABLE, v.id);
        free(v.files);
    }
    tarn__version_clear(&old);
    return rc;
}

static int edit_append(tarn_lake *lake, tarn_tree *tree, void *ctx, tarn_error *err)
{
    append_edit *a = ctx;
    char name[64];
    for (int i = 0; i < a->n; i++) {
        table_name(name, sizeof name, a->tables[i]);
        TARN_RETURN_NOT_OK(append_one(lake, tree, name, err));
    }
    return 0;
}

static void commit_append(tarn_lake *lake, const char *branch, const int *tables, int n)
{
    append_edit a = {tables, n};
    tarn_error err = TARN_ERROR_INIT;
    if (tarn__branch_commit(NULL, lake, branch, edit_append, &a, "bench append", "{}", &err) != 0)
        die("commit", &err);
}

/* ---- one catalog size ---------------------------------------------------- */

/* PG: NULL for the embedded catalog, else a postgresql:// URL. */
static tarn_lake *build(const char *out_dir, int ncommits, const char *pg, double *build_ms)
{
    char dir[4096], cmd[8300], url[4200];
    snprintf(dir, sizeof dir, "%s/catalog-%d%s", out_dir, ncommits, pg ? "-pg" : "");
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) die("cannot prepare the folder", NULL);
    tarn_error err = TARN_ERROR_INIT;
    tarn_init_options io = TARN_INIT_OPTIONS_INIT;
    if (pg) {
        static int nth;
        snprintf(url, sizeof url, "%s%sschema=bench_%d_%d_%d", pg, strchr(pg, '?') ? "&" : "?", ncommits,
                 (int)getpid(), nth++);
        io.catalog = url;
    }
    if (tarn_lake_init_opts(dir, &io, &err) != 0) die("init", &err);
    char path[4200];
    snprintf(path, sizeof path, "%s/.tarn", dir);
    tarn_lake *lake = NULL;
    if (tarn_lake_open_path(&lake, path, &err) != 0) die("open", &err);
    snprintf(path, sizeof path, "%s/seed.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("id,v\n1,x\n2,y\n", f);
    fclose(f);
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    tarn_import_result res;
    if (tarn_table_import(&res, lake, "seed", path, "main", &o, &err) != 0) die("seed import", &err);
    tarn_table_info info;
    if (tarn_table_get(&info, lake, "main", "seed", &err) != 0) die("seed get", &err);
    snprintf(seed_version, sizeof seed_version, "%s", info.version);
    tarn_table_info_clear(&info);

    double t0 = now_ms();
    if (tarn__branch_commit(NULL, lake, "main", edit_create_all, NULL, "create 1,000 tables", "{}",
                            &err) != 0)
        die("create tables", &err);
    /* init + seed + create-all are 3 commits; the rest append to one table. */
    for (int c = 3; c < ncommits; c++) {
        int t = c % NTABLES;
        commit_append(lake, "main", &t, 1);
    }
    *build_ms = now_ms() - t0;
    return lake;
}

typedef struct row {
    double branch_create, commit_ns, commit_table, merge10, merge10_cpu, merge, merge_aa, log20, log, table_ls;
    size_t log_n;
    double build_ms;
    double db_mb; /* catalog.db + its WAL after the run */
} row;

/* Branch NAME from main, 10 commits on it, one on main, then the merge:
 * its time in ms. */
static double merge_ahead(tarn_lake *lake, const char *name, int round, double *cpu)
{
    tarn_error err = TARN_ERROR_INIT;
    if (tarn_branch_create(NULL, lake, name, "main", &err) != 0) die("branch create", &err);
    for (int k = 0; k < 10; k++) {
        int t = (100 + 37 * round + k) % NTABLES;
        commit_append(lake, name, &t, 1);
    }
    int other = (500 + round) % NTABLES;
    commit_append(lake, "main", &other, 1);
    tarn_merge_result m;
    double t0 = now_ms(), c0 = cpu_ms();
    if (tarn_branch_merge(&m, lake, name, "main", NULL, &err) != 0) die("merge", &err);
    double ms = now_ms() - t0;
    *cpu = cpu_ms() - c0;
    if (m.fast_forward) die("merge was a fast-forward", NULL);
    return ms;
}

static row measure(const char *out_dir, int ncommits, const char *pg)
{
    row r = {0};
    tarn_lake *lake = build(out_dir, ncommits, pg, &r.build_ms);
    tarn_error err = TARN_ERROR_INIT;
    enum { REPS = 15, MREPS = 5, LREPS = 3 };
    double t[REPS];
    char name[64];

    for (int i = 0; i < REPS; i++) {
        snprintf(name, sizeof name, "b%d", i);
        double t0 = now_ms();
        if (tarn_branch_create(NULL, lake, name, "main", &err) != 0) die("branch create", &err);
        t[i] = now_ms() - t0;
    }
    r.branch_create = median(t, REPS);

    for (int i = 0; i < REPS; i++) {
        snprintf(name, sizeof name, "ns%d", i);
        double t0 = now_ms();
        if (tarn_namespace_create(NULL, lake, name, "main", NULL, &err) != 0) die("namespace create", &err);
        t[i] = now_ms() - t0;
    }
    r.commit_ns = median(t, REPS);

    for (int i = 0; i < REPS; i++) {
        int tbl = (7 * i) % NTABLES;
        double t0 = now_ms();
        commit_append(lake, "main", &tbl, 1);
        t[i] = now_ms() - t0;
    }
    r.commit_table = median(t, REPS);

    double cpu[REPS];
    for (int i = 0; i < MREPS; i++) {
        snprintf(name, sizeof name, "ahead%d", i);
        t[i] = merge_ahead(lake, name, i, &cpu[i]);
    }
    r.merge10 = median(t, MREPS);
    r.merge10_cpu = median(cpu, MREPS);

    /* merge: the feature branch changes tables 0..99, main changes 999 */
    int changed[NCHANGED];
    for (int i = 0; i < NCHANGED; i++) changed[i] = i * (NTABLES / NCHANGED) / 1; /* 0,10,..,990 */
    for (int i = 0; i < MREPS; i++) {
        snprintf(name, sizeof name, "feature%d", i);
        if (tarn_branch_create(NULL, lake, name, "main", &err) != 0) die("branch create", &err);
        commit_append(lake, name, changed, NCHANGED);
        int other = 999 - i;
        commit_append(lake, "main", &other, 1);
        tarn_merge_result m;
        double t0 = now_ms();
        if (tarn_branch_merge(&m, lake, name, "main", NULL, &err) != 0) die("merge", &err);
        t[i] = now_ms() - t0;
        if (m.fast_forward) die("merge was a fast-forward", NULL);
    }
    r.merge = median(t, MREPS);

    /* append+append: both sides append to the same 100 tables. These
     * tables' versions on main come from previous merges, so this also
     * runs into the merge.c prefix bug when it is present: then a conflict
     * is reported and the row shows "conflict". */
    for (int i = 0; i < MREPS; i++) {
        snprintf(name, sizeof name, "aa%d", i);
        int fresh[NCHANGED];
        for (int k = 0; k < NCHANGED; k++) fresh[k] = (k * 10 + 1 + i) % NTABLES; /* untouched by merges */
        if (tarn_branch_create(NULL, lake, name, "main", &err) != 0) die("branch create", &err);
        commit_append(lake, name, fresh, NCHANGED);
        commit_append(lake, "main", fresh, NCHANGED);
        tarn_merge_result m;
        double t0 = now_ms();
        int rc = tarn_branch_merge(&m, lake, name, "main", NULL, &err);
        t[i] = now_ms() - t0;
        if (rc != 0) {
            fprintf(stderr, "catalog_bench: append+append merge failed: %s\n", err.message);
            tarn_error_clear(&err);
            r.merge_aa = -1;
            break;
        }
    }
    if (r.merge_aa == 0) r.merge_aa = median(t, MREPS);

    for (int i = 0; i < LREPS; i++) {
        tarn_commit_info *log;
        size_t n;
        double t0 = now_ms();
        if (tarn_commit_log(&log, &n, lake, "main", 10000, &err) != 0) die("log", &err);
        t[i] = now_ms() - t0;
        r.log_n = n;
        tarn_commit_info_free(log, n);
    }
    r.log = median(t, LREPS);
    for (int i = 0; i < REPS; i++) {
        tarn_commit_info *log;
        size_t n;
        double t0 = now_ms();
        if (tarn_commit_log(&log, &n, lake, "main", 20, &err) != 0) die("log", &err);
        t[i] = now_ms() - t0;
        tarn_commit_info_free(log, n);
    }
    r.log20 = median(t, REPS);
    for (int i = 0; i < LREPS; i++) {
        tarn_table_info *tables;
        size_t n;
        double t0 = now_ms();
        if (tarn_table_list(&tables, &n, lake, "main", &err) != 0) die("table ls", &err);
        t[i] = now_ms() - t0;
        tarn_table_info_free(tables, n);
    }
    r.table_ls = median(t, LREPS);
    const char *suffix[2] = {"", "-wal"};
    for (int k = 0; k < 2; k++) {
        char p[4200];
        struct stat st;
        snprintf(p, sizeof p, "%s/catalog.db%s", tarn_lake_path(lake), suffix[k]);
        if (stat(p, &st) == 0) r.db_mb += st.st_size / 1048576.0;
    }
    tarn_lake_close(&lake);
    return r;
}

/* ---- merges of one table of many files ------------------------------------ */

/* Points table t at a new version of CTX's count of data-file records. */
static int edit_many_files(tarn_lake *lake, tarn_tree *tree, void *ctx, tarn_error *err)
{
    long n = *(long *)ctx;
    tarn_version v = {0};
    v.schema_json = "[{\"name\":\"id\",\"type\":\"BIGINT\"}]";
    v.nfiles = (size_t)n;
    v.files = calloc((size_t)n, sizeof *v.files);
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        char key[128];
        snprintf(key, sizeof key, "data/bench/many-%08ld.parquet", i);
        v.files[i] = strdup(key);
        tarn_data_file f = {v.files[i], 1, 100, "{}"};
        rc = tarn__data_file_insert(lake, &f, err);
    }
    if (rc == 0) rc = tarn__version_store(lake, &v, err);
    if (rc == 0) {
        tarn__tree_ensure_namespace(tree, "default.t0000");
        tarn__tree_set(tree, "default.t0000", TARN_ENTRY_TABLE, v.id);
    }
    for (long i = 0; i < n; i++) free(v.files[i]);
    free(v.files);
    return rc;
}

static double merge_files(const char *out_dir, long nfiles)
{
    char dir[4096], cmd[8300], path[4200];
    snprintf(dir, sizeof dir, "%s/files-%ld", out_dir, nfiles);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) die("cannot prepare the folder", NULL);
    tarn_error err = TARN_ERROR_INIT;
    if (tarn_lake_init(dir, &err) != 0) die("init", &err);
    snprintf(path, sizeof path, "%s/.tarn", dir);
    tarn_lake *lake = NULL;
    if (tarn_lake_open_path(&lake, path, &err) != 0) die("open", &err);
    if (tarn__branch_commit(NULL, lake, "main", edit_many_files, &nfiles, "many files", "{}",
                            &err) != 0)
        die("create the table", &err);
    enum { MREPS = 7 };
    double t[MREPS];
    int table = 0;
    for (int i = 0; i < MREPS; i++) {
        char name[64];
        snprintf(name, sizeof name, "side%d", i);
        if (tarn_branch_create(NULL, lake, name, "main", &err) != 0) die("branch create", &err);
        commit_append(lake, name, &table, 1);
        commit_append(lake, "main", &table, 1);
        tarn_merge_result m;
        double t0 = now_ms();
        if (tarn_branch_merge(&m, lake, name, "main", NULL, &err) != 0) die("merge", &err);
        t[i] = now_ms() - t0;
        if (m.fast_forward) die("merge was a fast-forward", NULL);
    }
    tarn_lake_close(&lake);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) die("cannot clean up", NULL);
    return median(t, MREPS);
}

static int files_main(int argc, char **argv)
{
    long sizes[16];
    int n = 0;
    for (int i = 3; i < argc && n < 16; i++) sizes[n++] = atol(argv[i]);
    if (!n) sizes[n++] = 10, sizes[n++] = 1000, sizes[n++] = 10000;
    printf("| merge, both sides appended to one table of N files | ms (median) | us per file | per file vs %ld files |\n|---|---:|---:|---:|\n",
           sizes[0]);
    double first = 0;
    for (int i = 0; i < n; i++) {
        double ms = merge_files(argv[2], sizes[i]);
        double per = ms * 1000.0 / (double)sizes[i];
        if (i == 0) first = per;
        printf("| %ld files | %.2f | %.2f | %.2fx |\n", sizes[i], ms, per, per / first);
        fflush(stdout);
    }
    return 0;
}

/* ---- concurrent writers ------------------------------------------------- */

/* CPU time of the writer processes reaped so far (ms). */
static double children_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* One line of /proc/PID/stat: its parent, and its CPU time with that of
 * its exited children (ms); 0 if it is gone. */
static double proc_cpu_ms(const char *pid, long *ppid)
{
    char path[300], buf[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *end = strrchr(buf, ')');
    /* after "pid (comm) ": state, ppid and 9 more fields, then utime stime cutime cstime */
    unsigned long long v[14];
    char state;
    if (!end ||
        sscanf(end + 2, "%c %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
               &state, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
               &v[11], &v[12], &v[13]) != 15)
        return 0;
    *ppid = (long)v[0];
    return (double)(v[10] + v[11] + v[12] + v[13]) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* CPU time of the PostgreSQL server whose postmaster.pid BENCH_PG_PIDFILE
 * names: the postmaster and its processes, exited ones (the backends of
 * closed connections) included (ms); -1 when unknown. The server's share
 * of a commit. */
static double postgres_cpu_ms(void)
{
    const char *pidfile = getenv("BENCH_PG_PIDFILE");
    FILE *f = pidfile && *pidfile ? fopen(pidfile, "r") : NULL;
    long master = 0;
    if (!f || fscanf(f, "%ld", &master) != 1) master = 0;
    if (f) fclose(f);
    if (master <= 0) return -1;
    char name[32];
    long ppid = 0;
    snprintf(name, sizeof name, "%ld", master);
    double ms = proc_cpu_ms(name, &ppid);
    DIR *d = opendir("/proc");
    for (struct dirent *e; d && (e = readdir(d));) {
        double child = proc_cpu_ms(e->d_name, &ppid);
        if (ppid == master) ms += child;
    }
    if (d) closedir(d);
    return ms;
}

/* W processes (each its own connection and lease) make K commits each,
 * on W branches (SEPARATE) or all on main: commits per second overall. */
static double writers(const char *tarn_dir, int w, int k, int separate, double cpu[2])
{
    double c0 = children_cpu_ms(), s0 = postgres_cpu_ms();
    tarn_error err = TARN_ERROR_INIT;
    tarn_lake *lake = NULL;
    if (tarn_lake_open_path(&lake, tarn_dir, &err) != 0) die("open", &err);
    char name[64];
    for (int i = 0; separate && i < w; i++) {
        snprintf(name, sizeof name, "w%d_%d_%ld", w, i, file_seq++);
        if (tarn_branch_create(NULL, lake, name, "main", &err) != 0) die("branch create", &err);
    }
    tarn_lake_close(&lake);
    long seq0 = file_seq;
    double t0 = now_ms();
    pid_t pids[64];
    for (int i = 0; i < w; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            tarn_lake *mine = NULL;
            if (tarn_lake_open_path(&mine, tarn_dir, &err) != 0) die("open", &err);
            file_seq = seq0 + 100000L * (i + 1); /* keys unique across the writers */
            char branch[64];
            snprintf(branch, sizeof branch, "w%d_%d_%ld", w, i, seq0 - w + i);
            for (int c = 0; c < k; c++) {
                int t = (i * 97 + c) % NTABLES;
                commit_append(mine, separate ? branch : "main", &t, 1);
            }
            tarn_lake_close(&mine);
            _exit(0);
        }
    }
    int ok = 1;
    for (int i = 0; i < w; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (!ok) die("a writer failed", NULL);
    double rate = w * k / ((now_ms() - t0) / 1000.0);
    cpu[0] = (children_cpu_ms() - c0) / (w * k);
    cpu[1] = s0 < 0 ? -1 : (postgres_cpu_ms() - s0) / (w * k);
    return rate;
}

typedef struct scaling {
    double one, separate, shared;
    double cpu_one[2], cpu_separate[2], cpu_shared[2]; /* per commit: writers, server */
} scaling;

static scaling measure_writers(const char *out_dir, const char *pg)
{
    double build_ms;
    tarn_lake *lake = build(out_dir, 100, pg, &build_ms);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tarn_lake_path(lake));
    tarn_lake_close(&lake);
    enum { K = 50, W = 8 };
    scaling s;
    s.one = writers(dir, 1, K * 2, 1, s.cpu_one);
    s.separate = writers(dir, W, K, 1, s.cpu_separate);
    s.shared = writers(dir, W, K, 0, s.cpu_shared);
    return s;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--files")) return files_main(argc, argv);
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT_DIR [COMMITS...] | --files OUT_DIR [FILES...]\n", argv[0]);
        return 2;
    }
    int sizes[16], nsizes = 0;
    for (int i = 2; i < argc && nsizes < 16; i++) sizes[nsizes++] = atoi(argv[i]);
    if (!nsizes) {
        sizes[0] = 100, sizes[1] = 1000, sizes[2] = 10000;
        nsizes = 3;
    }
    const char *pg = getenv("BENCH_PG_URL");
    if (pg && !*pg) pg = NULL;
    int nb = pg ? 2 : 1;
    const char *backend[2] = {"SQLite", "PostgreSQL"};
    row rows[16][2];
    for (int s = 0; s < nsizes; s++)
        for (int b = 0; b < nb; b++) {
            rows[s][b] = measure(argv[1], sizes[s], b ? pg : NULL);
            fprintf(stderr, "catalog_bench: %s, %d commits built in %.0f ms\n", backend[b], sizes[s],
                    rows[s][b].build_ms);
        }
    printf("| catalog operation (ms, median) |");
    for (int s = 0; s < nsizes; s++)
        for (int b = 0; b < nb; b++) printf(" %d commits, %s |", sizes[s], backend[b]);
    printf("\n|---|");
    for (int s = 0; s < nsizes * nb; s++) printf("---:|");
    printf("\n");
#define ROW(label, field)                                                                          \
    do {                                                                                           \
        printf("| %s |", label);                                                                   \
        for (int s = 0; s < nsizes; s++)                                                           \
            for (int b = 0; b < nb; b++) {                                                         \
                if (rows[s][b].field < 0) printf(" conflict (bug) |");                             \
                else printf(" %.2f |", rows[s][b].field);                                          \
            }                                                                                      \
        printf("\n");                                                                              \
    } while (0)
    ROW("branch create", branch_create);
    ROW("commit (namespace create)", commit_ns);
    ROW("commit (append a file to 1 of 1,000 tables)", commit_table);
    ROW("merge: branch 10 commits ahead, main 1 (three-way)", merge10);
    ROW("  the same, CPU time of this process", merge10_cpu);
    ROW("merge: branch changed 100 of 1,000 tables", merge);
    ROW("merge: both sides appended to 100 tables", merge_aa);
    ROW("log -n 20 of main", log20);
    printf("| log of main (every commit) |");
    for (int s = 0; s < nsizes; s++)
        for (int b = 0; b < nb; b++) printf(" %.2f (%zu commits) |", rows[s][b].log, rows[s][b].log_n);
    printf("\n");
    ROW("table ls (1,000 tables)", table_ls);
    printf("| catalog.db size (MB) |");
    for (int s = 0; s < nsizes; s++)
        for (int b = 0; b < nb; b++) b ? printf(" - |") : printf(" %.1f |", rows[s][b].db_mb);
    printf("\n\n");

    printf("| concurrent writers (commits/s, one table's append each) |");
    for (int b = 0; b < nb; b++) printf(" %s |", backend[b]);
    printf("\n|---|");
    for (int b = 0; b < nb; b++) printf("---:|");
    printf("\n");
    scaling sc[2];
    for (int b = 0; b < nb; b++) sc[b] = measure_writers(argv[1], b ? pg : NULL);
    printf("| 1 writer |");
    for (int b = 0; b < nb; b++) printf(" %.0f |", sc[b].one);
    printf("\n| 8 writers, 8 branches |");
    for (int b = 0; b < nb; b++) printf(" %.0f (%.1fx) |", sc[b].separate, sc[b].separate / sc[b].one);
    printf("\n| 8 writers, one branch |");
    for (int b = 0; b < nb; b++) printf(" %.0f (%.1fx) |", sc[b].shared, sc[b].shared / sc[b].one);
    /* What bounds the rate with many writers: CPU per commit, in the
     * writers (the whole of it for SQLite) and in the PostgreSQL server
     * (every postgres process of the machine). N cores can do no more
     * than N x 1000 / (their sum) commits per second. */
    printf("\n| CPU per commit, writers (ms): 1 writer / 8 on 8 branches |");
    for (int b = 0; b < nb; b++)
        printf(" %.2f / %.2f |", sc[b].cpu_one[0], sc[b].cpu_separate[0]);
    printf("\n| CPU per commit, PostgreSQL server (ms): 1 writer / 8 on 8 branches |");
    for (int b = 0; b < nb; b++)
        b &&sc[b].cpu_one[1] >= 0
            ? printf(" %.2f / %.2f |", sc[b].cpu_one[1], sc[b].cpu_separate[1])
            : printf(" - |");
    printf("\n");
    return 0;
}
