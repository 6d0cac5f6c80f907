/*
 * schema.c - the JSON Schema subset hookline enforces (see tool.h):
 * hl_schema_check() at declaration time, hl_schema_validate() before each
 * tool call.
 *
 * Messages name a JSON path: "$.items[2].qty: expected integer, got string".
 * The validator only descends where the schema has a sub-schema, so its
 * recursion is bounded by the schema's depth; both walks also stop at
 * HL_JSON_MAX_DEPTH whatever they are given.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "hookline/tool.h"
#include "schema_internal.h"
#include "util.h"

/* ---- JSON paths ---------------------------------------------------- */

#define PATH_MAX_LEN 512

typedef struct json_path {
  char buf[PATH_MAX_LEN];
  size_t len;
  int dropped; /* segments that did not fit (shown as "..."); none are added after one */
} json_path;

#define PATH_DROPPED ((size_t)-1)

static void path_init(json_path *p, const char *root) {
  size_t n = strlen(root);
  if (n >= sizeof p->buf) n = sizeof p->buf - 1;
  memcpy(p->buf, root, n);
  p->buf[n] = '\0';
  p->len = n;
  p->dropped = 0;
}

static bool is_identifier(const char *k) {
  if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_' || *k == '$')) return false;
  for (k++; *k; k++)
    if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') ||
          *k == '_' || *k == '$'))
      return false;
  return true;
}

/* Append a segment; returns what path_pop() needs to undo it. Once a
 * segment is dropped, deeper ones are dropped too, so a shortened path is
 * always a prefix of the real one. */
/* This runs for every value validated, so it avoids printf. */
static size_t path_push_parts(json_path *p, const char *pre, const char *mid, size_t mid_len,
                              const char *post) {
  size_t old = p->len, a = strlen(pre), c = strlen(post);
  if (p->dropped || p->len + a + mid_len + c + 4 >= sizeof p->buf) { /* room for "..." */
    p->dropped++;
    return PATH_DROPPED;
  }
  char *o = p->buf + p->len;
  memcpy(o, pre, a);
  memcpy(o + a, mid, mid_len);
  memcpy(o + a + mid_len, post, c + 1);
  p->len += a + mid_len + c;
  return old;
}

static size_t path_push_key(json_path *p, const char *key) {
  if (is_identifier(key)) return path_push_parts(p, ".", key, strlen(key), "");
  char q[80];
  hl__quote(q, sizeof q, key);
  return path_push_parts(p, "[", q, strlen(q), "]");
}

static size_t path_push_index(json_path *p, size_t i) {
  char digits[24];
  size_t n = sizeof digits;
  do {
    digits[--n] = (char)('0' + i % 10);
    i /= 10;
  } while (i);
  return path_push_parts(p, "[", digits + n, sizeof digits - n, "]");
}

static void path_pop(json_path *p, size_t old) {
  if (old == PATH_DROPPED) {
    p->dropped--;
    return;
  }
  p->len = old;
  p->buf[old] = '\0';
}

/* The path for a message; called once, right before failing. */
static const char *path_str(json_path *p) {
  if (p->dropped) memcpy(p->buf + p->len, "...", 4);
  return p->buf;
}

/* ---- shared helpers ------------------------------------------------ */

static const char *const known_types[] = {"string", "number", "integer", "boolean",
                                          "object", "array",  "null"};

static bool type_known(const char *t) {
  for (size_t i = 0; i < sizeof known_types / sizeof known_types[0]; i++)
    if (strcmp(t, known_types[i]) == 0) return true;
  return false;
}

/* Keywords that assert something hookline does not check: refusing them
 * keeps a schema from looking enforced when it is not. */
static const char *const unsupported_keywords[] = {
    "$ref", "anyOf", "oneOf", "allOf", "not", "if", "then", "else", "pattern",
    "patternProperties", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "uniqueItems",
    "dependentRequired", "dependentSchemas", "dependencies", "propertyNames", "minProperties",
    "maxProperties", "prefixItems", "contains", "minContains", "maxContains", "additionalItems",
    "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef"};

static bool is_unsupported(const char *k) {
  for (size_t i = 0; i < sizeof unsupported_keywords / sizeof unsupported_keywords[0]; i++)
    if (strcmp(k, unsupported_keywords[i]) == 0) return true;
  return false;
}

