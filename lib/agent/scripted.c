/*
 * scripted.c - the deterministic scripted provider (scripted.h).
 *
 * A call goes through three phases:
 *   1. under the lock: record a deep copy of the request, then pick the
 *      step that answers it (queue, then rules, then fallback) and copy
 *      its response template;
 *   2. without the lock: fill in the template ($1..$9, {{input}},
 *      {{result}}), wait the delay while watching for cancellation;
 *   3. stream the text as deltas if asked, emit API_REQUEST/API_RESPONSE
 *      as a real provider would.
 * Picking under the lock makes the queue first come, first served across
 * threads; waiting outside it lets a slow step delay only its own caller.
 *
 * Where a rule is in its list of steps is read from the request itself:
 * the number of assistant messages after the last user message is the
 * number of model calls this run already made. That needs no per-run
 * state in the provider, so concurrent runs on one script stay
 * independent. A rule whose steps are used up no longer matches (the next
 * rule or the fallback answers), so a rule that ends in a tool call cannot
 * loop forever.
 */
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookline/json.h"
#include "hookline/observer.h"
#include "hookline/scripted.h"
#include "agent/agent_internal.h"
#include "core/util.h"

/* Longest delay a script may ask for, so that a typo cannot hang a test
 * suite for days. */
#define HL_SCRIPTED_MAX_DELAY_MS 600000u
/* Cancellation is checked at least this often during a delay. */
#define HL_SCRIPTED_SLICE_MS 5u
#define HL_SCRIPTED_MAX_GROUPS 10 /* $0 (unused) .. $9 */

typedef struct hl_step {
  hl_response *resp; /* template; NULL only in an unused slot */
  unsigned delay_ms;
} hl_step;

typedef struct hl_rule {
  char *pattern;
  regex_t re;
  hl_step *steps;
  size_t n_steps;
} hl_rule;

typedef struct hl_scripted {
  pthread_mutex_t lock;
  hl_step *queue; /* pending entries are [q_head, q_len) */
  size_t q_head, q_len, q_cap;
  hl_rule *rules;
  size_t n_rules, cap_rules;
  hl_step fallback;
  int has_fallback;
  unsigned delay_ms;
  hl_request **requests;
  size_t n_requests, cap_requests;
  uint64_t served;
} hl_scripted;

static hl_status hl_scripted_complete(void *impl, hl_context *ctx, const hl_request *req,
                                      hl_response **out);
static void hl_scripted_destroy(void *impl);

/* A named array, not a string literal: the linker may merge equal literals
 * of different files, but this object's address is ours alone, which is
 * how hl_scripted_of() recognises a scripted provider. */
static const char hl_scripted_name[] = "scripted";

static const hl_provider_ops hl_scripted_ops = {
    .size = sizeof(hl_provider_ops),
    .name = hl_scripted_name,
    .complete = hl_scripted_complete,
    .destroy = hl_scripted_destroy,
};

static void hl_step_clear(hl_step *s) {
  hl_response_free(s->resp);
  s->resp = NULL;
  s->delay_ms = 0;
}

static void hl_rule_clear(hl_rule *r) {
  for (size_t i = 0; i < r->n_steps; i++) hl_step_clear(&r->steps[i]);
  free(r->steps);
  if (r->pattern) regfree(&r->re);
  free(r->pattern);
  memset(r, 0, sizeof *r);
}

