/*
 * hookline/plugin.h - plugins loadable at run time: a descriptor, and a
 * loader that installs a plugin into a hook set by path or by name.
 *
 * A plugin is a shared object (.so) that exports one symbol,
 * `hookline_plugin`, an hl_plugin_descriptor: its name, its version, the
 * plugin ABI it was built for, and an init function that installs its
 * hooks into a hook set, configured by a JSON options object. The
 * built-in plugins of hooks/ (logging, response_cache, guardrail,
 * tool_allowlist, arg_enricher, and the guards of guards.h) have the same
 * descriptors: they are linked into libhookline and load by name, and each
 * is also installed as a .so in the plugin directory
 * (`pkg-config --variable=plugindir hookline`).
 *
 * Writing a plugin (a complete one is tests/plugins/loadable/greeter.c):
 *
 *   #include <hookline.h>
 *   #include <hookline/plugin.h>
 *
 *   static hl_status my_init(hl_hooks *hooks, const cJSON *options, void **state) {
 *     ... read options (reject bad ones: return hl_fail(HL_ERR_INVALID,
 *         "$.greeting: expected a string, got number")) ...
 *     return hl_hooks_add(hooks, &def);   // def.free_user_data owns user_data
 *   }
 *   HL_PLUGIN_DEFINE("greeter", "1.0.0", "Answers greetings itself", my_init, NULL);
 *
 *   cc -shared -fPIC -o greeter.so greeter.c $(pkg-config --cflags --libs hookline)
 *
 * Contract for init:
 *   - `options` is a JSON object (never NULL: {} when none were given),
 *     borrowed for the call. Report bad options with HL_ERR_INVALID and a
 *     message starting with the JSON path of the bad value relative to the
 *     options object ("$.capacity: expected an integer >= 1"); the config
 *     file loader (config.h) rewrites "$" into the path within the file.
 *   - Install hooks into `hooks` only. The loader hands init a fresh,
 *     empty set and moves the hooks into the caller's set only when init
 *     returns HL_OK (hl_hooks_move(), hooks.h), so a failing init leaves
 *     nothing installed (the hooks it added are freed, with their
 *     free_user_data).
 *   - To watch events (other hooks' decisions, tool calls, model calls),
 *     attach an observer to the same set: hl_hooks_add_observer(hooks,
 *     "my_plugin", obs) (observer.h; declare the event types it needs
 *     with hl_observer_set_events(), so that runs build no others). It
 *     moves into the caller's set with the hooks, all or nothing, sees
 *     the runs that use that set, and goes with hl_hooks_remove(set,
 *     "my_plugin") or the set's end (the audit plugin does this).
 *   - Every hook must own what it uses through free_user_data: hooks live
 *     as long as the hook set, which may outlive the hl_plugin handle.
 *   - `*state` (optional, NULL on entry) is what the plugin wants to give
 *     the application through hl_plugin_state() (e.g. its object, to read
 *     counters); `free` (optional) releases it when the handle is freed.
 *     On failure init must release whatever it put in *state itself.
 *
 * Code lifetime: a plugin's .so is opened with RTLD_NODELETE and stays
 * mapped until the process exits (its hook functions may be in chains
 * that outlive every handle), as Python does with extension modules.
 *
 * Static programs: a .so plugin links against the shared libhookline, so
 * load .so plugins only in programs that use the shared library; a
 * program linked with libhookline.a uses the built-ins by name.
 *
 * Thread-safety: loading installs hooks, which is configure-time only
 * (see hooks.h): not while a run uses the target set. Loading different
 * plugins into different sets from several threads at once is safe.
 */
#ifndef HOOKLINE_PLUGIN_H
#define HOOKLINE_PLUGIN_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "status.h"
#include "hooks.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The plugin ABI of this header: the hook ABI version (hooks.h, v2) that
 *  plugins compiled against it use. A plugin built for another value is
 *  refused (HL_ERR_UNSUPPORTED) rather than run with the wrong structs. */
#define HL_PLUGIN_ABI_VERSION 2u

/** The name of the symbol a plugin .so exports. */
#define HL_PLUGIN_SYMBOL "hookline_plugin"

/** What a plugin exports. Fill with HL_PLUGIN_DEFINE(); fields are only
 *  ever appended (size tells which the plugin has). */
