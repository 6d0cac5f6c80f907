/*
 * hookline/plugins.h - ready-made hook plugins (the hooks/ folder).
 *
 * Each plugin is a small object that you configure, then install into a
 * set of hook chains (an agent's own, hl_agent_hooks(), or the global
 * ones, hl_hooks_global()). The plugins use only the public API: they are
 * also examples of how to write hooks.
 *
 *   logging          one line per hook point to a FILE*
 *   response cache   before_model answers from a cache keyed by a hash of
 *                    the request; after_model fills it
 *   input guardrail  before_agent refuses inputs with blocked words or
 *                    matching regular expressions
 *   tool allowlist   before_tool denies tools that are not on a list
 *   arg enrichment   before_tool adds or overrides argument fields
 *
 * Ownership, the same for every plugin: hl_X_new() returns one reference,
 * the caller's. hl_X_install() makes the hook set take its own reference,
 * released when the set is freed (hl_hooks_free(), or the agent's end for
 * hl_agent_hooks()). So the usual sequence is new, configure, install,
 * unref; keep your reference instead if you want to read counters later.
 * One plugin object may be installed into several hook sets (a cache
 * shared by several agents). Strings passed in are copied.
 *
 * Order: a plugin's hooks are appended to the chains at install time, so
 * they run after hooks added earlier (H3). Where it matters (the cache
 * should see the request as it will be sent; the logger should see what
 * the other hooks did), install the plugin last.
 *
 * Thread-safety: configure a plugin before installing it and before runs
 * start; configuring after that is not allowed. Once installed, every
 * plugin's hooks are safe to run from many threads at once (parallel tool
 * calls, several agents sharing one plugin), and the counter accessors may
 * be called from any thread at any time.
 */
#ifndef HOOKLINE_PLUGINS_H
#define HOOKLINE_PLUGINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"
#include "hooks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

/**
 * Install six hooks named "logging" (one per before/after point, all
 * HL_HOOK_OBSERVE: installing them makes runs copy nothing) that each
 * write one line to `out`:
 *
 *   [app] before_agent branch=calc agent=calc inv=inv-50bf.. input="add 1 and 2"
 *   [app] before_model branch=calc agent=calc turn=1 model=m messages=2 tools=1 last_role=user last="add 1 and 2"
 *   [app] after_model branch=calc agent=calc turn=1 finish=tool_calls text="" tool_calls=[add] usage=12/5 error=OK
 *   [app] before_tool branch=calc agent=calc call_id=c1 tool=add args={"a":1,"b":2}
 *   [app] after_tool branch=calc agent=calc call_id=c1 tool=add args={"a":1,"b":2} result=3 error=OK
 *   [app] before_model branch=calc agent=calc turn=2 model=m messages=4 tools=1 last_role=tool last="3"
 *   [app] after_model branch=calc agent=calc turn=2 finish=stop text="3" tool_calls=[] usage=20/1 error=OK
 *   [app] after_agent branch=calc agent=calc answer="3"
 *
 * A failed model call logs "response=null error=ProviderError:\"why\"". The
 * last= field of before_model is the last message's text, or the first
 * tool result for a tool message.
 *
 * Text values are JSON string literals (newlines escaped) cut at 200
 * bytes; JSON values are printed compactly and cut at 400 bytes. Because
 * the lines are written when the logger's hook runs, they show what the
 * hooks before it did: the mutated arguments, a before_tool override's
 * result in after_tool, a replaced response. `prefix` NULL or "" writes
 * no "[prefix] ". `out` is borrowed and must outlive the hook set; lines
 * are written whole (the stream is locked per line) and flushed.
 * HL_ERR_INVALID for NULL hooks/out.
 */
HL_API hl_status hl_logging_hooks_install(hl_hooks *hooks, FILE *out, const char *prefix);

/** hl_logging_hooks_install() writing to the file `path`, opened for
 *  appending now (HL_ERR_IO naming the file if it cannot be) and closed
 *  when the last of the six hooks goes (the set is freed or "logging"
 *  removed). This is what the loadable form ("logging" plugin, option
 *  "file") uses. */
HL_API hl_status hl_logging_hooks_install_path(hl_hooks *hooks, const char *path,
                                               const char *prefix);

/* ------------------------------------------------------------------ */
/* Response cache                                                      */
/* ------------------------------------------------------------------ */

typedef struct hl_response_cache hl_response_cache;

/**
 * New response cache holding at most `capacity` responses (>= 1; the least
 * recently used goes first). NULL and HL_ERR_INVALID in hl_last_error()
 * for capacity 0, NULL on out of memory.
 *
 * The key is the FNV-1a 64-bit hash of the request's canonical JSON
 * (hl_request_to_json() with object keys sorted, compact, and the
 * `stream` flag left out since it does not change the answer); the
 * canonical text itself is kept and compared, so a hash collision is a
 * miss, never a wrong answer. A hit returns a copy of the stored response
 * with zero usage (no tokens were spent).
 */
HL_API hl_response_cache *hl_response_cache_new(size_t capacity);
/** Reference counting as described at the top; both thread-safe. */
HL_API hl_response_cache *hl_response_cache_ref(hl_response_cache *cache);
HL_API void hl_response_cache_unref(hl_response_cache *cache);

/** Install a before_model hook "response_cache" (override on a hit) and an
 *  after_model hook "response_cache" (stores successful responses of
 *  misses). Install it after the hooks that edit the request. */
HL_API hl_status hl_response_cache_install(hl_response_cache *cache, hl_hooks *hooks);

