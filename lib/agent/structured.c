/*
 * structured.c - structured output: the final answer of an agent with a
 * response schema (hl_agent_set_response_schema()) must be JSON that
 * follows it. Providers ask for it in their own way (json_schema,
 * text.format, a forced tool call, responseJsonSchema); models still slip
 * (a truncated object, a missing field, a provider without strict mode),
 * so the run checks the answer where it accepts it and, on a violation,
 * tells the model what was wrong and asks again, a bounded number of
 * times. Kept apart from run.c: the loop calls hl__structured_check() at
 * the one place a final answer is accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "hookline/json.h"
#include "hookline/tool.h"

#define HL__STRUCTURED_MAX_RETRIES 100

hl_status hl_agent_set_response_retries(hl_agent *agent, int retries) {
  if (!agent) return hl_fail(HL_ERR_INVALID, "hl_agent_set_response_retries: agent is NULL");
  if (retries < 0 || retries > HL__STRUCTURED_MAX_RETRIES)
    return hl_fail(HL_ERR_INVALID, "hl_agent_set_response_retries: %d is not between 0 and %d",
                   retries, HL__STRUCTURED_MAX_RETRIES);
  agent->response_retries = retries;
  return HL_OK;
}

/* What is wrong with `text` as an answer following `schema`, into `why`;
 * false when nothing is. */
static bool violation(const cJSON *schema, const char *text, char *why, size_t size) {
  cJSON *value = NULL;
  if (hl_json_parse(text, strlen(text), &value) != HL_OK) {
    snprintf(why, size, "the answer is not valid JSON (%s)", hl_last_error());
    hl_clear_error();
    return true;
  }
  bool bad = hl_schema_validate(schema, value) != HL_OK;
  if (bad) snprintf(why, size, "%s", hl_last_error());
  hl_clear_error();
  cJSON_Delete(value);
  return bad;
}

hl_status hl__structured_check(hl_context *ctx, const char *text, int *retries_used,
                               hl_message **retry) {
  const hl_agent *a = ctx->agent;
  *retry = NULL;
  if (!a->response_schema) return HL_OK;
  char why[700];
  if (!violation(a->response_schema, text, why, sizeof why)) return HL_OK;
  int attempts = *retries_used + 1;
  cJSON *data = cJSON_CreateObject();
  if (data && (!cJSON_AddStringToObject(data, "error", why) ||
               !cJSON_AddNumberToObject(data, "attempt", attempts) ||
               !cJSON_AddBoolToObject(data, "retry", *retries_used < a->response_retries))) {
    cJSON_Delete(data);
    data = NULL;
  }
  hl_context_emit_custom(ctx, "structured_output_invalid", data);
  cJSON_Delete(data);
  if (*retries_used >= a->response_retries)
    return hl_fail(HL_ERR_PROVIDER,
                   "agent \"%s\": the answer does not follow the response schema \"%s\" after %d "
                   "attempt%s: %s",
                   a->name, a->response_format_name ? a->response_format_name : "response",
                   attempts, attempts == 1 ? "" : "s", why);
  (*retries_used)++;
  char msg[1024];
  snprintf(msg, sizeof msg,
           "Your answer does not follow the required JSON Schema: %s. Answer again with only "
           "a JSON value that follows the schema.",
           why);
  *retry = hl_message_new_text(HL_ROLE_USER, msg);
  return *retry ? HL_OK : hl_fail(HL_ERR_NOMEM, "out of memory");
}
