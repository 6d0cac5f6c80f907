/*
 * otel_json.c - OTLP/HTTP JSON encoding (the protobuf JSON mapping that
 * OTLP specifies): trace and span ids as lowercase hex, enums as integers,
 * 64-bit integers (times, counts, int attributes) as decimal strings.
 *
 * Written with a plain string builder rather than cJSON because it runs
 * for every batch on the exporter thread and a tree per span would cost
 * a dozen allocations per attribute.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "otel_internal.h"

void ot_buf_put_slow(ot_buf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    /* small at first: every span has three of these (otel.c) */
    size_t cap = b->cap ? b->cap : 256;
    while (b->len + n + 1 > cap) cap *= 2;
    char *p = b->borrowed ? malloc(cap) : realloc(b->p, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    if (b->borrowed) memcpy(p, b->p, b->len);
    b->borrowed = false;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}


void ot_buf_printf(ot_buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  ot_buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Length of the valid UTF-8 sequence at `s` (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s) {
  unsigned char c = s[0];
  size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  if (n == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))) return 0; /* overlong, surrogate */
  if (n == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))) return 0;  /* overlong, > U+10FFFF */
  return n;
}

/* Bytes that a JSON string carries as they are (ASCII printable, not
 * '"' or '\\'): the common case is one table look-up per byte. */
static const unsigned char plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0), /* control characters */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f: '"' */
    R16(1), R16(1),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50-0x5f: '\\' */
    R16(1), R16(1),
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), /* >= 0x80: UTF-8 checked */
#undef R16
};

/* True if one of the 8 bytes of x needs a look: a control character,
 * '"', '\\' or a byte >= 0x80 (the classic "has a zero byte" test). */
static inline bool word_special(uint64_t x) {
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
  return (((x - ones * 0x20) | (q - ones) | (bs - ones) | x) & highs) != 0;
}

/* The characters of a JSON string literal, escaped. Bytes that are not
 * UTF-8 (a tool's binary output, a server's message) become U+FFFD: one
 * invalid byte must not make the collector refuse the whole batch.
 * Plain text is skipped 8 bytes at a time (within the string: its length
 * is known first). */
static void json_chars(ot_buf *b, const char *s, const char *end) {
  const char *run = s;
  for (;;) {
    while (end - s >= 8) {
      uint64_t x;
      memcpy(&x, s, 8);
      if (word_special(x)) break;
      s += 8;
    }
    while (s < end && plain[(unsigned char)*s]) s++;
    if (s >= end) break;
    unsigned char c = (unsigned char)*s;
    if (c >= 0x80) {
      size_t n = utf8_len((const unsigned char *)s);
      if (n) {
        s += n;
        continue;
      }
      ot_buf_put(b, run, (size_t)(s - run));
      OT_PUT_LIT(b, "\\ufffd");
      run = ++s;
      continue;
    }
    ot_buf_put(b, run, (size_t)(s - run));
    run = ++s;
    switch (c) {
    case '"': OT_PUT_LIT(b, "\\\""); break;
    case '\\': OT_PUT_LIT(b, "\\\\"); break;
    case '\n': OT_PUT_LIT(b, "\\n"); break;
    case '\r': OT_PUT_LIT(b, "\\r"); break;
    case '\t': OT_PUT_LIT(b, "\\t"); break;
    default: ot_buf_printf(b, "\\u%04x", c);
    }
  }
  ot_buf_put(b, run, (size_t)(s - run));
}

void ot_buf_json_chars(ot_buf *b, const char *s) { json_chars(b, s, s + strlen(s)); }

void ot_buf_json_string(ot_buf *b, const char *s) {
  OT_PUT_LIT(b, "\"");
  ot_buf_json_chars(b, s);
  OT_PUT_LIT(b, "\"");
}

/* As json_chars counts characters: a valid UTF-8 sequence is one (never
 * cut: a cut one would reach the collector as U+FFFD), a byte that is not
 * UTF-8 one (it becomes one U+FFFD). utf8_len() reads at most up to the
 * first byte that is not a continuation byte: never past the NUL. */
