/*
 * lib/plugin/config.c - the configuration file (config.h): load, validate
 * with JSON paths, and turn it into providers, plugins and agents.
 *
 * Validation is a table of allowed keys and their kinds per object, walked
 * once at load: every message then has the same form ("file: $.a[1].b:
 * expected ..., got ..."), and an unknown key, the usual sign of a typo,
 * is an error instead of a setting silently not applied.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "hookline/anthropic.h"
#include "hookline/config.h"
#include "hookline/gemini.h"
#include "hookline/json.h"
#include "hookline/mcp.h"
#include "hookline/openai.h"
#include "hookline/responses.h"
#include "hookline/scripted.h"
#include "plugin/config_assertion.h"
#include "plugin/plugin_internal.h"

struct hl_config {
  cJSON *doc;
  char *origin;   /* the file name, for messages */
  char *dir;      /* its directory, for relative paths ("" : cwd) */
  pthread_mutex_t mu;  /* guards mcp[] (agents may be built from several threads) */
  hl_mcp **mcp;
  size_t n_mcp, cap_mcp;
  hl_mcp_oauth oauth;  /* hl_config_set_mcp_oauth(); size 0: not set */
  hl__file_assertion **assertions;  /* the "assertion_file" entries' (under mu), freed after mcp[] */
  size_t n_assertions, cap_assertions;
};

/* ------------------------------------------------------------------ */
/* Validation                                                          */
/* ------------------------------------------------------------------ */

typedef enum { K_STRING, K_OBJECT, K_STRINGS, K_ARRAY, K_INT, K_NUMBER, K_BOOL } kind;
typedef struct field {
  const char *key;
  kind kind;
} field;

static const char *kind_name(kind k) {
  switch (k) {
  case K_STRING: return "a string";
  case K_OBJECT: return "an object";
  case K_STRINGS: return "an array of strings";
  case K_ARRAY: return "an array";
  case K_INT: return "a non-negative integer";
  case K_NUMBER: return "a number";
  case K_BOOL: return "true or false";
  }
  return "?";
}

static hl_status bad(const hl_config *c, const char *path, const char *fmt, ...) HL_PRINTF(3, 4);
static hl_status bad(const hl_config *c, const char *path, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return hl_fail(HL_ERR_INVALID, "%s: %s: %s", c->origin, path, msg);
}

static bool kind_ok(const cJSON *v, kind k) {
  switch (k) {
  case K_STRING: return cJSON_IsString(v);
  case K_OBJECT: return cJSON_IsObject(v);
  case K_ARRAY: return cJSON_IsArray(v);
  case K_STRINGS: {
    if (!cJSON_IsArray(v)) return false;
    const cJSON *item;
    cJSON_ArrayForEach(item, v) if (!cJSON_IsString(item)) return false;
    return true;
  }
  case K_INT:
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= INT_MAX &&
           v->valuedouble == (double)(int)v->valuedouble;
  case K_NUMBER: return cJSON_IsNumber(v);
  case K_BOOL: return cJSON_IsBool(v);
  }
  return false;
}

/* Check the keys of `obj` at `path` against `fields` (NULL-key ended). */
static hl_status check_fields(const hl_config *c, const cJSON *obj, const char *path,
                              const field *fields) {
  char sub[512];
  if (!cJSON_IsObject(obj))
    return bad(c, path, "expected an object, got %s", hl_json_type_name(obj));
  const cJSON *item;
  cJSON_ArrayForEach(item, obj) {
    snprintf(sub, sizeof sub, "%s.%s", path, item->string);
    const field *f = fields;
    while (f->key && strcmp(f->key, item->string) != 0) f++;
    if (!f->key) {
      char known[300] = "";
      size_t len = 0;
      for (const field *g = fields; g->key && len < sizeof known; g++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", g == fields ? "" : ", ",
                                g->key);
      return bad(c, sub, "unknown key (known here: %s)", known);
    }
    if (!kind_ok(item, f->kind)) {
      if (f->kind == K_STRINGS && cJSON_IsArray(item)) {
        int i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, item) {
          if (!cJSON_IsString(e)) {
            char elem[540];
            snprintf(elem, sizeof elem, "%s[%d]", sub, i);
            return bad(c, elem, "expected a string, got %s", hl_json_type_name(e));
          }
          i++;
        }
      }
      /* A number of the wrong range or with a fraction: show it, its
       * type name ("integer" for 1e300) would not say what is wrong. */
      if (f->kind == K_INT && cJSON_IsNumber(item))
        return bad(c, sub, "expected %s, got %.15g%s", kind_name(f->kind), item->valuedouble,
                   item->valuedouble > INT_MAX ? " (at most 2147483647)" : "");
      return bad(c, sub, "expected %s, got %s", kind_name(f->kind), hl_json_type_name(item));
    }
  }
  return HL_OK;
}

