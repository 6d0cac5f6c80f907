/*
 * hooks/parallel_guard.c - a guardrail that checks the input on its own
 * thread while the first model call of the run is already running
 * (guards.h).
 *
 * The around_model hook starts the guard thread, then calls the model on
 * the run's own thread as usual. A guard that trips cancels its run (the
 * run's context, hl_context_cancel(): not the agent, whose other runs go
 * on), which makes the main call return at once (providers poll
 * cancellation); the wrap then answers with the guard's message. The wrap
 * always joins the guard thread before it returns: no thread outlives the
 * call, and no answer leaves before the verdict.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookline/agent.h"
#include "hookline/config.h"
#include "hookline/context.h"
#include "hookline/guards.h"
#include "hookline/json.h"
#include "plugin_options.h"
#include "plugin_util.h"

#define DEFAULT_MESSAGE "Blocked by the input guard."
#define DEFAULT_INSTRUCTION                                                                    \
  "You are a safety classifier for an AI assistant. Read the user's message and answer with " \
  "exactly one line: SAFE if the assistant may help with it, or UNSAFE: <short reason> if it " \
  "asks for something harmful, illegal or against policy."

struct hl_parallel_guard {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  hl_provider *provider;
  char *model, *instruction, *trip_on, *message;
  hl_guard_predicate predicate;
  void *predicate_ud;
  atomic_uint_fast64_t tripped, passed;
};

static void guard_destroy(void *self)
{
  hl_parallel_guard *g = self;
  hl_provider_unref(g->provider);
  free(g->model);
  free(g->instruction);
  free(g->trip_on);
  free(g->message);
  free(g);
}

hl_parallel_guard *hl_parallel_guard_new(const cJSON *options)
{
  static const char *const known[] = {"provider", "model", "instruction", "trip_on", "message", NULL};
  cJSON *empty = options ? NULL : cJSON_CreateObject();
  const cJSON *opts = options ? options : empty;
  hl_parallel_guard *g = calloc(1, sizeof *g);
  if (!g || !opts) {
    free(g);
    cJSON_Delete(empty);
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  hl__plugin_ref_init(&g->ref, guard_destroy);
  atomic_init(&g->tripped, 0);
  atomic_init(&g->passed, 0);
  const char *model, *instruction, *trip_on, *message;
  const cJSON *provider;
  hl_status st;
  if (!cJSON_IsObject(opts))
    st = hl_fail(HL_ERR_INVALID, "$: options must be an object, got %s", hl_json_type_name(opts));
  else if ((st = hl__opt_known(opts, known)) || (st = hl__opt_object(opts, "provider", &provider)) ||
           (st = hl__opt_string(opts, "model", NULL, &model)) ||
           (st = hl__opt_string(opts, "instruction", DEFAULT_INSTRUCTION, &instruction)) ||
           (st = hl__opt_string(opts, "trip_on", "UNSAFE", &trip_on)) ||
           (st = hl__opt_string(opts, "message", NULL, &message)))
    ;
  else if (!trip_on[0])
    st = hl_fail(HL_ERR_INVALID, "$.trip_on: must not be empty (every answer would trip)");
  if (st == HL_OK && provider) {
    /* The provider section of a config file, read by the config loader. */
    cJSON *doc = cJSON_CreateObject();
    char *text = NULL;
    hl_config *cfg = NULL;
    if (!doc || !cJSON_AddItemToObject(doc, "provider", hl_json_clone(provider)) ||
        hl_json_print(doc, &text) != HL_OK) {
      st = hl_fail(HL_ERR_NOMEM, "out of memory");
    } else if ((st = hl_config_parse(text, "options", &cfg)) == HL_OK) {
      st = hl_config_make_provider(cfg, &g->provider);
    }
    if (st != HL_OK && st != HL_ERR_NOMEM) {
      /* "options: $.provider.type: ..." names the bad value already. */
      char why[600];
      snprintf(why, sizeof why, "%s", hl_last_error());
      const char *path = strstr(why, "$.");
      hl_fail(st, "%s", path ? path : why);
    }
    hl_config_free(cfg);
    hl_free(text);
    cJSON_Delete(doc);
  }
  if (st == HL_OK &&
      (!(g->instruction = strdup(instruction)) || !(g->trip_on = strdup(trip_on)) ||
       (model && !(g->model = strdup(model))) || (message && !(g->message = strdup(message)))))
    st = hl_fail(HL_ERR_NOMEM, "out of memory");
  cJSON_Delete(empty);
  if (st != HL_OK) {
    hl__plugin_release(g);
    return NULL;
  }
  return g;
}

