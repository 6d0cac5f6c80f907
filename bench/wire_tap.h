/*
 * bench/wire_tap.h - a recording HTTP/1.1 relay on loopback, so that a
 * benchmark can send with raw libcurl exactly what hookline sent.
 *
 * The tap listens on 127.0.0.1 (an ephemeral port) and relays each
 * request of each connection to the upstream server over a connection of
 * its own, and the answer back, keeping a copy of every request: its head
 * (request line and header lines, as sent) and its body. Requests and
 * answers must carry a Content-Length (no chunked encoding, no
 * "Expect: 100-continue", no streamed answers), which is what the mock
 * server and hookline's non-streamed model calls do; anything else ends
 * that connection.
 */
#ifndef HL_BENCH_WIRE_TAP_H
#define HL_BENCH_WIRE_TAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct wire_tap wire_tap;

/** One relayed request: `head` up to and with its empty line, then `body`. */
typedef struct wire_request {
  char *head;
  size_t head_len;
  char *body;
  size_t body_len;
} wire_request;

/** Starts a tap in front of `upstream` ("http://HOST:PORT", an IPv4
 *  address); its own base URL is wire_tap_url(). NULL (and a message on
 *  stderr) on failure. Stop it with wire_tap_stop(). */
wire_tap *wire_tap_start(const char *upstream);

/** "http://127.0.0.1:PORT": where to send requests to be relayed. Valid
 *  until wire_tap_stop(). */
const char *wire_tap_url(const wire_tap *t);

/** Moves the requests relayed so far, in the order they arrived, into
 *  `*out` (an array the caller frees with wire_requests_free()); their
 *  number, 0 when none. The tap starts a new record. Thread-safe. */
size_t wire_tap_take(wire_tap *t, wire_request **out);

/** Frees what wire_tap_take() gave. */
void wire_requests_free(wire_request *r, size_t n);

/** Closes every connection, waits for the tap's threads and frees it. */
void wire_tap_stop(wire_tap *t);

#endif
