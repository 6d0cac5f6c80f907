/*
 * redact.c - the API key out of a server's answer. A server may echo the
 * key in a 2xx body (a proxy's debug field, a model repeating its prompt);
 * openai.h promises the key never reaches an event or the answer, so once
 * a call is decoded every string of the decoded body (API_RESPONSE's data)
 * and of the response (texts, ids, names, signatures, tool arguments,
 * reasoning items) has each occurrence replaced by "[REDACTED]". It works
 * on decoded strings, so a key spelled with JSON escapes is caught too.
 * A plain body that cannot hold the key in any decoded string (no
 * occurrence in the text, no escape that could spell one of its
 * characters: hl__llm_body_may_hold) is not walked: the walk, strstr over
 * every string of the tree and of the response, was ~8,500 instructions
 * per session of scenario (b), for a key that is almost never there.
 * (A first version looked with memmem, which cost as much as the walk.)
 */
#include <stdlib.h>
#include <string.h>

#include "providers/llm.h"

/* *s with the secret replaced; false on allocation failure (then *s is
 * NULL and was freed). */
static bool redact_str(char **s, const char *secret) {
  if (!*s || !strstr(*s, secret)) return true;
  *s = hl__redact(*s, secret);
  return *s != NULL;
}

/* A cJSON-owned string (allocated by cJSON's hooks) with the secret
 * replaced: a new cJSON allocation. */
static bool redact_cjson_str(char **s, const char *secret) {
  if (!*s || !strstr(*s, secret)) return true;
  char *copy = strdup(*s);
  if (copy && !(copy = hl__redact(copy, secret))) return false;
  if (!copy) return false;
  size_t n = strlen(copy) + 1;
  char *mine = cJSON_malloc(n);
  if (!mine) {
    free(copy);
    return false;
  }
  memcpy(mine, copy, n);
  free(copy);
  cJSON_free(*s);
  *s = mine;
  return true;
}

static bool redact_tree(cJSON *j, const char *secret) {
  for (; j; j = j->next) {
    if (j->string && !(j->type & cJSON_StringIsConst) && !redact_cjson_str(&j->string, secret))
      return false;
    if (cJSON_IsString(j) && !(j->type & cJSON_IsReference) &&
        !redact_cjson_str(&j->valuestring, secret))
      return false;
    if (j->child && !(j->type & cJSON_IsReference) && !redact_tree(j->child, secret)) return false;
  }
  return true;
}

hl_status hl__llm_redact(const hl__llm *l, cJSON *data, hl_response *r) {
  const char *secret = l->api_key;
  if (!secret || !*secret) return HL_OK;
  bool ok = !data || redact_tree(data, secret);
  if (r) {
    ok = ok && redact_str(&r->id, secret) && redact_str(&r->model, secret);
    for (size_t i = 0; ok && r->message && i < r->message->n_parts; i++) {
      hl_part *p = &r->message->parts[i];
      ok = redact_str(&p->text, secret) && redact_str(&p->id, secret) &&
           redact_str(&p->name, secret) && redact_str(&p->signature, secret) &&
           (!p->args || redact_tree(p->args->child, secret));
    }
  }
  return ok ? HL_OK : hl_fail(HL_ERR_NOMEM, "%s: out of memory redacting the answer", l->name);
}

bool hl__llm_body_may_hold(const char *body, size_t len, const char *secret) {
  if (!secret || !*secret) return false;
  /* strstr below needs the text whole up to its NUL. */
  if (!body || strlen(body) != len) return true;
  for (const char *k = secret; *k; k++)
    if (*k == '"' || *k == '\\' || *k == '/' || (unsigned char)*k < 0x20) return true;
  /* A "\u" at any depth of escaping (tool arguments are JSON inside a
   * JSON string: "\\u0073") contains these two bytes. */
  return strstr(body, secret) != NULL || strstr(body, "\\u") != NULL;
}
