/* test_message.c - messages, content parts, message lists, JSON round-trip. */
#include <string.h>

#include "check.h"
#include "hookline/json.h"
#include "hookline/model.h"

static cJSON *parse(const char *text) {
  cJSON *v = NULL;
  if (hl_json_parse(text, (size_t)-1, &v) != HL_OK) fprintf(stderr, "parse: %s\n", hl_last_error());
  return v;
}

static void roles_have_names(void) {
  const char *names[] = {"system", "user", "assistant", "tool"};
  for (int i = 0; i < 4; i++) {
    hl_role r = HL_ROLE_USER;
    CHECK_STR(hl_role_name((hl_role)i), names[i]);
    CHECK_INT(hl_role_parse(names[i], &r), HL_OK);
    CHECK_INT(r, i);
  }
  hl_role r;
  CHECK_INT(hl_role_parse("robot", &r), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "unknown role \"robot\"");
}

/* An assistant message with text, a call and a result (the three kinds). */
static hl_message *sample(void) {
  hl_message *m = hl_message_new(HL_ROLE_ASSISTANT);
  cJSON *args = parse("{\"city\":\"Paris\",\"days\":[1,2]}");
  if (!m || !args) return NULL;
  hl_message_add_text(m, "Let me check. ");
  hl_message_add_tool_call(m, "call_1", "weather", args);
  hl_message_add_text(m, "Done.");
  hl_message_add_tool_result(m, "call_1", "weather", "sunny", false);
  hl_message_add_tool_result(m, "call_2", NULL, "boom", true);
  cJSON_Delete(args);
  return m;
}

static void parts_are_stored_as_given(void) {
  hl_message *m = sample();
  REQUIRE(m != NULL);
  CHECK_INT(m->role, HL_ROLE_ASSISTANT);
  REQUIRE(m->n_parts == 5);
  CHECK_INT(m->parts[0].kind, HL_PART_TEXT);
  CHECK_STR(m->parts[0].text, "Let me check. ");
  CHECK_INT(m->parts[1].kind, HL_PART_TOOL_CALL);
  CHECK_STR(m->parts[1].id, "call_1");
  CHECK_STR(m->parts[1].name, "weather");
  CHECK_STR(hl_json_get_string(m->parts[1].args, "city"), "Paris");
  CHECK_INT(m->parts[3].kind, HL_PART_TOOL_RESULT);
  CHECK_STR(m->parts[3].text, "sunny");
  CHECK(!m->parts[3].is_error);
  CHECK(m->parts[4].name == NULL);
  CHECK(m->parts[4].is_error);
  char *text = hl_message_text(m);
  CHECK_STR(text, "Let me check. Done.");
  hl_free(text);
  CHECK_INT(hl_message_tool_call_count(m), 1);
  hl_message_free(m);
}

static void tool_call_args_are_copied_and_default_to_empty_object(void) {
  hl_message *m = hl_message_new(HL_ROLE_ASSISTANT);
  cJSON *args = parse("{\"q\":1}");
  REQUIRE(m && args);
  REQUIRE(hl_message_add_tool_call(m, "a", "t", args) == HL_OK);
  cJSON_AddNumberToObject(args, "later", 2);
  CHECK(hl_json_get(m->parts[0].args, "later") == NULL);
  REQUIRE(hl_message_add_tool_call(m, "b", "t", NULL) == HL_OK);
  CHECK(cJSON_IsObject(m->parts[1].args) && m->parts[1].args->child == NULL);
  cJSON *arr = parse("[1]");
  CHECK_INT(hl_message_add_tool_call(m, "c", "t", arr), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "arguments must be an object, got array");
  CHECK_INT(m->n_parts, 2);
  cJSON_Delete(arr);
  cJSON_Delete(args);
  hl_message_free(m);
}

static void text_of_message_without_text_is_empty(void) {
  hl_message *m = hl_message_new(HL_ROLE_TOOL);
  REQUIRE(m != NULL);
  hl_message_add_tool_result(m, "x", NULL, "r", false);
  char *t = hl_message_text(m);
  CHECK_STR(t, "");
  hl_free(t);
  hl_message_free(m);
}

