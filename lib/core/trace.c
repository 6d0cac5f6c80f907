/*
 * trace.c - the process-wide trace-context header hook (hookline/trace.h):
 * one function pointer that the HTTP providers and the MCP client call as
 * they build a request.
 *
 * The pair (fn, user_data) is published as one pointer to an immutable
 * block so a reader never sees a function with another's user_data; old
 * blocks are kept (one per call of the configure-time setter), since a
 * reader on another thread may still hold one.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/trace.h"
#include "core/util.h"

typedef struct hl_trace_hook {
  hl_trace_header_fn fn;
  void *user_data;
  struct hl_trace_hook *older; /* kept alive: see above */
} hl_trace_hook;

static _Atomic(hl_trace_hook *) hl_hook;

hl_status hl_trace_set_header_fn(hl_trace_header_fn fn, void *user_data) {
  hl_trace_hook *h = malloc(sizeof *h);
  if (!h) return hl__oom();
  h->fn = fn;
  h->user_data = user_data;
  h->older = atomic_load(&hl_hook);
  atomic_store(&hl_hook, h);
  return HL_OK;
}

bool hl_trace_header(hl_context *ctx, char *line, size_t size) {
  if (!line || size == 0) return false;
  line[0] = '\0';
  hl_trace_hook *h = atomic_load_explicit(&hl_hook, memory_order_acquire);
  if (!h || !h->fn) return false;
  if (!h->fn(ctx, line, size, h->user_data)) {
    line[0] = '\0';
    return false;
  }
  line[size - 1] = '\0';
  /* One header line: a CR or LF would let a tracer inject headers.
   * (strcspn: libc's vector scan, a tenth of a loop's instructions.) */
  if (line[strcspn(line, "\r\n")] != '\0') {
    line[0] = '\0';
    return false;
  }
  return line[0] != '\0';
}
