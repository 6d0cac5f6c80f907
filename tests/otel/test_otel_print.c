/*
 * tests/otel/test_otel_print.c - captured JSON kept on the run's thread
 * up to the cut, white box: the exporter's cut (ot_utf8_cut) by bytes and
 * by characters; the exported attribute is hl_json_print()'s whole text
 * cut by the exporter to the value length limit, at every limit (the
 * record printed it with hl_json_print_prefix(), tested in
 * tests/core/test_json_prefix.c); and the run's thread reads no more of a
 * value than the record keeps (a 1 MB string whose bytes past the first
 * 256 KB cannot be read at all).
 */
#include <hookline.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "guarded_text.h"
#include "otel_fake.h"

/* Characters of s, as the exporter counts them. */
static size_t count_chars(const char *s) {
  size_t left = SIZE_MAX - 1; /* a limit, so that they are counted */
  ot_utf8_cut(s, SIZE_MAX, &left);
  return SIZE_MAX - 1 - left;
}

/* ---- the cut ------------------------------------------------------------ */

static void cut_keeps_whole_characters(void) {
  const char *s = "a\xe2\x98\x83" "b\xff" "c"; /* a, snowman (3 bytes), b, a byte not UTF-8, c */
  size_t chars = SIZE_MAX;
  CHECK_INT(ot_utf8_cut(s, 1, &chars), 1);
  CHECK_INT(ot_utf8_cut(s, 2, &chars), 1); /* inside the snowman */
  CHECK_INT(ot_utf8_cut(s, 3, &chars), 1);
  CHECK_INT(ot_utf8_cut(s, 4, &chars), 4); /* exactly after it */
  chars = 2;
  CHECK_INT(ot_utf8_cut(s, SIZE_MAX, &chars), 4);
  CHECK_INT(chars, 0);
  chars = 4;
  CHECK_INT(ot_utf8_cut(s, SIZE_MAX, &chars), 6); /* the bad byte is one character */
  CHECK_INT(chars, 0);
  chars = 10;
  CHECK_INT(ot_utf8_cut(s, SIZE_MAX, &chars), 7); /* the NUL ends it */
  CHECK_INT(chars, 5);
  chars = 3;
  CHECK_INT(ot_utf8_cut("\xe2\x98", SIZE_MAX, &chars), 2); /* a cut sequence: two bad bytes */
  CHECK_INT(chars, 1);
}

/* Without a limit of characters the cut looks back from the byte limit
 * only: the same cut as the walk over every character (made here with a
 * limit too large to reach), for byte strings mixing ASCII, valid and
 * broken sequences (overlong, surrogate, past U+10FFFF, stray and
 * missing continuation bytes), at every byte limit. */
static void cut_by_bytes_as_by_characters(void) {
  static const unsigned char alphabet[] = {'a', 0x80, 0x83, 0x90, 0x98, 0x9f, 0xa0, 0xbf,
                                           0xc2, 0xc3, 0xe0, 0xe2, 0xed, 0xf0, 0xf4, 0xff};
  uint32_t seed = 12345;
  for (int t = 0; t < 20000; t++) {
    char s[16];
    size_t len = (size_t)(t % 13);
    for (size_t i = 0; i < len; i++) {
      seed = seed * 1103515245u + 12345u;
      s[i] = (char)alphabet[(seed >> 16) % sizeof alphabet];
    }
    s[len] = '\0';
    for (size_t m = 0; m <= len + 1; m++) {
      size_t unlimited = SIZE_MAX, walked = SIZE_MAX - 1;
      size_t got = ot_utf8_cut(s, m, &unlimited), want = ot_utf8_cut(s, m, &walked);
      CHECK_INT(got, want);
      CHECK(unlimited == SIZE_MAX);
      if (got != want) return;
    }
  }
}

/* ---- through the record to the exported attribute ----------------------- */

/* An exporter that captures content, with this value length limit. */
static hl_otel *capturing_otel(uint32_t value_chars) {
  hl_otel *o = fake_otel();
  if (!o) return NULL;
  if (!fake_tracer(o)) {
    fake_tracer_free(o);
    fake_free(o);
    return NULL;
  }
  o->limits.value_chars = value_chars;
  o->capture = true;
  return o;
}

static void capturing_free(hl_otel *o) {
  fake_tracer_free(o);
  fake_free(o);
}

/* One tool call with `args`, through the ring and the tracer: the encoded
 * attributes of its span (the caller frees), and into *content the
 * record's copy (the caller frees). */
