/*
 * hooks/rate_limiter.c - token buckets per user, per model and per tool,
 * shared by every run and thread of the process (guards.h).
 *
 * A call that must wait reserves its token at once (the bucket may go
 * below zero) and then sleeps until the reservation is due: waiters are
 * served in arrival order and the configured rate holds exactly, with no
 * retry loop re-reading the bucket.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookline/context.h"
#include "hookline/guards.h"
#include "hookline/json.h"
#include "plugin_options.h"
#include "plugin_util.h"

typedef struct bucket_spec {
  bool set;
  double rate, burst;
} bucket_spec;

typedef struct bucket {
  char *key;          /* "user:alice", "model:gpt", "tool:search" */
  double tokens;
  double last;        /* seconds, monotonic */
} bucket;

typedef enum { POLICY_WAIT, POLICY_REFUSE, POLICY_ABORT } policy;

struct hl_rate_limiter {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  bucket_spec user, model, tool;
  cJSON *tools;         /* {"name": {"rate":, "burst":}} per-tool overrides (validated) */
  policy policy;
  double max_wait;      /* seconds */
  pthread_mutex_t mu;
  bucket *buckets;
  size_t n_buckets, cap_buckets;
  atomic_uint_fast64_t waited, limited;
};

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void limiter_destroy(void *self)
{
  hl_rate_limiter *rl = self;
  for (size_t i = 0; i < rl->n_buckets; i++)
    free(rl->buckets[i].key);
  free(rl->buckets);
  cJSON_Delete(rl->tools);
  pthread_mutex_destroy(&rl->mu);
  free(rl);
}

/* {"rate": R, "burst": B} at `path` ("user", "tools.search"). */
static hl_status read_spec(const cJSON *v, const char *path, bucket_spec *out)
{
  static const char *const known[] = {"rate", "burst", NULL};
  if (!v)
    return HL_OK;
  if (!cJSON_IsObject(v))
    return hl_fail(HL_ERR_INVALID, "$.%s: expected an object {\"rate\": R, \"burst\": B}, got %s",
                   path, hl_json_type_name(v));
  hl_status st = hl__opt_known(v, known);
  if (st != HL_OK) {
    char why[400];
    snprintf(why, sizeof why, "%s", hl_last_error());
    return hl_fail(st, "$.%s.%s", path, why + 2);
  }
  const cJSON *rate = cJSON_GetObjectItemCaseSensitive(v, "rate");
  const cJSON *burst = cJSON_GetObjectItemCaseSensitive(v, "burst");
  if (!cJSON_IsNumber(rate) || !(rate->valuedouble > 0) || !isfinite(rate->valuedouble))
    return hl_fail(HL_ERR_INVALID, "$.%s.rate: expected a number of tokens per second > 0, got %s",
                   path, cJSON_IsNumber(rate) ? "a smaller one" : hl_json_type_name(rate));
  if (burst && (!cJSON_IsNumber(burst) || burst->valuedouble < 1 || !isfinite(burst->valuedouble)))
    return hl_fail(HL_ERR_INVALID, "$.%s.burst: expected a number >= 1, got %s", path,
                   cJSON_IsNumber(burst) ? "a smaller one" : hl_json_type_name(burst));
  *out = (bucket_spec){.set = true, .rate = rate->valuedouble,
                       .burst = burst ? burst->valuedouble : 1};
  return HL_OK;
}

