/*
 * net/retry_after.h - how long a server asks a client to wait before
 * retrying: the values of "Retry-After" (RFC 9110: delta-seconds or an
 * HTTP-date; public, hookline/retry_after.h, implemented here) and of
 * OpenAI's "retry-after-ms".
 *
 * The values are server-controlled: results are doubles saturated at
 * HL_RETRY_AFTER_MAX_MS, never an unchecked conversion, so that
 * "Retry-After: 1e300" or a 400-digit number is a long wish, not
 * undefined behaviour. The functions below are internal to the library
 * (net/http.c and providers/llm.c); pure functions, thread-safe.
 */
#ifndef HL_NET_RETRY_AFTER_H
#define HL_NET_RETRY_AFTER_H

#include <stddef.h>
#include <time.h>

#include "hookline/retry_after.h"

/* Milliseconds asked for by a "retry-after-ms" value: a non-negative
 * finite decimal number. -1 otherwise. */
double hl__retry_after_ms_header(const char *value);

/* Write `ms` as seconds for a message: "86400", "1.5", "0.01". */
void hl__retry_after_format(char *out, size_t size, double ms);

#endif