/* The first part lives in the message's own block, later ones in an array
 * of their own (message.c): parts keep their contents across both moves,
 * a part's text stays its own block (a hook may free and replace it, as
 * hooks/pii.c does), and a one-part clone is as deep as any. */
static void parts_keep_their_contents_as_they_grow(void) {
  hl_message *m = hl_message_new_text(HL_ROLE_USER, "part 0");
  REQUIRE(m != NULL);
  free(m->parts[0].text);
  m->parts[0].text = strdup("part 0, replaced");
  hl_message *one = hl_message_clone(m);
  REQUIRE(one != NULL);
  CHECK_INT(one->n_parts, 1);
  CHECK_STR(one->parts[0].text, "part 0, replaced");
  CHECK(one->parts[0].text != m->parts[0].text);
  char text[32];
  for (int i = 1; i < 9; i++) {
    snprintf(text, sizeof text, "part %d", i);
    REQUIRE(hl_message_add_text(m, text) == HL_OK);
  }
  REQUIRE(m->n_parts == 9);
  CHECK_STR(m->parts[0].text, "part 0, replaced");
  for (int i = 1; i < 9; i++) {
    snprintf(text, sizeof text, "part %d", i);
    CHECK_STR(m->parts[i].text, text);
  }
  hl_message_free(m);
  hl_message_free(one);
}

static void clone_is_deep(void) {
  hl_message *m = sample();
  REQUIRE(m != NULL);
  hl_message *c = hl_message_clone(m);
  REQUIRE(c != NULL);
  cJSON *a = hl_message_to_json(m), *b = hl_message_to_json(c);
  CHECK(hl_json_equal(a, b));
  CHECK(c->parts[1].args != m->parts[1].args);
  CHECK(c->parts[0].text != m->parts[0].text);
  cJSON_Delete(a);
  cJSON_Delete(b);
  hl_message_free(m);
  hl_message_free(c);
}

static void json_shape_is_documented_one(void) {
  hl_message *m = sample();
  REQUIRE(m != NULL);
  cJSON *j = hl_message_to_json(m);
  cJSON *want = parse(
      "{\"role\":\"assistant\",\"content\":["
      "{\"type\":\"text\",\"text\":\"Let me check. \"},"
      "{\"type\":\"tool_call\",\"id\":\"call_1\",\"name\":\"weather\","
      "\"arguments\":{\"city\":\"Paris\",\"days\":[1,2]}},"
      "{\"type\":\"text\",\"text\":\"Done.\"},"
      "{\"type\":\"tool_result\",\"id\":\"call_1\",\"name\":\"weather\",\"content\":\"sunny\","
      "\"is_error\":false},"
      "{\"type\":\"tool_result\",\"id\":\"call_2\",\"content\":\"boom\",\"is_error\":true}]}");
  CHECK(hl_json_equal(j, want));
  cJSON_Delete(want);
  hl_message *back = NULL;
  REQUIRE(hl_message_from_json(j, &back) == HL_OK);
  cJSON *j2 = hl_message_to_json(back);
  CHECK(hl_json_equal(j, j2));
  CHECK(back->parts[4].name == NULL);
  CHECK(back->parts[4].is_error);
  cJSON_Delete(j);
  cJSON_Delete(j2);
  hl_message_free(back);
  hl_message_free(m);
}

static void decode_errors_name_the_field(void) {
  struct {
    const char *json, *msg;
  } cases[] = {
      {"[]", "message: expected object, got array"},
      {"{\"content\":[]}", "message: missing string field \"role\""},
      {"{\"role\":\"bot\",\"content\":[]}", "message.role: unknown role \"bot\""},
      {"{\"role\":\"user\"}", "message.content: expected array, got missing"},
      {"{\"role\":\"user\",\"content\":\"hi\"}", "message.content: expected array, got string"},
      {"{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}",
       "message.content[0]: missing string field \"type\""},
      {"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"video\"}]}",
       "message.content[1].type: unknown part type \"video\""},
      {"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"image\"}]}",
       "message.content[1]: missing string field \"url\""},
      {"{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"url\":\"ftp://x\"}]}",
       "message.content[0]: image: the URL must be http(s) or data:"},
      {"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":5}]}",
       "message.content[0].text: expected string, got integer"},
      {"{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_call\",\"id\":\"1\",\"name\":\"t\","
       "\"arguments\":\"{}\"}]}",
       "message.content[0].arguments: expected object, got string"},
      {"{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\",\"id\":\"1\",\"content\":\"x\","
       "\"is_error\":1}]}",
       "message.content[0].is_error: expected boolean, got integer"},
      {"{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\",\"content\":\"x\"}]}",
       "message.content[0]: missing string field \"id\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *j = parse(cases[i].json);
    REQUIRE(j != NULL);
    hl_message *m = (hl_message *)1;
    CHECK_INT(hl_message_from_json(j, &m), HL_ERR_JSON);
    CHECK(m == NULL);
    CHECK_CONTAINS(hl_last_error(), cases[i].msg);
    cJSON_Delete(j);
  }
}