static void hl_scripted_destroy(void *impl) {
  hl_scripted *s = impl;
  if (!s) return;
  for (size_t i = s->q_head; i < s->q_len; i++) hl_step_clear(&s->queue[i]);
  free(s->queue);
  for (size_t i = 0; i < s->n_rules; i++) hl_rule_clear(&s->rules[i]);
  free(s->rules);
  hl_step_clear(&s->fallback);
  for (size_t i = 0; i < s->n_requests; i++) hl_request_free(s->requests[i]);
  free(s->requests);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

hl_provider *hl_scripted_new(void) {
  hl_scripted *s = calloc(1, sizeof *s);
  if (!s) {
    hl_fail(HL_ERR_NOMEM, "hl_scripted_new: out of memory");
    return NULL;
  }
  pthread_mutex_init(&s->lock, NULL);
  hl_provider *p = hl_provider_new(&hl_scripted_ops, s);
  if (!p) hl_scripted_destroy(s);
  return p;
}

/* The scripted state behind `p`, or NULL (message set) when `p` is some
 * other provider. The ops name pointer identifies ours. */
static hl_scripted *hl_scripted_of(hl_provider *p, const char *fn) {
  if (!p || hl_provider_name(p) != hl_scripted_ops.name || !hl_provider_impl(p)) {
    hl_fail(HL_ERR_INVALID, "%s: not a scripted provider", fn);
    return NULL;
  }
  return hl_provider_impl(p);
}

/* ------------------------------------------------------------------ */
/* Building the script                                                 */
/* ------------------------------------------------------------------ */

static hl_status hl_grow(void **items, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return HL_OK;
  size_t cap2 = *cap ? *cap : 4;
  while (cap2 < need) cap2 *= 2;
  void *n = realloc(*items, cap2 * elem);
  if (!n) return hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
  *items = n;
  *cap = cap2;
  return HL_OK;
}

/* Append a step to the queue (locked by the caller). Takes the response. */
static hl_status hl_queue_push_locked(hl_scripted *s, hl_step step) {
  /* Reclaim the consumed front before growing. */
  if (s->q_head > 0 && s->q_len == s->q_cap) {
    memmove(s->queue, s->queue + s->q_head, (s->q_len - s->q_head) * sizeof *s->queue);
    s->q_len -= s->q_head;
    s->q_head = 0;
  }
  hl_status st = hl_grow((void **)&s->queue, &s->q_cap, s->q_len + 1, sizeof *s->queue);
  if (st != HL_OK) return st;
  s->queue[s->q_len++] = step;
  return HL_OK;
}

hl_status hl_scripted_push(hl_provider *p, hl_response *response) {
  hl_scripted *s = hl_scripted_of(p, "hl_scripted_push");
  if (!s || !response || !response->message) {
    hl_response_free(response);
    return s ? hl_fail(HL_ERR_INVALID, "hl_scripted_push: response without a message")
             : hl_last_status();
  }
  pthread_mutex_lock(&s->lock);
  hl_status st = hl_queue_push_locked(s, (hl_step){.resp = response});
  pthread_mutex_unlock(&s->lock);
  if (st != HL_OK) hl_response_free(response);
  return st;
}

hl_status hl_scripted_push_text(hl_provider *p, const char *text) {
  if (!hl_scripted_of(p, "hl_scripted_push_text")) return hl_last_status();
  if (!text) return hl_fail(HL_ERR_INVALID, "hl_scripted_push_text: text is NULL");
  hl_response *r = hl_response_new_text(text);
  if (!r) return hl_fail(HL_ERR_NOMEM, "hl_scripted_push_text: out of memory");
  return hl_scripted_push(p, r);
}

hl_status hl_scripted_push_tool_call(hl_provider *p, const char *id, const char *name,
                                     const char *args_json) {
  if (!hl_scripted_of(p, "hl_scripted_push_tool_call")) return hl_last_status();
  if (!name || !name[0])
    return hl_fail(HL_ERR_INVALID, "hl_scripted_push_tool_call: name is empty");
  cJSON *args = NULL;
  if (args_json) {
    hl_status st = hl_json_parse(args_json, (size_t)-1, &args);
    if (st != HL_OK) {
      char why[900];
      snprintf(why, sizeof why, "%s", hl_last_error());
      return hl_fail(st, "hl_scripted_push_tool_call: args_json: %s", why);
    }
    if (!cJSON_IsObject(args)) {
      const char *type = hl_json_type_name(args);
      cJSON_Delete(args);
      return hl_fail(HL_ERR_INVALID,
                     "hl_scripted_push_tool_call: args_json: expected object, got %s", type);
    }
  }
  hl_response *r = hl_response_new();
  hl_status st = r ? hl_message_add_tool_call(r->message, id ? id : "call_1", name, args)
                   : hl_fail(HL_ERR_NOMEM, "hl_scripted_push_tool_call: out of memory");
  cJSON_Delete(args);
  if (st != HL_OK) {
    hl_response_free(r);
    return st;
  }
  r->finish = HL_FINISH_TOOL_CALLS;
  return hl_scripted_push(p, r);
}

void hl_scripted_set_delay_ms(hl_provider *p, unsigned delay_ms) {
  hl_scripted *s = hl_scripted_of(p, "hl_scripted_set_delay_ms");
  if (!s) return;
  if (delay_ms > HL_SCRIPTED_MAX_DELAY_MS) delay_ms = HL_SCRIPTED_MAX_DELAY_MS;
  pthread_mutex_lock(&s->lock);
  s->delay_ms = delay_ms;
  pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------ */
/* JSON scripts                                                        */
/* ------------------------------------------------------------------ */

/* A parsed script, built completely before anything is added so that a bad
 * script adds nothing. */
typedef struct hl_script {
  hl_step *steps;
  size_t n_steps, cap_steps;
  hl_rule *rules;
  size_t n_rules, cap_rules;
  hl_step fallback;
  int has_fallback;
} hl_script;

static void hl_script_clear(hl_script *sc) {
  for (size_t i = 0; i < sc->n_steps; i++) hl_step_clear(&sc->steps[i]);
  free(sc->steps);
  for (size_t i = 0; i < sc->n_rules; i++) hl_rule_clear(&sc->rules[i]);
  free(sc->rules);
  hl_step_clear(&sc->fallback);
  memset(sc, 0, sizeof *sc);
}

/* A JSON number that is a whole number in [0, max]. */
static int hl_is_count(const cJSON *v, double max) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  return d >= 0 && d <= max && d == (double)(int64_t)d;
}

/* Reject members other than `allowed` (NULL-terminated): a misspelt field
 * ("tool_call") would otherwise be ignored silently. */
static hl_status hl_check_fields(const cJSON *obj, const char *path,
                                 const char *const *allowed, const char *list) {
  for (const cJSON *m = obj->child; m; m = m->next) {
    int known = 0;
    for (const char *const *a = allowed; *a; a++)
      if (m->string && strcmp(m->string, *a) == 0) known = 1;
    if (!known)
      return hl_fail(HL_ERR_JSON, "%s.%s: unknown field (expected %s)", path,
                     m->string ? m->string : "", list);
  }
  return HL_OK;
}

static hl_status hl_parse_tool_call(const cJSON *j, const char *path, size_t index,
                                    hl_message *msg) {
  static const char *const fields[] = {"id", "name", "arguments", NULL};
  if (!cJSON_IsObject(j))
    return hl_fail(HL_ERR_JSON, "%s: expected object, got %s", path, hl_json_type_name(j));
  hl_status st = hl_check_fields(j, path, fields, "id, name, arguments");
  if (st != HL_OK) return st;
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(j, "arguments");
  if (id && !cJSON_IsString(id))
    return hl_fail(HL_ERR_JSON, "%s.id: expected string, got %s", path, hl_json_type_name(id));
  if (!name) return hl_fail(HL_ERR_JSON, "%s.name: missing", path);
  if (!cJSON_IsString(name) || !name->valuestring[0])
    return hl_fail(HL_ERR_JSON, "%s.name: expected a non-empty string", path);
  if (args && !cJSON_IsObject(args))
    return hl_fail(HL_ERR_JSON, "%s.arguments: expected object, got %s", path,
                   hl_json_type_name(args));
  char auto_id[32];
  snprintf(auto_id, sizeof auto_id, "call_%zu", index + 1);
  return hl_message_add_tool_call(msg, id ? id->valuestring : auto_id, name->valuestring,
                                  args);
}

static hl_status hl_parse_step(const cJSON *j, const char *path, hl_step *out) {
  static const char *const fields[] = {"text", "tool_calls", "usage", "delay_ms", NULL};
  memset(out, 0, sizeof *out);
  if (!cJSON_IsObject(j))
    return hl_fail(HL_ERR_JSON, "%s: expected object, got %s", path, hl_json_type_name(j));
  hl_status st = hl_check_fields(j, path, fields, "text, tool_calls, usage, delay_ms");
  if (st != HL_OK) return st;
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
  const cJSON *calls = cJSON_GetObjectItemCaseSensitive(j, "tool_calls");
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
  const cJSON *delay = cJSON_GetObjectItemCaseSensitive(j, "delay_ms");
  if (text && !cJSON_IsString(text))
    return hl_fail(HL_ERR_JSON, "%s.text: expected string, got %s", path,
                   hl_json_type_name(text));
  if (calls && !cJSON_IsArray(calls))
    return hl_fail(HL_ERR_JSON, "%s.tool_calls: expected array, got %s", path,
                   hl_json_type_name(calls));
  if (!text && !cJSON_GetArraySize(calls))
    return hl_fail(HL_ERR_JSON, "%s: a step needs \"text\" or \"tool_calls\"", path);
  if (delay && !hl_is_count(delay, HL_SCRIPTED_MAX_DELAY_MS))
    return hl_fail(HL_ERR_JSON, "%s.delay_ms: expected a whole number from 0 to %u", path,
                   HL_SCRIPTED_MAX_DELAY_MS);

  hl_response *r = hl_response_new();
  if (!r) return hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
  if (text && (st = hl_message_add_text(r->message, text->valuestring)) != HL_OK) goto fail;
  char sub[256];
  size_t i = 0;
  for (const cJSON *c = calls ? calls->child : NULL; c; c = c->next, i++) {
    snprintf(sub, sizeof sub, "%s.tool_calls[%zu]", path, i);
    if ((st = hl_parse_tool_call(c, sub, i, r->message)) != HL_OK) goto fail;
  }
  if (usage) {
    static const char *const ufields[] = {"input_tokens", "output_tokens", "cost", NULL};
    snprintf(sub, sizeof sub, "%s.usage", path);
    if (!cJSON_IsObject(usage)) {
      st = hl_fail(HL_ERR_JSON, "%s: expected object, got %s", sub, hl_json_type_name(usage));
      goto fail;
    }
    if ((st = hl_check_fields(usage, sub, ufields, "input_tokens, output_tokens, cost")) != HL_OK)
      goto fail;
    const char *keys[2] = {"input_tokens", "output_tokens"};
    int64_t *dst[2] = {&r->usage.input_tokens, &r->usage.output_tokens};
    for (int k = 0; k < 2; k++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, keys[k]);
      if (!v) continue;
      if (!hl_is_count(v, 1e15)) {
        st = hl_fail(HL_ERR_JSON, "%s.%s: expected a non-negative whole number", sub, keys[k]);
        goto fail;
      }
      *dst[k] = (int64_t)v->valuedouble;
    }
    const cJSON *cost = cJSON_GetObjectItemCaseSensitive(usage, "cost");
    if (cost) {
      if (!cJSON_IsNumber(cost) || !(cost->valuedouble >= 0)) {
        st = hl_fail(HL_ERR_JSON, "%s.cost: expected a non-negative number", sub);
        goto fail;
      }
      r->usage.cost = cost->valuedouble;
      r->usage.has_cost = true;
    }
  }
  r->finish = hl_message_tool_call_count(r->message) ? HL_FINISH_TOOL_CALLS : HL_FINISH_STOP;
  out->resp = r;
  out->delay_ms = delay ? (unsigned)delay->valuedouble : 0;
  return HL_OK;
fail:
  hl_response_free(r);
  return st;
}

