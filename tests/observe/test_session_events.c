/*
 * tests/observe/test_session_events.c - the events a stored session writes,
 * encoded straight into text (lib/agent/session_events.c,
 * lib/core/message_write.c), against the tree the library builds for the
 * same message or state (hl_message_to_json, printed by the library's
 * printer): the same text byte for byte for every part kind and the odd
 * values a conversation carries, text that decodes back to the same
 * message, and JSON too deep for a stored event refused with the buffer
 * left as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hookline.h"
#include "core/util.h"
#include "agent/session_events.h"

/* The event as the tree path makes it: {"type":"message","message":...}. */
static char *tree_event(const hl_message *m) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "type", "message");
  cJSON_AddItemToObject(e, "message", hl_message_to_json(m));
  char *text = hl__json_print_exact(e);
  cJSON_Delete(e);
  return text;
}

static char *last_event(const hl__session_events *ev) {
  size_t start = ev->n > 1 ? ev->ends[ev->n - 2] : 0;
  size_t len = ev->ends[ev->n - 1] - start;
  char *out = malloc(len + 1);
  memcpy(out, ev->buf.p + start, len);
  out[len] = '\0';
  return out;
}

/* Encoded directly and through the tree: the same text; decoded again and
 * re-encoded: the same text once more. */
static void same_as_tree(hl__session_events *ev, const hl_message *m) {
  CHECK_INT(hl__session_events_add_message(ev, m), HL_OK);
  char *direct = last_event(ev), *tree = tree_event(m);
  CHECK_STR(direct, tree);
  cJSON *back = cJSON_Parse(direct);
  hl_message *m2 = NULL;
  CHECK_INT(hl_message_from_json(cJSON_GetObjectItemCaseSensitive(back, "message"), &m2), HL_OK);
  if (m2) {
    CHECK_INT(hl__session_events_add_message(ev, m2), HL_OK);
    char *again = last_event(ev);
    CHECK_STR(again, direct);
    free(again);
  }
  hl_message_free(m2);
  cJSON_Delete(back);
  free(direct);
  free(tree);
}

static void messages_match_the_tree(void) {
  hl__session_events ev = {0};
  hl_message *m = hl_message_new_text(HL_ROLE_USER, "quotes \" back\\slash\nnew line\ttab \x01 ünï ✓ </script>");
  same_as_tree(&ev, m);
  hl_message_free(m);

  m = hl_message_new(HL_ROLE_ASSISTANT);
  hl_message_add_text(m, "");
  cJSON *args = cJSON_Parse("{\"n\":0.1,\"big\":9007199254740991,\"neg\":-0.0,\"e\":1e300,"
                            "\"deep\":{\"a\":[1,[2,[3,{}]],null,true,false]},\"s\":\"\\u0000x\","
                            "\"dup\":1,\"dup\":2}");
  REQUIRE(args);
  hl_message_add_tool_call(m, "call_1", "lookup", args);
  hl_message_add_tool_call(m, "call_2", "none", NULL);
  hl_message_set_signature(m, 1, "sig==");
  cJSON_Delete(args);
  same_as_tree(&ev, m);
  hl_message_free(m);

  m = hl_message_new(HL_ROLE_TOOL);
  hl_message_add_tool_result(m, "call_1", "lookup", "{\"ok\":1}", false);
  hl_message_add_tool_result(m, "call_2", NULL, "it failed: \"x\"", true);
  same_as_tree(&ev, m);
  hl_message_free(m);

  m = hl_message_new(HL_ROLE_ASSISTANT);
  cJSON *data = cJSON_Parse("{\"encrypted_content\":\"abc\",\"summary\":[]}");
  hl_message_add_reasoning(m, "openai-responses", "rs_1", "thinking", data, "sig-r");
  hl_message_add_reasoning(m, "anthropic", NULL, NULL, NULL, NULL);
  hl_message_add_image_url(m, "https://example.com/a.png", "image/png");
  hl_message_add_image_url(m, "https://example.com/b", NULL);
  cJSON_Delete(data);
  same_as_tree(&ev, m);
  hl_message_free(m);

  m = hl_message_new(HL_ROLE_SYSTEM); /* no parts at all */
  same_as_tree(&ev, m);
  hl_message_free(m);
  CHECK_INT(ev.n, 10);
  hl__session_events_free(&ev);
}