hl_parallel_guard *hl_parallel_guard_ref(hl_parallel_guard *g)
{
  hl__plugin_retain(g);
  return g;
}

void hl_parallel_guard_unref(hl_parallel_guard *g)
{
  hl__plugin_release(g);
}

hl_status hl_parallel_guard_set_provider(hl_parallel_guard *g, hl_provider *provider)
{
  if (!g || !provider)
    return hl_fail(HL_ERR_INVALID, "hl_parallel_guard_set_provider: NULL argument");
  hl_provider_unref(g->provider);
  g->provider = hl_provider_ref(provider);
  return HL_OK;
}

hl_status hl_parallel_guard_set_predicate(hl_parallel_guard *g, hl_guard_predicate fn, void *ud)
{
  if (!g || !fn)
    return hl_fail(HL_ERR_INVALID, "hl_parallel_guard_set_predicate: NULL argument");
  g->predicate = fn;
  g->predicate_ud = ud;
  return HL_OK;
}

uint64_t hl_parallel_guard_tripped(const hl_parallel_guard *g)
{
  return g ? atomic_load(&((hl_parallel_guard *)g)->tripped) : 0;
}

uint64_t hl_parallel_guard_passed(const hl_parallel_guard *g)
{
  return g ? atomic_load(&((hl_parallel_guard *)g)->passed) : 0;
}

/* One check in flight: shared by the wrap and the guard thread. */
typedef struct check {
  hl_parallel_guard *g;
  hl_provider *provider;   /* the guard model's (a reference) */
  hl_context *ctx;         /* the run to cancel (alive: the wrap joins first) */
  char *input;
  pthread_mutex_t mu;
  bool main_done;          /* the main call returned: cancelling is pointless */
  bool tripped;
  char *reason;            /* malloc'd, or NULL */
  hl_status error;         /* the guard itself failed */
  char error_msg[512];
} check;