static hl_status hl_parse_steps(const cJSON *arr, const char *path, hl_step **steps,
                                size_t *n, size_t *cap) {
  if (!cJSON_IsArray(arr))
    return hl_fail(HL_ERR_JSON, "%s: expected array, got %s", path, hl_json_type_name(arr));
  char sub[256];
  size_t i = 0;
  for (const cJSON *c = arr->child; c; c = c->next, i++) {
    hl_status st = hl_grow((void **)steps, cap, *n + 1, sizeof **steps);
    if (st != HL_OK) return st;
    snprintf(sub, sizeof sub, "%s[%zu]", path, i);
    if ((st = hl_parse_step(c, sub, &(*steps)[*n])) != HL_OK) return st;
    (*n)++;
  }
  return HL_OK;
}

static hl_status hl_parse_rule(const cJSON *j, const char *path, hl_rule *out) {
  static const char *const fields[] = {"match", "steps", NULL};
  memset(out, 0, sizeof *out);
  if (!cJSON_IsObject(j))
    return hl_fail(HL_ERR_JSON, "%s: expected object, got %s", path, hl_json_type_name(j));
  hl_status st = hl_check_fields(j, path, fields, "match, steps");
  if (st != HL_OK) return st;
  const cJSON *match = cJSON_GetObjectItemCaseSensitive(j, "match");
  const cJSON *steps = cJSON_GetObjectItemCaseSensitive(j, "steps");
  if (!match) return hl_fail(HL_ERR_JSON, "%s.match: missing", path);
  if (!cJSON_IsString(match))
    return hl_fail(HL_ERR_JSON, "%s.match: expected string, got %s", path,
                   hl_json_type_name(match));
  if (!steps) return hl_fail(HL_ERR_JSON, "%s.steps: missing", path);
  char sub[256];
  snprintf(sub, sizeof sub, "%s.steps", path);
  size_t cap = 0;
  st = hl_parse_steps(steps, sub, &out->steps, &out->n_steps, &cap);
  if (st == HL_OK && out->n_steps == 0)
    st = hl_fail(HL_ERR_JSON, "%s: expected at least one step", sub);
  if (st != HL_OK) {
    hl_rule_clear(out);
    return st;
  }
  int rc = regcomp(&out->re, match->valuestring, REG_EXTENDED | REG_ICASE);
  if (rc != 0) {
    char why[256];
    regerror(rc, &out->re, why, sizeof why);
    hl_rule_clear(out); /* pattern is NULL: no regfree of a failed regex */
    return hl_fail(HL_ERR_JSON, "%s.match: invalid regular expression: %s", path, why);
  }
  out->pattern = strdup(match->valuestring);
  if (!out->pattern) {
    regfree(&out->re);
    hl_rule_clear(out);
    return hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
  }
  return HL_OK;
}