hl_rate_limiter *hl_rate_limiter_new(const cJSON *options)
{
  static const char *const known[] = {"user", "model", "tool", "tools", "policy", "max_wait_ms", NULL};
  cJSON *empty = options ? NULL : cJSON_CreateObject();
  const cJSON *opts = options ? options : empty;
  hl_rate_limiter *rl = calloc(1, sizeof *rl);
  if (!rl || !opts) {
    free(rl);
    cJSON_Delete(empty);
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  hl__plugin_ref_init(&rl->ref, limiter_destroy);
  pthread_mutex_init(&rl->mu, NULL);
  atomic_init(&rl->waited, 0);
  atomic_init(&rl->limited, 0);
  const char *pol;
  const cJSON *tools;
  int64_t max_wait_ms;
  hl_status st;
  if (!cJSON_IsObject(opts))
    st = hl_fail(HL_ERR_INVALID, "$: options must be an object, got %s", hl_json_type_name(opts));
  else if ((st = hl__opt_known(opts, known)) ||
           (st = read_spec(hl_json_get(opts, "user"), "user", &rl->user)) ||
           (st = read_spec(hl_json_get(opts, "model"), "model", &rl->model)) ||
           (st = read_spec(hl_json_get(opts, "tool"), "tool", &rl->tool)) ||
           (st = hl__opt_object(opts, "tools", &tools)) ||
           (st = hl__opt_string(opts, "policy", "wait", &pol)) ||
           (st = hl__opt_int(opts, "max_wait_ms", 10000, 0, 86400000, &max_wait_ms)))
    ;
  else if (strcmp(pol, "wait") && strcmp(pol, "refuse") && strcmp(pol, "abort"))
    st = hl_fail(HL_ERR_INVALID, "$.policy: expected \"wait\", \"refuse\" or \"abort\", got \"%.40s\"", pol);
  if (st == HL_OK) {
    rl->policy = !strcmp(pol, "wait") ? POLICY_WAIT : !strcmp(pol, "refuse") ? POLICY_REFUSE : POLICY_ABORT;
    rl->max_wait = (double)max_wait_ms / 1000.0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
      char path[300];
      bucket_spec spec;
      snprintf(path, sizeof path, "tools.%s", t->string);
      if ((st = read_spec(t, path, &spec)))
        break;
    }
    if (st == HL_OK && tools && !(rl->tools = hl_json_clone(tools)))
      st = hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  cJSON_Delete(empty);
  if (st != HL_OK) {
    hl__plugin_release(rl);
    return NULL;
  }
  return rl;
}

hl_rate_limiter *hl_rate_limiter_ref(hl_rate_limiter *rl)
{
  hl__plugin_retain(rl);
  return rl;
}

void hl_rate_limiter_unref(hl_rate_limiter *rl)
{
  hl__plugin_release(rl);
}

uint64_t hl_rate_limiter_waited(const hl_rate_limiter *rl)
{
  return rl ? atomic_load(&((hl_rate_limiter *)rl)->waited) : 0;
}

uint64_t hl_rate_limiter_limited(const hl_rate_limiter *rl)
{
  return rl ? atomic_load(&((hl_rate_limiter *)rl)->limited) : 0;
}

/* Take one token of bucket `key`: 0 if there was one; otherwise the
 * seconds until there is (> 0). With `reserve` the token is taken anyway
 * (the bucket goes negative) so that the caller may sleep that long. -1
 * on out of memory. */
static double take(hl_rate_limiter *rl, const char *key, const bucket_spec *spec, bool reserve,
                   double limit)
{
  pthread_mutex_lock(&rl->mu);
  bucket *b = NULL;
  for (size_t i = 0; i < rl->n_buckets && !b; i++)
    if (strcmp(rl->buckets[i].key, key) == 0)
      b = &rl->buckets[i];
  double t = now_s();
  if (!b) {
    if (rl->n_buckets == rl->cap_buckets) {
      size_t cap = rl->cap_buckets ? rl->cap_buckets * 2 : 16;
      bucket *g = realloc(rl->buckets, cap * sizeof *g);
      if (!g) {
        pthread_mutex_unlock(&rl->mu);
        return -1;
      }
      rl->buckets = g;
      rl->cap_buckets = cap;
    }
    char *k = strdup(key);
    if (!k) {
      pthread_mutex_unlock(&rl->mu);
      return -1;
    }
    b = &rl->buckets[rl->n_buckets++];
    *b = (bucket){.key = k, .tokens = spec->burst, .last = t};
  }
  b->tokens = fmin(spec->burst, b->tokens + (t - b->last) * spec->rate);
  b->last = t;
  double wait = 0;
  if (b->tokens >= 1) {
    b->tokens -= 1;
  } else {
    wait = (1 - b->tokens) / spec->rate;
    if (reserve && wait <= limit)
      b->tokens -= 1;
  }
  pthread_mutex_unlock(&rl->mu);
  return wait;
}

/* Sleep `seconds` in slices, returning early (false) if the run is cancelled. */
static bool nap(hl_context *ctx, double seconds)
{
  double end = now_s() + seconds;
  for (double left; (left = end - now_s()) > 0;) {
    if (hl_context_cancelled(ctx))
      return false;
    double slice = fmin(left, 0.02);
    struct timespec ts = {.tv_sec = (time_t)slice, .tv_nsec = (long)((slice - (double)(time_t)slice) * 1e9)};
    nanosleep(&ts, NULL);
  }
  return true;
}

typedef enum { PASS, LIMITED, FAILED } verdict;

/* Apply the policy for bucket `key`; on LIMITED `msg` says why. */
static verdict admit(hl_rate_limiter *rl, hl_context *ctx, const char *key, const bucket_spec *spec,
                     char *msg, size_t msglen, long *retry_ms)
{
  double wait = take(rl, key, spec, rl->policy == POLICY_WAIT, rl->max_wait);
  if (wait < 0)
    return FAILED;
  if (wait == 0)
    return PASS;
  *retry_ms = (long)ceil(wait * 1000);
  if (rl->policy == POLICY_WAIT && wait <= rl->max_wait) {
    atomic_fetch_add(&rl->waited, 1);
    if (nap(ctx, wait))
      return PASS;
    snprintf(msg, msglen, "cancelled while waiting for rate limit bucket %s", key);
    return LIMITED;
  }
  atomic_fetch_add(&rl->limited, 1);
  snprintf(msg, msglen, "rate limit of bucket %s reached: next token in %ld ms", key, *retry_ms);
  return LIMITED;
}

static hl_hook_action rl_before_agent(hl_context *ctx, const hl_before_agent_args *args,
                                      hl_before_agent_out *out, void *ud)
{
  (void)args;
  hl_rate_limiter *rl = ud;
  char key[300], msg[400];
  long retry = 0;
  const char *user = hl_context_user_id(ctx);
  snprintf(key, sizeof key, "user:%.200s", user && user[0] ? user : "anonymous");
  verdict v = admit(rl, ctx, key, &rl->user, msg, sizeof msg, &retry);
  if (v == PASS)
    return HL_HOOK_CONTINUE;
  if (v == FAILED || rl->policy != POLICY_REFUSE)
    return hl_hook_abort("rate_limiter: %s", v == FAILED ? "out of memory" : msg);
  char answer[460];
  snprintf(answer, sizeof answer, "Rate limited: %s.", msg);
  out->answer = strdup(answer);
  return out->answer ? HL_HOOK_OVERRIDE : hl_hook_abort("rate_limiter: %s", msg);
}

static hl_hook_action rl_before_model(hl_context *ctx, const hl_before_model_args *args,
                                      hl_before_model_out *out, void *ud)
{
  hl_rate_limiter *rl = ud;
  char key[300], msg[400];
  long retry = 0;
  snprintf(key, sizeof key, "model:%.200s", args->request->model ? args->request->model : "default");
  verdict v = admit(rl, ctx, key, &rl->model, msg, sizeof msg, &retry);
  if (v == PASS)
    return HL_HOOK_CONTINUE;
  if (v == FAILED || rl->policy != POLICY_REFUSE)
    return hl_hook_abort("rate_limiter: %s", v == FAILED ? "out of memory" : msg);
  char text[460];
  snprintf(text, sizeof text, "Rate limited: %s.", msg);
  out->response = hl_response_new_text(text);
  return out->response ? HL_HOOK_OVERRIDE : hl_hook_abort("rate_limiter: %s", msg);
}

static hl_hook_action rl_before_tool(hl_context *ctx, const hl_before_tool_args *args,
                                     hl_before_tool_out *out, void *ud)
{
  hl_rate_limiter *rl = ud;
  const char *name = args->call && args->call->name ? args->call->name : "";
  bucket_spec own = {0};
  const cJSON *spec = rl->tools ? cJSON_GetObjectItemCaseSensitive(rl->tools, name) : NULL;
  if (spec)
    read_spec(spec, name, &own);   /* validated at creation */
  const bucket_spec *use = own.set ? &own : &rl->tool;
  if (!use->set)
    return HL_HOOK_CONTINUE;
  char key[300], msg[400];
  long retry = 0;
  snprintf(key, sizeof key, "tool:%.200s", name);
  verdict v = admit(rl, ctx, key, use, msg, sizeof msg, &retry);
  if (v == PASS)
    return HL_HOOK_CONTINUE;
  if (v == FAILED || rl->policy != POLICY_REFUSE)
    return hl_hook_abort("rate_limiter: %s", v == FAILED ? "out of memory" : msg);
  cJSON *r = cJSON_CreateObject();
  if (!r || !cJSON_AddStringToObject(r, "error", "rate_limited") ||
      !cJSON_AddStringToObject(r, "message", msg) ||
      !cJSON_AddNumberToObject(r, "retry_after_ms", (double)retry)) {
    cJSON_Delete(r);
    return hl_hook_abort("rate_limiter: %s", msg);
  }
  out->result = r;
  return HL_HOOK_OVERRIDE;
}

hl_status hl_rate_limiter_install(hl_rate_limiter *rl, hl_hooks *hooks)
{
  if (!rl || !hooks)
    return hl_fail(HL_ERR_INVALID, "hl_rate_limiter_install: NULL argument");
  hl_status st = HL_OK;
  if ((rl->user.set &&
       (st = hl__plugin_add(rl, hooks, HL_HOOK_BEFORE_AGENT, "rate_limiter", HL_HOOK_DECIDE,
                            (hl_hook_fn){.before_agent = rl_before_agent}))) ||
      (rl->model.set &&
       (st = hl__plugin_add(rl, hooks, HL_HOOK_BEFORE_MODEL, "rate_limiter", HL_HOOK_DECIDE,
                            (hl_hook_fn){.before_model = rl_before_model}))) ||
      ((rl->tool.set || rl->tools) &&
       (st = hl__plugin_add(rl, hooks, HL_HOOK_BEFORE_TOOL, "rate_limiter", HL_HOOK_DECIDE,
                            (hl_hook_fn){.before_tool = rl_before_tool}))))
    return hl__plugin_install_failed(hooks, "rate_limiter", "hl_rate_limiter_install", st);
  return HL_OK;
}