static const field plugin_fields[] = {
    {"name", K_STRING}, {"path", K_STRING}, {"options", K_OBJECT}, {"enabled", K_BOOL}, {0, 0}};
static const field mcp_fields[] = {{"name", K_STRING},    {"url", K_STRING},   {"command", K_STRING},
                                   {"ca_file", K_STRING}, {"oauth", K_OBJECT}, {"era", K_STRING},
                                   {0, 0}};

/* An mcp_servers entry's "era" (absent: auto), as hl_mcp_set_era() takes
 * it; -1 for any other word. */
static int era_of(const char *v) {
  return !v || strcmp(v, "auto") == 0 ? HL_MCP_ERA_AUTO
         : strcmp(v, "modern") == 0   ? HL_MCP_ERA_MODERN
         : strcmp(v, "legacy") == 0   ? HL_MCP_ERA_LEGACY
                                      : -1;
}
static const field oauth_fields[] = {{"client_id", K_STRING},           {"client_secret_env", K_STRING},
                                     {"client_secret", K_STRING},       {"client_metadata_url", K_STRING},
                                     {"client_name", K_STRING},         {"application_type", K_STRING},
                                     {"assertion_file", K_STRING},      {0, 0}};
static const field provider_fields[] = {{"type", K_STRING},        {"base_url", K_STRING},
                                        {"api_key_env", K_STRING}, {"script", K_STRING},
                                        {"api_key", K_STRING},     {"http_version", K_STRING}, {"ca_file", K_STRING},
                                        {0, 0}};
static const field agent_fields[] = {
    {"name", K_STRING},     {"instruction", K_STRING}, {"description", K_STRING},
    {"model", K_STRING},    {"tools", K_STRINGS},      {"plugins", K_ARRAY},
    {"mcp_servers", K_ARRAY}, {"max_turns", K_INT},    {"temperature", K_NUMBER},
    {"max_tokens", K_INT},  {"stream", K_BOOL},        {0, 0}};
static const field top_fields[] = {
    {"provider", K_OBJECT},   {"model", K_STRING},   {"instruction", K_STRING},
    {"tools", K_STRINGS},     {"plugins", K_ARRAY},  {"mcp_servers", K_ARRAY},
    {"agents", K_ARRAY},      {"store", K_OBJECT},   {"$schema", K_STRING},
    {"version", K_INT},       {"approve", K_STRINGS}, {0, 0}};

static hl_status check_plugins(const hl_config *c, const cJSON *list, const char *path) {
  char sub[512];
  int i = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, list) {
    snprintf(sub, sizeof sub, "%s[%d]", path, i++);
    hl_status st = check_fields(c, p, sub, plugin_fields);
    if (st) return st;
    bool has_name = hl_json_get(p, "name") != NULL, has_path = hl_json_get(p, "path") != NULL;
    if (has_name == has_path)
      return bad(c, sub, "give exactly one of \"name\" (a built-in or installed plugin) and "
                         "\"path\" (a .so file)");
    const char *v = hl_json_get_string(p, has_name ? "name" : "path");
    if (!v[0]) return bad(c, sub, "\"%s\" is empty", has_name ? "name" : "path");
  }
  return HL_OK;
}

