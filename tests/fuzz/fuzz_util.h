/*
 * fuzz_util.h - what the libFuzzer targets share: an invariant check that
 * reports and aborts (the abort is libFuzzer's signal that the input is a
 * finding; it never happens in the library itself), and chunking taken
 * from the input so that the fuzzer also explores how the network splits
 * a stream.
 */
#ifndef HL_FUZZ_UTIL_H
#define HL_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/status.h"

/* An invariant of the code under test: a violation is a finding. */
#define FUZZ_CHECK(cond, ...)                                                   \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "%s:%d: invariant failed: %s\n  ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                             \
      fprintf(stderr, "\n  last error: %s\n", hl_last_error());                 \
      abort();                                                                  \
    }                                                                           \
  } while (0)

/* Chunk sizes from the input's first two bytes: b0 bounds the chunk size
 * (1..b0+1 bytes), b1 seeds the sequence. Deterministic for one input, so
 * a finding reproduces. */
typedef struct fuzz_chunks {
  uint32_t state;
  size_t max;
} fuzz_chunks;

static inline size_t fuzz_chunks_init(fuzz_chunks *c, const uint8_t *data, size_t size) {
  c->max = size > 0 ? (size_t)data[0] + 1 : 1;
  c->state = size > 1 ? 0x9e3779b9u ^ data[1] : 0x9e3779b9u;
  return size > 2 ? 2 : size; /* bytes used */
}

static inline size_t fuzz_chunks_next(fuzz_chunks *c) {
  c->state ^= c->state << 13;
  c->state ^= c->state >> 17;
  c->state ^= c->state << 5;
  return 1 + c->state % c->max;
}

/* A NUL-terminated copy of the input (for APIs that take C strings). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) abort();
  memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

#endif