static char *tool_span_attrs(hl_otel *o, const cJSON *args, char **content) {
  hl_event ev[] = {
      {.size = sizeof(hl_event), .type = HL_EVENT_AGENT_START, .time_ns = 1, .invocation_id = "inv-print",
       .agent_name = "printer"},
      {.size = sizeof(hl_event), .type = HL_EVENT_TOOL_START, .time_ns = 2, .invocation_id = "inv-print",
       .call_id = "call-print", .name = "echo", .args = args},
      {.size = sizeof(hl_event), .type = HL_EVENT_TOOL_END, .time_ns = 3, .invocation_id = "inv-print",
       .call_id = "call-print", .name = "echo"},
      {.size = sizeof(hl_event), .type = HL_EVENT_AGENT_END, .time_ns = 4, .invocation_id = "inv-print"},
  };
  for (size_t i = 0; i < sizeof ev / sizeof *ev; i++) ot_on_event(&ev[i], o);
  ot_span *out = NULL;
  size_t n = 0;
  char *attrs = NULL;
  *content = NULL;
  pthread_mutex_lock(&o->lock);
  for (ot_rec *r; (r = ot_ring_peek(o)) != NULL;) {
    if (r->type == HL_EVENT_TOOL_START && ot_rec_str(r, OT_S_CONTENT))
      *content = strdup(ot_rec_str(r, OT_S_CONTENT));
    ot_trace_record(o, r, &out, &n);
    ot_ring_release(o, r);
  }
  ot_ring_sync(o);
  pthread_mutex_unlock(&o->lock);
  for (ot_span *s = out; s; s = s->next)
    if (!strcmp(s->op, "execute_tool")) attrs = strndup(s->attrs.p, s->attrs.len);
  ot_spans_recycle(o, out);
  return attrs;
}

/* The attribute as hl_json_print()'s whole text would make it: cut by
 * the exporter to the limit and escaped. */
static char *attr_of_whole(const cJSON *v, uint32_t limit) {
  char *full = NULL;
  if (hl_json_print(v, &full) != HL_OK) return NULL;
  ot_buf b = {0};
  OT_PUT_LIT(&b, "{\"key\":\"gen_ai.tool.call.arguments\",\"value\":{\"stringValue\":");
  ot_buf_json_string_max(&b, full, limit == UINT32_MAX ? SIZE_MAX : limit);
  OT_PUT_LIT(&b, "}}");
  hl_free(full);
  return ot_buf_str(&b);
}

static void export_unchanged(void) {
  cJSON *args = NULL;
  REQUIRE(hl_json_parse("{\"path\":\"C:\\\\tmp\\\\\\u2603.txt\",\"text\":\"line\\none\\t\\\"q\\\"\\u0001\","
                        "\"n\":[0,-0.0,1e300,0.1,-7,123456789.125],\"deep\":{\"a\":[{\"b\":\"\\ud83d\\ude00\"}]},"
                        "\"ok\":true,\"none\":null}", (size_t)-1, &args) == HL_OK);
  char *full = NULL;
  REQUIRE(hl_json_print(args, &full) == HL_OK);
  size_t len = strlen(full), n_chars = count_chars(full);
  CHECK(n_chars > 100 && n_chars < len); /* (the loop below covers them all) */
  /* every limit from none at all to more than the text has; and none */
  for (size_t limit = 0; limit <= n_chars + 1; limit++) {
    uint32_t l = limit == n_chars + 1 ? UINT32_MAX : (uint32_t)limit;
    hl_otel *o = capturing_otel(l);
    REQUIRE(o != NULL);
    char *content = NULL, *attrs = tool_span_attrs(o, args, &content), *want = attr_of_whole(args, l);
    REQUIRE(attrs && content && want);
    CHECK_CONTAINS(attrs, want);
    if (!strstr(attrs, want)) fprintf(stderr, "  (limit %zu)\n", limit);
    /* the record kept only what the export shows */
    CHECK(strlen(content) <= len && !strncmp(content, full, strlen(content)));
    size_t c = l == UINT32_MAX ? SIZE_MAX : l;
    CHECK_INT(strlen(content), ot_utf8_cut(full, SIZE_MAX, &c));
    free(content);
    free(attrs);
    free(want);
    capturing_free(o);
  }
  hl_free(full);
  cJSON_Delete(args);
}

/* A 1 MB string argument whose bytes past the first 256 KB cannot be read
 * (PROT_NONE): the run's thread reads only what the record keeps, 64 KB of
 * it without a limit, `limit` characters with one. A print of the whole
 * text read it all (and crashed here). */
static void reads_only_what_it_keeps(void) {
  guarded_text g;
  REQUIRE(guarded_text_init(&g));
  const uint32_t limits[] = {UINT32_MAX, 1000};
  for (size_t i = 0; i < 2; i++) {
    hl_otel *o = capturing_otel(limits[i]);
    REQUIRE(o != NULL);
    char *content = NULL, *attrs = tool_span_attrs(o, &g.obj, &content), *full = NULL;
    REQUIRE(attrs && content);
    size_t len = strlen(content);
    if (limits[i] == UINT32_MAX) CHECK(len > 65000 && len < 65536); /* the record's 64 KB */
    else {
      CHECK_INT(count_chars(content), 1000);
    }
    /* the text is hl_json_print()'s: checked on the readable part, ended */
    guarded_text_end(&g, true);
    hl_status st = hl_json_print(&g.obj, &full);
    guarded_text_end(&g, false);
    REQUIRE(st == HL_OK);
    CHECK(!strncmp(content, full, len));
    CHECK(hl_utf8_valid(content, len)); /* no character cut */
    hl_free(full);
    free(content);
    free(attrs);
    capturing_free(o);
  }
  guarded_text_free(&g);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(cut_keeps_whole_characters);
  RUN(cut_by_bytes_as_by_characters);
  RUN(export_unchanged);
  RUN(reads_only_what_it_keeps);
  return CHECK_EXIT();
}
