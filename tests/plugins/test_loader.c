/*
 * tests/plugins/test_loader.c - plugins loaded at run time (plugin.h).
 *
 * A third party's plugin (loadable/greeter.c) is compiled here, at test
 * time, with the C compiler and `pkg-config --cflags --libs hookline`
 * (the build tree's uninstalled .pc, and once against a staged `meson
 * install`), then loaded by path and by name and
 * run in a real agent. Variants of it prove each refusal: another ABI
 * version, no descriptor, an undefined symbol; plus a file that is not
 * ELF, bad options, and an init that fails after adding a hook (nothing
 * may stay installed). The built-in plugins load by name and, from the
 * .so files of the build, by path.
 *
 * Environment (set by meson.build): PLUGIN_CC (compiler command),
 * PKG_CONFIG_PATH, GREETER_SRC (the source), BUILTIN_SO_DIR (where the
 * built-ins' .so files are), HL_BUILD_ROOT, HL_PREFIX and HL_LIBDIR (to
 * install the build and find the installed .pc).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "hookline/config.h"
#include "hookline/plugin.h"

static char tmpdir[256];

/* Compile greeter.c with `defines` into tmpdir/NAME.so, its flags from
 * `pkgconfig` (a pkg-config command line); the path, for free(). */
static char *build_greeter_with(const char *name, const char *defines, const char *pkgconfig)
{
  const char *cc = getenv("PLUGIN_CC"), *src = getenv("GREETER_SRC");
  if (!cc || !src)
    return NULL;
  char *out = NULL, *cmd = NULL;
  if (asprintf(&out, "%s/%s.so", tmpdir, name) < 0)
    return NULL;
  if (asprintf(&cmd, "%s -shared -fPIC -Wall -Werror %s -o '%s' '%s' "
                     "$(%s)",
               cc, defines, out, src, pkgconfig) < 0) {
    free(out);
    return NULL;
  }
  int rc = system(cmd);
  if (rc != 0) {
    fprintf(stderr, "compile failed (%d): %s\n", rc, cmd);
    free(out);
    out = NULL;
  }
  free(cmd);
  return out;
}

/* The same against the build tree's uninstalled .pc: quick, for the
 * variants that test the loader's refusals rather than the install. */
static char *build_greeter(const char *name, const char *defines)
{
  return build_greeter_with(name, defines, "pkg-config --cflags --libs hookline-uninstalled");
}

static size_t total_hooks(const hl_hooks *h)
{
  size_t n = 0;
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++)
    n += hl_hooks_count(h, (hl_hook_point)p);
  return n;
}

static void user_plugin_built_with_pkg_config_loads_by_path_and_runs(void)
{
  char *so = build_greeter("greeter", "");
  REQUIRE(so);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "the model answered");
  hl_agent *agent = fx_agent("host", p);
  hl_plugin *plugin = NULL;
  CHECK_INT(hl_plugin_load_text(hl_agent_hooks(agent), so, "{\"greeting\":\"Hi from a .so\"}",
                                &plugin), HL_OK);
  REQUIRE(plugin);
  CHECK_STR(hl_plugin_name(plugin), "greeter");
  CHECK_STR(hl_plugin_version(plugin), "1.0.0");
  CHECK_STR(hl_plugin_path(plugin), so);
  CHECK_STR(hl_hooks_name_at(hl_agent_hooks(agent), HL_HOOK_BEFORE_AGENT, 0), "greeter");
  /* The handle may go; the hooks stay and own their data. */
  hl_plugin_free(plugin);
  CHECK_RUN(agent, NULL, "hello there", "Hi from a .so");
  CHECK_RUN(agent, NULL, "what is 2+2?", "the model answered");
  CHECK_INT(hl_scripted_request_count(p), 1);   /* the greeting never reached the model */
  hl_agent_unref(agent);
  hl_provider_unref(p);
  free(so);
}

