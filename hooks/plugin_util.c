/*
 * hooks/plugin_util.c - reference counting and output helpers shared by
 * the plugins.
 */
#include "plugin_util.h"

#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"

void hl__plugin_ref_init(hl__plugin_ref *ref, void (*destroy)(void *self))
{
  atomic_init(&ref->count, 1);
  ref->destroy = destroy;
}

void hl__plugin_retain(void *self)
{
  hl__plugin_ref *ref = self;
  if (ref)
    atomic_fetch_add_explicit(&ref->count, 1, memory_order_relaxed);
}

void hl__plugin_release(void *self)
{
  hl__plugin_ref *ref = self;
  if (!ref)
    return;
  /* acq_rel: the thread that frees must see every other thread's writes. */
  if (atomic_fetch_sub_explicit(&ref->count, 1, memory_order_acq_rel) == 1)
    ref->destroy(self);
}

hl_status hl__plugin_add(void *self, hl_hooks *hooks, hl_hook_point point, const char *name,
                         unsigned flags, hl_hook_fn fn)
{
  hl__plugin_retain(self);
  hl_hook_def def = {.size = sizeof def, .point = point, .name = name, .flags = flags,
                     .fn = fn, .user_data = self, .free_user_data = hl__plugin_release};
  return hl_hooks_add(hooks, &def); /* a failed add releases the reference */
}

hl_status hl__plugin_install_failed(hl_hooks *hooks, const char *hook_name,
                                    const char *fn_name, hl_status st)
{
  /* Copy first: hl_hooks_remove() may replace the thread's last error. */
  char why[256];
  snprintf(why, sizeof why, "%s", hl_last_error());
  hl_hooks_remove(hooks, hook_name);
  return hl_fail(st, "%s: %s", fn_name, why);
}

char *hl__plugin_strdup(const char *s)
{
  char *copy = strdup(s ? s : "");
  if (!copy)
    hl_fail(HL_ERR_NOMEM, "out of memory");
  return copy;
}

/* Length of the longest prefix of s[0..len) that ends on a UTF-8 character
 * boundary, so a cut never leaves half a character. */
static size_t utf8_cut(const char *s, size_t len)
{
  while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
    len--;
  return len;
}

/* The one escaping loop behind put_quoted and put_word: \n \r \t by name,
 * other bytes that could end or forge a log line (controls, the quote or
 * separator of the form) escaped; the rest, UTF-8 included, as they are.
 * `word`: an unquoted token (a space or a backslash escaped as \xHH, DEL
 * too); else the inside of a JSON string (\" \\ and \u00HH). */
static void put_escaped(FILE *out, const char *s, size_t len, bool word)
{
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\n')
      fputs("\\n", out);
    else if (c == '\r')
      fputs("\\r", out);
    else if (c == '\t')
      fputs("\\t", out);
    else if (word && (c <= ' ' || c == '\\' || c == 0x7f))
      fprintf(out, "\\x%02x", c);
    else if (!word && (c == '"' || c == '\\'))
      fprintf(out, "\\%c", c);
    else if (!word && c < 0x20)
      fprintf(out, "\\u%04x", c);
    else
      fputc(c, out);
  }
}

void hl__plugin_put_quoted(FILE *out, const char *s, size_t max)
{
  if (!s) {
    fputs("null", out);
    return;
  }
  size_t len = strlen(s);
  bool cut = false;
  if (len > max) {
    len = utf8_cut(s, max);
    cut = true;
  }
  fputc('"', out);
  put_escaped(out, s, len, false);
  if (cut)
    fputs("...", out);
  fputc('"', out);
}

void hl__plugin_put_word(FILE *out, const char *s)
{
  s = s ? s : "";
  put_escaped(out, s, strlen(s), true);
}

void hl__plugin_put_json(FILE *out, const cJSON *value, size_t max)
{
  if (!value) {
    fputs("null", out);
    return;
  }
  char *text = NULL;
  if (hl_json_print(value, &text) != HL_OK || !text) {
    fputs("<unprintable>", out);
    return;
  }
  size_t len = strlen(text);
  if (len > max) {
    fwrite(text, 1, utf8_cut(text, max), out);
    fputs("...", out);
  } else {
    fwrite(text, 1, len, out);
  }
  hl_free(text);
}
