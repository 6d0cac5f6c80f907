/*
 * hooks/plugin_options.c - typed reads of a plugin's options object, each
 * failure naming the JSON path of the value (see plugin_options.h).
 */
#include "plugin_options.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hookline/json.h"

hl_status hl__opt_fail(hl_status st, const char *key, long index, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (index >= 0)
    return hl_fail(st, "$.%s[%ld]: %s", key, index, msg);
  return hl_fail(st, "$.%s: %s", key, msg);
}

hl_status hl__opt_known(const cJSON *options, const char *const *known)
{
  const cJSON *item;
  cJSON_ArrayForEach(item, options) {
    bool ok = false;
    for (size_t i = 0; known[i] && !ok; i++)
      ok = strcmp(item->string, known[i]) == 0;
    if (!ok) {
      char list[256] = "";
      size_t len = 0;
      for (size_t i = 0; known[i] && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", known[i]);
      return hl__opt_fail(HL_ERR_INVALID, item->string, -1, "unknown option (known: %s)",
                          known[0] ? list : "none");
    }
  }
  return HL_OK;
}

static const cJSON *get(const cJSON *options, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(options, key);
  return cJSON_IsNull(v) ? NULL : v;
}

hl_status hl__opt_string(const cJSON *options, const char *key, const char *fallback,
                         const char **out)
{
  const cJSON *v = get(options, key);
  *out = fallback;
  if (!v)
    return HL_OK;
  if (!cJSON_IsString(v))
    return hl__opt_fail(HL_ERR_INVALID, key, -1, "expected a string, got %s",
                        hl_json_type_name(v));
  *out = v->valuestring;
  return HL_OK;
}

hl_status hl__opt_bool(const cJSON *options, const char *key, bool fallback, bool *out)
{
  const cJSON *v = get(options, key);
  *out = fallback;
  if (!v)
    return HL_OK;
  if (!cJSON_IsBool(v))
    return hl__opt_fail(HL_ERR_INVALID, key, -1, "expected true or false, got %s",
                        hl_json_type_name(v));
  *out = cJSON_IsTrue(v);
  return HL_OK;
}

hl_status hl__opt_int(const cJSON *options, const char *key, int64_t fallback, int64_t min,
                      int64_t max, int64_t *out)
{
  const cJSON *v = get(options, key);
  *out = fallback;
  if (!v)
    return HL_OK;
  double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
  if (!cJSON_IsNumber(v) || d != floor(d) || d < (double)min || d > (double)max)
    return hl__opt_fail(HL_ERR_INVALID, key, -1, "expected an integer from %lld to %lld, got %s",
                        (long long)min, (long long)max,
                        cJSON_IsNumber(v) ? "another number" : hl_json_type_name(v));
  *out = (int64_t)d;
  return HL_OK;
}

hl_status hl__opt_number(const cJSON *options, const char *key, double fallback, double min,
                         double *out)
{
  const cJSON *v = get(options, key);
  *out = fallback;
  if (!v)
    return HL_OK;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min)
    return hl__opt_fail(HL_ERR_INVALID, key, -1, "expected a number >= %g, got %s", min,
                        cJSON_IsNumber(v) ? "a smaller one" : hl_json_type_name(v));
  *out = v->valuedouble;
  return HL_OK;
}

hl_status hl__opt_strings(const cJSON *options, const char *key, const cJSON **out)
{
  const cJSON *v = get(options, key);
  *out = NULL;
  if (!v)
    return HL_OK;
  if (!cJSON_IsArray(v))
    return hl__opt_fail(HL_ERR_INVALID, key, -1, "expected an array of strings, got %s",
                        hl_json_type_name(v));
  long i = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, v) {
    if (!cJSON_IsString(item) || !item->valuestring[0])
      return hl__opt_fail(HL_ERR_INVALID, key, i, "expected a non-empty string, got %s",
                          cJSON_IsString(item) ? "\"\"" : hl_json_type_name(item));
    i++;
  }
  *out = v;
  return HL_OK;
}

hl_status hl__opt_object(const cJSON *options, const char *key, const cJSON **out)
{
  const cJSON *v = get(options, key);
  *out = NULL;
  if (!v)
    return HL_OK;
  if (!cJSON_IsObject(v))
    return hl__opt_fail(HL_ERR_INVALID, key, -1, "expected an object, got %s",
                        hl_json_type_name(v));
  *out = v;
  return HL_OK;
}
