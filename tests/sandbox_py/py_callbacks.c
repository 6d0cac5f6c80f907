/*
 * tests/sandbox_py/py_callbacks.c - host tools as async Python functions:
 * keyword or dict arguments validated by the tool's schema, results as
 * Python values, failures as CallbackError with the JavaScript guest's
 * kinds, list_callbacks(), asyncio.gather running calls at the same time,
 * asyncio.run from code that does not await, and the call count.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "py_common.h"
#include "overlap.h"

static hl_status echo_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  *result = cJSON_Duplicate(args, 1);
  return HL_OK;
}

static hl_status fail_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)result, (void)ud;
  return hl_fail(HL_ERR_IO, "disk on fire");
}

static hl_status number_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  *result = cJSON_CreateNumber(hl_json_get_number(args, "x", 0) + 1);
  return HL_OK;
}

/* Records how many calls overlap; waits (up to 5 s) until `peers` run at
 * once, so that a loaded machine cannot make parallel calls look
 * sequential, and calls made one after the other never meet. */
static hl_status slow_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  overlap_enter();
  overlap_await((int)hl_json_get_number(args, "peers", 1));
  overlap_leave();
  *result = cJSON_CreateString(hl_json_get_string(args, "name"));
  return HL_OK;
}

static hl_sandbox *sandbox_with_tools(unsigned max_callbacks) {
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  if (max_callbacks)
    l.max_callbacks = max_callbacks;
  hl_sandbox *sb = py_sandbox_with(&l);
  if (!sb)
    return NULL;
  hl_tool *echo = hl_tool_new("echo", "Echo the arguments", echo_fn, NULL);
  hl_tool *fail = hl_tool_new("explode", "Always fails", fail_fn, NULL);
  hl_tool *num = hl_tool_new("add_one", "x + 1", number_fn, NULL);
  hl_tool *slow = hl_tool_new("slow", "Waits for its peers", slow_fn, NULL);
  bool ok = echo && fail && num && slow && !hl_tool_param(echo, "message", "string", "text", true) &&
            !hl_tool_param(echo, "repeat", "integer", "times", false) &&
            !hl_tool_param(num, "x", "number", "x", true) &&
            !hl_tool_param(slow, "name", "string", "", true) &&
            !hl_tool_param(slow, "peers", "integer", "", false) &&
            !hl_sandbox_add_tool(sb, echo, NULL) && !hl_sandbox_add_tool(sb, fail, NULL) &&
            !hl_sandbox_add_tool(sb, num, NULL) && !hl_sandbox_add_tool(sb, slow, NULL);
  hl_tool_unref(echo);
  hl_tool_unref(fail);
  hl_tool_unref(num);
  hl_tool_unref(slow);
  if (!ok) {
    hl_sandbox_free(sb);
    return NULL;
  }
  return sb;
}

static void tools_are_async_functions(void) {
  hl_sandbox *sb = sandbox_with_tools(0);
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "r = await echo(message='hi', repeat=3)\n"
                                   "print(r['message'], r['repeat'])\n"
                                   "d = await echo({'message': 'as dict'})\n"
                                   "n = await add_one(x=41)\n"
                                   "[d['message'], n]");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.stdout_text, "hi 3\n");
  CHECK_STR(r.value_json, "[\"as dict\", 42]");
  CHECK_INT(r.callback_count, 3);
  hl_sandbox_result_clear(&r);

  /* Inside functions too; the call count is per execution. */
  r = py_run(sb, "async def twice(v):\n"
                 "    a = await add_one(x=v)\n"
                 "    return await add_one(x=a)\n"
                 "await twice(1.5)");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "3.5");
  CHECK_INT(r.callback_count, 2);
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

/* One call alone takes a path of its own (no batch, an integer or null
 * answer as itself): every kind of answer reads as the batch's would. */
