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

/* Fine chunking, the stand-in for feeding byte by byte (which made the
 * stream targets spend most of their time in one-byte feed calls): an
 * input of at most 2 * FUZZ_FINE_EDGE bytes goes byte by byte; a longer
 * one goes byte by byte in its first and last FUZZ_FINE_EDGE bytes (where
 * a stream starts and ends: the BOM, the first field, the final unended
 * line) and in chunks of 1..FUZZ_FINE_MAX bytes in between, their lengths
 * drawn from a hash of the whole input. Every split point in the middle is
 * still a chunk boundary in about one input of FUZZ_FINE_MAX / 2 over a
 * run, and deterministically for one input, so a finding reproduces. */
#define FUZZ_FINE_EDGE 128
#define FUZZ_FINE_MAX 32

typedef struct fuzz_fine {
  uint32_t state;
  size_t n;
} fuzz_fine;

static inline void fuzz_fine_init(fuzz_fine *f, const uint8_t *data, size_t size) {
  uint32_t h = 2166136261u; /* FNV-1a: every byte moves the boundaries */
  for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
  f->state = h ? h : 1;
  f->n = size;
}

/* The length of the chunk starting at byte `at` (at < f->n). */
static inline size_t fuzz_fine_next(fuzz_fine *f, size_t at) {
  if (f->n <= 2 * FUZZ_FINE_EDGE || at < FUZZ_FINE_EDGE) return 1;
  size_t tail = f->n - FUZZ_FINE_EDGE;
  if (at >= tail) return 1;
  f->state ^= f->state << 13;
  f->state ^= f->state >> 17;
  f->state ^= f->state << 5;
  size_t k = 1 + f->state % FUZZ_FINE_MAX;
  return k < tail - at ? k : tail - at;
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
