/*
 * provider.c - pick the model provider.
 *
 * Order: --provider if given; else --script (a scripted model from a file);
 * else OPENAI_API_KEY; else ANTHROPIC_API_KEY; else --base-url (an
 * OpenAI-compatible local server such as Ollama needs no key); else the
 * offline demo model.
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

hl_status chat_make_provider(chat_app *app) {
  const char *name = app->opt.provider;
  if (!name) {
    if (app->opt.script_path)
      name = "scripted";
    else if (env_set("OPENAI_API_KEY"))
      name = "openai";
    else if (env_set("ANTHROPIC_API_KEY"))
      name = "anthropic";
    else if (app->opt.base_url)
      name = "openai";
    else
      name = "scripted";
  }
  if (strcmp(name, "scripted") == 0) return make_scripted(app);
  if (strcmp(name, "openai") == 0) return make_openai(app);
  return make_anthropic(app);
}
