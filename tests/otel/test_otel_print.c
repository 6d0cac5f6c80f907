/*
 * tests/otel/test_otel_print.c - captured JSON printed on the run's thread
 * up to the cut (hooks/otel_print.c), white box: its text is the first
 * bytes of cJSON_PrintUnformatted()'s (the library linked here is the
 * reference) for every cut, by bytes and by characters, so the exported
 * attribute is what it was when the whole text was printed and then cut;
 * and the printer reads no more of a value than it keeps (a 1 MB string
 * whose bytes past the first 256 KB cannot be read at all).
 */
#include <hookline.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "otel_fake.h"

/* ot_json_print_cut() into a fresh buffer: the text, or NULL when it
 * refused (the caller frees). */
static char *print_cut(const cJSON *v, size_t max_bytes, size_t max_chars) {
  ot_buf b = {0};
  bool ok = ot_json_print_cut(&b, v, max_bytes, max_chars);
  if (!ok || (!b.p && !(b.p = calloc(1, 1)))) {
    free(b.p);
    return NULL;
  }
  ot_buf_str(&b);
  return b.p;
}

/* The text cut by the exporter's rule, as the record kept it before. */
static char *prefix(const char *full, size_t max_bytes, size_t max_chars) {
  return strndup(full, ot_utf8_cut(full, max_bytes, &max_chars));
}

/* Every cut of v's text, by bytes and by characters: the printer's text is
 * cJSON's, cut there. */
static void same_as_cjson(const cJSON *v) {
  char *full = cJSON_PrintUnformatted(v);
  REQUIRE(full != NULL);
  char *whole = print_cut(v, SIZE_MAX, SIZE_MAX);
  CHECK_STR(whole, full);
  free(whole);
  size_t len = strlen(full);
  for (size_t n = 0; n <= len + 1; n++) {
    char *got = print_cut(v, n, SIZE_MAX), *want = prefix(full, n, SIZE_MAX);
    CHECK_STR(got, want);
    if (got && want && strcmp(got, want)) fprintf(stderr, "  (%zu bytes of %s)\n", n, full);
    free(got);
    free(want);
    got = print_cut(v, SIZE_MAX, n);
    want = prefix(full, SIZE_MAX, n);
    CHECK_STR(got, want);
    if (got && want && strcmp(got, want)) fprintf(stderr, "  (%zu characters of %s)\n", n, full);
    free(got);
    free(want);
  }
  free(full);
}

static cJSON *num(double d) { return cJSON_CreateNumber(d); }

/* Characters of s, as the exporter counts them. */
static size_t count_chars(const char *s) {
  size_t left = SIZE_MAX - 1; /* a limit, so that they are counted */
  ot_utf8_cut(s, SIZE_MAX, &left);
  return SIZE_MAX - 1 - left;
}

