/*
 * message_write.c - a message's JSON written straight into a buffer
 * (message_write.h). The text is the one hl_message_to_json() builds and
 * the printer prints, key for key in the same order (tests/store checks
 * them against each other for every part kind); writing it directly
 * saves the tree: some twenty allocations per message of a turn.
 */
#include "core/message_write.h"

static void put_lit(hl__jbuf *b, const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  hl__jbuf_raw(b, s, n);
}

/* ,"key":"value" (nothing when value is NULL) */
static void put_opt(hl__jbuf *b, const char *key, const char *value) {
  if (!value) return;
  hl__jbuf_raw(b, ",", 1);
  hl__jbuf_string(b, key);
  hl__jbuf_raw(b, ":", 1);
  hl__jbuf_string(b, value);
}

static hl_status put_part(hl__jbuf *b, const hl_part *p, int max_depth) {
  if ((p->kind == HL_PART_TOOL_CALL || p->kind == HL_PART_REASONING) && p->args &&
      !hl__json_depth_ok(p->args, max_depth))
    return hl_fail(HL_ERR_INVALID, "message part %s: JSON nested deeper than %d levels",
                   p->id ? p->id : "(no id)", max_depth);
  switch (p->kind) {
  case HL_PART_TEXT:
    put_lit(b, "{\"type\":\"text\",\"text\":");
    hl__jbuf_string(b, p->text);
    break;
  case HL_PART_TOOL_CALL:
    put_lit(b, "{\"type\":\"tool_call\"");
    put_opt(b, "id", p->id);
    put_opt(b, "name", p->name);
    put_lit(b, ",\"arguments\":");
    if (p->args) hl__jbuf_value(b, p->args);
    else put_lit(b, "{}");
    break;
  case HL_PART_TOOL_RESULT:
    put_lit(b, "{\"type\":\"tool_result\"");
    put_opt(b, "id", p->id);
    put_opt(b, "name", p->name);
    put_lit(b, ",\"content\":");
    hl__jbuf_string(b, p->text);
    put_lit(b, p->is_error ? ",\"is_error\":true" : ",\"is_error\":false");
    break;
  case HL_PART_REASONING:
    put_lit(b, "{\"type\":\"reasoning\"");
    put_opt(b, "provider", p->name);
    put_opt(b, "id", p->id);
    put_opt(b, "text", p->text);
    if (p->args) {
      put_lit(b, ",\"data\":");
      hl__jbuf_value(b, p->args);
    }
    break;
  case HL_PART_IMAGE:
    put_lit(b, "{\"type\":\"image\",\"url\":");
    hl__jbuf_string(b, p->text);
    put_opt(b, "media_type", p->name);
    break;
  default:
    return hl_fail(HL_ERR_INVALID, "message part has unknown kind %d", (int)p->kind);
  }
  put_opt(b, "signature", p->signature);
  hl__jbuf_raw(b, "}", 1);
  return HL_OK;
}

hl_status hl__message_write_json(hl__jbuf *b, const hl_message *msg, int max_depth) {
  if (!msg) return hl_fail(HL_ERR_INVALID, "message is NULL");
  put_lit(b, "{\"role\":");
  hl__jbuf_string(b, hl_role_name(msg->role));
  put_lit(b, ",\"content\":[");
  for (size_t i = 0; i < msg->n_parts; i++) {
    if (i) hl__jbuf_raw(b, ",", 1);
    hl_status st = put_part(b, &msg->parts[i], max_depth);
    if (st != HL_OK) return st;
  }
  put_lit(b, "]}");
  return b->failed ? hl_fail(HL_ERR_NOMEM, "out of memory") : HL_OK;
}