static hl_status check_mcp(const hl_config *c, const cJSON *list, const char *path) {
  char sub[512];
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, list) {
    snprintf(sub, sizeof sub, "%s[%d]", path, i++);
    hl_status st = check_fields(c, m, sub, mcp_fields);
    if (st) return st;
    const char *url = hl_json_get_string(m, "url"), *cmd = hl_json_get_string(m, "command");
    if (!url == !cmd) return bad(c, sub, "give exactly one of \"url\" and \"command\"");
    if (url && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
      return bad(c, sub, "\"url\" must start with http:// or https://, got \"%.100s\"", url);
    if (cmd && hl_json_get(m, "ca_file"))
      return bad(c, sub, "\"ca_file\" is for a server at an https:// \"url\", not a \"command\"");
    const char *era = hl_json_get_string(m, "era");
    if (era_of(era) < 0)
      return bad(c, sub, "\"era\" must be \"auto\", \"modern\" or \"legacy\", got \"%.40s\"", era);
    const cJSON *oauth = hl_json_get(m, "oauth");
    if (oauth) {
      char osub[540];
      snprintf(osub, sizeof osub, "%s.oauth", sub);
      if (cmd) return bad(c, osub, "OAuth is for a server at a \"url\", not a \"command\"");
      if ((st = check_fields(c, oauth, osub, oauth_fields))) return st;
      if (hl_json_get(oauth, "client_secret"))
        return bad(c, osub, "\"client_secret\" does not belong in a file: name the environment "
                            "variable that holds it with \"client_secret_env\"");
      const char *at = hl_json_get_string(oauth, "application_type");
      if (at && strcmp(at, "native") != 0 && strcmp(at, "web") != 0)
        return bad(c, osub, "\"application_type\" must be \"native\" or \"web\", got \"%.40s\"", at);
    }
  }
  return HL_OK;
}

static hl_status check_provider(const hl_config *c, const cJSON *p) {
  hl_status st = check_fields(c, p, "$.provider", provider_fields);
  if (st) return st;
  if (hl_json_get(p, "api_key"))
    return bad(c, "$.provider.api_key",
               "API keys do not belong in a config file: name the environment variable that "
               "holds it with \"api_key_env\"");
  static const char *const types[] = {"openai", "responses", "anthropic", "gemini", "scripted"};
  const char *type = hl_json_get_string(p, "type");
  if (!type) return bad(c, "$.provider", "\"type\" is required (openai, responses, anthropic, gemini or scripted)");
  const char *ver = hl_json_get_string(p, "http_version");
  if (ver && strcmp(ver, "auto") != 0 && strcmp(ver, "1.1") != 0 && strcmp(ver, "2") != 0)
    return bad(c, "$.provider.http_version", "expected \"auto\", \"1.1\" or \"2\", got \"%.40s\"", ver);
  if (ver && strcmp(type, "scripted") == 0)
    return bad(c, "$.provider.http_version", "a scripted provider makes no HTTP requests");
  if (hl_json_get(p, "ca_file") && strcmp(type, "scripted") == 0)
    return bad(c, "$.provider.ca_file", "a scripted provider makes no HTTP requests");
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    if (strcmp(type, types[i]) == 0) return HL_OK;
  return bad(c, "$.provider.type",
             "unknown provider \"%.60s\" (openai, responses, anthropic, gemini or scripted)", type);
}