size_t ot_utf8_cut(const char *s, size_t max_bytes, size_t *chars) {
  const unsigned char *p = (const unsigned char *)s;
  if (*chars == SIZE_MAX) {
    /* No limit of characters (none to count): the bytes, then back to the
     * start of a character they end inside, not a walk over them all (the
     * record's 64 KB cut cost ~10 instructions a byte so). A byte that is
     * not a continuation byte starts a character; the one at `i` is inside
     * a character only if the nearest such byte before it, at most 3
     * before, starts a valid sequence that reaches it. */
    size_t i = strnlen(s, max_bytes);
    for (size_t k = 1; i == max_bytes && k <= 3 && k <= i; k++) {
      unsigned char c = p[i - k];
      if ((c & 0xC0) == 0x80) continue;
      size_t n = c < 0x80 ? 1 : utf8_len(p + i - k);
      return n > k ? i - k : i;
    }
    return i;
  }
  size_t i = 0, left = *chars;
  for (; left && i < max_bytes && p[i]; left--) {
    size_t n = p[i] < 0x80 ? 1 : utf8_len(p + i);
    if (!n) n = 1;
    if (n > max_bytes - i) break; /* a character the bytes end inside */
    i += n;
  }
  *chars = left;
  return i;
}

void ot_buf_json_prefix(ot_buf *b, const char *s, size_t max_chars) {
  OT_PUT_LIT(b, "\"");
  json_chars(b, s, s + ot_utf8_cut(s, SIZE_MAX, &max_chars));
  OT_PUT_LIT(b, "\"");
}

/* "00" "01" ... "99": two digits per division. */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* The digits of v < 10^9 ending at `end`, at least `min` of them (zero
 * padded); returns where they start. 32-bit arithmetic: cheap divisions. */
static char *digits32(char *end, uint32_t v, int min) {
  char *p = end;
  while (v >= 100) {
    uint32_t d = v % 100;
    v /= 100;
    p -= 2;
    memcpy(p, digit_pairs + 2 * d, 2);
  }
  if (v >= 10) {
    p -= 2;
    memcpy(p, digit_pairs + 2 * v, 2);
  } else if (v || p == end) {
    *--p = (char)('0' + v);
  }
  while (end - p < min) *--p = '0';
  return p;
}

/* Decimal digits of v, without printf (this runs for every span and
 * event: times in nanoseconds have 19 digits). Split in 9-digit parts so
 * that every division is a 32-bit one. */
void ot_buf_u64(ot_buf *b, uint64_t v) {
  char tmp[24];
  char *end = tmp + sizeof tmp, *p;
  if (v < 1000000000u) {
    p = digits32(end, (uint32_t)v, 1);
  } else {
    p = digits32(end, (uint32_t)(v % 1000000000u), 9);
    v /= 1000000000u;
    if (v < 1000000000u) {
      p = digits32(p, (uint32_t)v, 1);
    } else {
      p = digits32(p, (uint32_t)(v % 1000000000u), 9);
      p = digits32(p, (uint32_t)(v / 1000000000u), 1);
    }
  }
  ot_buf_put(b, p, (size_t)(end - p));
}

void ot_buf_i64(ot_buf *b, int64_t v) {
  if (v < 0) {
    ot_buf_put(b, "-", 1);
    ot_buf_u64(b, (uint64_t)0 - (uint64_t)v);
  } else {
    ot_buf_u64(b, (uint64_t)v);
  }
}

/* "<hex>" of n bytes. */
static void put_hex(ot_buf *b, const uint8_t *id, size_t n) {
  char hex[40];
  hex[0] = '"';
  ot_hex(hex + 1, id, n);
  hex[2 * n + 1] = '"';
  ot_buf_put(b, hex, 2 * n + 2);
}

/* A double as JSON: NaN and infinities are not JSON numbers. */
static void put_double(ot_buf *b, double d) {
  if (!isfinite(d)) d = 0;
  ot_buf_printf(b, "%.15g", d);
}