/* The same .so loaded twice into one set (two configurations, say): two
 * handles, two hooks in registration order, the first one's override
 * wins (H3); the handles go in any order while the hooks keep working
 * (the code stays mapped, each hook owns its text), and removing the
 * name takes both. */
static void same_plugin_loaded_twice(void)
{
  char *so = build_greeter("greeter", "");
  REQUIRE(so);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "the model answered");
  hl_agent *agent = fx_agent("host", p);
  hl_hooks *h = hl_agent_hooks(agent);
  hl_plugin *first = NULL, *second = NULL;
  CHECK_INT(hl_plugin_load_text(h, so, "{\"greeting\":\"first\"}", &first), HL_OK);
  CHECK_INT(hl_plugin_load_text(h, so, "{\"greeting\":\"second\"}", &second), HL_OK);
  REQUIRE(first && second && first != second);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_BEFORE_AGENT), 2);
  hl_plugin_free(first);
  CHECK_RUN(agent, NULL, "hello", "first");
  hl_plugin_free(second);
  CHECK_RUN(agent, NULL, "hello again", "first");
  CHECK_INT(hl_hooks_remove(h, "greeter"), HL_OK);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_BEFORE_AGENT), 0);
  CHECK_RUN(agent, NULL, "hello, model", "the model answered");
  hl_agent_unref(agent);
  hl_provider_unref(p);
  free(so);
}

/* The mission row "hook plugins loadable at run time", as a third party
 * does it: install hookline (here into a staging
 * directory, `meson install --destdir`), compile the plugin with only
 * what the installed hookline.pc gives (its prefix rewritten to the
 * staging directory; the source tree's headers are not on the command
 * line), and name it by path in a config. */
static void user_plugin_built_against_an_install_runs_from_a_config(void)
{
  const char *root = getenv("HL_BUILD_ROOT"), *prefix = getenv("HL_PREFIX");
  const char *libdir = getenv("HL_LIBDIR");
  REQUIRE(root && prefix && libdir);
  char dest[512], pcdir[1024], cmd[8192], header[1024];
  snprintf(dest, sizeof dest, "%s/destdir", tmpdir);
  snprintf(cmd, sizeof cmd, "meson install -C '%s' --destdir '%s' --no-rebuild --quiet >'%s/install.log' 2>&1",
           root, dest, tmpdir);
  int rc = system(cmd);
  if (rc != 0)
    fprintf(stderr, "install failed (%d): %s (see %s/install.log)\n", rc, cmd, tmpdir);
  REQUIRE(rc == 0);
  /* libdir is relative to the prefix unless absolute */
  if (libdir[0] == '/')
    snprintf(pcdir, sizeof pcdir, "%s%s/pkgconfig", dest, libdir);
  else
    snprintf(pcdir, sizeof pcdir, "%s%s/%s/pkgconfig", dest, prefix, libdir);
  snprintf(header, sizeof header, "%s%s/include/hookline/plugin.h", dest, prefix);
  struct stat sb;
  CHECK(stat(header, &sb) == 0);   /* the public headers were installed */
  /* The installed hookline.pc with its prefix moved into the staging
   * directory (as if the package had been unpacked there). Not
   * PKG_CONFIG_SYSROOT_DIR or --define-prefix: both would move the
   * system's libcjson flags too (-I/usr/include/cjson). */
  snprintf(cmd, sizeof cmd,
           "mkdir -p '%s/pc' && sed 's|^prefix=.*|prefix=%s%s|' '%s/hookline.pc' >'%s/pc/hookline.pc'",
           tmpdir, dest, prefix, pcdir, tmpdir);
  CHECK(system(cmd) == 0);
  snprintf(cmd, sizeof cmd, "PKG_CONFIG_PATH='%s/pc' pkg-config --cflags --libs hookline", tmpdir);
  /* the flags name the staging directory, not the build tree */
  char probe[16384];
  snprintf(probe, sizeof probe, "test \"$(%s | grep -c -- '-I%s%s/include')\" = 1", cmd, dest, prefix);
  CHECK(system(probe) == 0);
  char *so = build_greeter_with("greeter_installed", "", cmd);
  REQUIRE(so);
  char json[1200];
  snprintf(json, sizeof json,
           "{\"provider\": {\"type\": \"scripted\"}, \"model\": \"m\",\n"
           " \"plugins\": [{\"path\": \"%s\", \"options\": {\"greeting\": \"Hi from an install\"}}]}",
           so);
  hl_config *cfg = NULL;
  CHECK_INT(hl_config_parse(json, "agent.json", &cfg), HL_OK);
  REQUIRE(cfg);
  hl_agent *agent = NULL;
  CHECK_INT(hl_config_build_agent(cfg, NULL, NULL, NULL, &agent), HL_OK);
  REQUIRE(agent);
  CHECK_STR(hl_hooks_name_at(hl_agent_hooks(agent), HL_HOOK_BEFORE_AGENT, 0), "greeter");
  CHECK_RUN(agent, NULL, "hello, agent", "Hi from an install");
  CHECK_INT(hl_scripted_request_count(hl_agent_provider(agent)), 0);
  hl_agent_unref(agent);
  hl_config_free(cfg);
  free(so);
}