static hl_status hl_parse_script(const cJSON *root, hl_script *sc) {
  static const char *const fields[] = {"responses", "rules", "fallback", NULL};
  if (!cJSON_IsObject(root))
    return hl_fail(HL_ERR_JSON, "$: expected object, got %s", hl_json_type_name(root));
  hl_status st = hl_check_fields(root, "$", fields, "responses, rules, fallback");
  if (st != HL_OK) return st;
  const cJSON *responses = cJSON_GetObjectItemCaseSensitive(root, "responses");
  const cJSON *rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
  const cJSON *fallback = cJSON_GetObjectItemCaseSensitive(root, "fallback");
  if (responses &&
      (st = hl_parse_steps(responses, "$.responses", &sc->steps, &sc->n_steps,
                           &sc->cap_steps)) != HL_OK)
    return st;
  if (rules) {
    if (!cJSON_IsArray(rules))
      return hl_fail(HL_ERR_JSON, "$.rules: expected array, got %s", hl_json_type_name(rules));
    char sub[64];
    size_t i = 0;
    for (const cJSON *c = rules->child; c; c = c->next, i++) {
      if ((st = hl_grow((void **)&sc->rules, &sc->cap_rules, sc->n_rules + 1,
                        sizeof *sc->rules)) != HL_OK)
        return st;
      snprintf(sub, sizeof sub, "$.rules[%zu]", i);
      if ((st = hl_parse_rule(c, sub, &sc->rules[sc->n_rules])) != HL_OK) return st;
      sc->n_rules++;
    }
  }
  if (fallback) {
    if ((st = hl_parse_step(fallback, "$.fallback", &sc->fallback)) != HL_OK) return st;
    sc->has_fallback = 1;
  }
  return HL_OK;
}

