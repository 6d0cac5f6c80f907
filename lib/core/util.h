/*
 * lib/core/util.h - small helpers shared by the files of lib/core (and
 * usable by the rest of lib/). Not part of the public API.
 */
#ifndef HL_CORE_UTIL_H
#define HL_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "hookline/status.h"

/* strdup that accepts NULL (returns NULL). A NULL result for a non-NULL
 * input means out of memory: check with `s && !copy`. */
char *hl__strdup(const char *s);

/* A new string a + sep + b (malloc'd, the caller frees it), or NULL when
 * out of memory. Where snprintf("%s%s%s") cost ~850 instructions for a
 * URL or a header line on every model call (issue 12), this copies. */
char *hl__concat(const char *a, const char *sep, const char *b);

/* Report an allocation failure through hl_fail() and return HL_ERR_NOMEM. */
hl_status hl__oom(void);

/* Make room for at least `need` elements of `elem` bytes in the array *items
 * whose capacity is *cap, doubling. HL_ERR_NOMEM (message set) on failure;
 * *items is unchanged then. */
hl_status hl__reserve(void **items, size_t *cap, size_t need, size_t elem);

/* True if `value` has no more than `max_depth` levels of arrays/objects
 * (a scalar is depth 0). The recursion stops as soon as the limit is
 * passed, so it is bounded by max_depth whatever the tree. */
bool hl__json_depth_ok(const cJSON *value, int max_depth);
/* Compact JSON text of `value` (depth already checked), numbers printed
 * exactly (json_print.c); malloc'd, NULL on allocation failure or an
 * invalid node. */
char *hl__json_print_exact(const cJSON *value);

/* JSON text written straight into one growing buffer, the printer's own
 * (json_print.c): for encoders that write the library's types without
 * building a cJSON tree first. Start from {0}; p is NUL-terminated (or
 * NULL while empty); `failed` once an allocation failed (the text is then
 * incomplete: discard it). The caller frees p. */
typedef struct hl__jbuf {
  char *p;
  size_t len, cap;
  bool failed;
  /* hl_json_print_prefix()'s buffer: p is the caller's (cap bytes),
   * never grown; the text stops where it is full, cut there at a whole
   * character (HL__JBUF_CUT). */
  bool fixed;
  uint8_t stop; /* why `failed` was set (hl__jbuf_stop) */
} hl__jbuf;
enum hl__jbuf_stop {
  HL__JBUF_NOMEM = 1, /* a growing buffer could not grow */
  HL__JBUF_CUT,       /* a fixed buffer is full */
  HL__JBUF_DEEP,      /* a node nested deeper than HL_JSON_MAX_DEPTH */
  HL__JBUF_INVALID    /* a node cJSON cannot print either (invalid, raw without text) */
};
void hl__jbuf_raw(hl__jbuf *b, const char *s, size_t n);
/* `s` as a JSON string literal (NULL as ""), escaped as the printer does. */
void hl__jbuf_string(hl__jbuf *b, const char *s);
/* `v` as hl__json_print_exact() prints it (depth checked by the caller). */
void hl__jbuf_value(hl__jbuf *b, const cJSON *v);
void hl__jbuf_int(hl__jbuf *b, long long n);
/* Room for `n` more bytes at once (a size known or guessed in advance
 * saves the doublings from 256 bytes); `failed` set if it cannot grow. */
void hl__jbuf_reserve(hl__jbuf *b, size_t n);

/* A tree parsed as hl_json_parse() does (same checks, same messages), its
 * nodes and strings in a few blocks of `arena` (zero-initialise it)
 * instead of two or three allocations per value: for a whole body that is
 * read and dropped (a provider's answer, providers/llm.c). Read the tree;
 * never change, detach or cJSON_Delete() any part of it. Free it, on
 * failure too, with hl__json_arena_free(), which keeps the first block
 * (up to 8 KB) for the calling thread's next arena parse and frees the
 * rest; a thread's kept block is freed when the thread exits. */
typedef struct hl__json_arena {
  void *blocks;
} hl__json_arena;
hl_status hl__json_parse_arena(const char *text, size_t len, hl__json_arena *arena, cJSON **out);
void hl__json_arena_free(hl__json_arena *arena);

/* Write `s` into `buf` (size `size`) as a JSON string literal, truncated
 * with "..." when it does not fit; used to quote values in messages. */
void hl__quote(char *buf, size_t size, const char *s);

/* Offset of the first byte that is not valid UTF-8 in s[0..len), or `len`
 * when the whole range is valid. */
size_t hl__utf8_invalid_at(const char *s, size_t len);

/* The byte of the percent escape "%XX" (RFC 3986, hex digits of either
 * case) at s[0..n), or -1 when s does not start with '%' and two hex
 * digits. What a caller does with -1 (keep the '%', refuse the text) and
 * with a decoded NUL is its own. */
int hl__percent_byte(const char *s, size_t n);

/* Largest token count a JSON number carries exactly (2^53). */
#define HL__TOKEN_COUNT_MAX 9007199254740992.0

/* A token count as JSON carries it: a whole number from 0 to 2^53. True
 * and *out set when `v` is one; false (and *out untouched) for anything
 * else: absent, not a number, negative, fractional, larger, NaN or
 * infinite. The one rule for usage counts, shared by the providers'
 * decoders and hl_response_from_json(), so that whatever a provider
 * accepts from its server survives a JSON round trip. */
bool hl__json_token_count(const cJSON *v, int64_t *out);

/* {"type":"object","properties":{}}, or NULL on allocation failure. */
cJSON *hl__empty_object_schema(void);

/* The calling thread's last error where it lives. */
typedef struct hl__error_state {
  hl_status status;
  char message[1024];
} hl__error_state;

/* What this thread built for observers, for tests of the skipping
 * (hl_observer_set_events()): events delivered by hl__emit() per type
 * (sized for any hl_event_mask bit), and payloads made only for an event
 * (the scripted provider's request and response copies, TURN_END's tool
 * summary). Per thread: counting costs no shared cache line; read it on
 * the thread that ran the run (observer_internal.h: hl__event_built). */
typedef struct hl__event_counts {
  uint64_t emitted[32];
  uint64_t payloads;
} hl__event_counts;

/* The library's state of the calling thread (valid for as long as the
 * thread is; read and written only by that thread): its last error and
 * its event counts, in one thread-local block, so that the delivery of an
 * event looks it up once (hl__emit(): the count, and the observers' save
 * and restore of the caller's last error around the callbacks). */
typedef struct hl__thread_state {
  hl__error_state error;
  hl__event_counts built;
} hl__thread_state;
/* Where it is: a pointer of initial-exec TLS, read with one load, set at
 * the thread's first look-up (hl__thread_state_first(), out of line). The
 * state itself (1.3 KB) stays in the default model, whose every access
 * from a shared library is a call to __tls_get_addr(): two such calls per
 * event delivered, on a path whose code a model call between two events
 * has evicted. One pointer of static TLS is well within what glibc keeps
 * for a library loaded with dlopen() (as engine.c's `cur`). */
extern _Thread_local hl__thread_state *hl__thread_state_ptr __attribute__((tls_model("initial-exec")));
hl__thread_state *hl__thread_state_first(void);
static inline hl__thread_state *hl__thread_state_here(void) {
  hl__thread_state *s = hl__thread_state_ptr;
  return __builtin_expect(s != NULL, 1) ? s : hl__thread_state_first();
}

#endif
