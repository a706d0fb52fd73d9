/* iceberg/avro.c — Avro object container files, as Iceberg's manifest
 * lists and manifests are.
 *
 * libavro (Debian's libavro-dev) encodes and decodes the records against
 * their schema. Its file writer cannot put the key-value pairs Iceberg
 * needs (schema, partition-spec, format-version...) into a file's header,
 * so the container around the records is written here: the magic, the
 * header map, a sync marker, and the records in one block. The sync marker
 * is a hash of the content instead of random bytes, so the same metadata
 * is always the same file (a version's metadata is content-addressed).
 * Reading walks the container here too (libavro's file reader leaks its
 * schema) and lets libavro decode each block's records. */
#include <avro.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "iceberg/iceberg.h"
#include "util/error.h"

struct ice_avro {
    char *schema_json;
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    int has_value;
    strbuf header; /* the header map's entries, encoded */
    size_t nmeta;
    strbuf records; /* every appended record, encoded */
    int64_t count;
};

/* Avro's long: zig-zag, then 7 bits a byte, low first. */
static void put_long(strbuf *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        char c = (char)(z & 0x7f);
        z >>= 7;
        if (z) c |= (char)0x80;
        sb_appendn(b, &c, 1);
    } while (z);
}

static void put_bytes(strbuf *b, const char *data, size_t len)
{
    put_long(b, (int64_t)len);
    sb_appendn(b, data, len);
}

static int avro_fail(tarn_error *err, const char *what)
{
    return tarn__error_set(err, TARN_EIO, "%s: %s", what, avro_strerror());
}

int tarn__ice_avro_new(ice_avro **out, const char *schema_json, const char *const *meta,
                       size_t nmeta, tarn_error *err)
{
    *out = NULL;
    ice_avro *a = calloc(1, sizeof *a);
    if (!a || !(a->schema_json = strdup(schema_json))) {
        free(a);
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    if (avro_schema_from_json_length(schema_json, strlen(schema_json), &a->schema) != 0) {
        int rc = avro_fail(err, "an Avro schema of Iceberg metadata does not parse");
        free(a->schema_json);
        free(a);
        return rc;
    }
    a->iface = avro_generic_class_from_schema(a->schema);
    if (!a->iface || avro_generic_value_new(a->iface, &a->value) != 0) {
        int rc = avro_fail(err, "cannot make Avro records");
        tarn__ice_avro_free(&a);
        return rc;
    }
    a->has_value = 1;
    /* The header: the schema as written (libavro would drop Iceberg's
     * field-id attributes), no compression, then Iceberg's own pairs. */
    put_bytes(&a->header, "avro.schema", 11);
    put_bytes(&a->header, schema_json, strlen(schema_json));
    put_bytes(&a->header, "avro.codec", 10);
    put_bytes(&a->header, "null", 4);
    for (size_t i = 0; i < nmeta; i++) {
        put_bytes(&a->header, meta[2 * i], strlen(meta[2 * i]));
        put_bytes(&a->header, meta[2 * i + 1], strlen(meta[2 * i + 1]));
    }
    a->nmeta = 2 + nmeta;
    *out = a;
    return 0;
}

avro_value_t *tarn__ice_avro_value(ice_avro *a)
{
    avro_value_reset(&a->value);
    return &a->value;
}

int tarn__ice_avro_append(ice_avro *a, tarn_error *err)
{
    size_t size = 0;
    if (avro_value_sizeof(&a->value, &size) != 0)
        return avro_fail(err, "cannot encode an Avro record");
    size_t at = a->records.len;
    char *room = malloc(size ? size : 1);
    if (!room) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    avro_writer_t w = avro_writer_memory(room, (int64_t)size);
    int rc = w && avro_value_write(w, &a->value) == 0
                 ? 0
                 : avro_fail(err, "cannot encode an Avro record");
    if (w) avro_writer_free(w);
    if (rc == 0) sb_appendn(&a->records, room, size);
    free(room);
    if (rc == 0 && a->records.len != at + size)
        rc = tarn__error_set(err, TARN_ENOMEM, "out of memory");
    if (rc == 0) a->count++;
    return rc;
}

int tarn__ice_avro_write(ice_avro *a, const char *path, int64_t *size, tarn_error *err)
{
    strbuf file = {0};
    sb_appendn(&file, "Obj\1", 4);
    put_long(&file, (int64_t)a->nmeta);
    sb_appendn(&file, a->header.s, a->header.len);
    put_long(&file, 0);
    /* The sync marker: 16 bytes of a hash of what the file holds. */
    strbuf content = {0};
    sb_appendn(&content, a->header.s, a->header.len);
    sb_appendn(&content, a->records.s ? a->records.s : "", a->records.len);
    char hex[65];
    tarn__sha256_hex(hex, content.s ? content.s : "", content.len);
    sb_free(&content);
    char sync[16];
    for (int i = 0; i < 16; i++) {
        char byte[3] = {hex[2 * i], hex[2 * i + 1], 0};
        sync[i] = (char)strtol(byte, NULL, 16);
    }
    sb_appendn(&file, sync, 16);
    if (a->count > 0) {
        put_long(&file, a->count);
        put_long(&file, (int64_t)a->records.len);
        sb_appendn(&file, a->records.s, a->records.len);
        sb_appendn(&file, sync, 16);
    }
    int rc = 0;
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(file.s, 1, file.len, f) != file.len || fflush(f) != 0)
        rc = tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (f && fclose(f) != 0 && rc == 0)
        rc = tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (size) *size = (int64_t)file.len;
    sb_free(&file);
    return rc;
}

