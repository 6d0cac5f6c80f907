/*
 * store_decode.h - turning a backend's stored rows back into events, with
 * the checks every backend shares: each row a JSON object with a string
 * "type", versions 1, 2, 3 ... without a hole, as many rows as the
 * session's recorded version. Also the title a session gets from its
 * first user message. Used by store.c and by the fuzz target.
 */
#ifndef HL_STORE_DECODE_H
#define HL_STORE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "hookline/status.h"

typedef struct hl__store_decoder {
  char id[96];          /* the session id, quoted and shortened, for messages */
  cJSON *events;        /* the array being built */
  int64_t count;
  size_t max_bytes;     /* the load limit: HL_STORE_LOAD_MAX unless set after init */
  size_t bytes;         /* the rows' lengths so far */
  hl_status status;     /* first failure, HL_OK so far */
  char message[512];
} hl__store_decoder;

/* HL_ERR_NOMEM (message set) if the array cannot be made. */
hl_status hl__store_decoder_init(hl__store_decoder *d, const char *session_id);
/* hl__srow_fn: take one row; false (the failure kept in d) stops. A row
 * past d->max_bytes fails HL_ERR_TOO_LARGE before its text is looked at
 * (it may be NULL: withheld by the backend, store_internal.h). */
bool hl__store_decoder_row(void *d, int64_t version, const char *data, size_t len);
/* After the last row: HL_OK, or the first failure with its message set
 * through hl_fail(), or HL_ERR_IO when the rows stop short of `recorded`. */
hl_status hl__store_decoder_finish(hl__store_decoder *d, int64_t recorded);
/* Free what the decoder holds (not needed after a successful finish whose
 * events the caller took). */
void hl__store_decoder_free(hl__store_decoder *d);

/* The title of a session whose first user message is `event`: its text on
 * one line, at most 60 bytes (cut at a character boundary); NULL for any
 * other event. malloc'd. */
char *hl__store_event_title(const cJSON *event);

#endif