static void answers_of_lone_calls_are_exact(void) {
  hl_sandbox *sb = sandbox_with_tools(0);
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "[await add_one(x=41), await add_one(x=-1), "
                                   "await add_one(x=2147483646), await add_one(x=3e9), "
                                   "await add_one(x=0.5), await echo(message='m')]");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "[42, 0, 2147483647, 3000000001, 1.5, {\"message\": \"m\"}]");
  hl_sandbox_result_clear(&r);
  r = py_run(sb, "[type(await add_one(x=41)).__name__, type(await add_one(x=3e9)).__name__]");
  CHECK_STR(r.value_json, "[\"int\", \"int\"]");
  hl_sandbox_result_clear(&r);
  /* The same through a batch. */
  r = py_run(sb, "import asyncio\n"
                 "await asyncio.gather(add_one(x=41), add_one(x=3e9), echo(message='m'))");
  CHECK_STR(r.value_json, "[42, 3000000001, {\"message\": \"m\"}]");
  hl_sandbox_result_clear(&r);
  /* A call is an awaitable made at the call (its arguments checked
   * then), awaited later. */
  r = py_run(sb, "c = add_one(x=1)\nd = add_one(x=2)\n[await d, await c]");
  CHECK_STR(r.value_json, "[3, 2]");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

/* The event loop an execution leaves with tasks in it (it failed before
 * awaiting them) is not the next execution's: those tasks never run. */
static void tasks_of_a_failed_execution_do_not_run_later(void) {
  hl_sandbox *sb = sandbox_with_tools(0);
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "import asyncio\n"
                                   "bumps = 0\n"
                                   "async def bump():\n"
                                   "    global bumps\n"
                                   "    bumps += 1\n"
                                   "t = asyncio.create_task(bump())\n"
                                   "raise ValueError('before any await')\n"
                                   "await t\n");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  hl_sandbox_result_clear(&r);
  r = py_run(sb, "await add_one(x=1)\n[bumps, t.done()]");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "[0, false]");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void failures_are_callback_errors(void) {
  hl_sandbox *sb = sandbox_with_tools(0);
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "try:\n"
                                   "    await explode()\n"
                                   "except CallbackError as e:\n"
                                   "    print(e.kind, '|', e.message)\n"
                                   "try:\n"
                                   "    await echo(repeat=2)\n"
                                   "except CallbackError as e:\n"
                                   "    print(e.kind, '|', e.message)\n");
  CHECK_INT(r.status, HL_OK);
  CHECK_CONTAINS(r.stdout_text, "ExecutionFailed | disk on fire\n");
  CHECK_CONTAINS(r.stdout_text, "InvalidArguments | echo: ");
  CHECK_CONTAINS(r.stdout_text, "message");
  hl_sandbox_result_clear(&r);

  /* Uncaught, the kind is the execution's status. */
  r = py_run(sb, "await echo(message=5)");
  CHECK_INT(r.status, HL_ERR_INVALID_ARGUMENTS);
  CHECK_CONTAINS(hl_last_error(), "CallbackError: InvalidArguments");
  hl_sandbox_result_clear(&r);

  r = py_run(sb, "await explode()");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "disk on fire");
  hl_sandbox_result_clear(&r);

  /* Positional arguments other than one dict are a TypeError. */
  r = py_run(sb, "await echo('x', 'y')");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "TypeError");
  hl_sandbox_result_clear(&r);

  /* Arguments JSON cannot carry fail in Python, before any call. */
  r = py_run(sb, "await echo(message=object())");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_INT(r.callback_count, 0);
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void list_callbacks_describes_tools(void) {
  hl_sandbox *sb = sandbox_with_tools(0);
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "cs = list_callbacks()\n"
                                   "e = [c for c in cs if c['name'] == 'echo'][0]\n"
                                   "[len(cs), e['description'], e['parameters']['required']]");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "[4, \"Echo the arguments\", [\"message\"]]");
  hl_sandbox_result_clear(&r);

  /* Removing a tool removes its function. */
  CHECK_INT(hl_sandbox_remove_tool(sb, "explode"), HL_OK);
  r = py_run(sb, "len(list_callbacks())");
  CHECK_STR(r.value_json, "3");
  hl_sandbox_result_clear(&r);
  r = py_run(sb, "await explode()");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "NameError");
  hl_sandbox_result_clear(&r);

  /* Names Python cannot use are refused. */
  hl_tool *t = hl_tool_new("echo2", "", echo_fn, NULL);
  CHECK_INT(hl_sandbox_add_tool(sb, t, "print"), HL_ERR_INVALID);
  CHECK_INT(hl_sandbox_add_tool(sb, t, "lambda"), HL_ERR_INVALID);
  CHECK_INT(hl_sandbox_add_tool(sb, t, "a$b"), HL_ERR_INVALID);
  hl_tool_unref(t);
  hl_sandbox_free(sb);
}