static void list_push_copy_and_json(void) {
  hl_messages list = {0};
  CHECK_INT(hl_messages_push(&list, hl_message_new_text(HL_ROLE_SYSTEM, "be brief")), HL_OK);
  CHECK_INT(hl_messages_push(&list, hl_message_new_text(HL_ROLE_USER, "hi")), HL_OK);
  CHECK_INT(hl_messages_push(&list, sample()), HL_OK);
  CHECK_INT(list.count, 3);
  hl_messages copy = {0};
  REQUIRE(hl_messages_copy(&copy, &list) == HL_OK);
  CHECK_INT(copy.count, 3);
  CHECK(copy.items[0] != list.items[0]);
  cJSON *a = hl_messages_to_json(&list), *b = hl_messages_to_json(&copy);
  REQUIRE(a && b);
  CHECK(hl_json_equal(a, b));
  CHECK_INT(cJSON_GetArraySize(a), 3);
  /* Decoding appends to what the list holds. */
  REQUIRE(hl_messages_from_json(a, &copy) == HL_OK);
  CHECK_INT(copy.count, 6);
  CHECK_STR(copy.items[4]->parts[0].text, "hi");
  /* A copy into a non-empty list is refused. */
  CHECK_INT(hl_messages_copy(&copy, &list), HL_ERR_INVALID);
  hl_messages_clear(&copy);
  CHECK_INT(copy.count, 0);
  CHECK(copy.items == NULL);
  /* The cleared list is reusable. */
  CHECK_INT(hl_messages_push(&copy, hl_message_new_text(HL_ROLE_USER, "again")), HL_OK);
  CHECK_INT(copy.count, 1);
  hl_messages_clear(&copy);
  hl_messages_clear(&list);
  cJSON_Delete(a);
  cJSON_Delete(b);
}

static void list_decode_is_all_or_nothing(void) {
  hl_messages list = {0};
  hl_messages_push(&list, hl_message_new_text(HL_ROLE_USER, "keep"));
  cJSON *bad = parse("[{\"role\":\"user\",\"content\":[]},{\"role\":\"user\",\"content\":[{}]}]");
  REQUIRE(bad != NULL);
  CHECK_INT(hl_messages_from_json(bad, &list), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), "messages[1].content[0]");
  CHECK_INT(list.count, 1);
  CHECK_STR(list.items[0]->parts[0].text, "keep");
  cJSON_Delete(bad);
  hl_messages_clear(&list);
}

static void push_takes_ownership_even_on_failure(void) {
  /* With a NULL list the message must still be freed (ASan checks). */
  CHECK_INT(hl_messages_push(NULL, hl_message_new_text(HL_ROLE_USER, "x")), HL_ERR_INVALID);
}

int main(void) {
  RUN(roles_have_names);
  RUN(parts_are_stored_as_given);
  RUN(tool_call_args_are_copied_and_default_to_empty_object);
  RUN(text_of_message_without_text_is_empty);
  RUN(parts_keep_their_contents_as_they_grow);
  RUN(clone_is_deep);
  RUN(json_shape_is_documented_one);
  RUN(decode_errors_name_the_field);
  RUN(list_push_copy_and_json);
  RUN(list_decode_is_all_or_nothing);
  RUN(push_takes_ownership_even_on_failure);
  return CHECK_EXIT();
}
