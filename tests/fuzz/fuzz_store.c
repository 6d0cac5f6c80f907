/*
 * fuzz_store.c - libFuzzer target for the session store's decoding: the
 * rows a database hands back (lib/store/store_decode.c) and the replay of
 * their events into a session (lib/store/session_store.c).
 *
 * Input: rows separated by '\n'; the first byte, when it is a digit, is
 * added to the recorded version (a log that says it is longer than its
 * rows). Invariants: decoding either gives one event object with a string
 * "type" per row, or fails with HL_ERR_JSON or HL_ERR_IO and a message
 * naming the session; decoded events append to a memory store and load
 * back identical; replaying them either gives a session (whose JSON is the
 * same after a reload) or fails with a message naming the event; nothing
 * crashes or leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "hookline.h"
#include "store/store_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int64_t extra = 0;
  if (size > 0 && data[0] >= '0' && data[0] <= '9') {
    extra = data[0] - '0';
    data++;
    size--;
  }
  hl__store_decoder d;
  FUZZ_CHECK(hl__store_decoder_init(&d, "fuzz") == HL_OK, "init");
  int64_t rows = 0;
  size_t start = 0;
  for (size_t i = 0; i <= size; i++) {
    if (i < size && data[i] != '\n') continue;
    rows++;
    if (!hl__store_decoder_row(&d, rows, (const char *)data + start, i - start)) break;
    start = i + 1;
  }
  hl_status st = hl__store_decoder_finish(&d, rows + extra);
  if (st != HL_OK) {
    FUZZ_CHECK(st == HL_ERR_JSON || st == HL_ERR_IO, "status %s", hl_status_name(st));
    FUZZ_CHECK(strncmp(hl_last_error(), "store: session \"fuzz\"", 21) == 0, "message: %s",
               hl_last_error());
    hl__store_decoder_free(&d);
    return 0;
  }
  FUZZ_CHECK(extra == 0, "a log shorter than its version decoded");
  FUZZ_CHECK(cJSON_GetArraySize(d.events) == rows, "%d events from %lld rows",
             cJSON_GetArraySize(d.events), (long long)rows);

  /* Through a store and back: the same events. */
  hl_store *store = NULL;
  FUZZ_CHECK(hl_store_open("memory:", &store) == HL_OK, "memory store");
  int64_t v = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, d.events) {
    st = hl_store_append(store, "app", "u", "fuzz", v, e, &v);
    if (st != HL_OK) { /* too deep to store: refused, never half-written */
      FUZZ_CHECK(st == HL_ERR_INVALID, "append: %s", hl_status_name(st));
      break;
    }
  }
  if (st == HL_OK && rows > 0) {
    cJSON *back = NULL;
    FUZZ_CHECK(hl_store_load(store, "app", "u", "fuzz", &back, NULL) == HL_OK, "load back");
    FUZZ_CHECK(cJSON_GetArraySize(back) == rows, "rows back");
    cJSON_Delete(back);
    hl_session *s = NULL;
    st = hl_session_open(store, "app", "u", "fuzz", &s);
    if (st != HL_OK) {
      FUZZ_CHECK(st == HL_ERR_JSON || st == HL_ERR_INVALID || st == HL_ERR_TOO_LARGE,
                 "open: %s", hl_status_name(st));
      FUZZ_CHECK(strstr(hl_last_error(), "event ") != NULL, "message: %s", hl_last_error());
    } else {
      /* Compared as printed: cJSON_Compare is not reflexive for objects
       * with duplicate keys, which a stored event may hold. */
      cJSON *j1 = hl_session_to_json(s);
      FUZZ_CHECK(hl_session_reload(s) == HL_OK, "reload: %s", hl_last_error());
      cJSON *j2 = hl_session_to_json(s);
      char *p1 = cJSON_PrintUnformatted(j1), *p2 = cJSON_PrintUnformatted(j2);
      FUZZ_CHECK(p1 && p2 && strcmp(p1, p2) == 0, "replay not deterministic:\n%s\n%s", p1, p2);
      free(p1);
      free(p2);
      cJSON_Delete(j1);
      cJSON_Delete(j2);
      hl_session_free(s);
    }
  }
  hl_store_close(store);
  hl__store_decoder_free(&d);
  return 0;
}