hl_status hl_scripted_load_json(hl_provider *p, const char *json_text) {
  hl_scripted *s = hl_scripted_of(p, "hl_scripted_load_json");
  if (!s) return hl_last_status();
  if (!json_text) return hl_fail(HL_ERR_INVALID, "hl_scripted_load_json: json_text is NULL");
  cJSON *root = NULL;
  hl_status st = hl_json_parse(json_text, (size_t)-1, &root);
  if (st != HL_OK) {
    char why[900];
    snprintf(why, sizeof why, "%s", hl_last_error());
    return hl_fail(st, "scripted script: %s", why);
  }
  hl_script sc = {0};
  st = hl_parse_script(root, &sc);
  cJSON_Delete(root);
  if (st != HL_OK) {
    hl_script_clear(&sc);
    return st;
  }

  pthread_mutex_lock(&s->lock);
  /* Reserve everything first so that the moves below cannot fail half way. */
  size_t pending = s->q_len - s->q_head;
  if (s->q_head > 0) {
    memmove(s->queue, s->queue + s->q_head, pending * sizeof *s->queue);
    s->q_len = pending;
    s->q_head = 0;
  }
  st = hl_grow((void **)&s->queue, &s->q_cap, s->q_len + sc.n_steps, sizeof *s->queue);
  if (st == HL_OK)
    st = hl_grow((void **)&s->rules, &s->cap_rules, s->n_rules + sc.n_rules, sizeof *s->rules);
  if (st == HL_OK) {
    if (sc.n_steps) memcpy(s->queue + s->q_len, sc.steps, sc.n_steps * sizeof *sc.steps);
    s->q_len += sc.n_steps;
    sc.n_steps = 0;
    if (sc.n_rules) memcpy(s->rules + s->n_rules, sc.rules, sc.n_rules * sizeof *sc.rules);
    s->n_rules += sc.n_rules;
    sc.n_rules = 0;
    if (sc.has_fallback) {
      hl_step_clear(&s->fallback);
      s->fallback = sc.fallback;
      s->has_fallback = 1;
      sc.fallback = (hl_step){0};
    }
  }
  pthread_mutex_unlock(&s->lock);
  hl_script_clear(&sc);
  return st;
}

hl_status hl_scripted_load_file(hl_provider *p, const char *path) {
  if (!hl_scripted_of(p, "hl_scripted_load_file")) return hl_last_status();
  if (!path) return hl_fail(HL_ERR_INVALID, "hl_scripted_load_file: path is NULL");
  FILE *f = fopen(path, "rb");
  if (!f) return hl_fail(HL_ERR_IO, "cannot open script %s: %s", path, strerror(errno));
  char *buf = NULL;
  size_t len = 0, cap = 0;
  hl_status st = HL_OK;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      size_t cap2 = cap ? cap * 2 : 8192;
      if (cap2 > (size_t)64 << 20) { /* a script is text, not a data set */
        st = hl_fail(HL_ERR_TOO_LARGE, "script %s is larger than 64 MiB", path);
        break;
      }
      char *n = realloc(buf, cap2);
      if (!n) {
        st = hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
        break;
      }
      buf = n;
      cap = cap2;
    }
    size_t got = fread(buf + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0) {
      if (ferror(f)) st = hl_fail(HL_ERR_IO, "cannot read script %s", path);
      break;
    }
  }
  fclose(f);
  if (st == HL_OK) {
    cJSON *root = NULL;
    st = hl_json_parse(buf, len, &root);
    if (st != HL_OK) {
      char why[800];
      snprintf(why, sizeof why, "%s", hl_last_error());
      st = hl_fail(st, "script %s: %s", path, why);
    } else {
      cJSON_Delete(root);
      buf[len] = '\0';
      st = hl_scripted_load_json(p, buf);
      if (st != HL_OK) {
        char why[800];
        snprintf(why, sizeof why, "%s", hl_last_error());
        st = hl_fail(st, "script %s: %s", path, why);
      }
    }
  }
  free(buf);
  return st;
}