static void user_plugin_found_by_name_in_plugin_path(void)
{
  char *so = build_greeter("greeter", "");
  REQUIRE(so);
  setenv("HOOKLINE_PLUGIN_PATH", "/nonexistent-dir", 1);
  hl_hooks *h = hl_hooks_new();
  CHECK_INT(hl_plugin_load(h, "greeter", NULL, NULL), HL_ERR_NOT_FOUND);
  CHECK_CONTAINS(hl_last_error(), "plugin \"greeter\"");
  char dirs[600];
  snprintf(dirs, sizeof dirs, "/nonexistent-dir:%s", tmpdir);
  setenv("HOOKLINE_PLUGIN_PATH", dirs, 1);
  hl_plugin *plugin = NULL;
  CHECK_INT(hl_plugin_load(h, "greeter", NULL, &plugin), HL_OK);
  CHECK_STR(hl_plugin_path(plugin), so);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_BEFORE_AGENT), 1);
  CHECK_INT(hl_plugin_load(h, "../greeter", NULL, NULL), HL_ERR_NOT_FOUND); /* a path: no such file */
  CHECK_INT(hl_plugin_load(h, "bad name!", NULL, NULL), HL_ERR_INVALID);
  unsetenv("HOOKLINE_PLUGIN_PATH");
  hl_plugin_free(plugin);
  hl_hooks_free(h);
  free(so);
}

static void wrong_abi_version_is_refused_naming_the_file(void)
{
  char *so = build_greeter("greeter_abi1", "-DGREETER_ABI=1");
  REQUIRE(so);
  hl_hooks *h = hl_hooks_new();
  hl_plugin *plugin = (hl_plugin *)&plugin;
  CHECK_INT(hl_plugin_load(h, so, NULL, &plugin), HL_ERR_UNSUPPORTED);
  CHECK(plugin == NULL);
  CHECK_CONTAINS(hl_last_error(), so);
  CHECK_CONTAINS(hl_last_error(), "ABI version 1");
  CHECK_INT(total_hooks(h), 0);
  hl_hooks_free(h);
  free(so);
}

static void library_without_descriptor_is_refused(void)
{
  char *so = build_greeter("greeter_nodesc", "-DGREETER_NO_DESCRIPTOR");
  REQUIRE(so);
  hl_hooks *h = hl_hooks_new();
  CHECK_INT(hl_plugin_load(h, so, NULL, NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), so);
  CHECK_CONTAINS(hl_last_error(), "no \"hookline_plugin\" descriptor");
  CHECK_INT(total_hooks(h), 0);
  hl_hooks_free(h);
  free(so);
}

/* Build the greeter with `defines` as NAME.so: loading it fails with
 * `want_st`, a message naming the file and holding `want`, *out NULL and
 * nothing installed. */
