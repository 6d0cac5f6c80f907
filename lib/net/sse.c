/*
 * sse.c - incremental server-sent events parser (see sse.h).
 *
 * The parser keeps only the unfinished line and the unfinished event, so
 * memory is bounded by max_event whatever the stream's length. Complete
 * lines found inside one chunk are parsed in place, without copying; only
 * a line split across chunks goes through the line buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/sse.h"

#define HL_SSE_DEFAULT_MAX ((size_t)16 << 20)

void hl__sse_init(hl__sse *p, hl__sse_event_fn on_event, void *user, size_t max_event) {
  memset(p, 0, sizeof *p);
  p->on_event = on_event;
  p->user = user;
  p->max_event = max_event ? max_event : HL_SSE_DEFAULT_MAX;
  p->retry_ms = -1;
}

const char *hl__sse_last_event_id(const hl__sse *p) { return p->blank_seen ? p->last_id : NULL; }

void hl__sse_set_last_event_id(hl__sse *p, const char *id) {
  snprintf(p->id, sizeof p->id, "%s", id);
  memcpy(p->last_id, p->id, sizeof p->id);
}

long hl__sse_retry_ms(const hl__sse *p) { return p->retry_ms; }

void hl__sse_free(hl__sse *p) {
  free(p->line);
  free(p->data);
  p->line = p->data = NULL;
  p->line_len = p->line_cap = p->data_len = p->data_cap = 0;
}

static hl_status sse_fail(hl__sse *p, hl_status st) {
  p->failed = st;
  return st;
}

/* Grow *buf so that it holds `need` bytes, refusing more than `limit`.
 * The limit is checked before the capacity: capacity grows by doubling,
 * and a check made only when it grows would let a line that arrives in
 * small pieces reach twice the cap that the same line in one piece may
 * not pass (found by tests/fuzz/fuzz_sse.c). */
static hl_status sse_reserve(hl__sse *p, char **buf, size_t *cap, size_t need, size_t limit) {
  if (need > limit)
    return sse_fail(p, hl_fail(HL_ERR_TOO_LARGE,
                               "server-sent event larger than %zu bytes", p->max_event));
  if (need <= *cap) return HL_OK;
  size_t n = *cap ? *cap : 256;
  while (n < need) n *= 2;
  char *nb = realloc(*buf, n);
  if (!nb) return sse_fail(p, hl_fail(HL_ERR_NOMEM, "out of memory in the SSE parser"));
  *buf = nb;
  *cap = n;
  return HL_OK;
}

static hl_status sse_dispatch(hl__sse *p) {
  hl_status st = HL_OK;
  /* Every blank line makes the buffer the last event ID, data or not;
   * copied only when an id field changed it (not per event). */
  p->blank_seen = true;
  if (p->id_pending) {
    memcpy(p->last_id, p->id, sizeof p->id);
    p->id_pending = false;
  }
  if (p->has_data) {
    /* Every data line appended a '\n'; the last one is not part of the data. */
    if (p->data_len > 0) p->data_len--;
    p->data[p->data_len] = '\0';
    st = p->on_event(p->event, p->data, p->data_len, p->user);
    if (st != HL_OK) sse_fail(p, st);
  }
  p->data_len = 0;
  p->has_data = false;
  p->event[0] = '\0';
  return st;
}

static hl_status sse_line(hl__sse *p, const char *line, size_t len) {
  if (len == 0) return sse_dispatch(p);
  if (line[0] == ':') return HL_OK; /* comment: keep-alive, padding */
  const char *colon = memchr(line, ':', len);
  size_t flen = colon ? (size_t)(colon - line) : len;
  const char *value = colon ? colon + 1 : line + len;
  size_t vlen = (size_t)(line + len - value);
  if (vlen > 0 && value[0] == ' ') {
    value++;
    vlen--;
  }
  if (flen == 4 && memcmp(line, "data", 4) == 0) {
    hl_status st = sse_reserve(p, &p->data, &p->data_cap, p->data_len + vlen + 2,
                                p->max_event + 2);
    if (st != HL_OK) return st;
    memcpy(p->data + p->data_len, value, vlen);
    p->data_len += vlen;
    p->data[p->data_len++] = '\n';
    p->has_data = true;
  } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
    size_t n = vlen < sizeof p->event - 1 ? vlen : sizeof p->event - 1;
    memcpy(p->event, value, n);
    p->event[n] = '\0';
  } else if (flen == 2 && memcmp(line, "id", 2) == 0) {
    if (vlen < sizeof p->id && !memchr(value, '\0', vlen)) {
      memcpy(p->id, value, vlen);
      p->id[vlen] = '\0';
      p->id_pending = true;
    }
  } else if (flen == 5 && memcmp(line, "retry", 5) == 0) {
    long ms = 0;
    size_t k = 0;
    while (k < vlen && value[k] >= '0' && value[k] <= '9') {
      /* Saturated: an absurd delay is still "a long time", not a wrap. */
      ms = ms > 100000000 ? 1000000000 : ms * 10 + (value[k] - '0');
      k++;
    }
    if (vlen > 0 && k == vlen) p->retry_ms = ms;
  }
  return HL_OK;
}

hl_status hl__sse_feed(hl__sse *p, const char *bytes, size_t len) {
  static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
  if (p->failed) return p->failed;
  size_t i = 0;
  /* A BOM may only appear as the stream's first bytes, possibly split. */
  while (p->bom_seen < 3 && i < len) {
    if ((unsigned char)bytes[i] == bom[p->bom_seen]) {
      p->bom_seen++;
      i++;
    } else {
      if (p->bom_seen > 0) {
        /* Not a BOM after all: the bytes consumed are ordinary content. */
        hl_status st =
            sse_reserve(p, &p->line, &p->line_cap, p->line_len + p->bom_seen, p->max_event);
        if (st != HL_OK) return st;
        memcpy(p->line + p->line_len, bom, p->bom_seen);
        p->line_len += p->bom_seen;
      }
      p->bom_seen = 3;
    }
  }
  while (i < len) {
    if (p->last_cr) {
      p->last_cr = false;
      if (bytes[i] == '\n') {
        i++;
        continue;
      }
    }
    size_t j = i;
    while (j < len && bytes[j] != '\n' && bytes[j] != '\r') j++;
    if (j == len) {
      /* Unfinished line: keep it for the next chunk. */
      hl_status st =
          sse_reserve(p, &p->line, &p->line_cap, p->line_len + (len - i), p->max_event);
      if (st != HL_OK) return st;
      memcpy(p->line + p->line_len, bytes + i, len - i);
      p->line_len += len - i;
      return HL_OK;
    }
    hl_status st;
    if (p->line_len == 0) {
      if (j - i > p->max_event)
        return sse_fail(p, hl_fail(HL_ERR_TOO_LARGE,
                                   "server-sent event line larger than %zu bytes",
                                   p->max_event));
      st = sse_line(p, bytes + i, j - i);
    } else {
      st = sse_reserve(p, &p->line, &p->line_cap, p->line_len + (j - i), p->max_event);
      if (st != HL_OK) return st;
      memcpy(p->line + p->line_len, bytes + i, j - i);
      p->line_len += j - i;
      st = sse_line(p, p->line, p->line_len);
      p->line_len = 0;
    }
    if (st != HL_OK) return st;
    if (bytes[j] == '\r') p->last_cr = true;
    i = j + 1;
  }
  return HL_OK;
}

hl_status hl__sse_finish(hl__sse *p) {
  if (p->failed) return p->failed;
  p->line_len = 0;
  p->data_len = 0;
  p->has_data = false;
  p->event[0] = '\0';
  return HL_OK;
}
