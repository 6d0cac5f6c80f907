/*
 * hooks/loadable/audit.c - the audit log (guards.h) in loadable
 * form; the options are hl_audit_new()'s. State: the audit.
 */
#include "descriptor.h"

static hl_status audit_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  hl_audit *a = hl_audit_new(options);
  if (!a)
    return hl_last_status();
  hl_status st = hl_audit_install(a, hooks);
  if (st != HL_OK) {
    hl_audit_unref(a);
    return st;
  }
  *state = a;
  return HL_OK;
}

static void audit_free(void *state)
{
  hl_audit_unref(state);
}

HL_BUILTIN_PLUGIN(audit, "audit",
                  "JSON Lines audit log of runs, model and tool calls, secrets redacted", audit_init, audit_free);
