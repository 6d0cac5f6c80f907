/*
 * lib/plugin/loader.c - load a plugin (a .so by path, or a built-in or
 * installed one by name) and install its hooks, all or nothing.
 *
 * Why each step is there:
 *   - the ELF magic is checked before dlopen so that a text file or a
 *     script named .so gets "not a shared object" rather than dlerror's
 *     "invalid ELF header" riddle;
 *   - RTLD_NOW makes a missing symbol fail here, with its name, not at
 *     the first call in the middle of a run;
 *   - the descriptor symbol's ELF type and size are checked before it is
 *     read: a function or a small object of that name would otherwise be
 *     read as a descriptor (code bytes as its size, or past its end);
 *   - RTLD_NODELETE keeps the code mapped: hook chains may hold its
 *     functions longer than any handle, and unmapping code that a chain
 *     still points to would be a crash much later;
 *   - init fills a private hook set that is moved into the caller's only
 *     on success, so a failing init leaves nothing behind.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "hookline/json.h"
#include "hookline/plugin.h"
#include "plugin/plugin_internal.h"
#include "plugin/plugin_dir.h" /* generated: HL_PLUGIN_DIR, the installed plugin directory */

#ifndef HL_PLUGIN_DIR
#define HL_PLUGIN_DIR "/usr/local/lib/hookline/plugins"
#endif

struct hl_plugin {
  const hl_plugin_descriptor *desc;
  char *path;   /* NULL for a built-in */
  void *state;
};

static hl_status load_fail(char *why, size_t whylen, hl_status st, const char *label,
                           const char *fmt, ...) HL_PRINTF(5, 6);
static hl_status load_fail(char *why, size_t whylen, hl_status st, const char *label,
                           const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (why && whylen) snprintf(why, whylen, "%s", msg);
  return hl_fail(st, "plugin \"%s\": %s", label, msg);
}

/* A name, not a path: letters, digits, '_', '-', '.' (not leading). */
static bool plugin_name_ok(const char *s) {
  if (!s[0] || s[0] == '.') return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_' || *s == '-' || *s == '.'))
      return false;
  return true;
}

/* The descriptor's smallest size: every field up to free (plugin.h). */
#define HL_PLUGIN_DESC_MIN (offsetof(hl_plugin_descriptor, free) + sizeof(void (*)(void *)))

/* Is the exported `hookline_plugin` at `d` an object the size of a
 * descriptor? (Its ELF symbol says, before a byte of it is read.) */
