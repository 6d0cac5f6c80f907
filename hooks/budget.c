/*
 * hooks/budget.c - tokens and cost per run, session and user; abort or
 * switch to a cheaper model once a limit is reached (guards.h).
 *
 * Before each model call the check adds the call's estimate (the prompt's
 * size, ~4 bytes a token, plus the request's max_tokens as the most it
 * can answer) to what was spent, so the call that would pass a limit is
 * the one refused, not only the first after it.
 *
 * One lock guards the session and user ledgers: a charge is a few
 * additions, far shorter than the model call around it, so contention is
 * not a concern, and one lock makes "check then charge" simple to reason
 * about across threads.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/context.h"
#include "hookline/guards.h"
#include "hookline/json.h"
#include "plugin_options.h"
#include "plugin_util.h"
#include "run_table.h"

typedef struct limit {
  int64_t tokens;   /* -1: none */
  double cost;      /* < 0: none */
} limit;

typedef struct spent {
  int64_t tokens;
  double cost;
} spent;

typedef struct ledger_entry {
  char *key;
  spent s;
} ledger_entry;

typedef struct ledger {
  ledger_entry *items;
  size_t count, cap;
} ledger;

enum { SCOPE_RUN, SCOPE_SESSION, SCOPE_USER, SCOPE_COUNT };
static const char *const scope_names[SCOPE_COUNT] = {"run", "session", "user"};

struct hl_budget {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  cJSON *prices;        /* validated {"model": {"input":, "output":}} */
  limit limits[SCOPE_COUNT];
  bool do_switch;
  bool estimate;        /* refuse the call the estimate says would pass a limit */
  char *fallback;
  pthread_mutex_t mu;   /* the session and user ledgers */
  ledger session, user;
  hl__run_table runs;   /* run -> spent */
  atomic_uint_fast64_t exceeded;
};

static void *spent_make(void)
{
  return calloc(1, sizeof(spent));
}

static void ledger_free(ledger *l)
{
  for (size_t i = 0; i < l->count; i++)
    free(l->items[i].key);
  free(l->items);
}

static void budget_destroy(void *self)
{
  hl_budget *b = self;
  cJSON_Delete(b->prices);
  free(b->fallback);
  ledger_free(&b->session);
  ledger_free(&b->user);
  hl__run_table_destroy(&b->runs);
  pthread_mutex_destroy(&b->mu);
  free(b);
}

/* The entry of `key`, created if `create` (NULL if absent or OOM). */
static spent *ledger_get(ledger *l, const char *key, bool create)
{
  for (size_t i = 0; i < l->count; i++)
    if (strcmp(l->items[i].key, key) == 0)
      return &l->items[i].s;
  if (!create)
    return NULL;
  if (l->count == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    ledger_entry *g = realloc(l->items, cap * sizeof *g);
    if (!g)
      return NULL;
    l->items = g;
    l->cap = cap;
  }
  char *k = strdup(key);
  if (!k)
    return NULL;
  l->items[l->count] = (ledger_entry){.key = k};
  return &l->items[l->count++].s;
}

static hl_status read_limit(const cJSON *opts, const char *name, limit *out)
{
  static const char *const known[] = {"tokens", "cost", NULL};
  *out = (limit){.tokens = -1, .cost = -1};
  const cJSON *v = hl_json_get(opts, name);
  if (!v || cJSON_IsNull(v))
    return HL_OK;
  if (!cJSON_IsObject(v))
    return hl_fail(HL_ERR_INVALID, "$.%s: expected an object {\"tokens\": N, \"cost\": X}, got %s",
                   name, hl_json_type_name(v));
  hl_status st;
  if ((st = hl__opt_known(v, known)) || (st = hl__opt_int(v, "tokens", -1, 0, INT64_MAX / 2, &out->tokens)) ||
      (st = hl__opt_number(v, "cost", -1, 0, &out->cost))) {
    char why[400];
    snprintf(why, sizeof why, "%s", hl_last_error());
    return hl_fail(st, "$.%s.%s", name, why + 2);
  }
  return HL_OK;
}

