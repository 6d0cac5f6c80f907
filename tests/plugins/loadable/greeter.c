/*
 * tests/plugins/loadable/greeter.c - a third party's plugin, compiled by
 * the test suite at test time with `cc -shared -fPIC ... $(pkg-config
 * --cflags --libs hookline)`, as plugin.h tells users to. Not part of the
 * library's build.
 *
 * It answers inputs that start with "hello" itself (a before_agent
 * override). Options: {"greeting": "text", "fail_after_install": bool}:
 * the second makes init add its hook and then fail, to prove that the
 * loader removes what a failing init installed.
 *
 * -DGREETER_ABI=N builds it for another plugin ABI version (the loader
 * must refuse it); -DGREETER_MISSING_SYMBOL makes it call a function no
 * library has (dlopen must fail, naming it); -DGREETER_NO_DESCRIPTOR
 * leaves the descriptor out; -DGREETER_DESCRIPTOR_IS_FUNCTION and
 * -DGREETER_DESCRIPTOR_IS_INT export a function or an int under the
 * descriptor's name; -DGREETER_INIT_STATUS=N makes init install its hook
 * and return N (a status that is no failure, or no status at all).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hookline.h>
#include <hookline/plugin.h>

#ifdef GREETER_MISSING_SYMBOL
void hl_no_such_function_anywhere(void);
#endif

static hl_hook_action greet(hl_context *ctx, const hl_before_agent_args *args,
                            hl_before_agent_out *out, void *user_data)
{
  (void)ctx;
#ifdef GREETER_MISSING_SYMBOL
  hl_no_such_function_anywhere();
#endif
  if (strncasecmp(args->input, "hello", 5) != 0)
    return HL_HOOK_CONTINUE;
  out->answer = strdup(user_data);
  return out->answer ? HL_HOOK_OVERRIDE : hl_hook_abort("greeter: out of memory");
}

static hl_status greeter_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  (void)state;
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(options, "greeting");
  if (g && !cJSON_IsString(g))
    return hl_fail(HL_ERR_INVALID, "$.greeting: expected a string, got %s", hl_json_type_name(g));
  char *text = strdup(g ? g->valuestring : "Hello from the greeter plugin!");
  if (!text)
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  hl_hook_def def = {.size = sizeof def, .point = HL_HOOK_BEFORE_AGENT, .name = "greeter",
                     .flags = HL_HOOK_DECIDE, .fn.before_agent = greet, .user_data = text,
                     .free_user_data = free};
  hl_status st = hl_hooks_add(hooks, &def);
  if (st != HL_OK)
    return st;
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(options, "fail_after_install")))
    return hl_fail(HL_ERR_EXECUTION_FAILED, "greeter: asked to fail after installing its hook");
#ifdef GREETER_INIT_STATUS
  return (hl_status)GREETER_INIT_STATUS;
#else
  return HL_OK;
#endif
}

#if defined(GREETER_DESCRIPTOR_IS_FUNCTION)
__attribute__((visibility("default"))) hl_status hookline_plugin(hl_hooks *h, const cJSON *o,
                                                                 void **s)
{
  return greeter_init(h, o, s);
}
#elif defined(GREETER_DESCRIPTOR_IS_INT)
__attribute__((visibility("default"))) const int hookline_plugin = HL_PLUGIN_ABI_VERSION;
/* keeps greeter_init used */
__attribute__((visibility("default"))) hl_status (*greeter_init_ptr)(hl_hooks *, const cJSON *,
                                                                     void **) = greeter_init;
#elif !defined(GREETER_NO_DESCRIPTOR)
#ifdef GREETER_ABI
__attribute__((visibility("default"))) const hl_plugin_descriptor hookline_plugin = {
    .size = sizeof(hl_plugin_descriptor), .abi_version = GREETER_ABI, .name = "greeter",
    .version = "1.0.0", .init = greeter_init};
#else
HL_PLUGIN_DEFINE("greeter", "1.0.0", "Answers greetings itself", greeter_init, NULL);
#endif
#else
/* The init exported under another name: a valid library, no descriptor. */
__attribute__((visibility("default")))
hl_status (*greeter_not_a_descriptor)(hl_hooks *, const cJSON *, void **) = greeter_init;
#endif