static hl_status check_symbol(const void *d, const char *label, char *why, size_t whylen) {
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  if (!dladdr1(d, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || info.dli_saddr != d)
    return HL_OK; /* no symbol table entry to judge by: the size field decides */
  unsigned type = ELF64_ST_TYPE(sym->st_info);
  if (type == STT_FUNC || type == STT_GNU_IFUNC)
    return load_fail(why, whylen, HL_ERR_INVALID, label,
                     "\"%s\" is a function, not a descriptor (define it with HL_PLUGIN_DEFINE)",
                     HL_PLUGIN_SYMBOL);
  if (sym->st_size < HL_PLUGIN_DESC_MIN)
    return load_fail(why, whylen, HL_ERR_INVALID, label,
                     "\"%s\" is %zu bytes, smaller than a descriptor (%zu): not a descriptor "
                     "(define it with HL_PLUGIN_DEFINE)", HL_PLUGIN_SYMBOL,
                     (size_t)sym->st_size, HL_PLUGIN_DESC_MIN);
  return HL_OK;
}

static hl_status check_descriptor(const hl_plugin_descriptor *d, const char *label, char *why,
                                  size_t whylen) {
  if (d->size < HL_PLUGIN_DESC_MIN)
    return load_fail(why, whylen, HL_ERR_INVALID, label,
                     "descriptor size %zu is too small (build it with HL_PLUGIN_DEFINE)", d->size);
  if (d->abi_version != HL_PLUGIN_ABI_VERSION)
    return load_fail(why, whylen, HL_ERR_UNSUPPORTED, label,
                     "built for plugin ABI version %u, this hookline has version %u: rebuild "
                     "the plugin against this hookline's headers",
                     d->abi_version, HL_PLUGIN_ABI_VERSION);
  if (!d->name || !d->name[0] || !d->init)
    return load_fail(why, whylen, HL_ERR_INVALID, label, "descriptor has no %s",
                     !d->init ? "init function" : "name");
  return HL_OK;
}

/* Run init on a private set and move its hooks into `hooks` on success. */
static hl_status install(const hl_plugin_descriptor *d, const char *path, const char *label,
                         hl_hooks *hooks, const cJSON *options, hl_plugin **out, char *why,
                         size_t whylen) {
  cJSON *empty = NULL;
  if (!options) {
    empty = cJSON_CreateObject();
    if (!empty) return load_fail(why, whylen, HL_ERR_NOMEM, label, "out of memory");
    options = empty;
  } else if (!cJSON_IsObject(options)) {
    return load_fail(why, whylen, HL_ERR_INVALID, label, "$: options must be a JSON object, got %s",
                     hl_json_type_name(options));
  }
  hl_plugin *plugin = calloc(1, sizeof *plugin);
  char *path_copy = path ? strdup(path) : NULL;
  hl_hooks *staging = hl_hooks_new();
  if (!plugin || !staging || (path && !path_copy)) {
    free(plugin);
    free(path_copy);
    hl_hooks_free(staging);
    cJSON_Delete(empty);
    return load_fail(why, whylen, HL_ERR_NOMEM, label, "out of memory");
  }
  void *state = NULL;
  hl_fail(HL_OK, "%s", ""); /* so that a silent failure is not given a stale message */
  hl_status st = d->init(staging, options, &state);
  cJSON_Delete(empty);
  if (st == HL_OK) st = hl_hooks_move(hooks, staging);
  else {
    /* a status that is no failure (or none at all) would reach a caller
     * that cannot act on it: it is the plugin's bug, said as such */
    bool failure = (unsigned)st < HL_STATUS_COUNT_ && st != HL_INTERRUPTED && st != HL_PENDING;
    char msg[800];
    if (!failure)
      snprintf(msg, sizeof msg, "init returned %d, which is not a failure status (HL_ERR_*)",
               (int)st);
    else
      snprintf(msg, sizeof msg, "%s", hl_last_error()[0] ? hl_last_error() : hl_strerror(st));
    hl_hooks_free(staging);
    free(plugin);
    free(path_copy);
    return load_fail(why, whylen, failure ? st : HL_ERR_INVALID, label, "%s", msg);
  }
  hl_hooks_free(staging); /* empty after a move; holds the hooks if it failed */
  if (st != HL_OK) {
    if (d->free) d->free(state);
    free(plugin);
    free(path_copy);
    return load_fail(why, whylen, st, label, "out of memory");
  }
  plugin->desc = d;
  plugin->path = path_copy;
  plugin->state = state;
  if (out) *out = plugin;
  else hl_plugin_free(plugin);
  return HL_OK;
}

static hl_status load_file(hl_hooks *hooks, const char *path, const cJSON *options,
                           hl_plugin **out, char *why, size_t whylen) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return load_fail(why, whylen, errno == ENOENT ? HL_ERR_NOT_FOUND : HL_ERR_IO, path,
                     "cannot open: %s", strerror(errno));
  unsigned char magic[4] = {0};
  size_t got = fread(magic, 1, sizeof magic, f);
  fclose(f);
  if (got != 4 || memcmp(magic, "\x7f" "ELF", 4) != 0)
    return load_fail(why, whylen, HL_ERR_INVALID, path,
                     "not a shared object (no ELF header): build plugins with cc -shared -fPIC");
  void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!dl) {
    const char *e = dlerror();
    return load_fail(why, whylen, HL_ERR_IO, path, "cannot load: %s", e ? e : "dlopen failed");
  }
  const hl_plugin_descriptor *d = dlsym(dl, HL_PLUGIN_SYMBOL);
  hl_status st = HL_OK;
  if (!d)
    st = load_fail(why, whylen, HL_ERR_INVALID, path,
                   "no \"%s\" descriptor exported (define it with HL_PLUGIN_DEFINE)",
                   HL_PLUGIN_SYMBOL);
  if (st == HL_OK) st = check_symbol(d, path, why, whylen);
  if (st == HL_OK) st = check_descriptor(d, path, why, whylen);
  if (st == HL_OK) st = install(d, path, path, hooks, options, out, why, whylen);
  /* RTLD_NODELETE: this only drops the reference, the code stays mapped. */
  dlclose(dl);
  return st;
}