static hl_status check_prices(const cJSON *prices)
{
  static const char *const known[] = {"input", "output", NULL};
  const cJSON *m;
  cJSON_ArrayForEach(m, prices) {
    double d;
    hl_status st;
    if (!cJSON_IsObject(m))
      return hl_fail(HL_ERR_INVALID, "$.prices.%s: expected an object {\"input\": X, \"output\": Y}, got %s",
                     m->string, hl_json_type_name(m));
    if ((st = hl__opt_known(m, known)) || (st = hl__opt_number(m, "input", 0, 0, &d)) ||
        (st = hl__opt_number(m, "output", 0, 0, &d))) {
      char why[400];
      snprintf(why, sizeof why, "%s", hl_last_error());
      return hl_fail(st, "$.prices.%s.%s", m->string, why + 2);
    }
  }
  return HL_OK;
}

hl_budget *hl_budget_new(const cJSON *options)
{
  static const char *const known[] = {"prices", "run", "session", "user", "on_exceed",
                                      "fallback_model", "estimate", NULL};
  cJSON *empty = options ? NULL : cJSON_CreateObject();
  const cJSON *opts = options ? options : empty;
  hl_budget *b = calloc(1, sizeof *b);
  if (!b || !opts) {
    free(b);
    cJSON_Delete(empty);
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  hl__plugin_ref_init(&b->ref, budget_destroy);
  pthread_mutex_init(&b->mu, NULL);
  hl__run_table_init(&b->runs, 4096, spent_make, free);
  atomic_init(&b->exceeded, 0);
  const cJSON *prices;
  const char *on_exceed, *fallback;
  hl_status st;
  if (!cJSON_IsObject(opts))
    st = hl_fail(HL_ERR_INVALID, "$: options must be an object, got %s", hl_json_type_name(opts));
  else if ((st = hl__opt_known(opts, known)) || (st = hl__opt_object(opts, "prices", &prices)) ||
           (st = check_prices(prices)) || (st = read_limit(opts, "run", &b->limits[SCOPE_RUN])) ||
           (st = read_limit(opts, "session", &b->limits[SCOPE_SESSION])) ||
           (st = read_limit(opts, "user", &b->limits[SCOPE_USER])) ||
           (st = hl__opt_string(opts, "on_exceed", "abort", &on_exceed)) ||
           (st = hl__opt_string(opts, "fallback_model", NULL, &fallback)) ||
           (st = hl__opt_bool(opts, "estimate", true, &b->estimate)))
    ;
  else if (strcmp(on_exceed, "abort") != 0 && strcmp(on_exceed, "switch") != 0)
    st = hl_fail(HL_ERR_INVALID, "$.on_exceed: expected \"abort\" or \"switch\", got \"%.40s\"", on_exceed);
  else if (strcmp(on_exceed, "switch") == 0 && (!fallback || !fallback[0]))
    st = hl_fail(HL_ERR_INVALID, "$.fallback_model: required with \"on_exceed\": \"switch\"");
  if (st == HL_OK) {
    b->do_switch = strcmp(on_exceed, "switch") == 0;
    if ((prices && !(b->prices = hl_json_clone(prices))) ||
        (fallback && !(b->fallback = strdup(fallback))))
      st = hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  cJSON_Delete(empty);
  if (st != HL_OK) {
    hl__plugin_release(b);
    return NULL;
  }
  return b;
}

hl_budget *hl_budget_ref(hl_budget *b)
{
  hl__plugin_retain(b);
  return b;
}

void hl_budget_unref(hl_budget *b)
{
  hl__plugin_release(b);
}

uint64_t hl_budget_exceeded(const hl_budget *b)
{
  return b ? atomic_load(&((hl_budget *)b)->exceeded) : 0;
}

bool hl_budget_spent(const hl_budget *budget, const char *scope, const char *key, int64_t *tokens,
                     double *cost)
{
  hl_budget *b = (hl_budget *)budget;
  if (!b || !scope || !key)
    return false;
  ledger *l = strcmp(scope, "session") == 0 ? &b->session : strcmp(scope, "user") == 0 ? &b->user : NULL;
  if (!l)
    return false;
  pthread_mutex_lock(&b->mu);
  spent *s = ledger_get(l, key, false);
  if (s) {
    if (tokens)
      *tokens = s->tokens;
    if (cost)
      *cost = s->cost;
  }
  pthread_mutex_unlock(&b->mu);
  return s != NULL;
}

static const char *session_key(hl_context *ctx)
{
  const char *s = hl_context_session_id(ctx);
  return s && s[0] ? s : "none";
}

static const char *user_key(hl_context *ctx)
{
  const char *u = hl_context_user_id(ctx);
  return u && u[0] ? u : "anonymous";
}

static double price_of(const hl_budget *b, const char *model, const hl_usage *u)
{
  if (u->has_cost)
    return u->cost;
  const cJSON *p = model ? cJSON_GetObjectItemCaseSensitive(b->prices, model) : NULL;
  if (!p)
    p = cJSON_GetObjectItemCaseSensitive(b->prices, "*");
  if (!p)
    return 0;
  return ((double)u->input_tokens * hl_json_get_number(p, "input", 0) +
          (double)u->output_tokens * hl_json_get_number(p, "output", 0)) / 1e6;
}

static bool over(const limit *l, const spent *s)
{
  return (l->tokens >= 0 && s->tokens >= l->tokens) || (l->cost >= 0 && s->cost >= l->cost);
}

/* Would `s` plus the call's estimate `est` pass the limit? Zero estimate:
 * only a limit already reached stops the call. */
static bool would_pass(const limit *l, const spent *s, const spent *est)
{
  return (l->tokens >= 0 && est->tokens > 0 && s->tokens + est->tokens > l->tokens) ||
         (l->cost >= 0 && est->cost > 0 && s->cost + est->cost > l->cost);
}

/* What the call about to go out will cost at most, roughly: its prompt
 * at ~4 bytes a token (what the library's LM_START estimate uses) and
 * max_tokens of answer when the request sets it. */
static spent call_estimate(const hl_budget *b, const hl_request *req)
{
  size_t bytes = 0;
  for (size_t i = 0; i < req->messages.count; i++) {
    const hl_message *m = req->messages.items[i];
    for (size_t j = 0; j < m->n_parts; j++)
      bytes += m->parts[j].text ? strlen(m->parts[j].text) : 0;
  }
  hl_usage u = {.input_tokens = (int64_t)(bytes + 3) / 4,
                .output_tokens = req->max_tokens > 0 ? req->max_tokens : 0};
  spent e = {.tokens = u.input_tokens + u.output_tokens, .cost = price_of(b, req->model, &u)};
  return e;
}

static hl_hook_action budget_before_agent(hl_context *ctx, const hl_before_agent_args *args,
                                          hl_before_agent_out *out, void *ud)
{
  (void)args;
  (void)out;
  hl_budget *b = ud;
  hl__run_table_drop(&b->runs, hl_context_invocation_id(ctx));
  return HL_HOOK_CONTINUE;
}

static hl_hook_action budget_after_agent(hl_context *ctx, const hl_after_agent_args *args,
                                         hl_after_agent_out *out, void *ud)
{
  (void)args;
  (void)out;
  hl_budget *b = ud;
  hl__run_table_drop(&b->runs, hl_context_invocation_id(ctx));
  return HL_HOOK_CONTINUE;
}

static hl_hook_action budget_before_model(hl_context *ctx, const hl_before_model_args *args,
                                          hl_before_model_out *out, void *ud)
{
  hl_budget *b = ud;
  char why[400] = "";
  spent est = {0};
  if (b->estimate)
    est = call_estimate(b, args->request);
  spent *run = hl__run_table_lock(&b->runs, hl_context_invocation_id(ctx));
  if (!run)
    return hl_hook_abort("budget: out of memory");
  spent run_s = *run;
  hl__run_table_unlock(&b->runs);
  spent zero = {0};
  pthread_mutex_lock(&b->mu);
  spent *sess = ledger_get(&b->session, session_key(ctx), false);
  spent *user = ledger_get(&b->user, user_key(ctx), false);
  const spent *by_scope[SCOPE_COUNT] = {&run_s, sess ? sess : &zero, user ? user : &zero};
  const char *keys[SCOPE_COUNT] = {hl_context_invocation_id(ctx), session_key(ctx), user_key(ctx)};
  for (int s = 0; s < SCOPE_COUNT && !why[0]; s++) {
    if (over(&b->limits[s], by_scope[s]))
      snprintf(why, sizeof why,
               "%s \"%.80s\" has spent %lld tokens and $%.6f (limit: %lld tokens, $%.6f)",
               scope_names[s], keys[s], (long long)by_scope[s]->tokens, by_scope[s]->cost,
               (long long)b->limits[s].tokens, b->limits[s].cost);
    else if (would_pass(&b->limits[s], by_scope[s], &est))
      snprintf(why, sizeof why,
               "%s \"%.80s\" has spent %lld tokens and $%.6f, and this call (about %lld tokens, "
               "$%.6f) would pass the limit (%lld tokens, $%.6f)",
               scope_names[s], keys[s], (long long)by_scope[s]->tokens, by_scope[s]->cost,
               (long long)est.tokens, est.cost, (long long)b->limits[s].tokens,
               b->limits[s].cost);
  }
  pthread_mutex_unlock(&b->mu);
  if (!why[0])
    return HL_HOOK_CONTINUE;
  atomic_fetch_add(&b->exceeded, 1);
  if (!b->do_switch)
    return hl_hook_abort("budget: %s", why);
  hl_status st = hl_request_set_model(out->request, b->fallback);
  return st == HL_OK ? HL_HOOK_CONTINUE : hl_hook_abort("budget: out of memory");
}

static hl_hook_action budget_after_model(hl_context *ctx, const hl_after_model_args *args,
                                         hl_after_model_out *out, void *ud)
{
  (void)out;
  hl_budget *b = ud;
  if (!args->response)
    return HL_HOOK_CONTINUE;
  const hl_usage *u = &args->response->usage;
  const char *model = args->request->model ? args->request->model : args->response->model;
  spent add = {.tokens = u->input_tokens + u->output_tokens, .cost = price_of(b, model, u)};
  spent *run = hl__run_table_lock(&b->runs, hl_context_invocation_id(ctx));
  if (run) {
    run->tokens += add.tokens;
    run->cost += add.cost;
    hl__run_table_unlock(&b->runs);
  }
  pthread_mutex_lock(&b->mu);
  spent *sess = ledger_get(&b->session, session_key(ctx), true);
  spent *user = ledger_get(&b->user, user_key(ctx), true);
  if (sess) {
    sess->tokens += add.tokens;
    sess->cost += add.cost;
  }
  if (user) {
    user->tokens += add.tokens;
    user->cost += add.cost;
  }
  pthread_mutex_unlock(&b->mu);
  /* A charge that cannot be recorded would let the budget be overspent. */
  if (!run || !sess || !user)
    return hl_hook_abort("budget: out of memory while charging a model call");
  return HL_HOOK_CONTINUE;
}

hl_status hl_budget_install(hl_budget *b, hl_hooks *hooks)
{
  if (!b || !hooks)
    return hl_fail(HL_ERR_INVALID, "hl_budget_install: NULL argument");
  hl_status st;
  if ((st = hl__plugin_add(b, hooks, HL_HOOK_BEFORE_AGENT, "budget", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.before_agent = budget_before_agent})) ||
      (st = hl__plugin_add(b, hooks, HL_HOOK_AFTER_AGENT, "budget", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.after_agent = budget_after_agent})) ||
      (st = hl__plugin_add(b, hooks, HL_HOOK_BEFORE_MODEL, "budget",
                           HL_HOOK_DECIDE | (b->do_switch ? HL_HOOK_EDIT_REQUEST : 0),
                           (hl_hook_fn){.before_model = budget_before_model})) ||
      (st = hl__plugin_add(b, hooks, HL_HOOK_AFTER_MODEL, "budget", HL_HOOK_DECIDE,
                           (hl_hook_fn){.after_model = budget_after_model})))
    return hl__plugin_install_failed(hooks, "budget", "hl_budget_install", st);
  return HL_OK;
}