static hl_status validate(const hl_config *c) {
  const cJSON *doc = c->doc;
  hl_status st = check_fields(c, doc, "$", top_fields);
  if (st) return st;
  const cJSON *v;
  if ((v = hl_json_get(doc, "provider")) && (st = check_provider(c, v))) return st;
  if ((v = hl_json_get(doc, "plugins")) && (st = check_plugins(c, v, "$.plugins"))) return st;
  if ((v = hl_json_get(doc, "mcp_servers")) && (st = check_mcp(c, v, "$.mcp_servers"))) return st;
  const cJSON *agents = hl_json_get(doc, "agents"), *a;
  char path[512], sub[600];
  int i = 0;
  cJSON_ArrayForEach(a, agents) {
    snprintf(path, sizeof path, "$.agents[%d]", i);
    if ((st = check_fields(c, a, path, agent_fields))) return st;
    const char *name = hl_json_get_string(a, "name");
    if (!name || !name[0]) return bad(c, path, "\"name\" is required");
    const cJSON *b;
    int j = 0;
    cJSON_ArrayForEach(b, agents) {
      if (j++ >= i) break;
      if (strcmp(hl_json_get_string(b, "name"), name) == 0)
        return bad(c, path, "a second agent named \"%.60s\" ($.agents[%d])", name, j - 1);
    }
    snprintf(sub, sizeof sub, "%s.plugins", path);
    if ((v = hl_json_get(a, "plugins")) && (st = check_plugins(c, v, sub))) return st;
    snprintf(sub, sizeof sub, "%s.mcp_servers", path);
    if ((v = hl_json_get(a, "mcp_servers")) && (st = check_mcp(c, v, sub))) return st;
    i++;
  }
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

static hl_status config_new(const char *text, const char *origin, const char *dir,
                            hl_config **out) {
  hl_config *c = calloc(1, sizeof *c);
  if (!c) return hl_fail(HL_ERR_NOMEM, "out of memory");
  pthread_mutex_init(&c->mu, NULL);
  c->origin = strdup(origin);
  c->dir = strdup(dir);
  if (!c->origin || !c->dir) {
    hl_config_free(c);
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  hl_status st = hl_json_parse(text, strlen(text), &c->doc);
  if (st != HL_OK) {
    char msg[700];
    snprintf(msg, sizeof msg, "%s", hl_last_error());
    hl_config_free(c);
    return hl_fail(st, "%s: %s", origin, msg);
  }
  if ((st = validate(c)) != HL_OK) {
    hl_config_free(c);
    return st;
  }
  *out = c;
  return HL_OK;
}

hl_status hl_config_parse(const char *text, const char *origin, hl_config **out) {
  if (out) *out = NULL;
  if (!text || !out) return hl_fail(HL_ERR_INVALID, "hl_config_parse: text and out are required");
  return config_new(text, origin ? origin : "config", "", out);
}

hl_status hl_config_load(const char *path, hl_config **out) {
  if (out) *out = NULL;
  if (!path || !out) return hl_fail(HL_ERR_INVALID, "hl_config_load: path and out are required");
  FILE *f = fopen(path, "rb");
  if (!f)
    return hl_fail(errno == ENOENT ? HL_ERR_NOT_FOUND : HL_ERR_IO, "config file \"%s\": %s", path,
                   strerror(errno));
  char *text = NULL;
  size_t len = 0, cap = 0;
  hl_status st = HL_OK;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      if (cap > (16u << 20)) {
        st = hl_fail(HL_ERR_TOO_LARGE, "config file \"%s\": larger than 16 MiB", path);
        break;
      }
      size_t ncap = cap ? cap * 2 : 8192;
      char *grown = realloc(text, ncap);
      if (!grown) {
        st = hl_fail(HL_ERR_NOMEM, "out of memory");
        break;
      }
      text = grown;
      cap = ncap;
    }
    errno = 0;
    size_t got = fread(text + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0) {
      if (ferror(f)) st = hl_fail(HL_ERR_IO, "config file \"%s\": %s", path, errno ? strerror(errno) : "read error");
      break;
    }
  }
  fclose(f);
  if (st == HL_OK && text && memchr(text, '\0', len))
    st = hl_fail(HL_ERR_INVALID, "config file \"%s\": contains a NUL byte", path);
  if (st != HL_OK) {
    free(text);
    return st;
  }
  text[len] = '\0';
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, (size_t)(slash - path) + 1) : strdup("");
  if (!dir) {
    free(text);
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  st = config_new(text, path, dir, out);
  free(dir);
  free(text);
  return st;
}

void hl_config_free(hl_config *config) {
  if (!config) return;
  for (size_t i = 0; i < config->n_mcp; i++) hl_mcp_free(config->mcp[i]);
  free(config->mcp);
  for (size_t i = 0; i < config->n_assertions; i++) hl__file_assertion_free(config->assertions[i]);
  free(config->assertions);
  cJSON_Delete(config->doc);
  free(config->origin);
  free(config->dir);
  pthread_mutex_destroy(&config->mu);
  free(config);
}

const cJSON *hl_config_json(const hl_config *config) { return config ? config->doc : NULL; }

/* ------------------------------------------------------------------ */
/* Using it                                                            */
/* ------------------------------------------------------------------ */

/* The agent entry called `name` and its index, or NULL. */
static const cJSON *find_agent(const hl_config *c, const char *name, int *index) {
  const cJSON *a;
  int i = 0;
  cJSON_ArrayForEach(a, hl_json_get(c->doc, "agents")) {
    if (strcmp(hl_json_get_string(a, "name"), name) == 0) {
      if (index) *index = i;
      return a;
    }
    i++;
  }
  return NULL;
}