/* ------------------------------------------------------------------ */
/* Inspection                                                          */
/* ------------------------------------------------------------------ */

size_t hl_scripted_request_count(hl_provider *p) {
  hl_scripted *s = hl_scripted_of(p, "hl_scripted_request_count");
  if (!s) return 0;
  pthread_mutex_lock(&s->lock);
  size_t n = s->n_requests;
  pthread_mutex_unlock(&s->lock);
  return n;
}

hl_request *hl_scripted_request(hl_provider *p, size_t i) {
  hl_scripted *s = hl_scripted_of(p, "hl_scripted_request");
  if (!s) return NULL;
  pthread_mutex_lock(&s->lock);
  hl_request *copy = i < s->n_requests ? hl_request_clone(s->requests[i]) : NULL;
  pthread_mutex_unlock(&s->lock);
  return copy;
}

size_t hl_scripted_remaining(hl_provider *p) {
  hl_scripted *s = hl_scripted_of(p, "hl_scripted_remaining");
  if (!s) return 0;
  pthread_mutex_lock(&s->lock);
  size_t n = s->q_len - s->q_head;
  pthread_mutex_unlock(&s->lock);
  return n;
}

/* ------------------------------------------------------------------ */
/* Answering                                                           */
/* ------------------------------------------------------------------ */

/* What the placeholders of the chosen step stand for. */
typedef struct hl_fill {
  const char *input;  /* last user message */
  const char *result; /* content of the last tool result, "" if none */
  int have_groups;    /* $1..$9 are defined (a rule answered) */
  regmatch_t groups[HL_SCRIPTED_MAX_GROUPS];
} hl_fill;

/* Text of the last user message (for hl_free()), and how many assistant
 * messages follow it: the number of model calls this run already made. */
static char *hl_last_user_input(const hl_request *req, size_t *calls_since) {
  *calls_since = 0;
  for (size_t i = req->messages.count; i-- > 0;) {
    const hl_message *m = req->messages.items[i];
    if (m->role == HL_ROLE_ASSISTANT) (*calls_since)++;
    if (m->role == HL_ROLE_USER) return hl_message_text(m);
  }
  *calls_since = 0;
  return strdup("");
}

static const char *hl_last_tool_result(const hl_request *req) {
  for (size_t i = req->messages.count; i-- > 0;) {
    const hl_message *m = req->messages.items[i];
    for (size_t k = m->n_parts; k-- > 0;)
      if (m->parts[k].kind == HL_PART_TOOL_RESULT && m->parts[k].text) return m->parts[k].text;
  }
  return "";
}

/* `tmpl` with its placeholders filled in, for free(); NULL on no memory. */
static char *hl_fill_string(const char *tmpl, const hl_fill *f) {
  size_t cap = strlen(tmpl) + 64, len = 0;
  char *out = malloc(cap);
  if (!out) return NULL;
  for (const char *p = tmpl; *p;) {
    const char *rep = NULL;
    size_t rep_len = 0, skip = 1;
    if (p[0] == '$' && p[1] >= '1' && p[1] <= '9' && f->have_groups) {
      const regmatch_t *g = &f->groups[p[1] - '0'];
      rep = g->rm_so >= 0 ? f->input + g->rm_so : "";
      rep_len = g->rm_so >= 0 ? (size_t)(g->rm_eo - g->rm_so) : 0;
      skip = 2;
    } else if (strncmp(p, "{{input}}", 9) == 0) {
      rep = f->input;
      rep_len = strlen(rep);
      skip = 9;
    } else if (strncmp(p, "{{result}}", 10) == 0) {
      rep = f->result;
      rep_len = strlen(rep);
      skip = 10;
    } else {
      rep = p;
      rep_len = 1;
    }
    if (len + rep_len + 1 > cap) {
      while (len + rep_len + 1 > cap) cap *= 2;
      char *n = realloc(out, cap);
      if (!n) {
        free(out);
        return NULL;
      }
      out = n;
    }
    memcpy(out + len, rep, rep_len);
    len += rep_len;
    p += skip;
  }
  out[len] = '\0';
  return out;
}

