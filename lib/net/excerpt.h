/*
 * net/excerpt.h - the start of a server's unexpected answer, made
 * safe to put in an error message: bounded, printable, one line, with the
 * API key redacted (even a key cut in half by the bound).
 *
 * Internal to the library (net/http.c and providers/llm.c); pure function,
 * thread-safe.
 */
#ifndef HL_NET_EXCERPT_H
#define HL_NET_EXCERPT_H

#include <stddef.h>

/* How many bytes of an answer an excerpt shows at most. */
#define HL__EXCERPT_BYTES 120

/* Write into `out` (size `out_size`, always NUL-terminated) a quoted
 * excerpt of the first HL__EXCERPT_BYTES of bytes[0..len): printable
 * ASCII as is, \r \n \t and '"' and '\\' escaped, every other byte as
 * \xNN, "..." after the quote when the answer was longer, every
 * occurrence of `secret` (may be NULL) as [REDACTED]. Example:
 * "SSH-2.0-OpenSSH_9.2\r\n" */
void hl__excerpt(char *out, size_t out_size, const char *bytes, size_t len, const char *secret);

#endif
