/*
 * fuzz_body.c - libFuzzer target for a provider's whole-body decoder
 * (built once per wire format: FUZZ_WIRE is hl__openai_wire or
 * hl__anthropic_wire, FUZZ_NAME its name).
 *
 * Input: the HTTP body. Invariants: text that is not JSON never reaches
 * the decoder (as in llm.c); the decoder answers HL_OK with a response or
 * HL_ERR_PROVIDER with a message naming the provider, never anything else;
 * an accepted response passes fuzz_check_response() (well formed, stable
 * through hookline's codec, sendable back as history); decoding is
 * deterministic.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const hl__llm_wire *w = FUZZ_WIRE();
  hl__llm l = fuzz_llm(FUZZ_NAME);
  cJSON *body = NULL;
  if (hl_json_parse((const char *)data, size, &body) != HL_OK) return 0;

  hl_response *r = NULL;
  hl_status st = w->decode(&l, body, &r);
  if (st != HL_OK) {
    FUZZ_CHECK(st == HL_ERR_PROVIDER, "decode: %s", hl_status_name(st));
    FUZZ_CHECK(r == NULL, "response set on failure");
    FUZZ_CHECK(strncmp(hl_last_error(), FUZZ_NAME ": ", strlen(FUZZ_NAME) + 2) == 0,
               "message does not name the provider: %s", hl_last_error());
  } else {
    char *p1 = fuzz_check_response(&l, w, r);
    hl_response *again = NULL;
    FUZZ_CHECK(w->decode(&l, body, &again) == HL_OK, "second decode failed");
    cJSON *j = hl_response_to_json(again);
    char *p2 = fuzz_print(j, "second decode");
    FUZZ_CHECK(strcmp(p1, p2) == 0, "decoding is not deterministic");
    hl_free(p1);
    hl_free(p2);
    cJSON_Delete(j);
    hl_response_free(again);
    hl_response_free(r);
  }
  cJSON_Delete(body);
  return 0;
}