/* The guard model's verdict on c->input. */
static hl_status ask_model(check *c, bool *trip, char **reason)
{
  hl_parallel_guard *g = c->g;
  hl_request *req = hl_request_new();
  if (!req)
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  hl_status st = HL_OK;
  hl_message *sys = hl_message_new_text(HL_ROLE_SYSTEM, g->instruction);
  hl_message *user = hl_message_new_text(HL_ROLE_USER, c->input);
  /* hl_messages_push takes the message also when it fails. */
  if (!sys || !user || hl_messages_push(&req->messages, sys) != HL_OK) {
    if (!sys || !user)
      hl_message_free(sys);
    hl_message_free(user);
    hl_request_free(req);
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  if (hl_messages_push(&req->messages, user) != HL_OK) {
    hl_request_free(req);
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  if (g->model)
    st = hl_request_set_model(req, g->model);
  hl_response *resp = NULL;
  if (st == HL_OK)
    st = hl_provider_complete(c->provider, NULL, req, &resp);
  hl_request_free(req);
  if (st != HL_OK)
    return st;
  char *text = hl_message_text(resp->message);
  hl_response_free(resp);
  if (!text)
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  const char *t = text;
  while (*t == ' ' || *t == '\n' || *t == '\t')
    t++;
  size_t n = strlen(g->trip_on);
  *trip = strncasecmp(t, g->trip_on, n) == 0;
  if (*trip) {
    const char *r = t + n;
    while (*r == ':' || *r == ' ' || *r == '-')
      r++;
    size_t len = strcspn(r, "\n");
    *reason = len ? strndup(r, len) : NULL;
  }
  hl_free(text);
  return HL_OK;
}

static void *guard_thread(void *arg)
{
  check *c = arg;
  bool trip = false;
  char *reason = NULL;
  hl_status st = HL_OK;
  if (c->g->predicate)
    trip = c->g->predicate(c->input, &reason, c->g->predicate_ud);
  else
    st = ask_model(c, &trip, &reason);
  pthread_mutex_lock(&c->mu);
  c->error = st;
  if (st != HL_OK)
    snprintf(c->error_msg, sizeof c->error_msg, "%s", hl_last_error());
  c->tripped = st == HL_OK && trip;
  c->reason = reason;
  bool cancel = c->tripped && !c->main_done;
  /* Under the lock: the wrap sets main_done and then joins, so the
   * context is alive here. */
  if (cancel)
    hl_context_cancel(c->ctx);
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

static hl_hook_action guard_around_model(hl_context *ctx, const hl_around_model_args *args,
                                         hl_around_model_out *out, void *ud)
{
  hl_parallel_guard *g = ud;
  const char *input = hl_context_user_input(ctx);
  /* The input is checked once, in parallel with the run's first call. */
  if (hl_context_turn(ctx) != 1 || !input) {
    hl_next_model(args->next, NULL, &out->response);
    return HL_HOOK_CONTINUE;
  }
  hl_agent *agent = hl_context_agent(ctx);
  check c = {.g = g, .ctx = ctx};
  c.provider = g->provider ? hl_provider_ref(g->provider)
                           : hl_provider_ref(hl_agent_provider(agent));
  c.input = strdup(input);
  pthread_mutex_init(&c.mu, NULL);
  pthread_t th;
  if (!c.input || (!c.provider && !g->predicate) ||
      pthread_create(&th, NULL, guard_thread, &c) != 0) {
    free(c.input);
    hl_provider_unref(c.provider);
    pthread_mutex_destroy(&c.mu);
    return hl_hook_abort("parallel_guard: cannot start the guard (%s)",
                         c.input ? "no provider or thread" : "out of memory");
  }
  hl_response *resp = NULL;
  hl_status st = hl_next_model(args->next, NULL, &resp);
  char main_error[512] = "";
  if (st != HL_OK)
    snprintf(main_error, sizeof main_error, "%s", hl_last_error());
  pthread_mutex_lock(&c.mu);
  c.main_done = true;
  pthread_mutex_unlock(&c.mu);
  pthread_join(th, NULL);   /* the verdict, even when the answer came first */
  hl_provider_unref(c.provider);
  free(c.input);
  pthread_mutex_destroy(&c.mu);

  if (c.error != HL_OK) {
    /* A guard that cannot decide must not wave the input through. */
    hl_response_free(resp);
    free(c.reason);
    return hl_hook_abort("parallel_guard: the guard failed: %s", c.error_msg);
  }
  if (c.tripped) {
    atomic_fetch_add(&g->tripped, 1);
    hl_response_free(resp);
    const char *text = g->message ? g->message : c.reason ? c.reason : DEFAULT_MESSAGE;
    cJSON *data = cJSON_CreateObject();
    if (data && cJSON_AddStringToObject(data, "reason", c.reason ? c.reason : ""))
      hl_context_emit_custom(ctx, "parallel_guard_tripped", data);
    cJSON_Delete(data);
    out->response = hl_response_new_text(text);
    free(c.reason);
    return out->response ? HL_HOOK_OVERRIDE : hl_hook_abort("parallel_guard: out of memory");
  }
  atomic_fetch_add(&g->passed, 1);
  free(c.reason);
  if (st != HL_OK) {
    out->status = hl_fail(st, "%s", main_error);
    return HL_HOOK_CONTINUE;
  }
  out->response = resp;
  return HL_HOOK_CONTINUE;
}

hl_status hl_parallel_guard_install(hl_parallel_guard *g, hl_hooks *hooks)
{
  if (!g || !hooks)
    return hl_fail(HL_ERR_INVALID, "hl_parallel_guard_install: NULL argument");
  hl_status st = hl__plugin_add(g, hooks, HL_HOOK_AROUND_MODEL, "parallel_guard", HL_HOOK_DECIDE,
                                (hl_hook_fn){.around_model = guard_around_model});
  if (st != HL_OK)
    return hl__plugin_install_failed(hooks, "parallel_guard", "hl_parallel_guard_install", st);
  return HL_OK;
}
