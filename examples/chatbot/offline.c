/*
 * offline.c - the offline demo model: a scripted provider whose built-in
 * rules answer a handful of prompts by really calling the tools.
 *
 * Each rule is a case-insensitive POSIX regex over the user's message and
 * a list of steps, one per model call: typically a tool call, then an
 * answer that quotes the tool's result ({{result}}). The script is built
 * with cJSON rather than written as one JSON string literal so that
 * escaping never gets in the way of reading it.
 */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

/* A short pause before each step so the spinner shows what waiting for a
 * model looks like; real models take longer. */
#define THINK_MS 250

const char *const chat_offline_examples[] = {
    "what is 17*23?", "(2+3)^2 / 4", "what time is it?", "tell me a joke", NULL,
};

static const char *connect_help =
    "To talk to a real model, set OPENAI_API_KEY or ANTHROPIC_API_KEY and restart, "
    "or use a local model through Ollama: "
    "hookline-chat --base-url http://localhost:11434/v1 --model llama3.2";

static cJSON *text_step(const char *text) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "text", text);
  cJSON_AddNumberToObject(s, "delay_ms", THINK_MS);
  return s;
}

/* A step with one tool call. `args_json` is the arguments as JSON text. */
static cJSON *tool_step(const char *id, const char *tool, const char *args_json) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "text", "");
  cJSON *calls = cJSON_AddArrayToObject(s, "tool_calls");
  cJSON *call = cJSON_CreateObject();
  cJSON_AddStringToObject(call, "id", id);
  cJSON_AddStringToObject(call, "name", tool);
  hl_json_add(call, "arguments", cJSON_Parse(args_json));
  cJSON_AddItemToArray(calls, call);
  cJSON_AddNumberToObject(s, "delay_ms", THINK_MS);
  return s;
}

static void add_rule(cJSON *rules, const char *regex, cJSON *step1, cJSON *step2) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "match", regex);
  cJSON *steps = cJSON_AddArrayToObject(r, "steps");
  cJSON_AddItemToArray(steps, step1);
  if (step2) cJSON_AddItemToArray(steps, step2);
  cJSON_AddItemToArray(rules, r);
}

/* Characters of an arithmetic expression; '×' and '÷' are accepted here and
 * rewritten to '*' and '/' by the normalize-math hook (hooks.c). */
#define EXPR_CHAR "([-+*/%^(). 0-9x]|×|÷)"
#define EXPR_ECHO_MAX "79"
#define ARITH_START                                                                          \
  "^[[:space:]]*(what is|what's|whats|calculate|compute|calc|evaluate|how much is|solve)?" \
  "[[:space:]]*"
#define ARITH_END "[[:space:]]*[?!.=]*[[:space:]]*$"

/* The program the offline model "writes" for the JavaScript sandbox: it
 * computes on its own and calls the calculator tool from inside JavaScript
 * (code mode), so /trace shows a tool call nested in a tool call. `var`,
 * not `const`: the session's JavaScript state lasts between calls, and a
 * top-level const cannot be declared twice (asking again would fail). */
static const char *js_program =
    "var fib = (n) => (n < 2 ? n : fib(n - 1) + fib(n - 2));\n"
    "var first = Array.from({length: 10}, (_, i) => fib(i));\n"
    "var product = await calculator({expression: \"17*23\"});\n"
    "console.log(\"first ten Fibonacci numbers: \" + first.join(\", \"));\n"
    "`fib(20) = ${fib(20)}, and 17*23 = ${product} (the calculator, called from JavaScript)`\n";