/* NAME.so in the directories of `dirs` (colon-separated); the first that
 * exists, copied into buf. */
static bool find_in_dirs(const char *dirs, const char *name, char *buf, size_t len) {
  while (dirs && *dirs) {
    const char *colon = strchr(dirs, ':');
    size_t n = colon ? (size_t)(colon - dirs) : strlen(dirs);
    if (n > 0) {
      int w = snprintf(buf, len, "%.*s/%s.so", (int)n, dirs, name);
      if (w > 0 && (size_t)w < len && access(buf, F_OK) == 0) return true;
    }
    dirs = colon ? colon + 1 : NULL;
  }
  return false;
}

hl_status hl__plugin_load(hl_hooks *hooks, const char *spec, const cJSON *options,
                          hl_plugin **out, char *why, size_t whylen) {
  if (out) *out = NULL;
  if (why && whylen) why[0] = '\0';
  if (!hooks || !spec || !spec[0])
    return hl_fail(HL_ERR_INVALID, "hl_plugin_load: hooks and a plugin path or name are required");
  if (strchr(spec, '/')) return load_file(hooks, spec, options, out, why, whylen);
  if (!plugin_name_ok(spec))
    return load_fail(why, whylen, HL_ERR_INVALID, spec,
                     "not a plugin name (letters, digits, '_', '-') nor a path (with a '/')");
  const hl_plugin_descriptor *d = hl_plugin_builtin(spec);
  if (d) {
    hl_status st = check_descriptor(d, spec, why, whylen);
    return st ? st : install(d, NULL, spec, hooks, options, out, why, whylen);
  }
  char path[4096];
  if (find_in_dirs(getenv("HOOKLINE_PLUGIN_PATH"), spec, path, sizeof path) ||
      find_in_dirs(HL_PLUGIN_DIR, spec, path, sizeof path))
    return load_file(hooks, path, options, out, why, whylen);
  return load_fail(why, whylen, HL_ERR_NOT_FOUND, spec,
                   "no built-in plugin of that name, and no %s.so in HOOKLINE_PLUGIN_PATH or %s",
                   spec, HL_PLUGIN_DIR);
}

hl_status hl_plugin_load(hl_hooks *hooks, const char *spec, const cJSON *options,
                         hl_plugin **out) {
  return hl__plugin_load(hooks, spec, options, out, NULL, 0);
}

hl_status hl_plugin_load_text(hl_hooks *hooks, const char *spec, const char *options_json,
                              hl_plugin **out) {
  if (out) *out = NULL;
  if (!options_json || !options_json[0]) return hl_plugin_load(hooks, spec, NULL, out);
  cJSON *options = NULL;
  hl_status st = hl_json_parse(options_json, strlen(options_json), &options);
  if (st != HL_OK) {
    char msg[800];
    snprintf(msg, sizeof msg, "%s", hl_last_error());
    return hl_fail(st, "plugin \"%s\": options: %s", spec ? spec : "(null)", msg);
  }
  st = hl_plugin_load(hooks, spec, options, out);
  cJSON_Delete(options);
  return st;
}

void hl_plugin_free(hl_plugin *plugin) {
  if (!plugin) return;
  if (plugin->desc->free) plugin->desc->free(plugin->state);
  free(plugin->path);
  free(plugin);
}

const char *hl_plugin_name(const hl_plugin *plugin) { return plugin ? plugin->desc->name : NULL; }
const char *hl_plugin_version(const hl_plugin *plugin) {
  return plugin ? plugin->desc->version : NULL;
}
const char *hl_plugin_path(const hl_plugin *plugin) { return plugin ? plugin->path : NULL; }
void *hl_plugin_state(const hl_plugin *plugin) { return plugin ? plugin->state : NULL; }
