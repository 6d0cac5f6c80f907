/*
 * hooks/loadable/logging.c - the logging plugin in loadable form.
 * Options: {"file": "PATH" | "stderr" | "stdout" (default stderr),
 *           "prefix": "app"}.
 */
#include <string.h>

#include "descriptor.h"

static hl_status logging_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  (void)state;
  static const char *const known[] = {"file", "prefix", NULL};
  const char *file, *prefix;
  hl_status st;
  if ((st = hl__opt_known(options, known)) || (st = hl__opt_string(options, "file", "stderr", &file)) ||
      (st = hl__opt_string(options, "prefix", NULL, &prefix)))
    return st;
  if (!file[0])
    return hl_fail(HL_ERR_INVALID, "$.file: expected a path, \"stderr\" or \"stdout\", got \"\"");
  if (strcmp(file, "stderr") == 0)
    return hl_logging_hooks_install(hooks, stderr, prefix);
  if (strcmp(file, "stdout") == 0)
    return hl_logging_hooks_install(hooks, stdout, prefix);
  return hl_logging_hooks_install_path(hooks, file, prefix);
}

HL_BUILTIN_PLUGIN(logging, "logging", "One line per hook point to a file", logging_init, NULL);