/* The span's buffer of encoded fragments (each led by ','), the first
 * without its comma when nothing came before it in the list. */
static void put_fragments(ot_buf *b, const ot_buf *f, bool *first) {
  if (f->failed || !f->len) return; /* out of memory while it was built: left out */
  size_t skip = *first ? 1 : 0;
  ot_buf_put(b, f->p + skip, f->len - skip);
  *first = false;
}

/* What consecutive spans of a batch share, written once: the spans of a
 * run have one trace id and mostly one parent, and their times the same
 * leading (seconds) digits. */
typedef struct ot_enc_cache {
  uint8_t trace[16], parent[8];
  char trace_hex[34], parent_hex[18]; /* quoted */
  bool has_trace, has_parent;
  uint64_t sec;
  char sec_digits[24];
  size_t sec_len;                     /* 0: none yet */
} ot_enc_cache;

static void put_id(ot_buf *b, const uint8_t *id, size_t n, uint8_t *last, char *hex, bool *has) {
  if (!*has || memcmp(last, id, n) != 0) {
    memcpy(last, id, n);
    hex[0] = '"';
    ot_hex(hex + 1, id, n);
    hex[2 * n + 1] = '"';
    *has = true;
  }
  ot_buf_put(b, hex, 2 * n + 2);
}

/* A time in nanoseconds (>= 0) as its decimal digits: the seconds' from
 * the cache when they repeat, the nanoseconds' always (nine, padded). */
static void put_time(ot_buf *b, int64_t ns, ot_enc_cache *c) {
  if (ns < 1000000000) {
    ot_buf_i64(b, ns);
    return;
  }
  uint64_t sec = (uint64_t)ns / 1000000000u;
  if (!c->sec_len || c->sec != sec) {
    ot_buf t = {.p = c->sec_digits, .cap = sizeof c->sec_digits, .borrowed = true};
    ot_buf_u64(&t, sec);
    c->sec = sec;
    c->sec_len = t.len;
  }
  /* the nine digits of the nanoseconds: 1 + 4 x 2, three divisions */
  uint32_t v = (uint32_t)((uint64_t)ns % 1000000000u), hi = v / 10000, lo = v % 10000;
  char d[9];
  d[0] = (char)('0' + hi / 10000);
  hi %= 10000;
  memcpy(d + 1, digit_pairs + 2 * (hi / 100), 2);
  memcpy(d + 3, digit_pairs + 2 * (hi % 100), 2);
  memcpy(d + 5, digit_pairs + 2 * (lo / 100), 2);
  memcpy(d + 7, digit_pairs + 2 * (lo % 100), 2);
  ot_buf_put(b, c->sec_digits, c->sec_len);
  ot_buf_put(b, d, 9);
}