static void gather_runs_calls_at_once(void) {
  hl_sandbox *sb = sandbox_with_tools(0);
  REQUIRE(sb);
  atomic_store(&running, 0);
  atomic_store(&max_running, 0);
  hl_sandbox_result r = py_run(sb, "import asyncio\n"
                                   "await asyncio.gather(slow(name='a', peers=3),\n"
                                   "    slow(name='b', peers=3), slow(name='c', peers=3))");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "[\"a\", \"b\", \"c\"]");
  CHECK_INT(atomic_load(&max_running), 3);
  CHECK_INT(r.callback_count, 3);
  hl_sandbox_result_clear(&r);

  /* Awaited one after the other, they never overlap. */
  atomic_store(&max_running, 0);
  r = py_run(sb, "[await slow(name='a'), await slow(name='b')]");
  CHECK_INT(r.status, HL_OK);
  CHECK_INT(atomic_load(&max_running), 1);
  hl_sandbox_result_clear(&r);

  /* Tasks, return_exceptions, and asyncio.run from code that does not
   * await at the top level. */
  r = py_run(sb, "import asyncio\n"
                 "async def main():\n"
                 "    t = asyncio.create_task(add_one(x=1))\n"
                 "    rs = await asyncio.gather(explode(), add_one(x=2), return_exceptions=True)\n"
                 "    return [await t, type(rs[0]).__name__, rs[0].kind, rs[1]]\n"
                 "asyncio.run(main())");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "[2, \"CallbackError\", \"ExecutionFailed\", 3]");
  hl_sandbox_result_clear(&r);

  /* What the sandbox's asyncio cannot do says so. */
  r = py_run(sb, "import asyncio\nawait asyncio.wait_for(add_one(x=1), timeout=5)");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "NotImplementedError");
  hl_sandbox_result_clear(&r);
  r = py_run(sb, "import asyncio\nawait asyncio.wait_for(add_one(x=1))");
  CHECK_STR(r.value_json, "2");
  hl_sandbox_result_clear(&r);

  /* asyncio.sleep with nothing else to do. */
  r = py_run(sb, "import asyncio\nawait asyncio.sleep(0.01, 'slept')");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "\"slept\"");
  hl_sandbox_result_clear(&r);

  /* Awaiting what can never finish is an error, not a hang. */
  r = py_run(sb, "import asyncio\n"
                 "async def waiter():\n"
                 "    await me\n"
                 "me = asyncio.create_task(waiter())\n"
                 "await me");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "can never finish");
  hl_sandbox_result_clear(&r);
  r = py_run(sb, "class Odd:\n"
                 "    def __iter__(self):\n"
                 "        yield 5\n"
                 "await Odd()");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "cannot wait for");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void callback_count_limit(void) {
  hl_sandbox *sb = sandbox_with_tools(5);
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "for i in range(10):\n    await add_one(x=i)\n");
  CHECK_INT(r.status, HL_ERR_LIMIT);
  CHECK_CONTAINS(hl_last_error(), "more than 5 callback invocations");
  CHECK_INT(r.callback_count, 6);
  hl_sandbox_result_clear(&r);

  /* A batch over the limit at once, and code that swallows the stop. */
  r = py_run(sb, "import asyncio\n"
                 "try:\n"
                 "    await asyncio.gather(*[add_one(x=i) for i in range(20)])\n"
                 "except BaseException:\n"
                 "    print('swallowed')\n");
  CHECK_INT(r.status, HL_ERR_LIMIT);
  hl_sandbox_result_clear(&r);

  /* The next execution counts from zero. */
  r = py_run(sb, "await add_one(x=1)");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "2");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  PY_REQUIRE_GUEST();
  RUN(tools_are_async_functions);
  RUN(answers_of_lone_calls_are_exact);
  RUN(tasks_of_a_failed_execution_do_not_run_later);
  RUN(failures_are_callback_errors);
  RUN(list_callbacks_describes_tools);
  RUN(gather_runs_calls_at_once);
  RUN(callback_count_limit);
  return CHECK_EXIT();
}