static bool is_nonneg_integer(const cJSON *v) {
  return cJSON_IsNumber(v) && v->valuedouble >= 0 && isfinite(v->valuedouble) &&
         floor(v->valuedouble) == v->valuedouble;
}

/* The type name used in "got ..." messages: every number is a "number"
 * (the model sent 5 where a string was expected: "got number"). */
static const char *value_kind(const cJSON *v) {
  if (cJSON_IsNumber(v)) return "number";
  return hl_json_type_name(v);
}

/* A short rendering of a value for messages, truncated to fit `size`. */
static void snippet(char *buf, size_t size, const cJSON *v) {
  if (cJSON_IsString(v)) {
    hl__quote(buf, size, v->valuestring);
    return;
  }
  if (cJSON_IsNumber(v)) {
    snprintf(buf, size, "%.17g", v->valuedouble);
    return;
  }
  char *s = NULL;
  if (hl_json_print(v, &s) != HL_OK) {
    snprintf(buf, size, "(%s)", hl_json_type_name(v));
    return;
  }
  size_t n = strlen(s);
  if (n < size) {
    memcpy(buf, s, n + 1);
  } else if (size > 4) {
    memcpy(buf, s, size - 4);
    memcpy(buf + size - 4, "...", 4);
  } else if (size) {
    buf[0] = '\0';
  }
  free(s);
}

/* ---- hl_schema_check ----------------------------------------------- */

static hl_status check_rec(const cJSON *s, json_path *path, int depth, bool lenient);

static hl_status check_fail(json_path *path, const char *fmt, const char *a) {
  return hl_fail(HL_ERR_SCHEMA, fmt, path_str(path), a);
}

static hl_status check_type(const cJSON *t, json_path *path) {
  if (cJSON_IsString(t)) {
    if (type_known(t->valuestring)) return HL_OK;
    char q[80];
    hl__quote(q, sizeof q, t->valuestring);
    return check_fail(path, "schema %s: unknown type %s", q);
  }
  if (cJSON_IsArray(t) && t->child) {
    size_t i = 0;
    for (const cJSON *e = t->child; e; e = e->next, i++) {
      size_t old = path_push_index(path, i);
      hl_status st = cJSON_IsString(e) ? check_type(e, path)
                                       : check_fail(path, "schema %s: type names must be strings, got %s",
                                                    value_kind(e));
      path_pop(path, old);
      if (st) return st;
    }
    return HL_OK;
  }
  return check_fail(path, "schema %s: must be a type name or a non-empty array of them, got %s",
                    value_kind(t));
}

static hl_status check_keyword(const cJSON *kw, json_path *path, int depth, bool lenient) {
  const char *k = kw->string;
  if (lenient && is_unsupported(k)) return HL_OK; /* not enforced: neither checked nor descended */
  if (is_unsupported(k))
    return hl_fail(HL_ERR_SCHEMA,
                   "schema %s: unsupported keyword \"%s\" (hookline enforces a subset of JSON "
                   "Schema; see tool.h)",
                   path_str(path), k);
  size_t old = path_push_key(path, k);
  hl_status st = HL_OK;
  if (strcmp(k, "type") == 0) {
    st = check_type(kw, path);
  } else if (strcmp(k, "properties") == 0) {
    if (!cJSON_IsObject(kw)) {
      st = check_fail(path, "schema %s: must be an object, got %s", value_kind(kw));
    } else {
      for (const cJSON *p = kw->child; p && !st; p = p->next) {
        size_t o2 = path_push_key(path, p->string);
        st = check_rec(p, path, depth + 1, lenient);
        path_pop(path, o2);
      }
    }
  } else if (strcmp(k, "required") == 0) {
    if (!cJSON_IsArray(kw)) {
      st = check_fail(path, "schema %s: must be an array of strings, got %s", value_kind(kw));
    } else {
      size_t i = 0;
      for (const cJSON *e = kw->child; e && !st; e = e->next, i++) {
        if (cJSON_IsString(e)) continue;
        size_t o2 = path_push_index(path, i);
        st = check_fail(path, "schema %s: must be a string (required is an array of strings), got %s",
                        value_kind(e));
        path_pop(path, o2);
      }
    }
  } else if (strcmp(k, "additionalProperties") == 0) {
    st = cJSON_IsBool(kw) ? HL_OK : check_rec(kw, path, depth + 1, lenient);
  } else if (strcmp(k, "items") == 0) {
    /* Lenient: the tuple form of older drafts and a boolean are not
     * enforced (validate_rec() applies only an object). */
    st = lenient && !cJSON_IsObject(kw) ? HL_OK : check_rec(kw, path, depth + 1, lenient);
  } else if (strcmp(k, "enum") == 0) {
    if (!cJSON_IsArray(kw) || !kw->child)
      st = check_fail(path, "schema %s: must be a non-empty array, got %s",
                      cJSON_IsArray(kw) ? "an empty array" : value_kind(kw));
  } else if (strcmp(k, "minimum") == 0 || strcmp(k, "maximum") == 0) {
    if (!cJSON_IsNumber(kw)) st = check_fail(path, "schema %s: must be a number, got %s", value_kind(kw));
  } else if (strcmp(k, "minLength") == 0 || strcmp(k, "maxLength") == 0 ||
             strcmp(k, "minItems") == 0 || strcmp(k, "maxItems") == 0) {
    if (!is_nonneg_integer(kw))
      st = check_fail(path, "schema %s: must be a non-negative integer, got %s",
                      cJSON_IsNumber(kw) ? "a negative or fractional number" : value_kind(kw));
  } else if (strcmp(k, "description") == 0 || strcmp(k, "title") == 0) {
    if (!cJSON_IsString(kw)) st = check_fail(path, "schema %s: must be a string, got %s", value_kind(kw));
  }
  /* const, default and annotations ($schema, format, examples, ...) need
   * no check: they assert nothing or anything is a valid value. */
  path_pop(path, old);
  return st;
}