/* same_as_cjson() of each string value. */
static void same_as_cjson_strings(const char *const *strings, size_t n) {
  for (size_t i = 0; i < n; i++) {
    cJSON *v = cJSON_CreateString(strings[i]);
    REQUIRE(v != NULL);
    same_as_cjson(v);
    cJSON_Delete(v);
  }
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

/* ---- the text ----------------------------------------------------------- */

static void strings_and_escapes(void) {
  char ctl[40];
  size_t k = 0;
  for (int c = 1; c < 0x20; c++) ctl[k++] = (char)c;
  memcpy(ctl + k, "\"\\/\x7f", 5);
  const char *strings[] = {"", "plain", ctl, "say \"hi\"\n\tto C:\\dir", "\x01\x02\x1f"};
  same_as_cjson_strings(strings, sizeof strings / sizeof *strings);
  /* named cut points: inside an escape, at its end */
  cJSON *v = cJSON_CreateString("a\x01z");
  REQUIRE(v != NULL);
  char *got = print_cut(v, 5, SIZE_MAX);
  CHECK_STR(got, "\"a\\u0"); /* the escape's first bytes, as the cut text had them */
  free(got);
  got = print_cut(v, SIZE_MAX, 8);
  CHECK_STR(got, "\"a\\u0001");
  free(got);
  cJSON_Delete(v);
  /* a string whose value is NULL prints as "" (cJSON's rule) */
  cJSON *s = cJSON_CreateString("x");
  REQUIRE(s != NULL);
  cJSON_free(s->valuestring);
  s->valuestring = NULL;
  same_as_cjson(s);
  cJSON_Delete(s);
}

static void unicode(void) {
  const char *strings[] = {
      "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87", /* é ☃ 😀 中文 */
      "\xff\xc3(\x80 lone and cut \xe2\x98",                                  /* not UTF-8 */
      "\xe2\x98\x83\n\xe2\x98\x83\"\xf0\x9f\x98\x80",                         /* next to escapes */
  };
  same_as_cjson_strings(strings, sizeof strings / sizeof *strings);
  /* named cut points: inside a character, exactly after it */
  cJSON *v = cJSON_CreateString("\xe2\x98\x83x");
  REQUIRE(v != NULL);
  for (size_t n = 1; n <= 3; n++) {
    char *got = print_cut(v, n, SIZE_MAX);
    CHECK_STR(got, "\"");
    free(got);
  }
  char *got = print_cut(v, 4, SIZE_MAX);
  CHECK_STR(got, "\"\xe2\x98\x83");
  free(got);
  got = print_cut(v, SIZE_MAX, 2);
  CHECK_STR(got, "\"\xe2\x98\x83");
  free(got);
  cJSON_Delete(v);
}

static void numbers(void) {
  const double values[] = {0, -0.0, 1, -1, 42, 0.1, 1.0 / 3, 0.30000000000000004, 1e300, -1e-300,
                           1e15, 1e16, 123456789.125, 2147483647.0, 2147483648.0, -2147483649.0,
                           9007199254740993.0, 5e-324, 1.7976931348623157e308, -1e-7,
                           NAN, INFINITY, -INFINITY};
  cJSON *arr = cJSON_CreateArray();
  REQUIRE(arr != NULL);
  for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
    cJSON *v = num(values[i]);
    REQUIRE(v != NULL);
    same_as_cjson(v);
    cJSON_AddItemToArray(arr, v);
  }
  same_as_cjson(arr);
  char *got = print_cut(arr, SIZE_MAX, SIZE_MAX);
  CHECK_CONTAINS(got, "[0,-0,1,-1,42,0.1,0.33333333333333331,0.3,1e+300,"); /* cJSON 1.7's text */
  CHECK_CONTAINS(got, ",null,null,null]");                                  /* NaN, infinities */
  free(got);
  cJSON_Delete(arr);
  /* the double is printed, not valueint (a tree edited by hand) */
  cJSON *v = num(5);
  REQUIRE(v != NULL);
  v->valueint = 3;
  same_as_cjson(v);
  cJSON_Delete(v);
}

static void nesting_and_keys(void) {
  cJSON *v = NULL;
  REQUIRE(hl_json_parse("{\"k\\\"ey\\n\":[1,{\"a\":[]},{},[[true,false,null]],\"\\u2603\"],"
                        "\"\":{\"x\\u0001\":-0.5},\"tail\":\"end\"}", (size_t)-1, &v) == HL_OK);
  same_as_cjson(v);
  cJSON_Delete(v);
  cJSON *empty[] = {cJSON_CreateArray(), cJSON_CreateObject(), cJSON_CreateNull(), cJSON_CreateTrue(),
                    cJSON_CreateFalse(), cJSON_CreateRaw("{\"raw\":\xe2\x98\x83}")};
  for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
    REQUIRE(empty[i] != NULL);
    same_as_cjson(empty[i]);
    cJSON_Delete(empty[i]);
  }
  /* an object member without a key prints as "" */
  cJSON *o = cJSON_CreateObject();
  REQUIRE(o != NULL);
  cJSON_AddItemToArray(o, cJSON_CreateNumber(7));
  same_as_cjson(o);
  cJSON_Delete(o);
}

/* What cJSON refuses to print, refused when met before the cut; a tree
 * nested deeper than HL_JSON_MAX_DEPTH ends there. */
