/* store/xml.h — reading the small, flat XML documents S3 answers with
 * (library-internal). */
#ifndef TARN_STORE_XML_H
#define TARN_STORE_XML_H

#include <stddef.h>

#include "util/util.h"

/* Calls CB with the inner text of every <TAG>...</TAG> element of XML[0..LEN)
 * that is not nested in another TAG element, in order; stops early when CB
 * returns non-zero and returns that. */
int tarn__xml_each(const char *xml, size_t len, const char *tag,
                   int (*cb)(const char *inner, size_t len, void *ctx), void *ctx);

/* The text of the first <TAG> element of XML[0..LEN), entities decoded,
 * appended to OUT. Returns 1 if there was one, 0 if not. */
int tarn__xml_text(strbuf *out, const char *xml, size_t len, const char *tag);

#endif
