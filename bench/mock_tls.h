/*
 * bench/mock_tls.h - the mock server's TLS side (mock_tls.c, OpenSSL): a
 * throwaway CA and server certificate made at start-up, and non-blocking
 * TLS connections for its epoll loop, with ALPN offering h2 and http/1.1.
 *
 * Used by bench/mock_server.c only (one thread): nothing here is
 * thread-safe.
 */
#ifndef HL_BENCH_MOCK_TLS_H
#define HL_BENCH_MOCK_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct mock_tls mock_tls;

/* Make a new CA (EC P-256, valid for a week) and a server certificate it
 * signs for 127.0.0.1 and localhost, write the CA certificate to
 * DIR/ca.pem (the only file: keys stay in memory) and set up the server
 * context; ALPN offers h2 (when `offer_h2`) then http/1.1. False with the
 * reason in `err`. Call once. */
bool mock_tls_setup(const char *dir, bool offer_h2, char *err, size_t err_size);

/* A server-side TLS connection on the non-blocking socket `fd` (not
 * taken: the caller closes it after mock_tls_free()). NULL on failure. */
mock_tls *mock_tls_new(int fd);
void mock_tls_free(mock_tls *t);

/* As recv()/send() on the socket, through TLS (the handshake happens in
 * the first calls): bytes moved; 0 from read: the peer closed; -1 with
 * errno EAGAIN: try again when the socket is ready (readable, or writable
 * when mock_tls_wants_write() says so); -1 with another errno: the
 * connection failed. */
ssize_t mock_tls_read(mock_tls *t, void *buf, size_t n);
ssize_t mock_tls_write(mock_tls *t, const void *buf, size_t n);

/* The last call stopped because TLS must write first (wait for EPOLLOUT,
 * then call it again). */
bool mock_tls_wants_write(const mock_tls *t);
/* The handshake is done. */
bool mock_tls_ready(const mock_tls *t);
/* ALPN chose h2. */
bool mock_tls_h2(const mock_tls *t);

/* Handshakes completed so far. */
unsigned long long mock_tls_handshakes(void);

#endif
