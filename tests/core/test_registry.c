/* test_registry.c - the tool registry: add, find, list, remove, duplicate
 * names, and the references it holds. */
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "hookline/tool.h"

static hl_status echo_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args;
  *result = cJSON_CreateString((const char *)ud);
  return HL_OK;
}

static int freed;
static void note_free(void *ud) {
  (void)ud;
  freed++;
}

static void add_find_list(void) {
  hl_tools *reg = hl_tools_new();
  REQUIRE(reg != NULL);
  CHECK_INT(hl_tools_count(reg), 0);
  const char *names[] = {"alpha", "beta", "gamma"};
  for (int i = 0; i < 3; i++) {
    hl_tool *t = hl_tool_new(names[i], "d", echo_fn, (void *)names[i]);
    REQUIRE(t != NULL);
    CHECK_INT(hl_tools_add(reg, t), HL_OK);
    hl_tool_unref(t); /* the registry keeps its own reference */
  }
  CHECK_INT(hl_tools_count(reg), 3);
  for (int i = 0; i < 3; i++) CHECK_STR(hl_tool_name(hl_tools_at(reg, (size_t)i)), names[i]);
  CHECK(hl_tools_at(reg, 3) == NULL);
  hl_tool *b = hl_tools_find(reg, "beta");
  REQUIRE(b != NULL);
  CHECK_STR(hl_tool_name(b), "beta");
  /* The found tool is alive and callable although the caller unref'd it. */
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(b, NULL, NULL, &res), HL_OK);
  CHECK(cJSON_IsString(res) && strcmp(res->valuestring, "beta") == 0);
  cJSON_Delete(res);
  CHECK(hl_tools_find(reg, "delta") == NULL);
  CHECK(hl_tools_find(reg, "Beta") == NULL); /* names are case-sensitive */
  hl_tools_free(reg);
}

static void duplicate_names_are_refused(void) {
  hl_tools *reg = hl_tools_new();
  hl_tool *a = hl_tool_new("search", "first", echo_fn, "1");
  hl_tool *b = hl_tool_new("search", "second", echo_fn, "2");
  REQUIRE(reg && a && b);
  CHECK_INT(hl_tools_add(reg, a), HL_OK);
  CHECK_INT(hl_tools_add(reg, b), HL_ERR_EXISTS);
  CHECK_STR(hl_last_error(), "a tool named \"search\" is already registered");
  CHECK_INT(hl_tools_add(reg, a), HL_ERR_EXISTS); /* the same tool twice, too */
  CHECK_INT(hl_tools_count(reg), 1);
  CHECK_STR(hl_tool_description(hl_tools_find(reg, "search")), "first");
  hl_tool_unref(a);
  hl_tool_unref(b);
  hl_tools_free(reg);
}

static void remove_keeps_order_and_drops_reference(void) {
  freed = 0;
  hl_tools *reg = hl_tools_new();
  REQUIRE(reg != NULL);
  const char *names[] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++) {
    hl_tool *t = hl_tool_new(names[i], "d", echo_fn, NULL);
    REQUIRE(t != NULL);
    hl_tool_set_free_fn(t, note_free);
    hl_tools_add(reg, t);
    hl_tool_unref(t);
  }
  CHECK_INT(hl_tools_remove(reg, "b"), HL_OK);
  CHECK_INT(freed, 1); /* the registry held the last reference */
  CHECK_INT(hl_tools_count(reg), 3);
  CHECK_STR(hl_tool_name(hl_tools_at(reg, 0)), "a");
  CHECK_STR(hl_tool_name(hl_tools_at(reg, 1)), "c");
  CHECK_STR(hl_tool_name(hl_tools_at(reg, 2)), "d");
  CHECK_INT(hl_tools_remove(reg, "b"), HL_ERR_NOT_FOUND);
  CHECK_STR(hl_last_error(), "no tool named \"b\"");
  /* A removed name can be added again. */
  hl_tool *b2 = hl_tool_new("b", "again", echo_fn, NULL);
  CHECK_INT(hl_tools_add(reg, b2), HL_OK);
  CHECK_STR(hl_tool_name(hl_tools_at(reg, 3)), "b");
  hl_tool_unref(b2);
  hl_tools_free(reg);
  CHECK_INT(freed, 4);
}

static void one_tool_in_two_registries(void) {
  freed = 0;
  hl_tools *r1 = hl_tools_new(), *r2 = hl_tools_new();
  hl_tool *t = hl_tool_new("shared", "d", echo_fn, "x");
  REQUIRE(r1 && r2 && t);
  hl_tool_set_free_fn(t, note_free);
  CHECK_INT(hl_tools_add(r1, t), HL_OK);
  CHECK_INT(hl_tools_add(r2, t), HL_OK);
  hl_tool_unref(t);
  hl_tools_free(r1);
  CHECK_INT(freed, 0);
  CHECK(hl_tools_find(r2, "shared") == t);
  hl_tools_free(r2);
  CHECK_INT(freed, 1);
}

static void many_tools(void) {
  hl_tools *reg = hl_tools_new();
  REQUIRE(reg != NULL);
  char name[16];
  for (int i = 0; i < 300; i++) {
    snprintf(name, sizeof name, "tool_%d", i);
    hl_tool *t = hl_tool_new(name, "d", echo_fn, NULL);
    REQUIRE(t != NULL);
    CHECK_INT(hl_tools_add(reg, t), HL_OK);
    hl_tool_unref(t);
  }
  CHECK_INT(hl_tools_count(reg), 300);
  CHECK_STR(hl_tool_name(hl_tools_find(reg, "tool_299")), "tool_299");
  CHECK_STR(hl_tool_name(hl_tools_at(reg, 150)), "tool_150");
  hl_tools_free(reg);
}

static void *reader(void *arg) {
  hl_tools *reg = arg;
  long found = 0;
  for (int i = 0; i < 5000; i++) found += hl_tools_find(reg, i % 2 ? "alpha" : "beta") != NULL;
  return (void *)found;
}

static void concurrent_readers(void) {
  hl_tools *reg = hl_tools_new();
  hl_tool *a = hl_tool_new("alpha", "d", echo_fn, NULL), *b = hl_tool_new("beta", "d", echo_fn, NULL);
  REQUIRE(reg && a && b);
  hl_tools_add(reg, a);
  hl_tools_add(reg, b);
  hl_tool_unref(a);
  hl_tool_unref(b);
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, reader, reg);
  for (int i = 0; i < 4; i++) {
    void *found;
    pthread_join(th[i], &found);
    CHECK_INT((long)found, 5000);
  }
  hl_tools_free(reg);
}

int main(void) {
  RUN(add_find_list);
  RUN(duplicate_names_are_refused);
  RUN(remove_keeps_order_and_drops_reference);
  RUN(one_tool_in_two_registries);
  RUN(many_tools);
  RUN(concurrent_readers);
  return CHECK_EXIT();
}