hl_status chat_load_offline_script(hl_provider *scripted, bool have_js) {
  cJSON *script = cJSON_CreateObject();
  cJSON *rules = cJSON_AddArrayToObject(script, "rules");

  if (have_js) {
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "code", js_program);
    char *args_text = cJSON_PrintUnformatted(args);
    cJSON_Delete(args);
    if (args_text) {
      add_rule(rules, "javascript|(^|[^a-z])js([^a-z]|$)|program|code|fibonacci",
               tool_step("call_js", "run_javascript", args_text),
               text_step("I wrote a small JavaScript program and ran it in the WebAssembly "
                         "sandbox, where it called the calculator tool itself (type /trace "
                         "to see the nested call). The run_javascript tool returned: "
                         "{{result}}"));
      free(args_text);
    }
  }

  /* Arithmetic: "what is 17*23?", "calculate (2+3)^2", or a bare "2^10".
   * The answer repeats an expression of up to EXPR_ECHO_MAX characters;
   * a longer one is not repeated, so that an error about it (too long,
   * say) is not buried under the expression. */
  add_rule(rules,
           ARITH_START "(" EXPR_CHAR "{0," EXPR_ECHO_MAX "}[0-9)])" ARITH_END,
           tool_step("call_calc", "calculator", "{\"expression\": \"$2\"}"),
           text_step("$2 = {{result}} (worked out by the calculator tool)"));
  add_rule(rules, ARITH_START "(" EXPR_CHAR "*[0-9)])" ARITH_END,
           tool_step("call_calc", "calculator", "{\"expression\": \"$2\"}"),
           text_step("The calculator tool says: {{result}}"));

  /* Time in UTC, then local time. */
  add_rule(rules, "(time|date|clock|day).*(utc|gmt|zulu)|(utc|gmt|zulu).*(time|date|clock)",
           tool_step("call_clock", "clock", "{\"utc\": true}"),
           text_step("It is {{result}}, says the clock tool."));
  add_rule(rules,
           "what time|the time|time is it|time now|what day|which day|today|the date|"
           "what date|clock",
           tool_step("call_clock", "clock", "{}"),
           text_step("It is {{result}}, says the clock tool."));

  add_rule(rules,
           "^[[:space:]]*(hi|hello|hey|howdy|bonjour|hallo|hola|good (morning|afternoon|evening))"
           "([^a-z]|$)",
           text_step("Hello! I'm the offline demo model of hookline-chat. I answer a few "
                     "prompts by calling real tools: arithmetic with the calculator (try "
                     "\"what is 17*23?\") and the time with the clock (\"what time is it?\"). "
                     "After an answer, /trace shows every hook and event behind it."),
           NULL);

  add_rule(rules, "(what can you do|who are you|what are you|how do you work|^[[:space:]]*help)",
           text_step("I'm a scripted stand-in for a language model, so this demo works "
                     "offline. Behind me is a real hookline agent: when you ask \"what is "
                     "17*23?\" I answer with a tool call, the agent runs the calculator "
                     "through its before_tool and after_tool hooks, and I quote the result. "
                     "Type /trace after an answer to see it, /tools and /hooks to see what "
                     "is wired in."),
           NULL);

  add_rule(rules, "joke|funny",
           text_step("Why did the agent bring a hook to the tool call? To catch the result "
                     "before the model could make one up. (Type /hooks to meet the hooks.)"),
           NULL);

  add_rule(rules, "story|poem|haiku",
           text_step("Tokens drift like snow,\nhooks wait by the tool's front door,\n"
                     "the answer arrives."),
           NULL);

  add_rule(rules, "thank|thx|merci|cheers",
           text_step("You're welcome! Try /trace to see what happened behind the last answer."),
           NULL);

  /* Everything else: say honestly what this is and how to get a real model. */
  char fallback[1024];
  snprintf(fallback, sizeof fallback,
           "I'm the offline demo model, so I only understand a few prompts: arithmetic "
           "(\"what is 17*23?\", \"(2+3)^2 / 4\"), the time (\"what time is it?\"), "
           "%shello, a joke. %s",
           have_js ? "a small JavaScript program (\"run some javascript\"), " : "", connect_help);
  hl_json_add(script, "fallback", text_step(fallback));

  char *text = cJSON_PrintUnformatted(script);
  cJSON_Delete(script);
  if (!text) return hl_fail(HL_ERR_NOMEM, "out of memory building the offline script");
  hl_status st = hl_scripted_load_json(scripted, text);
  free(text);
  return st;
}