static void check_refused(const char *name, const char *defines, hl_status want_st,
                          const char *want)
{
  char *so = build_greeter(name, defines);
  REQUIRE(so);
  hl_hooks *h = hl_hooks_new();
  hl_plugin *plugin = (hl_plugin *)&plugin;
  CHECK_INT(hl_plugin_load(h, so, NULL, &plugin), want_st);
  fprintf(stderr, "  (%s: %s)\n", name, hl_last_error());
  CHECK(plugin == NULL);
  CHECK_CONTAINS(hl_last_error(), so);
  CHECK_CONTAINS(hl_last_error(), want);
  CHECK_INT(total_hooks(h), 0);
  hl_hooks_free(h);
  free(so);
}

/* A library that exports something else under the descriptor's name: a
 * function, or an int smaller than a descriptor. Reading either as a
 * descriptor reads code or past the object's end; the loader checks the
 * symbol's type and size first. */
static void symbol_that_is_not_a_descriptor_is_refused(void)
{
  check_refused("greeter_fn", "-DGREETER_DESCRIPTOR_IS_FUNCTION", HL_ERR_INVALID,
                "\"hookline_plugin\" is a function, not a descriptor (define it with HL_PLUGIN_DEFINE)");
  check_refused("greeter_int", "-DGREETER_DESCRIPTOR_IS_INT", HL_ERR_INVALID,
                "\"hookline_plugin\" is 4 bytes, smaller than a descriptor");
}

/* An init that installs its hook and returns something that is no
 * failure status (HL_PENDING, HL_INTERRUPTED) or no status at all: the
 * load fails with HL_ERR_INVALID naming the value, and nothing is
 * installed; a caller testing `st != HL_OK` and one reading the status
 * both see a failure they can act on. */
static void init_returning_no_failure_status_is_refused(void)
{
  check_refused("greeter_st12345", "-DGREETER_INIT_STATUS=12345", HL_ERR_INVALID,
                "init returned 12345, which is not a failure status");
  check_refused("greeter_stneg", "-DGREETER_INIT_STATUS=-3", HL_ERR_INVALID, "init returned -3");
  check_refused("greeter_stpending", "-DGREETER_INIT_STATUS=HL_PENDING", HL_ERR_INVALID,
                "init returned 26");
}

static void undefined_symbol_fails_at_load_naming_it(void)
{
  char *so = build_greeter("greeter_undef", "-DGREETER_MISSING_SYMBOL");
  REQUIRE(so);
  hl_hooks *h = hl_hooks_new();
  CHECK_INT(hl_plugin_load(h, so, NULL, NULL), HL_ERR_IO);
  CHECK_CONTAINS(hl_last_error(), so);
  CHECK_CONTAINS(hl_last_error(), "hl_no_such_function_anywhere");
  CHECK_INT(total_hooks(h), 0);
  hl_hooks_free(h);
  free(so);
}

