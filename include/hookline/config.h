/*
 * hookline/config.h - a JSON configuration file: provider, model, agents,
 * tools, plugins (with options and order) and MCP servers, loaded by one
 * call and validated with messages that give the path of the bad value.
 *
 *   {
 *     "provider": {"type": "openai", "base_url": "http://127.0.0.1:11434/v1",
 *                  "api_key_env": "OPENAI_API_KEY"},
 *     "model": "llama3.2",
 *     "instruction": "You are a helpful assistant.",
 *     "tools": ["calculator", "get_time"],
 *     "plugins": [
 *       {"name": "guardrail", "options": {"words": ["password"]}},
 *       {"path": "plugins/audit.so", "options": {"file": "audit.jsonl"}},
 *       {"name": "logging", "enabled": false}
 *     ],
 *     "mcp_servers": [{"url": "http://127.0.0.1:3001/mcp"},
 *                     {"command": "npx -y @modelcontextprotocol/server-everything"}],
 *     "agents": [{"name": "assistant", "instruction": "...", "model": "...",
 *                 "tools": ["calculator"], "plugins": [...], "max_turns": 8}],
 *     "store": {...},
 *     "approve": ["run_js", "mcp_*"]
 *   }
 *
 * Every key is optional. Top level: provider (object: type one of openai,
 * responses, anthropic, gemini, scripted; base_url; api_key_env, the name
 * of the environment variable holding the key, since keys never belong in
 * a file: "api_key" is refused; script, a scripted provider's JSON file;
 * http_version, "auto" (default), "1.1" or "2": see hl_http_version in
 * hookline/pool.h; ca_file, a PEM file of CA certificates trusted for
 * https:// instead of the system's store, relative to the file's
 * directory: see hl_openai_set_ca_file()),
 * model, instruction, tools (names of the application's tools the agents
 * get), plugins (installed in array order: name or path, options, enabled),
 * mcp_servers (url or command, optional name; era, "auto" (default),
 * "modern" or "legacy", as hl_mcp_set_era(): "legacy" spares a server
 * that ignores the server/discover probe its 5 s wait at each connect;
 * ca_file for an https://
 * url, as the provider's: hl_mcp_set_ca_file(); oauth, an object, for a
 * url that needs OAuth sign-in: optional client_id, client_secret_env
 * (the environment variable holding the secret: "client_secret" is
 * refused), client_metadata_url, client_name and application_type
 * ("native" or "web"), see hl_mcp_oauth, and assertion_file (relative to
 * the file's directory: a workload identity token, such as a Kubernetes
 * projected service-account token, read anew at each authorization and
 * given to the jwt-bearer grant as hl_mcp_oauth.assertion; trailing
 * whitespace dropped; a missing, empty or over-64-KiB file fails that
 * authorization with HL_ERR_AUTH naming it); the application gives the
 * sign-in step, the token store and a private_key_jwt signer (`sign`:
 * code, which no file can hold) with hl_config_set_mcp_oauth()), agents (name required;
 * instruction, description, model, tools, plugins, mcp_servers, max_turns,
 * temperature, max_tokens, stream; an agent's own tools / mcp_servers
 * replace the top-level ones, its plugins come after the top-level ones),
 * "store", reserved for the session store (only checked to be an
 * object here; its owner reads it with hl_config_json()), and "approve",
 * names or globs of tools whose calls wait for a person's decision
 * (interrupt.h; checked to be strings here, applied by the application,
 * which reads it with hl_config_json(): the chatbot adds it to its
 * --approve patterns). Unknown keys are
 * errors: a misspelt option must not be silently ignored. Relative paths
 * (plugin paths, script) are relative to the file's directory.
 *
 * Error messages name the file and the JSON path: `agent.json:
 * $.plugins[1].options.capacity: expected an integer from 1 to 16777216,
 * got string`. Validation of the document happens at load; plugins and
 * tools are resolved when an agent is built (their options are checked by
 * the plugins themselves, with the same kind of path).
 *
 * Thread-safety: a loaded config is read-only; several threads may build
 * agents from one config at once, except that hl_config_free() must come
 * after every use (and after the agents built from it are freed, since it
 * owns their MCP connections).
 */