typedef struct hl_plugin_descriptor {
  size_t size;              /**< sizeof(hl_plugin_descriptor) of the plugin's header */
  unsigned abi_version;     /**< HL_PLUGIN_ABI_VERSION it was compiled against */
  const char *name;         /**< short name, [a-z0-9_-]+ */
  const char *version;      /**< the plugin's own version, free text ("1.2.0") */
  const char *description;  /**< one line, may be NULL */
  /** Install the plugin's hooks into `hooks` (see the contract above). */
  hl_status (*init)(hl_hooks *hooks, const cJSON *options, void **state);
  /** Release *state of a successful init (NULL: nothing to release). */
  void (*free)(void *state);
} hl_plugin_descriptor;

/** Define the exported descriptor of a plugin .so. */
#define HL_PLUGIN_DEFINE(name_, version_, description_, init_, free_)                  \
  __attribute__((visibility("default"))) const hl_plugin_descriptor hookline_plugin = { \
      .size = sizeof(hl_plugin_descriptor),                                            \
      .abi_version = HL_PLUGIN_ABI_VERSION,                                            \
      .name = (name_),                                                                 \
      .version = (version_),                                                           \
      .description = (description_),                                                  \
      .init = (init_),                                                                 \
      .free = (free_)}

/** A loaded plugin (opaque). */
typedef struct hl_plugin hl_plugin;

/**
 * Load the plugin `spec` and install its hooks, appended to the chains of
 * `hooks`, configured by `options` (a JSON object, borrowed; NULL: {}).
 *
 * `spec` is a path when it contains a '/' (a .so file), else a name:
 * first a built-in plugin (hl_plugin_builtin()), then `NAME.so` in the
 * directories of the HOOKLINE_PLUGIN_PATH environment variable
 * (colon-separated), then in the installed plugin directory.
 *
 * On HL_OK the hooks are in `hooks` and, if `out` is not NULL, *out is a
 * handle for hl_plugin_free() (its name, version, state). On failure
 * nothing is installed, *out is NULL, and hl_last_error() names the file
 * (or name) and says what is wrong:
 *   HL_ERR_NOT_FOUND     no such file, or no plugin of that name
 *   HL_ERR_INVALID       not an ELF shared object; no `hookline_plugin`
 *                        symbol, or one that is a function or an object
 *                        smaller than a descriptor; a descriptor without
 *                        name or init; options not an object; options the
 *                        plugin refused; an init that returned a status
 *                        that is no failure (HL_PENDING, HL_INTERRUPTED)
 *                        or no status at all
 *   HL_ERR_UNSUPPORTED   built for another plugin ABI version
 *   HL_ERR_IO            dlopen failed (e.g. an undefined symbol)
 *   otherwise            the status the plugin's init returned
 * Configure-time only (see the top).
 */
HL_API hl_status hl_plugin_load(hl_hooks *hooks, const char *spec, const cJSON *options,
                                hl_plugin **out);

/** hl_plugin_load() with the options as JSON text (NULL or "": {}); a
 *  syntax error is HL_ERR_JSON naming the plugin. */
HL_API hl_status hl_plugin_load_text(hl_hooks *hooks, const char *spec, const char *options_json,
                                     hl_plugin **out);

/** Release the handle: calls the descriptor's free on the state. The
 *  installed hooks stay in their set (they own what they use) until it is
 *  freed or they are removed. NULL is fine. Not thread-safe for one handle. */
HL_API void hl_plugin_free(hl_plugin *plugin);

/** The descriptor's name / version (borrowed, valid while the handle
 *  lives). Thread-safe. */
HL_API const char *hl_plugin_name(const hl_plugin *plugin);
HL_API const char *hl_plugin_version(const hl_plugin *plugin);
/** The file it was loaded from, or NULL for a built-in. Borrowed. */
HL_API const char *hl_plugin_path(const hl_plugin *plugin);
/** What init put in *state (borrowed; NULL if nothing). */
HL_API void *hl_plugin_state(const hl_plugin *plugin);

/** The built-in plugin called `name`, or NULL. Static data; thread-safe. */
HL_API const hl_plugin_descriptor *hl_plugin_builtin(const char *name);
/** The i-th built-in plugin (NULL past the end), for listings. */
HL_API const hl_plugin_descriptor *hl_plugin_builtin_at(size_t i);

#ifdef __cplusplus
}
#endif
#endif
