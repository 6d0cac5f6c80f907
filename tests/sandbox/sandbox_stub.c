/*
 * tests/sandbox/sandbox_stub.c - a build without the sandbox still offers
 * the whole API, answering HL_ERR_UNSUPPORTED.
 */
#include <hookline/sandbox.h>

#include "check.h"

static void everything_is_unsupported(void) {
  CHECK(!hl_sandbox_available());
  hl_sandbox *sb = (hl_sandbox *)1;
  CHECK_INT(hl_sandbox_new(NULL, &sb), HL_ERR_UNSUPPORTED);
  CHECK(sb == NULL);
  CHECK_CONTAINS(hl_last_error(), "without the sandbox");
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(NULL, NULL, "1", &r), HL_ERR_UNSUPPORTED);
  CHECK_INT(r.status, HL_ERR_UNSUPPORTED);
  hl_sandbox_result_clear(&r);
  CHECK(hl_sandbox_code_tool(NULL) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_UNSUPPORTED);
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  CHECK(l.timeout_ms > 0);
  hl_sandbox_free(NULL);
}

int main(void) {
  RUN(everything_is_unsupported);
  return CHECK_EXIT();
}