#ifndef HOOKLINE_CONFIG_H
#define HOOKLINE_CONFIG_H

#include <cjson/cJSON.h>
#include "status.h"
#include "hooks.h"
#include "tool.h"
#include "provider.h"
#include "agent.h"
#include "mcp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_config hl_config;

/** Read and validate the file `path`. On HL_OK *out is the caller's
 *  (hl_config_free()). HL_ERR_IO / HL_ERR_NOT_FOUND for an unreadable
 *  file, HL_ERR_JSON with line and column for malformed JSON,
 *  HL_ERR_INVALID with the path of the bad value. */
HL_API hl_status hl_config_load(const char *path, hl_config **out);

/** The same from text; `origin` names it in messages (NULL: "config")
 *  and relative paths are taken from the current directory. */
HL_API hl_status hl_config_parse(const char *text, const char *origin, hl_config **out);

/** Free the config and the MCP connections hl_config_build_agent() made.
 *  NULL is fine. */
HL_API void hl_config_free(hl_config *config);

/** The validated document (borrowed, read-only, lives with the config):
 *  how other parts (the store) read their sections. */
HL_API const cJSON *hl_config_json(const hl_config *config);

/** The provider section as a new provider (the caller's reference), or
 *  *out NULL with HL_OK when the file has no provider section. */
HL_API hl_status hl_config_make_provider(const hl_config *config, hl_provider **out);

/** The model for agent `agent` (NULL: the top level): its own, else the
 *  top-level one, else NULL. Borrowed. */
HL_API const char *hl_config_model(const hl_config *config, const char *agent);

/** The instruction for agent `agent` (NULL: top level), as for the model. */
HL_API const char *hl_config_instruction(const hl_config *config, const char *agent);

/** Install the plugins of the top level and then, if `agent` is not
 *  NULL, those of that agent, in file order, into `hooks`. All or
 *  nothing: on failure the plugins already installed by this call are
 *  removed again, and the message names the file, the JSON path of the
 *  plugin entry (or of the bad option) and the plugin. */
HL_API hl_status hl_config_install_plugins(const hl_config *config, const char *agent,
                                           hl_hooks *hooks);

/** The tool names for agent `agent` (NULL: top level): a JSON array of
 *  strings (borrowed), or NULL when the file does not say. */
HL_API const cJSON *hl_config_tools(const hl_config *config, const char *agent);

/** The application's side of OAuth for the file's MCP servers that
 *  have an "oauth" object: `oauth`'s redirect_uri, authorize, user_data,
 *  token store (load_tokens/save_tokens) and signer (sign, signing_alg,
 *  signing_kid) are used for each of them, with the entry's client_id,
 *  client_secret_env, client_metadata_url, client_name and
 *  application_type taking the place of `oauth`'s, and its
 *  assertion_file that of `assertion` (the application's callbacks
 *  still get its user_data). `oauth` is copied, its
 *  strings are borrowed until the last hl_config_connect_mcp() (or
 *  hl_config_build_agent()) returned. Without it such an entry fails to
 *  connect with HL_ERR_INVALID naming it. Not thread-safe with those
 *  calls: set it first. */
HL_API hl_status hl_config_set_mcp_oauth(hl_config *config, const hl_mcp_oauth *oauth);

/** Connect the MCP servers for `agent` (NULL: top level) and add their
 *  tools to `target`. The connections belong to the config. */
HL_API hl_status hl_config_connect_mcp(hl_config *config, const char *agent, hl_agent *target);

/**
 * Build the agent `name` of the file (NULL: the first of "agents", or one
 * named "assistant" from the top level when there is no "agents"): its
 * provider (from the file; `provider` when not NULL overrides it), model,
 * instruction, the tools it names taken from `tools` (the application's
 * registry; an unknown name is an error with its path), its plugins and
 * MCP servers, and its limits. On HL_OK *out is the caller's reference.
 */
HL_API hl_status hl_config_build_agent(hl_config *config, const char *name,
                                       const hl_tools *tools, hl_provider *provider,
                                       hl_agent **out);

#ifdef __cplusplus
}
#endif
#endif
