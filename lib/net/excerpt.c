/*
 * excerpt.c - a bounded, escaped, redacted quote of an unexpected answer
 * for error messages (see excerpt.h).
 */
#include <stdio.h>
#include <string.h>

#include "net/excerpt.h"
#include "net/http.h"

void hl__excerpt(char *out, size_t out_size, const char *bytes, size_t len, const char *secret) {
  if (!out || out_size == 0) return;
  if (!bytes) len = 0;
  size_t take = len < HL__EXCERPT_BYTES ? len : HL__EXCERPT_BYTES;
  /* Escaping first makes the text NUL-free, so the secret (printable, as
   * API keys are) can be redacted with the string functions. */
  char esc[HL__EXCERPT_BYTES * 4 + 1];
  size_t w = 0;
  for (size_t i = 0; i < take; i++) {
    unsigned char c = (unsigned char)bytes[i];
    if (c == '\r') w += (size_t)sprintf(esc + w, "\\r");
    else if (c == '\n') w += (size_t)sprintf(esc + w, "\\n");
    else if (c == '\t') w += (size_t)sprintf(esc + w, "\\t");
    else if (c == '"' || c == '\\') w += (size_t)sprintf(esc + w, "\\%c", c);
    else if (c >= 0x20 && c < 0x7F) esc[w++] = (char)c;
    else w += (size_t)sprintf(esc + w, "\\x%02X", c);
  }
  esc[w] = '\0';
  /* The bound may cut the key in half: drop a tail that begins it, so no
   * prefix of the key survives into the message. */
  size_t slen = secret ? strlen(secret) : 0;
  if (take < len && slen > 1) {
    for (size_t k = slen - 1; k > 0; k--) {
      if (k <= w && strncmp(esc + w - k, secret, k) == 0) {
        w -= k;
        esc[w] = '\0';
        break;
      }
    }
  }
  char red[sizeof esc + 64];
  hl__redact_into(red, sizeof red, esc, secret);
  snprintf(out, out_size, "\"%s\"%s", red, take < len ? "..." : "");
}
