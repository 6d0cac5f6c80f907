/*
 * otel.c - the chatbot's OpenTelemetry export (--otel URL, or the
 * standard OTEL_EXPORTER_OTLP_ENDPOINT): every run's GenAI spans and
 * metrics go to that collector over OTLP/HTTP JSON (hookline/otel.h).
 * Without either, nothing is set up: no thread, no cost.
 */
#include <stdlib.h>

#include "chat.h"

hl_status chat_add_otel(chat_app *app) {
  const char *env = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (!app->opt.otel_url && !(env && *env)) return HL_OK;
  hl_otel_options o = {.size = sizeof o, .endpoint = app->opt.otel_url};
  app->otel = hl_otel_new(&o);
  if (!app->otel) return hl_fail(hl_last_status(), "--otel: %s", hl_last_error());
  /* On the agent (and so its children), not process-wide: the chatbot's
   * own observers stay separate from the export. */
  return hl_otel_install(app->otel, app->agent);
}

void chat_free_otel(chat_app *app) {
  hl_otel_free(app->otel); /* flushes what is left, at most 2 s */
  app->otel = NULL;
}