void tarn__ice_avro_free(ice_avro **pa)
{
    ice_avro *a = pa ? *pa : NULL;
    if (!a) return;
    if (a->has_value) avro_value_decref(&a->value);
    if (a->iface) avro_value_iface_decref(a->iface);
    if (a->schema) avro_schema_decref(a->schema);
    free(a->schema_json);
    sb_free(&a->header);
    sb_free(&a->records);
    free(a);
    *pa = NULL;
}

/* ---- reading ------------------------------------------------------------------------ */

static json_t *hex_of(const void *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * len + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = digits[((const unsigned char *)data)[i] >> 4];
        s[2 * i + 1] = digits[((const unsigned char *)data)[i] & 15];
    }
    s[2 * len] = 0;
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* V as JSON: records as objects, unions as their value, maps as objects,
 * bytes and fixed as hex strings, enums as their symbol. */
static json_t *to_json(avro_value_t *v)
{
    const char *str;
    const void *buf;
    size_t size, n;
    int32_t i32;
    int64_t i64;
    int b;
    float f;
    double d;
    avro_value_t child;
    const char *name;
    json_t *out;
    switch (avro_value_get_type(v)) {
    case AVRO_NULL:
        return json_null();
    case AVRO_BOOLEAN:
        avro_value_get_boolean(v, &b);
        return json_boolean(b);
    case AVRO_INT32:
        avro_value_get_int(v, &i32);
        return json_integer(i32);
    case AVRO_INT64:
        avro_value_get_long(v, &i64);
        return json_integer(i64);
    case AVRO_FLOAT:
        avro_value_get_float(v, &f);
        return json_real(f);
    case AVRO_DOUBLE:
        avro_value_get_double(v, &d);
        return json_real(d);
    case AVRO_STRING:
        avro_value_get_string(v, &str, &size);
        return json_stringn(str, size ? size - 1 : 0);
    case AVRO_BYTES:
        avro_value_get_bytes(v, &buf, &size);
        return hex_of(buf, size);
    case AVRO_FIXED:
        avro_value_get_fixed(v, &buf, &size);
        return hex_of(buf, size);
    case AVRO_ENUM:
        avro_value_get_enum(v, &i32);
        return json_string(avro_schema_enum_get(avro_value_get_schema(v), i32));
    case AVRO_UNION:
        if (avro_value_get_current_branch(v, &child) != 0) return json_null();
        return to_json(&child);
    case AVRO_RECORD:
    case AVRO_MAP:
        out = json_object();
        avro_value_get_size(v, &n);
        for (size_t k = 0; k < n; k++) {
            if (avro_value_get_by_index(v, k, &child, &name) != 0) continue;
            json_object_set_new(out, name, to_json(&child));
        }
        return out;
    case AVRO_ARRAY:
        out = json_array();
        avro_value_get_size(v, &n);
        for (size_t k = 0; k < n; k++)
            if (avro_value_get_by_index(v, k, &child, NULL) == 0)
                json_array_append_new(out, to_json(&child));
        return out;
    default:
        return json_null();
    }
}

/* Avro's long at *P (below END); -1 when it runs past END. */
static int get_long(int64_t *out, const unsigned char **p, const unsigned char *end)
{
    uint64_t z = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        unsigned char c = *(*p)++;
        z |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return 0;
        }
    }
    return -1;
}

/* Bytes (a long length, then the bytes) at *P into *S, *LEN. */
static int get_bytes(const unsigned char **s, size_t *len, const unsigned char **p,
                     const unsigned char *end)
{
    int64_t n;
    if (get_long(&n, p, end) < 0 || n < 0 || n > end - *p) return -1;
    *s = *p;
    *len = (size_t)n;
    *p += n;
    return 0;
}