static void state_matches_the_tree(void) {
  hl__session_events ev = {0};
  const char *values[] = {"{\"a\":[1,2.5,\"x\"],\"b\":null}", "0.30000000000000004", "\"s\\n\"",
                          "[]", "true", "-12"};
  for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
    cJSON *v = cJSON_Parse(values[i]);
    REQUIRE(v);
    CHECK_INT(hl__session_events_add_state(&ev, "key \"q\"", v), HL_OK);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "state");
    cJSON_AddStringToObject(e, "key", "key \"q\"");
    cJSON_AddItemToObject(e, "value", v);
    char *tree = hl__json_print_exact(e), *direct = last_event(&ev);
    CHECK_STR(direct, tree);
    free(tree);
    free(direct);
    cJSON_Delete(e);
  }
  CHECK_INT(hl__session_events_add_state(&ev, "gone", NULL), HL_OK);
  char *direct = last_event(&ev);
  CHECK_STR(direct, "{\"type\":\"state\",\"key\":\"gone\",\"value\":null}");
  free(direct);
  hl__session_events_free(&ev);
}

/* {"a":{"a":...}} `levels` deep */
static cJSON *nested(int levels) {
  cJSON *v = cJSON_CreateObject(), *top = v;
  for (int i = 1; i < levels; i++) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToObject(v, "a", c);
    v = c;
  }
  return top;
}

/* A stored event nests at most HL__SESSION_EVENT_DEPTH levels; deeper JSON
 * is refused and the events held so far stay as they were. */
static void too_deep_is_refused(void) {
  hl__session_events ev = {0};
  hl_message *first = hl_message_new_text(HL_ROLE_USER, "kept");
  CHECK_INT(hl__session_events_add_message(&ev, first), HL_OK);
  size_t len = ev.buf.len;
  hl_message *m = hl_message_new(HL_ROLE_ASSISTANT);
  cJSON *ok = nested(HL__SESSION_EVENT_DEPTH - 4), *deep = nested(HL__SESSION_EVENT_DEPTH - 3);
  hl_message_add_tool_call(m, "c1", "t", ok);
  CHECK_INT(hl__session_events_add_message(&ev, m), HL_OK);
  cJSON *parsed = cJSON_Parse(ev.buf.p + len);
  CHECK(parsed != NULL); /* the deepest event allowed reads back */
  cJSON_Delete(parsed);
  len = ev.buf.len;
  hl_message_add_tool_call(m, "c2", "t", deep);
  CHECK_INT(hl__session_events_add_message(&ev, m), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "deeper");
  CHECK_INT(ev.n, 2);
  CHECK_INT(ev.buf.len, len);
  CHECK_INT(hl__session_events_add_state(&ev, "k", deep), HL_OK); /* 198 + 1: at the limit */
  cJSON *deeper = nested(HL__SESSION_EVENT_DEPTH);
  CHECK_INT(hl__session_events_add_state(&ev, "k", deeper), HL_ERR_INVALID);
  CHECK_INT(ev.n, 3);
  /* the title of the first user message, cut with the events */
  CHECK(hl__session_events_title_from(&ev, first));
  hl__session_events_cut(&ev, 0);
  CHECK(ev.title == NULL);
  CHECK_INT(ev.buf.len, 0);
  cJSON_Delete(ok);
  cJSON_Delete(deep);
  cJSON_Delete(deeper);
  hl_message_free(m);
  hl_message_free(first);
  hl__session_events_free(&ev);
}

static void titles(void) {
  hl_message *m = hl_message_new_text(HL_ROLE_USER, "line one\nline two\tand a tab");
  char *t = hl__session_title_of(m);
  CHECK_STR(t, "line one line two and a tab");
  free(t);
  hl_message_free(m);
  /* 59 ASCII bytes then 'é' (2 bytes): cut before the character, not in it */
  char text[100];
  memset(text, 'x', 59);
  strcpy(text + 59, "\xc3\xa9 and more text");
  m = hl_message_new_text(HL_ROLE_USER, text);
  t = hl__session_title_of(m);
  CHECK_INT(strlen(t), 59);
  free(t);
  hl_message_free(m);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(messages_match_the_tree);
  RUN(state_matches_the_tree);
  RUN(too_deep_is_refused);
  RUN(titles);
  return CHECK_EXIT();
}