static void put_span(ot_buf *b, const ot_span *s, ot_enc_cache *c) {
  OT_PUT_LIT(b, "{\"traceId\":");
  put_id(b, s->trace_id, 16, c->trace, c->trace_hex, &c->has_trace);
  OT_PUT_LIT(b, ",\"spanId\":");
  put_hex(b, s->span_id, 8);
  if (s->has_parent) {
    OT_PUT_LIT(b, ",\"parentSpanId\":");
    put_id(b, s->parent_id, 8, c->parent, c->parent_hex, &c->has_parent);
  }
  OT_PUT_LIT(b, ",\"name\":\"");
  ot_buf_puts(b, s->op); /* a literal: nothing to escape */
  const char *what = ot_span_str(s, s->s_what);
  if (what) {
    OT_PUT_LIT(b, " ");
    ot_buf_json_chars(b, what);
  }
  if (s->kind == OT_KIND_CLIENT) OT_PUT_LIT(b, "\",\"kind\":3,\"startTimeUnixNano\":\"");
  else OT_PUT_LIT(b, "\",\"kind\":1,\"startTimeUnixNano\":\"");
  int64_t start = s->start_ns > 0 ? s->start_ns : 0;
  put_time(b, start, c);
  OT_PUT_LIT(b, "\",\"endTimeUnixNano\":\"");
  put_time(b, s->end_ns >= start ? s->end_ns : start, c);
  OT_PUT_LIT(b, "\",\"attributes\":[");
  /* what could still change after the span started, then the rest */
  bool first = true;
  size_t chars = s->value_chars == UINT32_MAX ? SIZE_MAX : s->value_chars;
  const char *tool = s->role == OT_TOOL || s->role == OT_MCP ? ot_span_str(s, s->s_tool) : NULL;
  if (tool && s->tool_attr) {
    OT_PUT_LIT(b, "{\"key\":\"gen_ai.tool.name\",\"value\":{\"stringValue\":");
    ot_buf_json_string_max(b, tool, chars);
    OT_PUT_LIT(b, "}}");
    first = false;
  }
  if (s->error_type && s->error_attr) {
    if (!first) OT_PUT_LIT(b, ",");
    OT_PUT_LIT(b, "{\"key\":\"error.type\",\"value\":{\"stringValue\":");
    ot_buf_json_string_max(b, s->error_type, chars); /* hl_status_name(): an identifier */
    OT_PUT_LIT(b, "}}");
    first = false;
  }
  put_fragments(b, &s->attrs, &first);
  OT_PUT_LIT(b, "]");
  if (s->dropped_attrs) {
    OT_PUT_LIT(b, ",\"droppedAttributesCount\":");
    ot_buf_u64(b, s->dropped_attrs);
  }
  OT_PUT_LIT(b, ",\"events\":[");
  first = true;
  put_fragments(b, &s->events, &first);
  OT_PUT_LIT(b, "]");
  if (s->dropped_events) {
    OT_PUT_LIT(b, ",\"droppedEventsCount\":");
    ot_buf_u64(b, s->dropped_events);
  }
  /* Every span says its status (some receivers require the field). */
  if (s->status == OT_STATUS_ERROR) OT_PUT_LIT(b, ",\"status\":{\"code\":2");
  else if (s->status == OT_STATUS_OK) OT_PUT_LIT(b, ",\"status\":{\"code\":1");
  else OT_PUT_LIT(b, ",\"status\":{\"code\":0");
  const char *msg = ot_span_str(s, s->s_msg);
  if (msg) {
    OT_PUT_LIT(b, ",\"message\":");
    ot_buf_json_string(b, msg);
  }
  OT_PUT_LIT(b, "}}");
}

static void put_scope(ot_buf *b) {
  ot_buf_puts(b, "\"scope\":{\"name\":\"hookline\",\"version\":\"0.1.0\"}");
}

bool ot_json_spans(ot_buf *b, const char *resource_json, ot_span *spans, size_t n) {
  ot_enc_cache cache;
  cache.has_trace = cache.has_parent = false;
  cache.sec_len = 0;
  ot_buf_puts(b, "{\"resourceSpans\":[{\"resource\":");
  ot_buf_puts(b, resource_json);
  ot_buf_puts(b, ",\"scopeSpans\":[{");
  put_scope(b);
  ot_buf_puts(b, ",\"spans\":[");
  size_t i = 0;
  for (ot_span *s = spans; s && i < n; s = s->next, i++) {
    /* the next span comes from memory while this one is written */
    if (s->next && i + 1 < n) ot_span_prefetch(s->next);
    if (i) ot_buf_put(b, ",", 1);
    put_span(b, s, &cache);
  }
  ot_buf_puts(b, "]}]}]}");
  return !b->failed;
}

/* ---- metrics -------------------------------------------------------- */

/* Bucket boundaries the GenAI semantic conventions recommend. */
static const double token_bounds[] = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144,
                                      1048576, 4194304, 16777216, 67108864};
static const double duration_bounds[] = {0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64,
                                         1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};

