/*
 * hookline/retry_after.h - how long a server asks a client to wait before
 * retrying: the value of an HTTP "Retry-After" header (RFC 9110 10.2.3:
 * delay-seconds or an HTTP-date), read as the library's own HTTP client
 * reads it (lib/net/retry_after.c is the one implementation).
 *
 * A header of its own because its users are HTTP clients outside the
 * library's transport: the hook plugins (the OTLP exporter reads a
 * collector's 429 and 503, hooks/otel_reply.c) and applications whose
 * tools make their own requests. It belongs to none of the other
 * concepts (provider.h, trace.h), and they need not pull it in.
 *
 * The value is server-controlled: the result is a double saturated at
 * HL_RETRY_AFTER_MAX_MS, never an unchecked conversion, so that
 * "Retry-After: 1e300" or a 400-digit number is a long wish, not
 * undefined behaviour. What to do with a long wish (cap it, give up) is
 * the caller's choice.
 */
#ifndef HOOKLINE_RETRY_AFTER_H
#define HOOKLINE_RETRY_AFTER_H

#include <time.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Any wish at least this long (about 31,700 years) reads as this. */
#define HL_RETRY_AFTER_MAX_MS 1e15

/** Milliseconds asked for by a "Retry-After" value (the header's name
 *  and colon removed; blanks around it and a trailing CRLF are allowed):
 *  delay-seconds (digits only), or an HTTP-date (RFC 9110's IMF-fixdate,
 *  and the obsolete RFC 850 and asctime forms the RFC asks clients to
 *  accept) relative to `now` (0 when it is past). -1 when `value` is NULL
 *  or neither form (a sign, a fraction, an exponent, garbage).
 *  `value` is borrowed and not kept. A pure function: thread-safe. */
HL_API double hl_retry_after_ms(const char *value, time_t now);

#ifdef __cplusplus
}
#endif
#endif
