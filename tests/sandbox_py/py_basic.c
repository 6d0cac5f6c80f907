/*
 * tests/sandbox_py/py_basic.c - the Python guest's surface: output,
 * the last expression's value, exceptions, sessions and reset, and what
 * the guest cannot reach (files, os, the network, `js`).
 */
#include "py_common.h"

static void print_is_captured(void) {
  hl_sandbox *sb = py_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "print(1 + 1)");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.stdout_text, "2\n");
  CHECK_INT(r.stdout_len, 2);
  CHECK(r.value_json == NULL); /* print() returns None: no value */
  hl_sandbox_result_clear(&r);

  r = py_run(sb, "import sys\nprint('out', 42)\nsys.stderr.write('oops\\n')\nprint('é∑')");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.stdout_text, "out 42\né∑\n");
  CHECK_STR(r.stderr_text, "oops\n");
  hl_sandbox_result_clear(&r);

  /* Bytes that are not UTF-8 (a stray byte, a surrogate, an overlong
   * form) become U+FFFD: the result's text is always valid UTF-8. */
  r = py_run(sb, "import sys\nsys.stdout.buffer.write(b'a\\xffb\\xed\\xa0\\x80c\\xc0\\xafd')");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.stdout_text, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD" "d");
  hl_sandbox_result_clear(&r);

  /* Output belongs to one execution. */
  r = py_run(sb, "x = 1");
  CHECK_STR(r.stdout_text, "");
  CHECK_STR(r.stderr_text, "");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void last_expression_is_the_value(void) {
  hl_sandbox *sb = py_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "1 + 2");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "3");
  hl_sandbox_result_clear(&r);

  r = py_run(sb, "def f(n):\n    return [n, 'two', None, True]\n\n# a comment\nf(\n  1\n)\n");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "[1, \"two\", null, true]");
  hl_sandbox_result_clear(&r);

  r = py_run(sb, "{'k': {'n': 1.5}}");
  CHECK_STR(r.value_json, "{\"k\": {\"n\": 1.5}}");
  hl_sandbox_result_clear(&r);

  /* Not an expression: no value, and the statement still runs once. */
  r = py_run(sb, "count = 0\ncount += 1\n");
  CHECK_INT(r.status, HL_OK);
  CHECK(r.value_json == NULL);
  hl_sandbox_result_clear(&r);
  r = py_run(sb, "count");
  CHECK_STR(r.value_json, "1");
  hl_sandbox_result_clear(&r);

  /* A triple-quoted string that spans lines is one expression. */
  r = py_run(sb, "'''a\nb'''");
  CHECK_STR(r.value_json, "\"a\\nb\"");
  hl_sandbox_result_clear(&r);

  /* What JSON cannot hold comes back as its repr(). */
  r = py_run(sb, "{3}");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "\"{3}\"");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void exceptions_fail_with_their_message(void) {
  hl_sandbox *sb = py_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "print('before')\nraise ValueError('boom')");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "ValueError: boom");
  CHECK_CONTAINS(hl_last_error(), "line 2");
  /* The prelude's frames are not the model's business. */
  CHECK(strstr(hl_last_error(), "prelude") == NULL);
  CHECK_STR(r.stdout_text, "before\n");
  CHECK(r.value_json == NULL);
  hl_sandbox_result_clear(&r);

  r = py_run(sb, "def f(:\n  pass");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "SyntaxError");
  hl_sandbox_result_clear(&r);

  r = py_run(sb, "undefined_name + 1");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "NameError");
  hl_sandbox_result_clear(&r);

  /* The sandbox stays usable. */
  r = py_run(sb, "6 * 7");
  CHECK_STR(r.value_json, "42");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void sessions_keep_state_until_reset(void) {
  hl_sandbox *sb = py_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "x = 41\ndef inc(v):\n    return v + 1\n");
  CHECK_INT(r.status, HL_OK);
  hl_sandbox_result_clear(&r);
  r = py_run(sb, "inc(x)");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "42");
  hl_sandbox_result_clear(&r);

  CHECK_INT(hl_sandbox_reset(sb), HL_OK);
  r = py_run(sb, "inc(x)");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "NameError");
  hl_sandbox_result_clear(&r);

  /* Two sandboxes do not share state. */
  hl_sandbox *other = py_sandbox();
  REQUIRE(other);
  r = py_run(sb, "y = 'mine'");
  hl_sandbox_result_clear(&r);
  r = py_run(other, "y");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(other);
  hl_sandbox_free(sb);
}

static void nothing_outside_is_reachable(void) {
  hl_sandbox *sb = py_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "open('/etc/passwd').read()");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "OSError");
  hl_sandbox_result_clear(&r);

  r = py_run(sb, "import os\nos.listdir('/')");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "OSError");
  hl_sandbox_result_clear(&r);

  r = py_run(sb, "import socket");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "ImportError");
  hl_sandbox_result_clear(&r);

  r = py_run(sb, "__import__('subprocess')");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "ImportError");
  hl_sandbox_result_clear(&r);

  /* The JavaScript bridge of the browser build has nothing behind it. */
  r = py_run(sb, "import js\njs.process");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "AttributeError");
  hl_sandbox_result_clear(&r);

  r = py_run(sb, "import time\nt = time.time()\nt > 1.7e9");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "true");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

/* Every sandbox is a copy of one template instance: its random numbers
 * must still be its own. */
static void sandboxes_draw_their_own_random_numbers(void) {
  hl_sandbox *a = py_sandbox(), *b = py_sandbox();
  REQUIRE(a && b);
  const char *code = "import random\n[random.getrandbits(32) for _ in range(4)]";
  hl_sandbox_result ra = py_run(a, code), rb = py_run(b, code);
  CHECK_INT(ra.status, HL_OK);
  CHECK_INT(rb.status, HL_OK);
  CHECK(ra.value_json && rb.value_json && strcmp(ra.value_json, rb.value_json) != 0);
  hl_sandbox_result_clear(&ra);
  hl_sandbox_result_clear(&rb);
  hl_sandbox_free(a);
  hl_sandbox_free(b);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  PY_REQUIRE_GUEST();
  RUN(print_is_captured);
  RUN(last_expression_is_the_value);
  RUN(exceptions_fail_with_their_message);
  RUN(sessions_keep_state_until_reset);
  RUN(nothing_outside_is_reachable);
  RUN(sandboxes_draw_their_own_random_numbers);
  return CHECK_EXIT();
}