static hl_status check_rec(const cJSON *s, json_path *path, int depth, bool lenient) {
  if (depth > HL_JSON_MAX_DEPTH)
    return hl_fail(HL_ERR_SCHEMA, "schema %s: nested deeper than %d levels", path_str(path),
                   HL_JSON_MAX_DEPTH);
  if (lenient && cJSON_IsBool(s)) return HL_OK; /* 2020-12 boolean schema: not enforced */
  if (!cJSON_IsObject(s))
    return check_fail(path, "schema %s: a schema must be an object, got %s", value_kind(s));
  for (const cJSON *kw = s->child; kw; kw = kw->next) {
    hl_status st = check_keyword(kw, path, depth, lenient);
    if (st) return st;
  }
  /* Keyword pairs that contradict each other make every value invalid;
   * catching them here saves a confusing error at call time. */
  const cJSON *lo = hl_json_get(s, "minimum"), *hi = hl_json_get(s, "maximum");
  if (lo && hi && lo->valuedouble > hi->valuedouble)
    return hl_fail(HL_ERR_SCHEMA, "schema %s: minimum is greater than maximum", path_str(path));
  return HL_OK;
}

hl_status hl__schema_check_at(const cJSON *schema, const char *root) {
  if (!schema) return hl_fail(HL_ERR_INVALID, "hl_schema_check: schema is NULL");
  json_path path;
  path_init(&path, root);
  return check_rec(schema, &path, 0, false);
}

hl_status hl_schema_check(const cJSON *schema) { return hl__schema_check_at(schema, "$"); }

hl_status hl__schema_check_lenient(const cJSON *schema) {
  if (!schema) return hl_fail(HL_ERR_INVALID, "hl_schema_check: schema is NULL");
  json_path path;
  path_init(&path, "$");
  return check_rec(schema, &path, 0, true);
}

/* ---- hl_schema_validate -------------------------------------------- */

static bool type_matches(const char *t, const cJSON *v) {
  if (strcmp(t, "string") == 0) return cJSON_IsString(v);
  if (strcmp(t, "number") == 0) return cJSON_IsNumber(v);
  if (strcmp(t, "integer") == 0)
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && floor(v->valuedouble) == v->valuedouble;
  if (strcmp(t, "boolean") == 0) return cJSON_IsBool(v);
  if (strcmp(t, "object") == 0) return cJSON_IsObject(v);
  if (strcmp(t, "array") == 0) return cJSON_IsArray(v);
  if (strcmp(t, "null") == 0) return cJSON_IsNull(v);
  return false;
}

static hl_status invalid(json_path *path, const char *fmt, ...) HL_PRINTF(2, 3);

