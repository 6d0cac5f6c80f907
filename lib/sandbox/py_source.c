/*
 * lib/sandbox/py_source.c - the text MicroPython compiles from the model's
 * source (see py_vm_internal.h, hl__py_source_text): the last expression
 * statement assigned to __hl_result__, so that its value can be read, and
 * the dedent MicroPython's own exec applies.
 *
 * The prelude's code cache (py_prelude.c) is keyed by the source as the
 * model wrote it and compiles what this file makes of it, only when the
 * source is not in the cache: everything that decides the compiled form
 * must therefore follow from the source text alone, as it does here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "py_vm_internal.h"

static bool starts_with_word(const char *s, const char *w) {
  size_t n = strlen(w);
  if (strncmp(s, w, n) != 0)
    return false;
  char c = s[n];
  return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_');
}

bool hl__py_with_result(const char *code, size_t len, char **out) {
  *out = NULL;
  size_t last = SIZE_MAX;
  bool in_triple = false, cont = false;
  char tq = 0;
  int depth = 0;
  size_t i = 0;
  while (i < len) {
    char c0 = code[i];
    if (!in_triple && depth == 0 && !cont && c0 != ' ' && c0 != '\t' && c0 != '#' &&
        c0 != '\n' && c0 != '\r')
      last = i;
    cont = false;
    while (i < len && code[i] != '\n') {
      char c = code[i];
      if (in_triple) {
        if (c == '\\') {
          i += 2;
          continue;
        }
        if (c == tq && i + 2 < len && code[i + 1] == tq && code[i + 2] == tq) {
          in_triple = false;
          i += 3;
          continue;
        }
        i++;
        continue;
      }
      if (c == '#') {
        while (i < len && code[i] != '\n')
          i++;
        break;
      }
      if (c == '"' || c == '\'') {
        if (i + 2 < len && code[i + 1] == c && code[i + 2] == c) {
          in_triple = true;
          tq = c;
          i += 3;
          continue;
        }
        i++;
        while (i < len && code[i] != c && code[i] != '\n')
          i += code[i] == '\\' ? 2 : 1;
        if (i < len && code[i] == c)
          i++;
        continue;
      }
      if (c == '(' || c == '[' || c == '{')
        depth++;
      else if ((c == ')' || c == ']' || c == '}') && depth > 0)
        depth--;
      else if (c == '\\' && (i + 1 >= len || code[i + 1] == '\n' || code[i + 1] == '\r'))
        cont = true;
      i++;
    }
    i++;
  }
  if (last == SIZE_MAX || in_triple || depth)
    return true;
  static const char *const statements[] = {
    "if", "for", "while", "def", "class", "try", "with", "import", "from", "return", "pass",
    "break", "continue", "raise", "del", "global", "nonlocal", "assert", "async", "elif",
    "else", "except", "finally", "yield", NULL};
  const char *tail = code + last;
  if (*tail == '@')
    return true;
  for (const char *const *w = statements; *w; w++)
    if (starts_with_word(tail, *w))
      return true;
  static const char pre[] = "__hl_result__ = (";
  static const char post[] = "\n)\n";
  size_t tail_len = len - last;
  char *t = malloc(len + sizeof pre + sizeof post);
  if (!t)
    return false;
  memcpy(t, code, last);
  memcpy(t + last, pre, sizeof pre - 1);
  memcpy(t + last + sizeof pre - 1, tail, tail_len);
  memcpy(t + last + sizeof pre - 1 + tail_len, post, sizeof post);
  *out = t;
  return true;
}

/* The whitespace MicroPython's dedent counts (unichar_isspace but '\n'). */
static bool dedent_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* What mp_js_do_exec() compiles from `text` (ports/webassembly/
 * lexer_dedent.c of the pinned module): the whitespace all non-blank lines
 * share is removed from every line after the first (the first is read as
 * it is), so that code indented as a whole inside a host program's
 * string still runs. The builtin compile() reads its text as it is, so the
 * cache compiles this instead. malloc'ed, NULL when out of memory. */
static char *dedented(const char *text, size_t len) {
  size_t prefix = SIZE_MAX, cur = 0;
  bool line_start = true;
  for (size_t i = 0; i < len && prefix; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '\n') {
      line_start = true;
      cur = 0;
    } else if (line_start) {
      if (dedent_space(c)) {
        cur++;
      } else {
        if (cur < prefix)
          prefix = cur;
        line_start = false;
      }
    }
  }
  char *out = malloc(len + 1);
  if (!out)
    return NULL;
  size_t w = 0;
  for (size_t i = 0; i < len;) {
    char c = text[i++];
    out[w++] = c;
    /* Up to `prefix` bytes after each newline, never the next newline
     * (only whitespace: every non-blank line has that much of it). */
    for (size_t k = 0; c == '\n' && k < prefix && i < len && text[i] != '\n'; k++)
      i++;
  }
  out[w] = 0;
  return out;
}

char *hl__py_source_text(struct hl_py_vm *vm, int variant) {
  if (!vm->src)
    return NULL;
  if (variant == 0)
    return dedented(vm->src, vm->src_len);
  vm->compiles++; /* compiling into the cache asks for this one first */
  char *t = NULL;
  if (!hl__py_with_result(vm->src, vm->src_len, &t))
    return NULL;
  if (!t)
    return strdup("");
  char *d = dedented(t, strlen(t));
  free(t);
  return d;
}