static int hl_fill_json(cJSON *v, const hl_fill *f) {
  if (cJSON_IsString(v) && v->valuestring) {
    if (!strchr(v->valuestring, '$') && !strstr(v->valuestring, "{{")) return 1;
    char *s = hl_fill_string(v->valuestring, f);
    int ok = s && cJSON_SetValuestring(v, s) != NULL;
    free(s);
    return ok;
  }
  for (cJSON *c = v->child; c; c = c->next)
    if (!hl_fill_json(c, f)) return 0;
  return 1;
}

static hl_status hl_fill_response(hl_response *r, const hl_fill *f) {
  hl_message *m = r->message;
  for (size_t i = 0; i < m->n_parts; i++) {
    hl_part *part = &m->parts[i];
    if (part->kind == HL_PART_TEXT && part->text) {
      char *s = hl_fill_string(part->text, f);
      if (!s) return hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
      free(part->text);
      part->text = s;
    } else if (part->kind == HL_PART_TOOL_CALL && part->args) {
      if (!hl_fill_json(part->args, f)) return hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
    }
  }
  return HL_OK;
}

/* Phase 1 (locked): record the request, then (unless the run is already
 * cancelled) choose the step and copy its template. On HL_OK *resp is the
 * copy and *delay the total delay. */
static hl_status hl_pick_locked(hl_scripted *s, hl_context *ctx, const hl_request *req,
                                const char *input, size_t calls_since, hl_fill *fill,
                                hl_response **resp, unsigned *delay) {
  hl_request *copy = hl_request_clone(req);
  if (!copy) return hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
  hl_status st = hl_grow((void **)&s->requests, &s->cap_requests, s->n_requests + 1,
                         sizeof *s->requests);
  if (st != HL_OK) {
    hl_request_free(copy);
    return st;
  }
  s->requests[s->n_requests++] = copy;
  if (ctx && hl_context_cancelled(ctx)) return hl_fail(HL_ERR_CANCELLED, "scripted: cancelled");

  const hl_step *step = NULL;
  int from_queue = s->q_head < s->q_len;
  if (from_queue) {
    step = &s->queue[s->q_head];
  } else {
    for (size_t i = 0; i < s->n_rules && !step; i++) {
      hl_rule *r = &s->rules[i];
      if (calls_since < r->n_steps &&
          regexec(&r->re, input, HL_SCRIPTED_MAX_GROUPS, fill->groups, 0) == 0) {
        step = &r->steps[calls_since];
        fill->have_groups = 1;
      }
    }
    if (!step && s->has_fallback) step = &s->fallback;
  }
  if (!step)
    return hl_fail(HL_ERR_PROVIDER,
                   "scripted: script exhausted at request %zu (no queued response, "
                   "no matching rule, no fallback)",
                   s->n_requests);
  *resp = hl_response_clone(step->resp);
  if (!*resp) return hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
  *delay = step->delay_ms + s->delay_ms;
  if (from_queue) {
    hl_step_clear(&s->queue[s->q_head]);
    s->q_head++;
    if (s->q_head == s->q_len) s->q_head = s->q_len = 0;
  }
  return HL_OK;
}

static int hl_cancelled(hl_context *ctx) { return ctx && hl_context_cancelled(ctx); }

/* Wait `ms` in small slices; HL_ERR_CANCELLED as soon as the run is. */
static hl_status hl_wait(hl_context *ctx, unsigned ms) {
  while (ms > 0) {
    if (hl_cancelled(ctx)) return hl_fail(HL_ERR_CANCELLED, "scripted: cancelled");
    unsigned slice = ms < HL_SCRIPTED_SLICE_MS ? ms : HL_SCRIPTED_SLICE_MS;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)slice * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
    ms -= slice;
  }
  if (hl_cancelled(ctx)) return hl_fail(HL_ERR_CANCELLED, "scripted: cancelled");
  return HL_OK;
}

/* Emit each word with the spaces that follow it, so that the deltas
 * concatenate to the exact text. A hook's abort (model_chunk) ends the
 * stream with its status. A token callback may take its time (a terminal
 * showing words one by one): a cancelled run stops at the next word with
 * HL_ERR_CANCELLED instead of streaming to the end. */
static hl_status hl_stream_words(hl_context *ctx, const char *text) {
  const char *p = text;
  while (*p) {
    if (hl_cancelled(ctx)) return hl_fail(HL_ERR_CANCELLED, "scripted: cancelled");
    const char *q = p;
    while (*q && *q != ' ' && *q != '\n' && *q != '\t') q++;
    while (*q == ' ' || *q == '\n' || *q == '\t') q++;
    char *word = strndup(p, (size_t)(q - p));
    if (!word) return hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
    hl_status st = hl_context_emit_delta(ctx, word);
    free(word);
    if (st != HL_OK) return st;
    p = q;
  }
  return hl_cancelled(ctx) ? hl_fail(HL_ERR_CANCELLED, "scripted: cancelled") : HL_OK;
}