static hl_status invalid(json_path *path, const char *fmt, ...) {
  char reason[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  return hl_fail(HL_ERR_INVALID_ARGUMENTS, "%s: %s", path_str(path), reason);
}

static hl_status validate_type(const cJSON *t, const cJSON *v, json_path *path) {
  if (cJSON_IsString(t)) {
    if (type_matches(t->valuestring, v)) return HL_OK;
    return invalid(path, "expected %s, got %s", t->valuestring, value_kind(v));
  }
  if (!cJSON_IsArray(t)) return HL_OK; /* not a checked schema: nothing to enforce */
  /* A list of types: "expected string or null, got number". */
  char expected[256] = "";
  size_t o = 0;
  for (const cJSON *e = t->child; e; e = e->next) {
    if (!cJSON_IsString(e)) continue;
    if (type_matches(e->valuestring, v)) return HL_OK;
    int n = snprintf(expected + o, sizeof expected - o, "%s%s", o ? " or " : "", e->valuestring);
    if (n > 0 && (size_t)n < sizeof expected - o) o += (size_t)n;
  }
  return invalid(path, "expected %s, got %s", expected, value_kind(v));
}

static size_t utf8_length(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) n++;
  return n;
}

/* The keywords of one schema node, found in a single pass over its members
 * (instead of one lookup per keyword: validation runs before every tool
 * call). The first occurrence of a keyword wins, as in cJSON lookups. */
typedef struct keywords {
  const cJSON *type, *konst, *enumeration, *min_length, *max_length, *minimum, *maximum,
      *min_items, *max_items, *items, *properties, *required, *additional, *prefix_items,
      *pattern_properties;
} keywords;

static void take(const cJSON **slot, const cJSON *kw) {
  if (!*slot) *slot = kw;
}

static void collect_keywords(const cJSON *s, keywords *k) {
  memset(k, 0, sizeof *k);
  for (const cJSON *kw = s->child; kw; kw = kw->next) {
    const char *n = kw->string;
    if (!n) continue;
    switch (n[0]) {
    case 't': if (strcmp(n, "type") == 0) take(&k->type, kw); break;
    case 'c': if (strcmp(n, "const") == 0) take(&k->konst, kw); break;
    case 'e': if (strcmp(n, "enum") == 0) take(&k->enumeration, kw); break;
    case 'i': if (strcmp(n, "items") == 0) take(&k->items, kw); break;
    case 'p':
      if (strcmp(n, "properties") == 0) take(&k->properties, kw);
      else if (strcmp(n, "prefixItems") == 0) take(&k->prefix_items, kw);
      else if (strcmp(n, "patternProperties") == 0) take(&k->pattern_properties, kw);
      break;
    case 'r': if (strcmp(n, "required") == 0) take(&k->required, kw); break;
    case 'a': if (strcmp(n, "additionalProperties") == 0) take(&k->additional, kw); break;
    case 'm':
      if (strcmp(n, "minLength") == 0) take(&k->min_length, kw);
      else if (strcmp(n, "maxLength") == 0) take(&k->max_length, kw);
      else if (strcmp(n, "minimum") == 0) take(&k->minimum, kw);
      else if (strcmp(n, "maximum") == 0) take(&k->maximum, kw);
      else if (strcmp(n, "minItems") == 0) take(&k->min_items, kw);
      else if (strcmp(n, "maxItems") == 0) take(&k->max_items, kw);
      break;
    default: break;
    }
  }
}

static hl_status validate_rec(const cJSON *s, const cJSON *v, json_path *path, int depth);

static hl_status validate_object(const keywords *k, const cJSON *v, json_path *path, int depth) {
  if (cJSON_IsArray(k->required)) {
    for (const cJSON *r = k->required->child; r; r = r->next) {
      if (!cJSON_IsString(r) || cJSON_GetObjectItemCaseSensitive(v, r->valuestring)) continue;
      char q[96];
      hl__quote(q, sizeof q, r->valuestring);
      return invalid(path, "missing required property %s", q);
    }
  }
  const cJSON *props = cJSON_IsObject(k->properties) ? k->properties : NULL;
  /* additionalProperties covers what neither properties nor
   * patternProperties match; patterns are not evaluated here, so with
   * them it is not applied (too strict otherwise: a valid call fails). */
  const cJSON *additional = k->pattern_properties ? NULL : k->additional;
  for (const cJSON *m = v->child; m; m = m->next) {
    const char *key = m->string ? m->string : "";
    const cJSON *sub = props ? cJSON_GetObjectItemCaseSensitive(props, key) : NULL;
    if (!sub && cJSON_IsFalse(additional)) {
      char q[96];
      hl__quote(q, sizeof q, key);
      return invalid(path, "unexpected property %s", q);
    }
    if (!sub && cJSON_IsObject(additional)) sub = additional;
    if (!sub) continue;
    size_t old = path_push_key(path, key);
    hl_status st = validate_rec(sub, m, path, depth + 1);
    path_pop(path, old);
    if (st) return st;
  }
  return HL_OK;
}

