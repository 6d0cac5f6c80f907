/*
 * secrets.c - does a line look like it holds a secret? The REPL keeps such
 * lines out of its history file (repl.c).
 *
 * The input guardrail (hooks.c) decides what the model may see; this
 * decides what is written to disk, and it is wider on purpose: a line that
 * may hold a credential costs nothing to forget, while one written to
 * ~/.hookline_chat_history outlives the session. Lines the guardrail
 * refused are kept out separately (repl.c), whatever their shape.
 *
 * Hand-written scanning rather than regexes: no state to compile or free,
 * and linear in the line's length.
 */
#include "chat.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Characters of API keys and tokens (base64, base64url, hex). */
static bool key_char(char c) {
  return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '+' || c == '/' || c == '=';
}

/* A key starts a word: "KEY=sk-..." does, "task-sk-12345..." does not. */
static bool word_start(const char *line, const char *p) {
  return p == line || !(isalnum((unsigned char)p[-1]) || p[-1] == '-' || p[-1] == '_');
}

/* Length of the run of key characters at p. */
static size_t key_run(const char *p) {
  size_t n = 0;
  while (key_char(p[n])) n++;
  return n;
}

/* At p, a word starting with `prefix` (exact case) followed by at least
 * `min` key characters, a digit among them when `digit` (so that prose
 * such as "sk-learn-is-a-library" is not taken for a key). */
static bool prefixed_key(const char *line, const char *p, const char *prefix, size_t min,
                         bool digit) {
  size_t n = strlen(prefix);
  if (!word_start(line, p) || strncmp(p, prefix, n) != 0) return false;
  size_t run = key_run(p + n);
  if (run < min) return false;
  for (size_t i = 0; digit && i < run; i++)
    if (isdigit((unsigned char)p[n + i])) return true;
  return !digit;
}

/* "Bearer <token>", any case, with a token of 8 characters or more. */
static bool bearer_token(const char *line, const char *p) {
  if (!word_start(line, p) || strncasecmp(p, "bearer", 6) != 0) return false;
  p += 6;
  if (*p != ' ' && *p != '\t') return false;
  while (*p == ' ' || *p == '\t') p++;
  size_t n = 0;
  while (key_char(p[n]) || p[n] == '.' || p[n] == '~') n++;
  return n >= 8;
}

/* A run of 32 key characters or more that is hex, or that mixes digits with
 * upper- and lower-case letters (base64): what generated tokens look like,
 * and what prose, paths and arithmetic ("1+2+3...") do not. */
static bool long_token(const char *p, size_t n) {
  if (n < 32) return false;
  bool hex = true, digit = false, upper = false, lower = false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (!isxdigit(c)) hex = false;
    digit |= isdigit(c) != 0;
    upper |= isupper(c) != 0;
    lower |= islower(c) != 0;
  }
  return hex || (digit && upper && lower);
}

bool chat_looks_secret(const char *line) {
  for (const char *p = line; *p; p++) {
    if (prefixed_key(line, p, "sk-", 10, true) ||     /* OpenAI, Anthropic (sk-ant-...) */
        prefixed_key(line, p, "AIza", 30, false) ||   /* Google API keys */
        prefixed_key(line, p, "ghp_", 20, false) || prefixed_key(line, p, "gho_", 20, false) ||
        prefixed_key(line, p, "ghs_", 20, false) ||
        prefixed_key(line, p, "github_pat_", 20, false) ||
        prefixed_key(line, p, "AKIA", 16, false) ||   /* AWS access key ids */
        bearer_token(line, p))
      return true;
    if (key_char(*p) && (p == line || !key_char(p[-1])) && long_token(p, key_run(p)))
      return true;
  }
  return false;
}
