/*
 * hooks/loadable/pii.c - PII redaction (guards.h) in loadable form; the
 * options are hl_pii_new()'s. State: the hl_pii.
 */
#include "descriptor.h"

static hl_status pii_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  hl_pii *pii = hl_pii_new(options);
  if (!pii)
    return hl_last_status();
  hl_status st = hl_pii_install(pii, hooks);
  if (st != HL_OK) {
    hl_pii_unref(pii);
    return st;
  }
  *state = pii;
  return HL_OK;
}

static void pii_free(void *state)
{
  hl_pii_unref(state);
}

HL_BUILTIN_PLUGIN(pii, "pii", "Redacts e-mails, phones, cards, IBANs, IPs and secrets", pii_init,
                  pii_free);
