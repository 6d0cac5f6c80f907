/*
 * tests/guarded_text.h - a 1 MB string of which only the first 256 KB can
 * be read (the rest PROT_NONE), held as {"data": <the string>} by nodes
 * built by hand (cJSON would copy the string): a test that prints it
 * crashes if the printer reads past what it keeps (tests/core
 * test_json_prefix.c, tests/otel test_otel_print.c).
 */
#ifndef HL_TEST_GUARDED_TEXT_H
#define HL_TEST_GUARDED_TEXT_H

#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#define GUARDED_READABLE ((size_t)256 << 10)
#define GUARDED_SIZE ((size_t)1 << 20)

typedef struct guarded_text {
  char *mem; /* GUARDED_SIZE bytes, readable up to GUARDED_READABLE */
  char key[5];
  cJSON data, obj; /* obj: {"data": mem} */
} guarded_text;

/* Plain text with a quote, a newline and a 3-byte character; false when
 * the memory cannot be had. Free with guarded_text_free(). */
static bool guarded_text_init(guarded_text *g) {
  static const char pattern[] = "plain text, a \"quote\"\n, \xe2\x98\x83 ";
  g->mem = mmap(NULL, GUARDED_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g->mem == MAP_FAILED) return false;
  for (size_t i = 0; i < GUARDED_READABLE; i++) g->mem[i] = pattern[i % (sizeof pattern - 1)];
  if (GUARDED_READABLE % (size_t)sysconf(_SC_PAGESIZE) ||
      mprotect(g->mem + GUARDED_READABLE, GUARDED_SIZE - GUARDED_READABLE, PROT_NONE)) {
    munmap(g->mem, GUARDED_SIZE);
    return false;
  }
  memcpy(g->key, "data", 5);
  g->data = (cJSON){.type = cJSON_String, .valuestring = g->mem, .string = g->key};
  g->obj = (cJSON){.type = cJSON_Object, .child = &g->data};
  return true;
}

/* The string ended at its last readable byte (for a whole print of it to
 * compare with), or given its byte back. */
static void guarded_text_end(guarded_text *g, bool ended) {
  static char saved;
  if (ended) saved = g->mem[GUARDED_READABLE - 1];
  g->mem[GUARDED_READABLE - 1] = ended ? '\0' : saved;
}

static void guarded_text_free(guarded_text *g) { munmap(g->mem, GUARDED_SIZE); }

#endif
