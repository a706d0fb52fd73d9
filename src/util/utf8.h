/* util/utf8.h — checking and repairing UTF-8 (tarn_utf8_repair, the public
 * part, is in tarn/common.h). */
#ifndef TARN_UTIL_UTF8_H
#define TARN_UTIL_UTF8_H

#include <stddef.h>

/* The length of the well-formed UTF-8 sequence at S (N bytes available),
 * or 0 when S does not start one. */
size_t tarn__utf8_seq_len(const unsigned char *s, size_t n);
/* How many of the first N bytes of S are well-formed UTF-8 (stops at a NUL). */
size_t tarn__utf8_valid_len(const char *s, size_t n);
/* Makes the NUL-terminated BUF (CAPACITY bytes) valid UTF-8 in place:
 * invalid bytes become U+FFFD and what no longer fits is cut at a character
 * boundary. TRUNCATED: BUF was cut short by its writer, so a character left
 * incomplete at its end is dropped rather than replaced. */
void tarn__utf8_fit(char *buf, size_t cap, int truncated);

#endif
