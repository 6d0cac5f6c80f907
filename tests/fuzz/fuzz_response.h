/*
 * fuzz_response.h - the checks every decoded response must pass, shared by
 * the provider targets (fuzz_body.c, fuzz_stream.c): a response the
 * decoder accepted is well formed, survives hookline's own codec
 * (response -> JSON -> response -> the same JSON, as sessions and traces
 * store it), and can be sent back to the same provider as history.
 */
#ifndef HL_FUZZ_RESPONSE_H
#define HL_FUZZ_RESPONSE_H

#include <string.h>

#include "fuzz_util.h"
#include "hookline/json.h"
#include "hookline/model.h"
#include "providers/llm.h"

/* The configuration the decoders read (name, defaults); no HTTP handle:
 * the targets never send anything. */
static hl__llm fuzz_llm(const char *name) {
  hl__llm l = {.magic = HL__LLM_MAGIC, .name = name, .max_tokens = 4096};
  return l;
}

/* Print `j` (which must print) as a new string. */
static inline char *fuzz_print(const cJSON *j, const char *what) {
  char *s = NULL;
  FUZZ_CHECK(j != NULL, "%s: no JSON", what);
  FUZZ_CHECK(hl_json_print(j, &s) == HL_OK, "%s: does not print", what);
  return s;
}

/* The response's neutral JSON as text; checks the whole round trip. */
static inline char *fuzz_check_response(const hl__llm *l, const hl__llm_wire *w,
                                        const hl_response *r) {
  FUZZ_CHECK(r != NULL && r->message != NULL, "accepted response without a message");
  FUZZ_CHECK(r->message->role == HL_ROLE_ASSISTANT, "role %s", hl_role_name(r->message->role));
  for (size_t i = 0; i < r->message->n_parts; i++) {
    const hl_part *p = &r->message->parts[i];
    if (p->text) FUZZ_CHECK(hl_utf8_valid(p->text, strlen(p->text)), "part %zu: invalid UTF-8", i);
    if (p->kind == HL_PART_TOOL_CALL)
      FUZZ_CHECK(cJSON_IsObject(p->args), "tool call %zu: arguments are not an object", i);
  }

  cJSON *j1 = hl_response_to_json(r);
  char *p1 = fuzz_print(j1, "response_to_json");
  hl_response *r2 = NULL;
  hl_status st = hl_response_from_json(j1, &r2);
  FUZZ_CHECK(st == HL_OK, "a decoded response does not decode from its own JSON (%s): %s",
             hl_status_name(st), p1);
  cJSON *j2 = hl_response_to_json(r2);
  char *p2 = fuzz_print(j2, "second response_to_json");
  FUZZ_CHECK(strcmp(p1, p2) == 0, "response round trip changed it:\n  %s\n  %s", p1, p2);

  /* The assistant message goes back to the provider as history. */
  hl_request *req = hl_request_new();
  FUZZ_CHECK(req != NULL, "request_new");
  hl_message *m = hl_message_clone(r->message);
  FUZZ_CHECK(m != NULL, "message_clone");
  FUZZ_CHECK(hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_USER, "hi")) == HL_OK,
             "push");
  FUZZ_CHECK(hl_messages_push(&req->messages, m) == HL_OK, "push");
  if (w->write) {
    /* A wire that writes the body's text straight (openai.c): it must
     * read back as JSON. */
    hl__jbuf b = {0};
    st = w->write(l, req, "fuzz-model", &b);
    FUZZ_CHECK(st == HL_OK && b.p && !b.failed,
               "a decoded response cannot be sent back as history (%s): %s", hl_status_name(st), p1);
    cJSON *back = NULL;
    FUZZ_CHECK(hl_json_parse(b.p, b.len, &back) == HL_OK || strstr(hl_last_error(), "nesting deeper"),
               "the history request written is not JSON (%s): %s", hl_last_error(), p1);
    cJSON_Delete(back);
    free(b.p);
  } else {
    cJSON *payload = NULL;
    st = w->encode(l, req, "fuzz-model", &payload);
    FUZZ_CHECK(st == HL_OK, "a decoded response cannot be sent back as history (%s): %s",
               hl_status_name(st), p1);
    hl_free(fuzz_print(payload, "encoded request"));
    cJSON_Delete(payload);
  }
  hl_request_free(req);
  cJSON_Delete(j1);
  cJSON_Delete(j2);
  hl_free(p2);
  hl_response_free(r2);
  return p1;
}

#endif
