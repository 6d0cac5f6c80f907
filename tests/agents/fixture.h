/*
 * tests/agents/fixture.h - helpers for the workflow agent tests: LLM
 * agents on their own scripted providers, and a thread-safe trace of the
 * branches hooks fired on.
 */
#ifndef HL_AGENTS_FIXTURE_H
#define HL_AGENTS_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"
#include "hooks/check_run.h"

/* An LLM agent answering `texts` (NULL-terminated) in order, each from its
 * own scripted provider so that parallel children stay deterministic.
 * *provider (if not NULL) receives a borrowed pointer to the provider. */
static inline hl_agent *fx_llm(const char *name, const char *const *texts,
                               hl_provider **provider)
{
  hl_agent *a = hl_agent_new(name);
  hl_provider *p = hl_scripted_new();
  for (size_t i = 0; texts && texts[i]; i++)
    hl_scripted_push_text(p, texts[i]);
  hl_agent_set_instruction(a, "test agent");
  hl_agent_set_provider(a, p);
  if (provider)
    *provider = p;
  hl_provider_unref(p);   /* the agent holds it */
  return a;
}

/* Add `child` to `parent` and drop the caller's reference. */
static inline void fx_adopt(hl_agent *parent, hl_agent *child)
{
  hl_agent_add_sub_agent(parent, child);
  hl_agent_unref(child);
}

/* A list of strings appended from any thread. */
typedef struct fx_trace {
  pthread_mutex_t lock;
  char *items[256];
  int n;
} fx_trace;

#define FX_TRACE_INIT {.lock = PTHREAD_MUTEX_INITIALIZER}

static inline void fx_trace_add(fx_trace *t, const char *fmt, const char *a, const char *b)
{
  char buf[512];
  snprintf(buf, sizeof buf, fmt, a, b);
  pthread_mutex_lock(&t->lock);
  if (t->n < 256)
    t->items[t->n++] = strdup(buf);
  pthread_mutex_unlock(&t->lock);
}

static inline int fx_trace_count(fx_trace *t, const char *item)
{
  int n = 0;
  pthread_mutex_lock(&t->lock);
  for (int i = 0; i < t->n; i++)
    n += strcmp(t->items[i], item) == 0;
  pthread_mutex_unlock(&t->lock);
  return n;
}

/* Index of the first occurrence of `item`, -1 if absent. */
static inline int fx_trace_index(fx_trace *t, const char *item)
{
  int at = -1;
  pthread_mutex_lock(&t->lock);
  for (int i = 0; i < t->n && at < 0; i++)
    if (strcmp(t->items[i], item) == 0)
      at = i;
  pthread_mutex_unlock(&t->lock);
  return at;
}

static inline void fx_trace_dump(fx_trace *t)
{
  for (int i = 0; i < t->n; i++)
    fprintf(stderr, "  trace[%d] %s\n", i, t->items[i]);
}

static inline void fx_trace_clear(fx_trace *t)
{
  pthread_mutex_lock(&t->lock);
  for (int i = 0; i < t->n; i++)
    free(t->items[i]);
  t->n = 0;
  pthread_mutex_unlock(&t->lock);
}

/* before_agent hook: records "<branch>" in the fx_trace given as user_data. */
static inline hl_hook_action fx_record_agent(hl_context *ctx, const hl_before_agent_args *in_, hl_before_agent_out *out_, void *ud) {  /* v1 names */
  char **answer = &out_->answer;
  (void)in_;
  (void)answer;
  fx_trace_add(ud, "%s%s", hl_context_branch(ctx), "");
  return HL_HOOK_CONTINUE;
}

/* before_model hook: records "model <branch>". */
static inline hl_hook_action fx_record_model(hl_context *ctx, const hl_before_model_args *in_, hl_before_model_out *out_, void *ud) {  /* v1 names */
  hl_request *req = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **resp = &out_->response;
  (void)req;
  (void)resp;
  fx_trace_add(ud, "model %s%s", hl_context_branch(ctx), "");
  return HL_HOOK_CONTINUE;
}

/* before_tool hook: records "tool <branch> <name>". */
static inline hl_hook_action fx_record_tool(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)args;
  (void)result;
  fx_trace_add(ud, "tool %s %s", hl_context_branch(ctx), call->name);
  return HL_HOOK_CONTINUE;
}

/* State `key` of `s` as a string for free(), or NULL. */
static inline char *fx_state(hl_session *s, const char *key)
{
  return hl_session_state_get_string(s, key);
}

/* Number of collected CUSTOM events called `name`. */
static inline int fx_custom_count(hl_observer *collecting, const char *name)
{
  cJSON *all = hl_observer_collected(collecting);
  int n = 0;
  const cJSON *ev;
  cJSON_ArrayForEach(ev, all) {
    const char *type = hl_json_get_string(ev, "type");
    const char *nm = hl_json_get_string(ev, "name");
    if (type && nm && !strcmp(type, "custom") && !strcmp(nm, name))
      n++;
  }
  cJSON_Delete(all);
  return n;
}

/* Does any text or tool result of the i-th request of `p` contain `needle`? */
static inline int fx_request_mentions(hl_provider *p, size_t i, const char *needle)
{
  hl_request *req = hl_scripted_request(p, i);
  int found = 0;
  for (size_t m = 0; req && m < req->messages.count && !found; m++) {
    const hl_message *msg = req->messages.items[m];
    for (size_t k = 0; k < msg->n_parts && !found; k++)
      found = msg->parts[k].text && strstr(msg->parts[k].text, needle) != NULL;
  }
  hl_request_free(req);
  return found;
}

/* The last message's text of the i-th request of `p`, for hl_free(). */
static inline char *fx_request_last(hl_provider *p, size_t i)
{
  hl_request *req = hl_scripted_request(p, i);
  char *t = req && req->messages.count
                ? hl_message_text(req->messages.items[req->messages.count - 1])
                : NULL;
  hl_request_free(req);
  return t;
}

#endif