int ot_metric_bounds(int metric, const double **bounds) {
  if (metric == OT_METRIC_TOKENS) {
    *bounds = token_bounds;
    return (int)(sizeof token_bounds / sizeof *token_bounds);
  }
  *bounds = duration_bounds;
  return (int)(sizeof duration_bounds / sizeof *duration_bounds);
}

static const struct {
  const char *name, *unit, *description;
} metric_info[OT_METRIC_COUNT] = {
    [OT_METRIC_TOKENS] = {"gen_ai.client.token.usage", "{token}",
                          "Number of input and output tokens used"},
    [OT_METRIC_DURATION] = {"gen_ai.client.operation.duration", "s",
                            "GenAI operation duration (model calls, tool calls, agent runs)"},
};

bool ot_json_metrics(ot_buf *b, const char *resource_json, ot_metrics *m, int64_t now_ns) {
  pthread_mutex_lock(&m->lock);
  if (!m->points || !m->dirty) {
    pthread_mutex_unlock(&m->lock);
    return false;
  }
  m->dirty = false;
  ot_buf_puts(b, "{\"resourceMetrics\":[{\"resource\":");
  ot_buf_puts(b, resource_json);
  ot_buf_puts(b, ",\"scopeMetrics\":[{");
  put_scope(b);
  ot_buf_puts(b, ",\"metrics\":[");
  bool first_metric = true;
  for (int metric = 0; metric < OT_METRIC_COUNT; metric++) {
    bool any = false;
    for (ot_point *p = m->points; p && !any; p = p->next) any = p->metric == metric;
    if (!any) continue;
    if (!first_metric) ot_buf_put(b, ",", 1);
    first_metric = false;
    ot_buf_puts(b, "{\"name\":");
    ot_buf_json_string(b, metric_info[metric].name);
    ot_buf_puts(b, ",\"unit\":");
    ot_buf_json_string(b, metric_info[metric].unit);
    ot_buf_puts(b, ",\"description\":");
    ot_buf_json_string(b, metric_info[metric].description);
    /* cumulative: each point's counts since start_ns */
    ot_buf_puts(b, ",\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":[");
    const double *bounds;
    int n_bounds = ot_metric_bounds(metric, &bounds);
    bool first_point = true;
    for (ot_point *p = m->points; p; p = p->next) {
      if (p->metric != metric) continue;
      if (!first_point) ot_buf_put(b, ",", 1);
      first_point = false;
      ot_buf_puts(b, "{\"attributes\":[");
      for (int i = 0; i < p->n_attrs; i++) {
        if (i) ot_buf_put(b, ",", 1);
        OT_PUT_LIT(b, "{\"key\":\"");
        ot_buf_puts(b, p->keys[i]); /* literals of the tracer */
        OT_PUT_LIT(b, "\",\"value\":{\"stringValue\":");
        ot_buf_json_string(b, p->values[i]);
        OT_PUT_LIT(b, "}}");
      }
      ot_buf_printf(b,
                    "],\"startTimeUnixNano\":\"%" PRId64 "\",\"timeUnixNano\":\"%" PRId64
                    "\",\"count\":\"%" PRIu64 "\",\"sum\":",
                    m->start_ns, now_ns, p->count);
      put_double(b, p->sum);
      ot_buf_puts(b, ",\"min\":");
      put_double(b, p->min);
      ot_buf_puts(b, ",\"max\":");
      put_double(b, p->max);
      ot_buf_puts(b, ",\"bucketCounts\":[");
      for (int i = 0; i <= n_bounds; i++)
        ot_buf_printf(b, "%s\"%" PRIu64 "\"", i ? "," : "", p->buckets[i]);
      ot_buf_puts(b, "],\"explicitBounds\":[");
      for (int i = 0; i < n_bounds; i++) {
        if (i) ot_buf_put(b, ",", 1);
        put_double(b, bounds[i]);
      }
      ot_buf_puts(b, "]}");
    }
    ot_buf_puts(b, "]}}");
  }
  pthread_mutex_unlock(&m->lock);
  ot_buf_puts(b, "]}]}]}");
  return !b->failed;
}