/** Lookups answered from the cache. */
HL_API uint64_t hl_response_cache_hits(const hl_response_cache *cache);
/** Lookups that went to the model. */
HL_API uint64_t hl_response_cache_misses(const hl_response_cache *cache);
/** Responses held now (<= capacity). */
HL_API size_t hl_response_cache_size(const hl_response_cache *cache);
/** Forget every stored response (counters are kept). Thread-safe. */
HL_API void hl_response_cache_clear(hl_response_cache *cache);

/** The cache key of `req`: FNV-1a 64 of its canonical JSON (see above).
 *  Returns HL_ERR_INVALID for NULL arguments, HL_ERR_NOMEM. */
HL_API hl_status hl_request_hash(const hl_request *req, uint64_t *hash);

/** The canonical JSON text the hash is computed from (for hl_free()). */
HL_API hl_status hl_request_canonical_json(const hl_request *req, char **out);

/* ------------------------------------------------------------------ */
/* Input guardrail                                                     */
/* ------------------------------------------------------------------ */

typedef struct hl_guardrail hl_guardrail;

/** New guardrail that answers blocked inputs with `refusal` (NULL: "I can't
 *  help with that request."). NULL on out of memory. */
HL_API hl_guardrail *hl_guardrail_new(const char *refusal);
/** Reference counting as described at the top; both thread-safe. */
HL_API hl_guardrail *hl_guardrail_ref(hl_guardrail *guardrail);
HL_API void hl_guardrail_unref(hl_guardrail *guardrail);

/** Block inputs containing `word` (a word or a phrase), compared without
 *  regard to ASCII case and only as a whole word: "ass" blocks "Ass!" but
 *  not "class". HL_ERR_INVALID for NULL or "" . */
HL_API hl_status hl_guardrail_block_word(hl_guardrail *guardrail, const char *word);

/** Block inputs matching the POSIX extended regular expression `pattern`
 *  (case-insensitive). HL_ERR_INVALID with regcomp's message if the
 *  pattern does not compile. */
HL_API hl_status hl_guardrail_block_regex(hl_guardrail *guardrail, const char *pattern);

/** Install a before_agent hook "guardrail": a blocked user input
 *  (hl_context_user_input()) makes it override with the refusal, so no
 *  model or tool runs (H4). It also emits a CUSTOM event
 *  "guardrail_blocked" with {"rule": "<word or pattern>"}. */
HL_API hl_status hl_guardrail_install(hl_guardrail *guardrail, hl_hooks *hooks);

/** Inputs refused so far. */
HL_API uint64_t hl_guardrail_blocked(const hl_guardrail *guardrail);

/** The rule that blocks `input` (borrowed, valid while the guardrail
 *  lives), or NULL if the input passes. For testing rules. */
HL_API const char *hl_guardrail_check(const hl_guardrail *guardrail, const char *input);

/* ------------------------------------------------------------------ */
/* Tool allowlist                                                      */
/* ------------------------------------------------------------------ */

typedef struct hl_tool_allowlist hl_tool_allowlist;

/** New empty allowlist (denies every tool until some are allowed). */
HL_API hl_tool_allowlist *hl_tool_allowlist_new(void);
/** Reference counting as described at the top; both thread-safe. */
HL_API hl_tool_allowlist *hl_tool_allowlist_ref(hl_tool_allowlist *list);
HL_API void hl_tool_allowlist_unref(hl_tool_allowlist *list);
/** Allow the tool called `name`. */
HL_API hl_status hl_tool_allowlist_allow(hl_tool_allowlist *list, const char *name);
/** True if `name` is allowed. */
HL_API bool hl_tool_allowlist_allows(const hl_tool_allowlist *list, const char *name);

/** Install a before_tool hook "tool_allowlist": a call to a tool that is
 *  not allowed is overridden (the tool does not run, H8) with the result
 *  {"error": "denied", "message": "tool \"rm\" is not on the allowlist"}
 *  that the model sees. */
HL_API hl_status hl_tool_allowlist_install(hl_tool_allowlist *list, hl_hooks *hooks);

/** Calls denied so far. */
HL_API uint64_t hl_tool_allowlist_denied(const hl_tool_allowlist *list);

/* ------------------------------------------------------------------ */
/* Argument enrichment                                                 */
/* ------------------------------------------------------------------ */

typedef struct hl_arg_enricher hl_arg_enricher;

/** New enricher with no rules. */
HL_API hl_arg_enricher *hl_arg_enricher_new(void);
/** Reference counting as described at the top; both thread-safe. */
HL_API hl_arg_enricher *hl_arg_enricher_ref(hl_arg_enricher *enricher);
HL_API void hl_arg_enricher_unref(hl_arg_enricher *enricher);

/**
 * Add a rule for tool `tool` ("*" or NULL: every tool): `fields_json` is a
 * JSON object whose top-level fields are merged into the call's arguments.
 * With `override` false they are defaults, added only where the model left
 * the field out; with `override` true they replace what the model sent
 * (e.g. force "safe_mode": true). Rules apply in the order added; the
 * result is again validated against the tool's schema before it runs.
 * HL_ERR_JSON for malformed text, HL_ERR_INVALID if it is not an object.
 */
HL_API hl_status hl_arg_enricher_add(hl_arg_enricher *enricher, const char *tool,
                                     const char *fields_json, bool override);

/** Install a before_tool hook "arg_enricher" that replaces the arguments
 *  by pointer (H7) with the enriched copy when a rule applies: the tool,
 *  TOOL_START/TOOL_END and after_tool see the enriched arguments. */
HL_API hl_status hl_arg_enricher_install(hl_arg_enricher *enricher, hl_hooks *hooks);

/** Calls whose arguments were changed so far. */
HL_API uint64_t hl_arg_enricher_applied(const hl_arg_enricher *enricher);

#ifdef __cplusplus
}
#endif
#endif