/* Agent's own value of `key`, else the top level's. */
static const cJSON *inherited(const hl_config *c, const char *agent, const char *key) {
  const cJSON *a = agent ? find_agent(c, agent, NULL) : NULL;
  const cJSON *v = a ? hl_json_get(a, key) : NULL;
  return v ? v : hl_json_get(c->doc, key);
}

const char *hl_config_model(const hl_config *config, const char *agent) {
  const cJSON *v = config ? inherited(config, agent, "model") : NULL;
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *hl_config_instruction(const hl_config *config, const char *agent) {
  const cJSON *v = config ? inherited(config, agent, "instruction") : NULL;
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *hl_config_tools(const hl_config *config, const char *agent) {
  return config ? inherited(config, agent, "tools") : NULL;
}

/* `p` relative to the config file's directory unless absolute. */
static char *resolve(const hl_config *c, const char *p) {
  char *out = NULL;
  if (p[0] == '/' || !c->dir[0]) return strdup(p);
  if (asprintf(&out, "%s%s", c->dir, p) < 0) return NULL;
  return out;
}

hl_status hl_config_make_provider(const hl_config *config, hl_provider **out) {
  if (out) *out = NULL;
  if (!config || !out) return hl_fail(HL_ERR_INVALID, "hl_config_make_provider: NULL argument");
  const cJSON *p = hl_json_get(config->doc, "provider");
  if (!p) return HL_OK;
  const char *type = hl_json_get_string(p, "type");
  const char *base = hl_json_get_string(p, "base_url");
  const char *key_env = hl_json_get_string(p, "api_key_env");
  const char *key = key_env ? getenv(key_env) : NULL;
  if (key_env && (!key || !key[0]))
    return hl_fail(HL_ERR_AUTH, "%s: $.provider.api_key_env: the environment variable %s is not set",
                   config->origin, key_env);
  hl_provider *prov = NULL;
  if (strcmp(type, "scripted") == 0) {
    prov = hl_scripted_new();
    const char *script = hl_json_get_string(p, "script");
    if (prov && script) {
      char *path = resolve(config, script);
      hl_status st = path ? hl_scripted_load_file(prov, path) : HL_ERR_NOMEM;
      free(path);
      if (st != HL_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", hl_last_error());
        hl_provider_unref(prov);
        return hl_fail(st, "%s: $.provider.script: %s", config->origin, msg);
      }
    }
  } else {
    /* "http_version" (validated at load): hookline/pool.h */
    const char *ver = hl_json_get_string(p, "http_version");
    hl_http_version v = !ver || !strcmp(ver, "auto") ? HL_HTTP_VERSION_AUTO
                        : !strcmp(ver, "2")          ? HL_HTTP_VERSION_2
                                                     : HL_HTTP_VERSION_1_1;
    hl_status (*set_version)(hl_provider *, hl_http_version);
    hl_status (*set_ca_file)(hl_provider *, const char *);
    if (strcmp(type, "openai") == 0) {
      prov = hl_openai_new(base, key);
      set_version = hl_openai_set_http_version;
      set_ca_file = hl_openai_set_ca_file;
    } else if (strcmp(type, "responses") == 0) {
      prov = hl_responses_new(base, key);
      set_version = hl_responses_set_http_version;
      set_ca_file = hl_responses_set_ca_file;
    } else if (strcmp(type, "anthropic") == 0) {
      prov = hl_anthropic_new(base, key);
      set_version = hl_anthropic_set_http_version;
      set_ca_file = hl_anthropic_set_ca_file;
    } else {
      prov = hl_gemini_new(base, key);
      set_version = hl_gemini_set_http_version;
      set_ca_file = hl_gemini_set_ca_file;
    }
    if (prov && set_version(prov, v) != HL_OK) {
      hl_provider_unref(prov);
      prov = NULL;
    }
    /* "ca_file": a PEM file of private CAs, relative to the config file's
     * directory (hl_openai_set_ca_file()); checked here, when the agent is
     * built, with the reason (missing, unreadable, not PEM). */
    const char *ca = hl_json_get_string(p, "ca_file");
    if (prov && ca) {
      char *path = resolve(config, ca);
      hl_status st = path ? set_ca_file(prov, path) : HL_ERR_NOMEM;
      free(path);
      if (st != HL_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", hl_last_error());
        hl_provider_unref(prov);
        return hl_fail(st, "%s: $.provider.ca_file: %s", config->origin, msg);
      }
    }
  }
  if (!prov) {
    char msg[600];
    snprintf(msg, sizeof msg, "%s", hl_last_error());
    return hl_fail(hl_last_status() ? hl_last_status() : HL_ERR_NOMEM, "%s: $.provider: %s",
                   config->origin, msg);
  }
  *out = prov;
  return HL_OK;
}

/* Load the entries of `list` (at `path`) into `staging`. */
static hl_status load_plugins(const hl_config *c, const cJSON *list, const char *path,
                              hl_hooks *staging) {
  const cJSON *p;
  int i = 0;
  cJSON_ArrayForEach(p, list) {
    int idx = i++;
    if (!hl_json_get_bool(p, "enabled", true)) continue;
    const char *name = hl_json_get_string(p, "name");
    char *spec = name ? strdup(name) : resolve(c, hl_json_get_string(p, "path"));
    if (!spec) return hl_fail(HL_ERR_NOMEM, "out of memory");
    char why[900];
    hl_status st = hl__plugin_load(staging, spec, hl_json_get(p, "options"), NULL, why, sizeof why);
    if (st != HL_OK) {
      /* A "$..." from the plugin is a path within its options. */
      if (why[0] == '$')
        hl_fail(st, "%s: %s[%d].options%s (plugin \"%s\")", c->origin, path, idx, why + 1, spec);
      else
        hl_fail(st, "%s: %s[%d]: plugin \"%s\": %s", c->origin, path, idx, spec, why);
      free(spec);
      return st;
    }
    free(spec);
  }
  return HL_OK;
}

hl_status hl_config_install_plugins(const hl_config *config, const char *agent, hl_hooks *hooks) {
  if (!config || !hooks) return hl_fail(HL_ERR_INVALID, "hl_config_install_plugins: NULL argument");
  int index = -1;
  const cJSON *a = NULL;
  if (agent && !(a = find_agent(config, agent, &index)))
    return hl_fail(HL_ERR_NOT_FOUND, "%s: no agent named \"%s\" in $.agents", config->origin, agent);
  /* All into a private set first, so that a failing plugin leaves none of
   * the earlier ones installed. */
  hl_hooks *staging = hl_hooks_new();
  if (!staging) return hl_fail(HL_ERR_NOMEM, "out of memory");
  hl_status st = load_plugins(config, hl_json_get(config->doc, "plugins"), "$.plugins", staging);
  if (st == HL_OK && a) {
    char path[64];
    snprintf(path, sizeof path, "$.agents[%d].plugins", index);
    st = load_plugins(config, hl_json_get(a, "plugins"), path, staging);
  }
  if (st == HL_OK) st = hl_hooks_move(hooks, staging);
  hl_hooks_free(staging);
  return st;
}

hl_status hl_config_set_mcp_oauth(hl_config *config, const hl_mcp_oauth *oauth) {
  if (!config || !oauth || !oauth->size)
    return hl_fail(HL_ERR_INVALID, "hl_config_set_mcp_oauth: NULL argument or oauth->size not set");
  /* A caller's header from before fields were appended: the rest reads as
   * unset (hl_mcp_set_oauth() checks the size it needs). */
  memset(&config->oauth, 0, sizeof config->oauth);
  memcpy(&config->oauth, oauth, oauth->size < sizeof *oauth ? oauth->size : sizeof *oauth);
  return HL_OK;
}

/* An entry's "assertion_file" (relative to the file's directory): `o`
 * reads it at each authorization; the state stays with the config. */
static hl_status file_assertion(hl_config *config, hl_mcp_oauth *o, const char *file) {
  char *path = resolve(config, file);
  hl__file_assertion *f = NULL;
  hl_status st = path ? hl__file_assertion_apply(o, path, &f) : hl__oom();
  free(path);
  if (st) return st;
  pthread_mutex_lock(&config->mu);
  st = hl__reserve((void **)&config->assertions, &config->cap_assertions, config->n_assertions + 1,
                   sizeof *config->assertions);
  if (st == HL_OK) config->assertions[config->n_assertions++] = f;
  pthread_mutex_unlock(&config->mu);
  if (st) hl__file_assertion_free(f);
  return st;
}

/* An entry's "oauth": the application's handlers with the entry's client. */
static hl_status set_oauth(hl_config *config, hl_mcp *conn, const char *url, const cJSON *entry) {
  if (!config->oauth.size)
    return hl_fail(HL_ERR_INVALID, "%s: MCP server %s: \"oauth\": this application does not sign in to MCP "
                   "servers (hl_config_set_mcp_oauth() was not called)", config->origin, url);
  hl_mcp_oauth o = config->oauth;
  const char *v;
  if ((v = hl_json_get_string(entry, "client_id"))) o.client_id = v;
  if ((v = hl_json_get_string(entry, "client_metadata_url"))) o.client_metadata_url = v;
  if ((v = hl_json_get_string(entry, "client_name"))) o.client_name = v;
  if ((v = hl_json_get_string(entry, "application_type"))) o.application_type = v;
  if ((v = hl_json_get_string(entry, "assertion_file")) && file_assertion(config, &o, v) != HL_OK)
    return hl_fail(hl_last_status(), "%s: MCP server %s: oauth.assertion_file: out of memory", config->origin, url);
  if ((v = hl_json_get_string(entry, "client_secret_env"))) {
    o.client_secret = getenv(v);
    if (!o.client_secret || !*o.client_secret)
      return hl_fail(HL_ERR_INVALID, "%s: MCP server %s: oauth.client_secret_env: %s is not set", config->origin,
                     url, v);
  }
  hl_status st = hl_mcp_set_oauth(conn, &o);
  return st ? hl_fail(st, "%s: MCP server %s: oauth: %s", config->origin, url, hl_last_error()) : HL_OK;
}

hl_status hl_config_connect_mcp(hl_config *config, const char *agent, hl_agent *target) {
  if (!config || !target) return hl_fail(HL_ERR_INVALID, "hl_config_connect_mcp: NULL argument");
  const cJSON *list = inherited(config, agent, "mcp_servers"), *m;
  cJSON_ArrayForEach(m, list) {
    const char *url = hl_json_get_string(m, "url"), *cmd = hl_json_get_string(m, "command");
    const char *name = hl_json_get_string(m, "name");
    hl_mcp *conn = url ? hl_mcp_new_http(name, url) : hl_mcp_new_command(name, cmd);
    if (!conn)
      return hl_fail(hl_last_status(), "%s: MCP server %s: %s", config->origin, url ? url : cmd,
                     hl_last_error());
    /* "ca_file" as the provider's: relative to the config file's directory. */
    const char *ca = hl_json_get_string(m, "ca_file");
    if (ca) {
      char *path = resolve(config, ca);
      hl_status cst = path ? hl_mcp_set_ca_file(conn, path) : HL_ERR_NOMEM;
      free(path);
      if (cst != HL_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", hl_last_error());
        hl_mcp_free(conn);
        return hl_fail(cst, "%s: MCP server %s: ca_file: %s", config->origin, url, msg);
      }
    }
    /* Checked at load: a known word. */
    hl_mcp_set_era(conn, (hl_mcp_era)era_of(hl_json_get_string(m, "era")));
    const cJSON *oauth = hl_json_get(m, "oauth");
    if (oauth && set_oauth(config, conn, url, oauth) != HL_OK) {
      hl_mcp_free(conn);
      return hl_last_status();
    }
    pthread_mutex_lock(&config->mu);
    hl_status st = hl__reserve((void **)&config->mcp, &config->cap_mcp, config->n_mcp + 1,
                               sizeof *config->mcp);
    if (st == HL_OK) config->mcp[config->n_mcp++] = conn;
    pthread_mutex_unlock(&config->mu);
    if (st != HL_OK) {
      hl_mcp_free(conn);
      return st;
    }
    if ((st = hl_mcp_connect(conn)) != HL_OK)
      return hl_fail(st, "%s: %s", config->origin, hl_mcp_errmsg(conn));
    if ((st = hl_mcp_add_to_agent(conn, target)) != HL_OK) {
      char msg[600];
      snprintf(msg, sizeof msg, "%s", hl_last_error());
      return hl_fail(st, "%s: MCP server %s: %s", config->origin, hl_mcp_name(conn), msg);
    }
  }
  return HL_OK;
}

/* The tools named for the agent, from `tools`. */
static hl_status add_tools(const hl_config *c, const char *agent, int index,
                           const hl_tools *tools, hl_agent *a) {
  const cJSON *own = index >= 0 ? hl_json_get(find_agent(c, agent, NULL), "tools") : NULL;
  const cJSON *list = own ? own : hl_json_get(c->doc, "tools"), *t;
  char path[64];
  if (own) snprintf(path, sizeof path, "$.agents[%d].tools", index);
  else snprintf(path, sizeof path, "$.tools");
  int i = 0;
  cJSON_ArrayForEach(t, list) {
    hl_tool *tool = tools ? hl_tools_find(tools, t->valuestring) : NULL;
    if (!tool) {
      char known[300] = "";
      size_t len = 0;
      for (size_t k = 0; k < hl_tools_count(tools) && len < sizeof known; k++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", k ? ", " : "",
                                hl_tool_name(hl_tools_at(tools, k)));
      return hl_fail(HL_ERR_NOT_FOUND, "%s: %s[%d]: no tool named \"%.60s\" (this program has: %s)",
                     c->origin, path, i, t->valuestring, len ? known : "none");
    }
    hl_status st = hl_agent_add_tool(a, tool);
    if (st != HL_OK) return st;
    i++;
  }
  return HL_OK;
}

hl_status hl_config_build_agent(hl_config *config, const char *name, const hl_tools *tools,
                                hl_provider *provider, hl_agent **out) {
  if (out) *out = NULL;
  if (!config || !out) return hl_fail(HL_ERR_INVALID, "hl_config_build_agent: NULL argument");
  const cJSON *agents = hl_json_get(config->doc, "agents");
  int index = -1;
  const cJSON *entry = NULL;
  if (name) {
    if (!(entry = find_agent(config, name, &index)) && cJSON_GetArraySize(agents) > 0)
      return hl_fail(HL_ERR_NOT_FOUND, "%s: no agent named \"%s\" in $.agents", config->origin, name);
  } else if (cJSON_GetArraySize(agents) > 0) {
    entry = cJSON_GetArrayItem(agents, 0);
    index = 0;
  }
  const char *agent_name = entry ? hl_json_get_string(entry, "name") : name ? name : "assistant";
  const char *key = entry ? agent_name : NULL;
  hl_provider *own = NULL;
  hl_status st;
  if (!provider) {
    if ((st = hl_config_make_provider(config, &own)) != HL_OK) return st;
    if (!own)
      return hl_fail(HL_ERR_INVALID, "%s: $.provider: no provider in the file, and none given",
                     config->origin);
    provider = own;
  }
  hl_agent *a = hl_agent_new(agent_name);
  if (!a) {
    hl_provider_unref(own);
    return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  }
  st = hl_agent_set_provider(a, provider);
  hl_provider_unref(own);
  const char *model = hl_config_model(config, key), *instr = hl_config_instruction(config, key);
  if (st == HL_OK && model) st = hl_agent_set_model(a, model);
  if (st == HL_OK && instr) st = hl_agent_set_instruction(a, instr);
  const char *desc = entry ? hl_json_get_string(entry, "description") : NULL;
  if (st == HL_OK && desc) st = hl_agent_set_description(a, desc);
  if (st == HL_OK && entry && hl_json_get(entry, "max_turns"))
    st = hl_agent_set_max_turns(a, (int)hl_json_get_number(entry, "max_turns", 0));
  if (st == HL_OK && entry && hl_json_get(entry, "temperature"))
    st = hl_agent_set_temperature(a, hl_json_get_number(entry, "temperature", 0));
  if (st == HL_OK && entry && hl_json_get(entry, "max_tokens"))
    st = hl_agent_set_max_tokens(a, (int)hl_json_get_number(entry, "max_tokens", 0));
  if (st == HL_OK && entry && hl_json_get(entry, "stream"))
    st = hl_agent_set_stream(a, hl_json_get_bool(entry, "stream", false));
  if (st == HL_OK) st = add_tools(config, key, entry ? index : -1, tools, a);
  if (st == HL_OK) st = hl_config_install_plugins(config, key, hl_agent_hooks(a));
  if (st == HL_OK) st = hl_config_connect_mcp(config, key, a);
  if (st != HL_OK) {
    hl_agent_unref(a);
    return st;
  }
  *out = a;
  return HL_OK;
}
