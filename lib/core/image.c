/*
 * image.c - which image URLs a message part may hold, and data: URLs
 * taken apart for the wire formats that want the media type and the
 * base64 separately. The bytes are never decoded: a provider's server
 * judges the image; hookline only keeps the URL well-formed so that it
 * can be put in a JSON request as it is.
 */
#include <string.h>
#include <strings.h>

#include "core/image.h"

static bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         strchr("!#$&^_.+-", c) != NULL;
}

bool hl__image_media_type_ok(const char *s, size_t len) {
  const char *slash = memchr(s, '/', len);
  if (!slash || slash == s || slash == s + len - 1) return false;
  for (size_t i = 0; i < len; i++)
    if (s + i != slash && !token_char(s[i])) return false;
  return true;
}

bool hl__image_base64_ok(const char *s) {
  size_t n = strlen(s), pad = 0;
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '=') {
      pad++;
      continue;
    }
    if (pad) return false; /* data after padding */
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '/'))
      return false;
  }
  return pad <= 2;
}

bool hl__image_data_url(const char *url, const char **type, size_t *type_len, const char **data) {
  if (strncasecmp(url, "data:", 5) != 0) return false;
  const char *t = url + 5;
  const char *semi = strchr(t, ';');
  if (!semi || strncasecmp(semi, ";base64,", 8) != 0) return false;
  *type = t;
  *type_len = (size_t)(semi - t);
  *data = semi + 8;
  return true;
}

hl_status hl__image_check_url(const char *url) {
  if (!url || !*url) return hl_fail(HL_ERR_INVALID, "image: the URL is empty");
  if (strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "http://", 7) == 0) {
    for (const char *p = url; *p; p++)
      if ((unsigned char)*p <= ' ')
        return hl_fail(HL_ERR_INVALID, "image: the URL has a space or control character");
    return HL_OK;
  }
  const char *type, *data;
  size_t type_len;
  if (!hl__image_data_url(url, &type, &type_len, &data)) {
    if (strncasecmp(url, "data:", 5) == 0)
      return hl_fail(HL_ERR_INVALID, "image: a data: URL must be \"data:TYPE;base64,DATA\"");
    return hl_fail(HL_ERR_INVALID, "image: the URL must be http(s) or data: (got \"%.40s\")", url);
  }
  if (!hl__image_media_type_ok(type, type_len))
    return hl_fail(HL_ERR_INVALID, "image: the data: URL has no media type such as image/png");
  if (!hl__image_base64_ok(data))
    return hl_fail(HL_ERR_INVALID, "image: the data: URL's data is not base64");
  return HL_OK;
}
