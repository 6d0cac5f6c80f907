/*
 * provider.c - pick the model provider.
 *
 * Order: --provider if given; else --script (a scripted model from a file);
 * else OPENAI_API_KEY; else ANTHROPIC_API_KEY; else GOOGLE_API_KEY or
 * GEMINI_API_KEY; else --base-url (an OpenAI-compatible local server such
 * as Ollama needs no key); else the offline demo model.
 */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

static bool env_set(const char *name) {
  const char *v = getenv(name);
  return v && *v;
}

static hl_status make_scripted(chat_app *app) {
  app->provider = hl_scripted_new();
  if (!app->provider) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  snprintf(app->provider_name, sizeof app->provider_name, "scripted");
  if (app->opt.script_path) {
    hl_status st = hl_scripted_load_file(app->provider, app->opt.script_path);
    if (st != HL_OK) return st;
    snprintf(app->model_desc, sizeof app->model_desc, "scripted model from %s",
             app->opt.script_path);
    return HL_OK;
  }
  app->offline = true; /* offline.c loads the built-in script once tools exist */
  snprintf(app->model_desc, sizeof app->model_desc, "offline demo model (built-in script)");
  return HL_OK;
}

/* Defaults when --model is not given: small, inexpensive models. */
#define DEFAULT_OPENAI_MODEL "gpt-4o-mini"
#define DEFAULT_ANTHROPIC_MODEL "claude-sonnet-4-5"

static hl_status make_openai(chat_app *app) {
  snprintf(app->provider_name, sizeof app->provider_name, "openai");
  const char *model = app->opt.model;
  if (!model) {
    /* A local server (Ollama, vLLM...) has its own model names. */
    if (app->opt.base_url)
      return hl_fail(HL_ERR_INVALID, "--base-url needs --model too (for Ollama e.g. --model llama3.2)");
    model = DEFAULT_OPENAI_MODEL;
  }
  /* Without a key, api.openai.com would answer 401 on the first question;
   * say so now. Local servers (--base-url, OPENAI_BASE_URL) need no key. */
  if (!env_set("OPENAI_API_KEY") && !app->opt.base_url && !env_set("OPENAI_BASE_URL"))
    return hl_fail(HL_ERR_AUTH,
                   "the OpenAI provider needs OPENAI_API_KEY (or --base-url for a local "
                   "server such as Ollama)");
  app->provider = hl_openai_new(app->opt.base_url, NULL);
  if (!app->provider) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  hl_status st = hl_openai_set_model(app->provider, model);
  if (st != HL_OK) return st;
  snprintf(app->model_desc, sizeof app->model_desc, "model %s at %s", model,
           app->opt.base_url ? app->opt.base_url
           : getenv("OPENAI_BASE_URL") && *getenv("OPENAI_BASE_URL") ? getenv("OPENAI_BASE_URL")
                                                                     : HL_OPENAI_DEFAULT_BASE_URL);
  return HL_OK;
}

static hl_status make_anthropic(chat_app *app) {
  snprintf(app->provider_name, sizeof app->provider_name, "anthropic");
  const char *model = app->opt.model ? app->opt.model : DEFAULT_ANTHROPIC_MODEL;
  if (!env_set("ANTHROPIC_API_KEY") && !app->opt.base_url && !env_set("ANTHROPIC_BASE_URL"))
    return hl_fail(HL_ERR_AUTH, "the Anthropic provider needs ANTHROPIC_API_KEY");
  app->provider = hl_anthropic_new(app->opt.base_url, NULL);
  if (!app->provider) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  hl_status st = hl_anthropic_set_model(app->provider, model);
  if (st != HL_OK) return st;
  snprintf(app->model_desc, sizeof app->model_desc, "model %s (Anthropic%s%s)", model,
           app->opt.base_url ? " at " : "", app->opt.base_url ? app->opt.base_url : "");
  return HL_OK;
}

/* The providers that need little more than a key and a model. */
typedef struct http_choice {
  const char *name, *label, *default_model;
  const char *keys[2];     /* environment variables that hold a key */
  const char *base_env;    /* the environment's base URL, or NULL */
  const char *key_hint;    /* what the error says to set */
  hl_provider *(*make)(const char *base_url, const char *api_key);
  hl_status (*set_model)(hl_provider *p, const char *model);
} http_choice;

static const http_choice RESPONSES = {
    "openai-responses", "OpenAI Responses", "gpt-5-mini", {"OPENAI_API_KEY", NULL},
    "OPENAI_BASE_URL", "OPENAI_API_KEY", hl_responses_new, hl_responses_set_model};
static const http_choice GEMINI = {
    "gemini", "Gemini", "gemini-2.5-flash", {"GOOGLE_API_KEY", "GEMINI_API_KEY"},
    "GEMINI_BASE_URL", "GEMINI_API_KEY (or GOOGLE_API_KEY)", hl_gemini_new, hl_gemini_set_model};

static hl_status make_http(chat_app *app, const http_choice *c) {
  snprintf(app->provider_name, sizeof app->provider_name, "%s", c->name);
  const char *model = app->opt.model ? app->opt.model : c->default_model;
  bool key = (c->keys[0] && env_set(c->keys[0])) || (c->keys[1] && env_set(c->keys[1]));
  if (!key && !app->opt.base_url && !(c->base_env && env_set(c->base_env)))
    return hl_fail(HL_ERR_AUTH, "the %s provider needs %s", c->label, c->key_hint);
  app->provider = c->make(app->opt.base_url, NULL);
  if (!app->provider) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  hl_status st = c->set_model(app->provider, model);
  if (st != HL_OK) return st;
  snprintf(app->model_desc, sizeof app->model_desc, "model %s (%s%s%s)", model, c->label,
           app->opt.base_url ? " at " : "", app->opt.base_url ? app->opt.base_url : "");
  return HL_OK;
}

hl_status chat_make_provider(chat_app *app) {
  const char *name = app->opt.provider;
  if (!name) {
    if (app->opt.script_path)
      name = "scripted";
    else if (env_set("OPENAI_API_KEY"))
      name = "openai";
    else if (env_set("ANTHROPIC_API_KEY"))
      name = "anthropic";
    else if (env_set("GOOGLE_API_KEY") || env_set("GEMINI_API_KEY"))
      name = "gemini";
    else if (app->opt.base_url)
      name = "openai";
    else
      name = "scripted";
  }
  if (strcmp(name, "scripted") == 0) return make_scripted(app);
  if (strcmp(name, "openai") == 0) return make_openai(app);
  if (strcmp(name, "responses") == 0 || strcmp(name, "openai-responses") == 0)
    return make_http(app, &RESPONSES);
  if (strcmp(name, "gemini") == 0) return make_http(app, &GEMINI);
  return make_anthropic(app);
}
