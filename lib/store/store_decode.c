/*
 * store_decode.c - stored rows back into events, with the integrity
 * checks shared by every backend (see store_decode.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/model.h"
#include "hookline/store.h"
#include "core/util.h"
#include "store/store_decode.h"
#include "agent/session_events.h"

hl_status hl__store_decoder_init(hl__store_decoder *d, const char *session_id) {
  memset(d, 0, sizeof *d);
  hl__quote(d->id, sizeof d->id, session_id ? session_id : "");
  d->max_bytes = HL_STORE_LOAD_MAX;
  d->events = cJSON_CreateArray();
  return d->events ? HL_OK : hl__oom();
}

static bool hl_decoder_fail(hl__store_decoder *d, hl_status st, const char *fmt, ...)
    HL_PRINTF(3, 4);
static bool hl_decoder_fail(hl__store_decoder *d, hl_status st, const char *fmt, ...) {
  if (d->status != HL_OK) return false;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->message, sizeof d->message, fmt, ap);
  va_end(ap);
  d->status = st;
  return false;
}

bool hl__store_decoder_row(void *ud, int64_t version, const char *data, size_t len) {
  hl__store_decoder *d = ud;
  if (d->status != HL_OK) return false;
  if (version != d->count + 1)
    return hl_decoder_fail(d, HL_ERR_IO,
                           "store: session %s: log has a hole: event %lld follows event %lld "
                           "(truncated or corrupt log)", d->id, (long long)version,
                           (long long)d->count);
  if (len > d->max_bytes - d->bytes)
    return hl_decoder_fail(d, HL_ERR_TOO_LARGE,
                           "store: session %s: its events pass the load limit of %zu bytes "
                           "at event %lld (hl_store_set_load_max)", d->id, d->max_bytes,
                           (long long)version);
  d->bytes += len;
  const char *end = NULL;
  cJSON *ev = data ? cJSON_ParseWithLengthOpts(data, len, &end, false) : NULL;
  if (!ev)
    return hl_decoder_fail(d, HL_ERR_JSON,
                           "store: session %s: event %lld is not valid JSON (corrupt row)",
                           d->id, (long long)version);
  /* Only whitespace may follow the value. */
  while (end && (size_t)(end - data) < len && (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r'))
    end++;
  if (!end || (size_t)(end - data) != len || !cJSON_IsObject(ev) ||
      !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ev, "type"))) {
    cJSON_Delete(ev);
    return hl_decoder_fail(d, HL_ERR_JSON,
                           "store: session %s: event %lld is not an event object with a "
                           "string \"type\" (corrupt row)", d->id, (long long)version);
  }
  if (!cJSON_AddItemToArray(d->events, ev)) {
    cJSON_Delete(ev);
    return hl_decoder_fail(d, HL_ERR_NOMEM, "store: out of memory");
  }
  d->count++;
  return true;
}

hl_status hl__store_decoder_finish(hl__store_decoder *d, int64_t recorded) {
  if (d->status == HL_OK && d->count != recorded)
    hl_decoder_fail(d, HL_ERR_IO,
                    "store: session %s: log is truncated: %lld events stored, the session "
                    "records version %lld", d->id, (long long)d->count, (long long)recorded);
  if (d->status != HL_OK) return hl_fail(d->status, "%s", d->message);
  return HL_OK;
}

void hl__store_decoder_free(hl__store_decoder *d) {
  cJSON_Delete(d->events);
  d->events = NULL;
}

char *hl__store_event_title(const cJSON *event) {
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(event, "type");
  if (!cJSON_IsString(type) || strcmp(type->valuestring, "message") != 0) return NULL;
  const cJSON *mj = cJSON_GetObjectItemCaseSensitive(event, "message");
  const cJSON *role = cJSON_GetObjectItemCaseSensitive(mj, "role");
  if (!cJSON_IsString(role) || strcmp(role->valuestring, "user") != 0) return NULL;
  hl_message *m = NULL;
  if (hl_message_from_json(mj, &m) != HL_OK) {
    hl_clear_error();
    return NULL;
  }
  char *title = hl__session_title_of(m);
  hl_message_free(m);
  return title;
}
