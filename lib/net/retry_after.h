/*
 * net/retry_after.h - how long a server asks a client to wait before
 * retrying: the values of "Retry-After" (RFC 9110: delta-seconds or an
 * HTTP-date) and of OpenAI's "retry-after-ms".
 *
 * The values are server-controlled: results are doubles saturated at
 * HL__RETRY_AFTER_SATURATE_MS, never an unchecked conversion, so that
 * "Retry-After: 1e300" or a 400-digit number is a long wish, not
 * undefined behaviour. Internal to the library (net/http.c and
 * providers/llm.c); pure functions, thread-safe.
 */
#ifndef HL_NET_RETRY_AFTER_H
#define HL_NET_RETRY_AFTER_H

#include <stddef.h>
#include <time.h>

/* Any wish at least this long (about 31,700 years) reads as this. */
#define HL__RETRY_AFTER_SATURATE_MS 1e15

/* Milliseconds asked for by a "Retry-After" value (header name and colon
 * removed; surrounding whitespace and a trailing CRLF are allowed):
 * delta-seconds (digits only), or an HTTP-date relative to `now` (0 when
 * it is past). -1 when the value is neither (a sign, a fraction, an
 * exponent, garbage). */
double hl__retry_after_ms(const char *value, time_t now);

/* Milliseconds asked for by a "retry-after-ms" value: a non-negative
 * finite decimal number. -1 otherwise. */
double hl__retry_after_ms_header(const char *value);

/* Write `ms` as seconds for a message: "86400", "1.5", "0.01". */
void hl__retry_after_format(char *out, size_t size, double ms);

#endif
