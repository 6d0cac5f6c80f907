/*
 * hooks/request_hash.c - canonical JSON of a model request and its
 * FNV-1a 64-bit hash, the key of the response cache.
 *
 * Canonical means: the same request always gives the same bytes whatever
 * order its objects' keys were built in. hl_request_to_json() output is
 * printed compactly with every object's keys sorted (bytewise), integers
 * without a fraction and other numbers with 17 significant digits. The
 * top-level "stream" flag is left out: streaming changes how the answer
 * arrives, not what it is.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "hookline/model.h"
#include "hookline/plugins.h"
#include "plugin_util.h"

/* Deeper than anything hl_json_parse() lets in, so a request built by the
 * library never hits it; a hand-built monster gets an error, not a crash. */
#define CANON_MAX_DEPTH (HL_JSON_MAX_DEPTH + 8)

static int key_cmp(const void *a, const void *b)
{
  const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
  return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

static bool put_canonical(FILE *out, const cJSON *v, int depth);

static bool put_object(FILE *out, const cJSON *obj, int depth)
{
  size_t n = 0;
  for (const cJSON *c = obj->child; c; c = c->next)
    n++;
  const cJSON **kids = NULL;
  if (n > 0) {
    kids = malloc(n * sizeof *kids);
    if (!kids)
      return false;
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
      kids[i++] = c;
    qsort(kids, n, sizeof *kids, key_cmp);
  }
  bool ok = true;
  fputc('{', out);
  for (size_t i = 0; i < n && ok; i++) {
    if (i)
      fputc(',', out);
    hl__plugin_put_quoted(out, kids[i]->string ? kids[i]->string : "", SIZE_MAX);
    fputc(':', out);
    ok = put_canonical(out, kids[i], depth + 1);
  }
  fputc('}', out);
  free(kids);
  return ok;
}

static bool put_canonical(FILE *out, const cJSON *v, int depth)
{
  if (depth > CANON_MAX_DEPTH)
    return false;
  if (cJSON_IsNull(v)) {
    fputs("null", out);
  } else if (cJSON_IsTrue(v)) {
    fputs("true", out);
  } else if (cJSON_IsFalse(v)) {
    fputs("false", out);
  } else if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d > -9.2e18 && d < 9.2e18 && d == (double)(long long)d)
      fprintf(out, "%lld", (long long)d);
    else
      fprintf(out, "%.17g", d);
  } else if (cJSON_IsString(v)) {
    hl__plugin_put_quoted(out, v->valuestring, SIZE_MAX);
  } else if (cJSON_IsArray(v)) {
    fputc('[', out);
    bool first = true;
    for (const cJSON *c = v->child; c; c = c->next) {
      if (!first)
        fputc(',', out);
      first = false;
      if (!put_canonical(out, c, depth + 1))
        return false;
    }
    fputc(']', out);
  } else if (cJSON_IsObject(v)) {
    return put_object(out, v, depth);
  } else {
    /* cJSON_Raw or invalid: not produced by hl_request_to_json(). */
    return false;
  }
  return true;
}

hl_status hl_request_canonical_json(const hl_request *req, char **out)
{
  if (!req || !out)
    return hl_fail(HL_ERR_INVALID, "hl_request_canonical_json: NULL argument");
  *out = NULL;
  cJSON *json = hl_request_to_json(req);
  if (!json)
    return hl_fail(HL_ERR_NOMEM, "hl_request_canonical_json: cannot encode the request");
  cJSON_DeleteItemFromObjectCaseSensitive(json, "stream");
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  if (!mem) {
    cJSON_Delete(json);
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  bool ok = put_canonical(mem, json, 0);
  cJSON_Delete(json);
  if (fclose(mem) != 0 || !buf) {
    free(buf);
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  if (!ok) {
    free(buf);
    return hl_fail(HL_ERR_INVALID, "hl_request_canonical_json: request too deep or not encodable");
  }
  *out = buf;
  return HL_OK;
}

uint64_t hl__fnv1a64(const char *s, size_t len)
{
  uint64_t h = 14695981039346656037ULL;   /* FNV offset basis */
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;                 /* FNV prime */
  }
  return h;
}

hl_status hl_request_hash(const hl_request *req, uint64_t *hash)
{
  if (!req || !hash)
    return hl_fail(HL_ERR_INVALID, "hl_request_hash: NULL argument");
  char *text = NULL;
  hl_status st = hl_request_canonical_json(req, &text);
  if (st != HL_OK)
    return st;
  *hash = hl__fnv1a64(text, strlen(text));
  free(text);
  return HL_OK;
}