/* Stream each tool call's arguments as JSON text in pieces that end
 * after each ',' (as a server streams them: not split where JSON is). */
static hl_status hl_stream_tool_args(hl_context *ctx, const hl_message *msg) {
  size_t k = 0;
  for (size_t i = 0; msg && i < msg->n_parts; i++) {
    const hl_part *part = &msg->parts[i];
    if (part->kind != HL_PART_TOOL_CALL) continue;
    char *json = part->args ? hl__json_print_exact(part->args) : strdup("{}");
    if (!json) return hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
    hl_status st = HL_OK;
    for (char *p = json; *p && st == HL_OK;) {
      char *q = strchr(p, ',');
      q = q ? q + 1 : p + strlen(p);
      char save = *q;
      *q = '\0';
      st = hl_context_emit_tool_delta(ctx, k, part->id, part->name, p);
      *q = save;
      p = q;
    }
    free(json);
    if (st != HL_OK) return st;
    k++;
  }
  return HL_OK;
}

static double hl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Building the payloads costs more than the rest of a scripted answer, so
 * it is skipped when no observer would see them. */
static bool hl_observed(hl_context *ctx, hl_event_type type) {
  return ctx && hl__ctx_wants(ctx, type);
}

static void hl_emit_api_response(hl_context *ctx, const hl_response *resp, hl_status st,
                                 double t0) {
  if (!hl_observed(ctx, HL_EVENT_API_RESPONSE)) return;
  hl_event ev = {0};
  ev.type = HL_EVENT_API_RESPONSE;
  ev.name = hl_scripted_ops.name;
  cJSON *data = resp ? hl_response_to_json(resp) : NULL;
  hl__event_built.payloads++;
  ev.data = data;
  ev.usage = resp ? &resp->usage : NULL;
  ev.duration_ms = hl_now_ms() - t0;
  /* The message must outlive the observers, which may call hl_fail(). */
  char msg[1024] = "";
  if (st != HL_OK) snprintf(msg, sizeof msg, "%s", hl_last_error());
  ev.error = (hl_error){.status = st, .message = msg};
  hl_context_emit(ctx, &ev);
  cJSON_Delete(data);
  if (st != HL_OK) hl_fail(st, "%s", msg); /* observers cannot change our error */
}

static hl_status hl_scripted_complete(void *impl, hl_context *ctx, const hl_request *req,
                                      hl_response **out) {
  hl_scripted *s = impl;
  *out = NULL;
  double t0 = hl_now_ms();
  if (hl_observed(ctx, HL_EVENT_API_REQUEST)) {
    hl_event ev = {0};
    ev.type = HL_EVENT_API_REQUEST;
    ev.name = hl_scripted_ops.name;
    cJSON *payload = hl_request_to_json(req);
    hl__event_built.payloads++;
    ev.data = payload;
    hl_context_emit(ctx, &ev);
    cJSON_Delete(payload);
  }
  size_t calls_since = 0;
  char *input = hl_last_user_input(req, &calls_since);
  if (!input) {
    hl_status st = hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
    hl_emit_api_response(ctx, NULL, st, t0);
    return st;
  }

  hl_fill fill = {.input = input, .result = hl_last_tool_result(req)};
  hl_response *resp = NULL;
  unsigned delay = 0;
  pthread_mutex_lock(&s->lock);
  hl_status st = hl_pick_locked(s, ctx, req, input, calls_since, &fill, &resp, &delay);
  uint64_t serial = ++s->served;
  pthread_mutex_unlock(&s->lock);

  if (st == HL_OK) st = hl_fill_response(resp, &fill);
  if (st == HL_OK) st = hl_wait(ctx, delay);
  if (st == HL_OK) {
    if (resp->finish == HL_FINISH_UNKNOWN)
      resp->finish = hl_message_tool_call_count(resp->message) ? HL_FINISH_TOOL_CALLS
                                                               : HL_FINISH_STOP;
    char id[48];
    snprintf(id, sizeof id, "scripted-%llu", (unsigned long long)serial);
    if (!resp->id && !(resp->id = strdup(id))) st = hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
    if (st == HL_OK && !resp->model &&
        !(resp->model = strdup(req->model ? req->model : "scripted")))
      st = hl_fail(HL_ERR_NOMEM, "scripted: out of memory");
  }
  if (st == HL_OK && req->stream && ctx) {
    char *text = hl_message_text(resp->message);
    if (text) st = hl_stream_words(ctx, text);
    free(text);
    if (st == HL_OK) st = hl_stream_tool_args(ctx, resp->message);
  }
  free(input);
  if (st != HL_OK) {
    hl_response_free(resp);
    hl_emit_api_response(ctx, NULL, st, t0);
    return st;
  }
  hl_emit_api_response(ctx, resp, HL_OK, t0);
  *out = resp;
  return HL_OK;
}