static void non_elf_and_missing_files_are_refused(void)
{
  char path[400];
  snprintf(path, sizeof path, "%s/notes.so", tmpdir);
  FILE *f = fopen(path, "w");
  REQUIRE(f);
  fputs("#!/bin/sh\necho this is not a shared object\n", f);
  fclose(f);
  hl_hooks *h = hl_hooks_new();
  CHECK_INT(hl_plugin_load(h, path, NULL, NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), path);
  CHECK_CONTAINS(hl_last_error(), "not a shared object");
  snprintf(path, sizeof path, "%s/empty.so", tmpdir);
  f = fopen(path, "w");
  REQUIRE(f);
  fclose(f);
  CHECK_INT(hl_plugin_load(h, path, NULL, NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "not a shared object");
  snprintf(path, sizeof path, "%s/absent.so", tmpdir);
  CHECK_INT(hl_plugin_load(h, path, NULL, NULL), HL_ERR_NOT_FOUND);
  CHECK_CONTAINS(hl_last_error(), path);
  CHECK_INT(hl_plugin_load(NULL, path, NULL, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_plugin_load(h, NULL, NULL, NULL), HL_ERR_INVALID);
  CHECK_INT(total_hooks(h), 0);
  hl_hooks_free(h);
}

static void bad_options_are_refused_with_their_path(void)
{
  char *so = build_greeter("greeter", "");
  REQUIRE(so);
  hl_hooks *h = hl_hooks_new();
  CHECK_INT(hl_plugin_load_text(h, so, "{\"greeting\": 5}", NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), so);
  CHECK_CONTAINS(hl_last_error(), "$.greeting: expected a string, got integer");
  CHECK_INT(hl_plugin_load_text(h, so, "[1,2]", NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "options must be a JSON object");
  CHECK_INT(hl_plugin_load_text(h, so, "{\"greeting\":", NULL), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), so);
  /* The built-ins check their options the same way. */
  CHECK_INT(hl_plugin_load_text(h, "response_cache", "{\"capacity\": 0}", NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "plugin \"response_cache\": $.capacity: expected an integer");
  CHECK_INT(hl_plugin_load_text(h, "tool_allowlist", "{\"alow\": []}", NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "$.alow: unknown option (known: allow)");
  CHECK_INT(hl_plugin_load_text(h, "guardrail", "{\"words\": [\"ok\", 3]}", NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "$.words[1]: expected a non-empty string, got integer");
  CHECK_INT(hl_plugin_load_text(h, "guardrail", "{\"patterns\": [\"(\"]}", NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "$.patterns[0]:");
  CHECK_INT(hl_plugin_load_text(h, "arg_enricher", "{\"rules\": [{\"tool\":\"x\"}]}", NULL),
            HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "$.rules[0].fields: required");
  CHECK_INT(hl_plugin_load_text(h, "arg_enricher", "{\"rules\": [{\"fields\":{}, \"override\":1}]}",
                                NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "$.rules[0].override: expected true or false");
  CHECK_INT(hl_plugin_load(h, "no_such_plugin", NULL, NULL), HL_ERR_NOT_FOUND);
  CHECK_INT(total_hooks(h), 0);
  hl_hooks_free(h);
  free(so);
}

/* An init that added its hook and then failed leaves the target as it was. */
static void failing_init_leaves_nothing_installed(void)
{
  char *so = build_greeter("greeter", "");
  REQUIRE(so);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "model says hi");
  hl_agent *agent = fx_agent("host", p);
  hl_hooks *h = hl_agent_hooks(agent);
  REQUIRE(hl_plugin_load_text(h, "tool_allowlist", "{\"allow\":[\"x\"]}", NULL) == HL_OK);
  hl_plugin *plugin = (hl_plugin *)&plugin;
  CHECK_INT(hl_plugin_load_text(h, so, "{\"fail_after_install\": true}", &plugin),
            HL_ERR_EXECUTION_FAILED);
  CHECK(plugin == NULL);
  CHECK_CONTAINS(hl_last_error(), so);
  CHECK_CONTAINS(hl_last_error(), "asked to fail after installing its hook");
  CHECK_INT(total_hooks(h), 1);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_BEFORE_AGENT), 0);
  CHECK_RUN(agent, NULL, "hello", "model says hi");   /* no greeter answered */
  hl_agent_unref(agent);
  hl_provider_unref(p);
  free(so);
}

/* The built-in tool allowlist, from its .so in the build's plugin
 * directory, loaded by path, denies a tool in a real run; its state is the
 * allowlist object, whose counter the application can read. */
static void builtin_so_loads_by_path_and_governs_a_run(void)
{
  const char *dir = getenv("BUILTIN_SO_DIR");
  REQUIRE(dir);
  char so[600];
  snprintf(so, sizeof so, "%s/tool_allowlist.so", dir);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "delete_all", "{}");
  hl_scripted_push_text(p, "done");
  hl_agent *agent = fx_agent("careful", p);
  fx_counter calls = {0};
  hl_tool *t = fx_echo_tool("delete_all", &calls);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_plugin *plugin = NULL;
  REQUIRE(hl_plugin_load_text(hl_agent_hooks(agent), so, "{\"allow\":[\"search\"]}", &plugin) ==
          HL_OK);
  CHECK_STR(hl_plugin_path(plugin), so);
  CHECK_STR(hl_plugin_name(plugin), "tool_allowlist");
  CHECK_RUN(agent, NULL, "clean up", "done");
  CHECK_INT(atomic_load(&calls.calls), 0);
  CHECK_INT(hl_tool_allowlist_denied(hl_plugin_state(plugin)), 1);
  hl_plugin_free(plugin);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

/* Every built-in loads by name (linked in) and by path (its .so), with its
 * defaults or minimal options. */
static void every_builtin_loads_by_name_and_by_path(void)
{
  const char *dir = getenv("BUILTIN_SO_DIR");
  REQUIRE(dir);
  char log[400], audit[400];
  snprintf(log, sizeof log, "{\"file\":\"%s/log.txt\"}", tmpdir);
  snprintf(audit, sizeof audit, "{\"file\":\"%s/audit.jsonl\"}", tmpdir);
  size_t n = 0;
  for (const hl_plugin_descriptor *d; (d = hl_plugin_builtin_at(n)); n++) {
    CHECK(hl_plugin_builtin(d->name) == d);
    CHECK_INT(d->abi_version, HL_PLUGIN_ABI_VERSION);
    /* Options that make each install at least one hook. */
    const char *opts = strcmp(d->name, "logging") == 0        ? log
                       : strcmp(d->name, "audit") == 0        ? audit
                       : strcmp(d->name, "rate_limiter") == 0 ? "{\"tool\": {\"rate\": 5}}"
                                                              : "{}";
    hl_hooks *h = hl_hooks_new();
    hl_plugin *plugin = NULL;
    CHECK_INT(hl_plugin_load_text(h, d->name, opts, &plugin), HL_OK);
    CHECK(hl_plugin_path(plugin) == NULL);
    size_t by_name = total_hooks(h);
    CHECK(by_name > 0);
    hl_plugin_free(plugin);
    hl_hooks_free(h);
    char so[600];
    snprintf(so, sizeof so, "%s/%s.so", dir, d->name);
    h = hl_hooks_new();
    CHECK_INT(hl_plugin_load_text(h, so, opts, &plugin), HL_OK);
    CHECK_STR(hl_plugin_name(plugin), d->name);
    CHECK_INT(total_hooks(h), by_name);
    hl_plugin_free(plugin);
    /* A bad option through the .so names the file. */
    CHECK_INT(hl_plugin_load_text(h, so, "{\"no_such_option\":1}", NULL), HL_ERR_INVALID);
    CHECK_CONTAINS(hl_last_error(), so);
    CHECK_CONTAINS(hl_last_error(), "$.no_such_option: unknown option");
    hl_hooks_free(h);
  }
  CHECK(n >= 5);
}

int main(int argc, char **argv)
{
  CHECK_ARGS(argc, argv);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hl-plugins-XXXXXX");
  if (!mkdtemp(tmpdir))
    return 1;
  RUN(user_plugin_built_with_pkg_config_loads_by_path_and_runs);
  RUN(user_plugin_built_against_an_install_runs_from_a_config);
  RUN(user_plugin_found_by_name_in_plugin_path);
  RUN(same_plugin_loaded_twice);
  RUN(wrong_abi_version_is_refused_naming_the_file);
  RUN(library_without_descriptor_is_refused);
  RUN(symbol_that_is_not_a_descriptor_is_refused);
  RUN(init_returning_no_failure_status_is_refused);
  RUN(undefined_symbol_fails_at_load_naming_it);
  RUN(non_elf_and_missing_files_are_refused);
  RUN(bad_options_are_refused_with_their_path);
  RUN(failing_init_leaves_nothing_installed);
  RUN(builtin_so_loads_by_path_and_governs_a_run);
  RUN(every_builtin_loads_by_name_and_by_path);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return CHECK_EXIT();
}