static hl_status validate_rec(const cJSON *s, const cJSON *v, json_path *path, int depth) {
  if (depth > HL_JSON_MAX_DEPTH)
    return invalid(path, "nested deeper than %d levels", HL_JSON_MAX_DEPTH);
  if (!cJSON_IsObject(s)) return HL_OK; /* unchecked schema: true/{} accept anything */
  keywords k;
  collect_keywords(s, &k);
  hl_status st;
  if (k.type && (st = validate_type(k.type, v, path))) return st;

  if (k.konst && !hl_json_equal(k.konst, v)) {
    char want[160], got[160];
    snippet(want, sizeof want, k.konst);
    snippet(got, sizeof got, v);
    return invalid(path, "%s is not the constant %s", got, want);
  }
  if (cJSON_IsArray(k.enumeration)) {
    const cJSON *x = k.enumeration->child;
    while (x && !hl_json_equal(x, v)) x = x->next;
    if (!x) {
      char allowed[320], got[160];
      snippet(allowed, sizeof allowed, k.enumeration);
      snippet(got, sizeof got, v);
      return invalid(path, "%s is not one of %s", got, allowed);
    }
  }

  if (cJSON_IsString(v)) {
    const cJSON *mn = k.min_length, *mx = k.max_length;
    if (cJSON_IsNumber(mn) || cJSON_IsNumber(mx)) {
      size_t n = utf8_length(v->valuestring);
      if (cJSON_IsNumber(mn) && (double)n < mn->valuedouble)
        return invalid(path, "string of %zu characters is shorter than minLength %.0f", n,
                       mn->valuedouble);
      if (cJSON_IsNumber(mx) && (double)n > mx->valuedouble)
        return invalid(path, "string of %zu characters is longer than maxLength %.0f", n,
                       mx->valuedouble);
    }
  } else if (cJSON_IsNumber(v)) {
    const cJSON *mn = k.minimum, *mx = k.maximum;
    if (cJSON_IsNumber(mn) && v->valuedouble < mn->valuedouble)
      return invalid(path, "%.17g is less than minimum %.17g", v->valuedouble, mn->valuedouble);
    if (cJSON_IsNumber(mx) && v->valuedouble > mx->valuedouble)
      return invalid(path, "%.17g is greater than maximum %.17g", v->valuedouble, mx->valuedouble);
  } else if (cJSON_IsArray(v)) {
    const cJSON *mn = k.min_items, *mx = k.max_items;
    if (cJSON_IsNumber(mn) || cJSON_IsNumber(mx)) {
      size_t n = 0;
      for (const cJSON *x = v->child; x; x = x->next) n++;
      if (cJSON_IsNumber(mn) && (double)n < mn->valuedouble)
        return invalid(path, "array of %zu items is shorter than minItems %.0f", n, mn->valuedouble);
      if (cJSON_IsNumber(mx) && (double)n > mx->valuedouble)
        return invalid(path, "array of %zu items is longer than maxItems %.0f", n, mx->valuedouble);
    }
    /* 2020-12: with prefixItems, items covers only the items after them. */
    if (cJSON_IsObject(k.items) && !k.prefix_items) {
      size_t i = 0;
      for (const cJSON *x = v->child; x; x = x->next, i++) {
        size_t old = path_push_index(path, i);
        st = validate_rec(k.items, x, path, depth + 1);
        path_pop(path, old);
        if (st) return st;
      }
    }
  } else if (cJSON_IsObject(v)) {
    if ((st = validate_object(&k, v, path, depth))) return st;
  }
  return HL_OK;
}

hl_status hl_schema_validate(const cJSON *schema, const cJSON *value) {
  if (!schema || !value)
    return hl_fail(HL_ERR_INVALID, "hl_schema_validate: %s is NULL", schema ? "value" : "schema");
  json_path path;
  path_init(&path, "$");
  return validate_rec(schema, value, &path, 0);
}