static void refused_and_deep(void) {
  cJSON *a = cJSON_CreateArray(), *bad = cJSON_CreateNull();
  REQUIRE(a && bad);
  cJSON_AddItemToArray(a, cJSON_CreateString("first"));
  cJSON_AddItemToArray(a, bad);
  bad->type = cJSON_Invalid;
  CHECK(cJSON_PrintUnformatted(a) == NULL);
  CHECK(print_cut(a, SIZE_MAX, SIZE_MAX) == NULL);
  char *got = print_cut(a, 5, SIZE_MAX); /* cut before it: the text so far */
  CHECK_STR(got, "[\"fir");
  free(got);
  bad->type = cJSON_Raw; /* without text */
  CHECK(print_cut(a, SIZE_MAX, SIZE_MAX) == NULL);
  cJSON_Delete(a);

  cJSON *deep = cJSON_CreateArray(), *in = deep;
  REQUIRE(deep != NULL);
  for (int i = 1; i < HL_JSON_MAX_DEPTH + 10; i++) {
    cJSON *next = cJSON_CreateArray();
    REQUIRE(next != NULL);
    cJSON_AddItemToArray(in, next);
    in = next;
  }
  char *full = cJSON_PrintUnformatted(deep);
  got = print_cut(deep, SIZE_MAX, SIZE_MAX);
  REQUIRE(full && got);
  CHECK_INT(strlen(got), HL_JSON_MAX_DEPTH);
  CHECK(!strncmp(got, full, strlen(got)));
  free(got);
  free(full);
  cJSON_Delete(deep);
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

/* The attribute the exporter wrote before this printer: cJSON's whole
 * text, cut by the exporter to the limit and escaped. */
static char *attr_before(const cJSON *v, uint32_t limit) {
  char *full = cJSON_PrintUnformatted(v);
  ot_buf b = {0};
  OT_PUT_LIT(&b, "{\"key\":\"gen_ai.tool.call.arguments\",\"value\":{\"stringValue\":");
  ot_buf_json_string_max(&b, full, limit == UINT32_MAX ? SIZE_MAX : limit);
  OT_PUT_LIT(&b, "}}");
  free(full);
  return ot_buf_str(&b);
}

static void export_unchanged(void) {
  cJSON *args = NULL;
  REQUIRE(hl_json_parse("{\"path\":\"C:\\\\tmp\\\\\\u2603.txt\",\"text\":\"line\\none\\t\\\"q\\\"\\u0001\","
                        "\"n\":[0,-0.0,1e300,0.1,-7,123456789.125],\"deep\":{\"a\":[{\"b\":\"\\ud83d\\ude00\"}]},"
                        "\"ok\":true,\"none\":null}", (size_t)-1, &args) == HL_OK);
  char *full = cJSON_PrintUnformatted(args);
  REQUIRE(full != NULL);
  size_t len = strlen(full), n_chars = count_chars(full);
  CHECK(n_chars > 100 && n_chars < len); /* (the loop below covers them all) */
  /* every limit from none at all to more than the text has; and none */
  for (size_t limit = 0; limit <= n_chars + 1; limit++) {
    uint32_t l = limit == n_chars + 1 ? UINT32_MAX : (uint32_t)limit;
    hl_otel *o = capturing_otel(l);
    REQUIRE(o != NULL);
    char *content = NULL, *attrs = tool_span_attrs(o, args, &content), *want = attr_before(args, l);
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
  free(full);
  cJSON_Delete(args);
}

/* A 1 MB string argument whose bytes past the first 256 KB cannot be read
 * (PROT_NONE): the run's thread reads only what the record keeps, 64 KB of
 * it without a limit, `limit` characters with one. cJSON's printer read it
 * all (and crashed here). */
static void reads_only_what_it_keeps(void) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE), readable = 256 << 10, size = 1 << 20;
  char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(mem != MAP_FAILED);
  static const char pattern[] = "plain text, a \"quote\"\n, \xe2\x98\x83 ";
  for (size_t i = 0; i < readable; i++) mem[i] = pattern[i % (sizeof pattern - 1)];
  REQUIRE(mprotect(mem + readable, size - readable, PROT_NONE) == 0);
  REQUIRE(readable % page == 0);
  /* {"data": <the string>}, built by hand: cJSON would copy the string */
  char key[] = "data";
  cJSON data = {.type = cJSON_String, .valuestring = mem, .string = key};
  cJSON args = {.type = cJSON_Object, .child = &data};
  const uint32_t limits[] = {UINT32_MAX, 1000};
  for (size_t i = 0; i < 2; i++) {
    hl_otel *o = capturing_otel(limits[i]);
    REQUIRE(o != NULL);
    char *content = NULL, *attrs = tool_span_attrs(o, &args, &content);
    REQUIRE(attrs && content);
    size_t len = strlen(content);
    if (limits[i] == UINT32_MAX) CHECK(len > 65000 && len < 65536); /* the record's 64 KB */
    else {
      CHECK_INT(count_chars(content), 1000);
    }
    /* the text is cJSON's: checked on the readable part, as a string */
    char save = mem[readable - 1];
    mem[readable - 1] = '\0';
    char *full = cJSON_PrintUnformatted(&args);
    mem[readable - 1] = save;
    REQUIRE(full != NULL);
    CHECK(!strncmp(content, full, len));
    CHECK(hl_utf8_valid(content, len)); /* no character cut */
    free(full);
    free(content);
    free(attrs);
    capturing_free(o);
  }
  munmap(mem, size);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(cut_keeps_whole_characters);
  RUN(cut_by_bytes_as_by_characters);
  RUN(strings_and_escapes);
  RUN(unicode);
  RUN(numbers);
  RUN(nesting_and_keys);
  RUN(refused_and_deep);
  RUN(export_unchanged);
  RUN(reads_only_what_it_keeps);
  return CHECK_EXIT();
}
