/* tarn/arrow.h — tarn's Arrow data plane: the Arrow C data interface, the
 * Arrow IPC stream format (encoder and zero-copy decoder) and tables passed
 * between processes in sealed shared memory (memfd + SCM_RIGHTS).
 *
 * Ownership follows Arrow's rule: a struct ArrowSchema / ArrowArray /
 * ArrowArrayStream is owned by whoever holds it; call its release callback
 * once when done; moving the struct (memcpy, then clear the source's
 * release) hands ownership over.
 *
 * Types the IPC code handles: null, bool, int8..int64, uint8..uint64,
 * float16/32/64, utf8, large_utf8, binary, large_binary, fixed_size_binary,
 * date32, date64, time32/64, timestamp (unit + timezone), duration,
 * interval (months, days+ms, month_day_nano), decimal128, struct, list,
 * large_list, fixed_size_list, map, sparse and dense union (IPC version 5
 * layout: no validity bitmap; every type id and dense offset is checked
 * against the children), and dictionary-encoded arrays of any of
 * these. Dictionary-encoded columns are exposed AS dictionaries (format of
 * the index type, ArrowSchema.dictionary / ArrowArray.dictionary hold the
 * values; DuckDB imports them as their value type). Not supported, refused
 * with TARN_EINVALID: view types, run-end encoding, decimal32/64/256,
 * delta dictionary batches, compressed bodies, big-endian streams. Field
 * names, nullability, map key ordering and custom metadata (so extension
 * types) round-trip. Arrays hold at most INT32_MAX rows per batch. */
#ifndef TARN_ARROW_H
#define TARN_ARROW_H

#include <stddef.h>
#include <stdint.h>

#include "tarn/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Arrow C data interface, exactly as the Arrow specification defines it
 * (https://arrow.apache.org/docs/format/CDataInterface.html). duckdb.h only
 * forward-declares these structs, so both headers can be included in any
 * order; the guards keep one definition when nanoarrow, Arrow C++ or another
 * library defines them too. */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
    /* Array type description */
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;

    /* Release callback */
    void (*release)(struct ArrowSchema *);
    /* Opaque producer-specific data */
    void *private_data;
};

struct ArrowArray {
    /* Array data description */
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;

    /* Release callback */
    void (*release)(struct ArrowArray *);
    /* Opaque producer-specific data */
    void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE

struct ArrowArrayStream {
    /* Callbacks providing stream functionality */
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);

    /* Release callback */
    void (*release)(struct ArrowArrayStream *);

    /* Opaque producer-specific data */
    void *private_data;
};

#endif /* ARROW_C_STREAM_INTERFACE */

/* ---- Encoding: ArrowSchema + record batches -> IPC stream bytes --------- */

/* Bytes needed to encode SCHEMA and the N record BATCHES (struct arrays,
 * "+s", as DuckDB exports them) as one IPC stream, end-of-stream marker
 * included. Use it to size a buffer or a memfd before tarn_arrow_ipc_encode. */
TARN_EXTERN int tarn_arrow_ipc_size(size_t *out, const struct ArrowSchema *schema,
                                    const struct ArrowArray *const *batches, size_t n,
                                    tarn_error *err);

/* Encode SCHEMA + BATCHES into the caller's BUF of CAP bytes; *written is
 * the stream's length. TARN_EINVALID if CAP is too small or an array does
 * not match the schema. Nothing is retained: the caller keeps ownership of
 * schema, batches and buf. */
TARN_EXTERN int tarn_arrow_ipc_encode(size_t *written, void *buf, size_t cap,
                                      const struct ArrowSchema *schema,
                                      const struct ArrowArray *const *batches, size_t n,
                                      tarn_error *err);

/* A growable writer: new writes the Schema message, write appends one
 * RecordBatch (and the DictionaryBatch messages its dictionary columns
 * need), finish appends the end-of-stream marker and lends out the bytes,
 * valid until tarn_arrow_writer_free (or tarn_arrow_writer_take). */
