/*
 * fuzz_codecs.c - libFuzzer target for hookline's own JSON codecs of the
 * model types and sessions (lib/core/message.c, request.c, response.c,
 * lib/agent/session.c): what sessions, traces and caches store.
 *
 * Input: one byte choosing the codec (message, message list, request,
 * response, session), then JSON text. Invariants: decoding answers HL_OK
 * or HL_ERR_JSON with a message and no object; what decodes encodes, the
 * encoding decodes again and re-encodes to the same text (the round trip
 * is stable); a clone encodes the same; a decoded request can be encoded
 * by both wire formats (or is refused with a message).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_response.h"
#include "hookline/session.h"

typedef struct codec {
  const char *name;
  hl_status (*from)(const cJSON *, void **);
  cJSON *(*to)(const void *);
  void *(*clone)(const void *);
  void (*free)(void *);
} codec;

/* Adapters: one signature per operation. */
#define ADAPT(T, pre)                                                                    \
  static hl_status pre##_from(const cJSON *j, void **o) { return T##_from_json(j, (T **)o); } \
  static cJSON *pre##_to(const void *o) { return T##_to_json(o); }                       \
  static void *pre##_clone(const void *o) { return T##_clone(o); }                       \
  static void pre##_free(void *o) { T##_free(o); }
ADAPT(hl_message, msg)
ADAPT(hl_request, req)
ADAPT(hl_response, resp)
ADAPT(hl_session, sess)

/* A message list is a value type: box it. */
static hl_status list_from(const cJSON *j, void **o) {
  hl_messages *l = calloc(1, sizeof *l);
  FUZZ_CHECK(l != NULL, "calloc");
  hl_status st = hl_messages_from_json(j, l);
  if (st != HL_OK) {
    FUZZ_CHECK(l->count == 0, "all or nothing: %zu messages kept on failure", l->count);
    free(l);
    return st;
  }
  *o = l;
  return HL_OK;
}
static cJSON *list_to(const void *o) { return hl_messages_to_json(o); }
static void *list_clone(const void *o) {
  hl_messages *l = calloc(1, sizeof *l);
  FUZZ_CHECK(l != NULL && hl_messages_copy(l, o) == HL_OK, "messages_copy");
  return l;
}
static void list_free(void *o) {
  hl_messages_clear(o);
  free(o);
}

static const codec CODECS[] = {
    {"message", msg_from, msg_to, msg_clone, msg_free},
    {"messages", list_from, list_to, list_clone, list_free},
    {"request", req_from, req_to, req_clone, req_free},
    {"response", resp_from, resp_to, resp_clone, resp_free},
    {"session", sess_from, sess_to, sess_clone, sess_free},
};
#define N_CODECS (sizeof CODECS / sizeof CODECS[0])

/* A decoded request goes out through both wire formats. */
static void encode_request(const hl_request *req) {
  const hl__llm_wire *wires[] = {hl__openai_wire(), hl__anthropic_wire()};
  const char *names[] = {"openai", "anthropic"};
  for (int i = 0; i < 2; i++) {
    hl__llm l = fuzz_llm(names[i]);
    const char *model = req->model ? req->model : "m";
    if (wires[i]->write) {
      /* A wire that writes its text straight (openai.c, gemini.c,
       * anthropic.c): the text reads back as JSON (unless the nesting
       * it adds around a tool's schema passes the parser's depth
       * limit). */
      hl__jbuf b = {0};
      hl_status st = wires[i]->write(&l, req, model, &b);
      if (st == HL_OK) {
        cJSON *back = NULL;
        FUZZ_CHECK(b.p && !b.failed, "%s: no request text", names[i]);
        FUZZ_CHECK(hl_json_parse(b.p, b.len, &back) == HL_OK || strstr(hl_last_error(), "nesting deeper"),
                   "%s wrote a request that is not JSON: %s", names[i], hl_last_error());
        cJSON_Delete(back);
      } else {
        FUZZ_CHECK(hl_last_error()[0] != '\0', "%s refused a request without a message", names[i]);
      }
      free(b.p);
      continue;
    }
    cJSON *payload = NULL;
    hl_status st = wires[i]->encode(&l, req, model, &payload);
    if (st == HL_OK) {
      hl_free(fuzz_print(payload, "encoded request"));
      cJSON_Delete(payload);
    } else {
      FUZZ_CHECK(payload == NULL, "payload set on failure");
      FUZZ_CHECK(hl_last_error()[0] != '\0', "%s refused a request without a message", names[i]);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const codec *c = &CODECS[data[0] % N_CODECS];
  cJSON *in = NULL;
  if (hl_json_parse((const char *)data + 1, size - 1, &in) != HL_OK) return 0;

  void *o = NULL;
  hl_status st = c->from(in, &o);
  if (st != HL_OK) {
    FUZZ_CHECK(st == HL_ERR_JSON, "%s_from_json: %s", c->name, hl_status_name(st));
    FUZZ_CHECK(o == NULL, "%s set on failure", c->name);
    FUZZ_CHECK(hl_last_error()[0] != '\0', "%s: failure without a message", c->name);
    cJSON_Delete(in);
    return 0;
  }
  FUZZ_CHECK(o != NULL, "%s: nothing decoded", c->name);

  cJSON *j1 = c->to(o);
  char *p1 = fuzz_print(j1, c->name);
  void *o2 = NULL;
  st = c->from(j1, &o2);
  FUZZ_CHECK(st == HL_OK, "%s does not decode from its own JSON (%s): %s", c->name,
             hl_status_name(st), p1);
  cJSON *j2 = c->to(o2);
  char *p2 = fuzz_print(j2, c->name);
  FUZZ_CHECK(strcmp(p1, p2) == 0, "%s round trip is not stable:\n  %s\n  %s", c->name, p1, p2);

  void *copy = c->clone(o);
  FUZZ_CHECK(copy != NULL, "%s: clone failed", c->name);
  cJSON *j3 = c->to(copy);
  char *p3 = fuzz_print(j3, c->name);
  FUZZ_CHECK(strcmp(p1, p3) == 0, "%s clone differs:\n  %s\n  %s", c->name, p1, p3);

  if (c->from == req_from) encode_request(o);

  hl_free(p1);
  hl_free(p2);
  hl_free(p3);
  cJSON_Delete(j1);
  cJSON_Delete(j2);
  cJSON_Delete(j3);
  c->free(o);
  c->free(o2);
  c->free(copy);
  cJSON_Delete(in);
  return 0;
}