/* Inflates the raw deflate block IN into OUT (Avro's "deflate" codec). */
static int inflate_block(strbuf *out, const unsigned char *in, size_t len)
{
    z_stream z = {0};
    if (inflateInit2(&z, -15) != Z_OK) return -1;
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    int rc;
    do {
        unsigned char buf[1 << 15];
        z.next_out = buf;
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) break;
        sb_appendn(out, (const char *)buf, sizeof buf - z.avail_out);
    } while (rc != Z_STREAM_END);
    inflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

/* The container is read here (as it is written here); libavro decodes the
 * records of each block against the file's own schema. Codecs: null and
 * deflate (what Iceberg writers use). */
int tarn__ice_avro_read(json_t **records, const char *path, tarn_error *err)
{
    *records = NULL;
    char *data = NULL;
    size_t size = 0;
    if (tarn__read_file(&data, &size, path) != 0)
        return tarn__error_set(err, TARN_EIO, "cannot read '%s': %s", path, strerror(errno));
    const unsigned char *p = (const unsigned char *)data, *end = p + size, *v;
    strbuf schema_json = {0}, codec = {0}, block = {0};
    avro_schema_t schema = NULL;
    avro_value_iface_t *iface = NULL;
    avro_value_t value;
    int have = 0, rc = 0;
    json_t *out = json_array();
    int64_t n;
    size_t len;
    if (size < 4 || memcmp(p, "Obj\1", 4) != 0) goto bad;
    p += 4;
    /* the header map: blocks of N key-value pairs, ended by 0 */
    for (;;) {
        if (get_long(&n, &p, end) < 0) goto bad;
        if (n == 0) break;
        if (n < 0) {
            int64_t skip;
            if (get_long(&skip, &p, end) < 0) goto bad;
            n = -n;
        }
        for (int64_t i = 0; i < n; i++) {
            const unsigned char *k;
            size_t klen;
            if (get_bytes(&k, &klen, &p, end) < 0 || get_bytes(&v, &len, &p, end) < 0) goto bad;
            if (klen == 11 && !memcmp(k, "avro.schema", 11))
                sb_appendn(&schema_json, (const char *)v, len);
            if (klen == 10 && !memcmp(k, "avro.codec", 10))
                sb_appendn(&codec, (const char *)v, len);
        }
    }
    if (end - p < 16 || !schema_json.s) goto bad;
    const unsigned char *sync = p;
    p += 16;
    int deflate = codec.s && !strcmp(codec.s, "deflate");
    if (codec.s && !deflate && strcmp(codec.s, "null") != 0) {
        rc = tarn__error_set(err, TARN_EINVALID,
                             "'%s' is compressed with Avro codec '%s': tarn reads null and deflate",
                             path, codec.s);
        goto done;
    }
    if (avro_schema_from_json_length(schema_json.s, schema_json.len, &schema) != 0 ||
        !(iface = avro_generic_class_from_schema(schema)) ||
        avro_generic_value_new(iface, &value) != 0) {
        rc = avro_fail(err, "cannot read the schema of an Avro file");
        goto done;
    }
    have = 1;
    while (p < end) {
        int64_t count;
        if (get_long(&count, &p, end) < 0 || count < 0 || get_bytes(&v, &len, &p, end) < 0 ||
            end - p < 16 || memcmp(p, sync, 16) != 0)
            goto bad;
        p += 16;
        block.len = 0;
        if (deflate && inflate_block(&block, v, len) < 0) goto bad;
        const char *at = deflate ? sb_str(&block) : (const char *)v;
        avro_reader_t r = avro_reader_memory(at, (int64_t)(deflate ? block.len : len));
        for (int64_t i = 0; r && i < count; i++) {
            avro_value_reset(&value);
            if (avro_value_read(r, &value) != 0) {
                avro_reader_free(r);
                goto bad;
            }
            json_array_append_new(out, to_json(&value));
        }
        if (r) avro_reader_free(r);
    }
    goto done;
bad:
    rc = tarn__error_set(err, TARN_EINVALID, "'%s' is not an Avro file, or a damaged one", path);
done:
    if (have) avro_value_decref(&value);
    if (iface) avro_value_iface_decref(iface);
    if (schema) avro_schema_decref(schema);
    sb_free(&schema_json);
    sb_free(&codec);
    sb_free(&block);
    free(data);
    if (rc < 0)
        json_decref(out);
    else
        *records = out;
    return rc;
}