typedef struct tarn_arrow_writer tarn_arrow_writer;

TARN_EXTERN int tarn_arrow_writer_new(tarn_arrow_writer **out, const struct ArrowSchema *schema,
                                      tarn_error *err);
TARN_EXTERN int tarn_arrow_writer_write(tarn_arrow_writer *w, const struct ArrowArray *batch,
                                        tarn_error *err);
TARN_EXTERN int tarn_arrow_writer_finish(tarn_arrow_writer *w, const uint8_t **data, size_t *size,
                                         tarn_error *err);
/* Hands the finished bytes over (free them with tarn_free). */
TARN_EXTERN int tarn_arrow_writer_take(tarn_arrow_writer *w, uint8_t **data, size_t *size,
                                       tarn_error *err);
TARN_EXTERN void tarn_arrow_writer_free(tarn_arrow_writer **w);
/* For sending a stream while it is written (a writer from
 * tarn_arrow_writer_new): drain lends out the bytes written since the
 * last drain (the Schema message, then each batch's messages) and forgets
 * them; they stay valid until the next call on W. end appends the
 * end-of-stream marker, to be drained like the rest. */
TARN_EXTERN void tarn_arrow_writer_drain(tarn_arrow_writer *w, const uint8_t **data, size_t *size);
TARN_EXTERN int tarn_arrow_writer_end(tarn_arrow_writer *w, tarn_error *err);

/* Joins N struct batches of SCHEMA into one batch OUT (the caller
 * releases it; the inputs are copied, not taken). Flat columns only (fixed
 * width, bool, utf8/binary and their large forms, null); otherwise
 * TARN_EINVALID and the caller keeps its batches. */
TARN_EXTERN int tarn_arrow_concat(struct ArrowArray *out, const struct ArrowSchema *schema,
                                  const struct ArrowArray *const *batches, size_t n,
                                  tarn_error *err);

/* ---- Decoding: IPC stream bytes -> zero-copy Arrow ---------------------- */

/* Called once, when the last array, stream or table referring to the bytes
 * is released: e.g. munmap, or free. */
typedef void (*tarn_arrow_release_fn)(void *ctx, const void *data, size_t size);

/* A decoded IPC stream: a schema and record batches whose buffers point into
 * the original bytes. Reference-counted: every array or stream exported from
 * it holds a reference; the bytes are released (RELEASE hook) when the table
 * handle and all exports are gone. */
typedef struct tarn_arrow_table tarn_arrow_table;

/* Decode the IPC stream in DATA[0..SIZE) and validate all of it (message
 * framing, flatbuffers, buffer bounds and alignment, offsets, null counts,
 * dictionary indices) before returning. DATA should be 8-byte aligned (a
 * mapping or malloc is); it must stay valid and unchanged until RELEASE (may
 * be NULL) runs with CTX — once the last reference is gone, or before this
 * returns if decoding fails. Returns TARN_EINVALID, with a message, on a
 * truncated, malformed or unsupported stream. */
TARN_EXTERN int tarn_arrow_ipc_decode(tarn_arrow_table **out, const void *data, size_t size,
                                      tarn_arrow_release_fn release, void *ctx, tarn_error *err);

/* Batch count and total row count. */
TARN_EXTERN size_t tarn_arrow_table_num_batches(const tarn_arrow_table *t);
TARN_EXTERN int64_t tarn_arrow_table_num_rows(const tarn_arrow_table *t);

/* A fresh copy of the schema ("+s" with one child per column); the caller
 * releases it. */
TARN_EXTERN int tarn_arrow_table_schema(struct ArrowSchema *out, const tarn_arrow_table *t,
                                        tarn_error *err);

/* Export batch I (may be called any number of times): a struct array whose
 * buffers point into the IPC bytes; it holds a reference on the table. */
TARN_EXTERN int tarn_arrow_table_batch(struct ArrowArray *out, tarn_arrow_table *t, size_t i,
                                       tarn_error *err);

/* An ArrowArrayStream over all batches, holding a reference on the table
 * (so the table handle may be freed right away). */
TARN_EXTERN int tarn_arrow_table_stream(struct ArrowArrayStream *out, tarn_arrow_table *t,
                                        tarn_error *err);

/* Drops the caller's reference; NULL allowed. */
TARN_EXTERN void tarn_arrow_table_free(tarn_arrow_table **t);

/* ---- Shared memory ------------------------------------------------------ */

/* Encode SCHEMA + BATCHES into a new memfd named NAME and seal it
 * (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL). *fd_out is the
 * caller's to close; *size_out its length. */
TARN_EXTERN int tarn_arrow_shm_create(int *fd_out, size_t *size_out, const char *name,
                                      const struct ArrowSchema *schema,
                                      const struct ArrowArray *const *batches, size_t n,
                                      tarn_error *err);

/* Copies the N bytes readable from FD (from its start; an Arrow IPC stream
 * received from elsewhere: a download, an upload) into a new memfd named
 * NAME and seals it as tarn_arrow_shm_create does. FD stays the caller's,
 * *fd_out is new. */
TARN_EXTERN int tarn_arrow_shm_copy(int *fd_out, int fd, const char *name, tarn_error *err);

/* Send FD over the connected Unix socket SOCK (SCM_RIGHTS, one byte of data). */
TARN_EXTERN int tarn_arrow_shm_send(int sock, int fd, tarn_error *err);

/* Receive a descriptor sent by tarn_arrow_shm_send; the caller closes it. */
TARN_EXTERN int tarn_arrow_shm_recv(int *fd_out, int sock, tarn_error *err);

/* Check FD is a sealed memfd (TARN_EINVALID if it can still change), map it
 * read-only and decode it zero-copy; the mapping is unmapped when the table
 * and every export are released. FD itself stays the caller's. */
TARN_EXTERN int tarn_arrow_shm_map(tarn_arrow_table **out, int fd, tarn_error *err);

/* The same with FLAGS: TARN_ARROW_TRUSTED maps a table tarn itself wrote
 * or has already checked (the runtime's inputs to a worker) without the
 * checks that read every value, so the handoff costs the same whatever
 * the table's size; structure and bounds are still checked. Everything a
 * user function returns is mapped without it. */
#define TARN_ARROW_TRUSTED 1u
TARN_EXTERN int tarn_arrow_shm_map_flags(tarn_arrow_table **out, int fd, unsigned flags,
                                         tarn_error *err);

/* ---- DuckDB ------------------------------------------------------------- */

/* A table shown to DuckDB as a view. */
typedef struct tarn_arrow_duckdb_view tarn_arrow_duckdb_view;

/* Make table T readable as the temporary view NAME (letters, digits, '_') on
 * the duckdb_connection CONN (a void * so this header does not need
 * duckdb.h). DuckDB reads the Arrow buffers through a table function
 * `tarn_arrow_NAME` that supports projection push-down; the view holds a
 * reference on T. Register each NAME once per database (TARN_EEXISTS
 * otherwise). DuckDB 1.4's duckdb_arrow_scan is not used: it pushes
 * projections into a stream that cannot apply them, and reads the wrong
 * columns. */
TARN_EXTERN int tarn_arrow_duckdb_register(tarn_arrow_duckdb_view **out, void *conn,
                                           const char *name, tarn_arrow_table *t, tarn_error *err);

/* Drop the view and the reference it holds on the table (the mapping can go
 * once every other reference is gone). NULL allowed. Call it while CONN is
 * still open and no query on the view is running; the table function stays
 * in DuckDB's catalog (DuckDB cannot drop it) and reports the view as
 * released if called again. */
TARN_EXTERN void tarn_arrow_duckdb_view_free(tarn_arrow_duckdb_view **v);

#ifdef __cplusplus
}
#endif
#endif
