/*
 * lib/mcp/tool_headers.c - Mcp-Param-{Name} headers from x-mcp-header
 * annotated tool parameters (MCP 2026-07-28, SEP-2243; see
 * tool_headers.h): the validity rules a tool definition must meet, and
 * the value encoding (plain when the value is safe visible ASCII,
 * "=?base64?...?=" of its UTF-8 otherwise).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tool_headers.h"
#include "mcp_internal.h"
#include "hookline/json.h"
#include "core/sha256.h"
#include "core/util.h"

#define ANNOTATION "x-mcp-header"
#define PREFIX "Mcp-Param-"
/* The Base64 form's markers (apart: "?" "?=" together is a trigraph). */
#define B64_OPEN "=?base64?"
#define B64_CLOSE "?="
/* A header name beyond this is refused: no server's field-name limit
 * admits it, and the walk keeps its names on the stack. */
#define NAME_MAX_LEN 256
/* Integers beyond +-(2^53-1) are not exact in a JavaScript server. */
#define SAFE_INTEGER 9007199254740991.0

/* ---- validity ------------------------------------------------------ */

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A type that can be a header value: string, integer or boolean, alone or
 * with "null" (a null value omits the header). "number" is not allowed:
 * a float has no single decimal spelling both sides agree on. */
static bool primitive_type(const cJSON *type) {
  static const char *const ok[] = {"string", "integer", "boolean"};
  if (cJSON_IsString(type)) {
    for (size_t i = 0; i < 3; i++)
      if (strcmp(type->valuestring, ok[i]) == 0) return true;
    return false;
  }
  if (!cJSON_IsArray(type)) return false;
  int prim = 0;
  for (const cJSON *t = type->child; t; t = t->next) {
    if (cJSON_IsString(t) && strcmp(t->valuestring, "null") == 0) continue;
    if (!primitive_type(t)) return false;
    prim++;
  }
  return prim == 1;
}

typedef struct check_state {
  const char *names[64]; /* the annotations seen, for uniqueness */
  size_t n;
  char *why;
  size_t why_size;
} check_state;

static bool bad(check_state *s, const char *path, const char *what) {
  snprintf(s->why, s->why_size, "x-mcp-header at %s: %s", path, what);
  return false;
}

static bool check_node(check_state *s, const cJSON *node, bool reachable, char *path, size_t len, int depth);

/* Every sub-schema under `kw` (a schema, an array of schemas or a map of
 * them): none of them is reachable by "properties" alone. */
static bool check_under(check_state *s, const cJSON *kw, bool map, char *path, size_t len, int depth) {
  if (cJSON_IsObject(kw) && !map) return check_node(s, kw, false, path, len, depth + 1);
  if (!cJSON_IsArray(kw) && !cJSON_IsObject(kw)) return true;
  for (const cJSON *c = kw->child; c; c = c->next)
    if (!check_node(s, c, false, path, len, depth + 1)) return false;
  return true;
}

static bool check_node(check_state *s, const cJSON *node, bool reachable, char *path, size_t len, int depth) {
  if (!cJSON_IsObject(node)) return true;
  if (depth > HL_JSON_MAX_DEPTH) return bad(s, path, "the schema is nested too deeply to check");
  const cJSON *ann = cJSON_GetObjectItemCaseSensitive(node, ANNOTATION);
  if (ann) {
    if (!reachable || depth == 0)
      return bad(s, path, "only a property reached from the root by \"properties\" alone may be annotated");
    if (!cJSON_IsString(ann)) return bad(s, path, "must be a string");
    const char *name = ann->valuestring;
    if (!name[0]) return bad(s, path, "must not be empty");
    if (strlen(name) > NAME_MAX_LEN) return bad(s, path, "longer than 256 characters");
    for (const char *c = name; *c; c++)
      if (!is_tchar((unsigned char)*c))
        return bad(s, path, "must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~ only)");
    for (size_t i = 0; i < s->n; i++)
      if (strcasecmp(s->names[i], name) == 0) return bad(s, path, "the same name (ignoring case) is used twice");
    if (s->n == sizeof s->names / sizeof s->names[0]) return bad(s, path, "more than 64 annotations");
    s->names[s->n++] = name;
    if (!primitive_type(cJSON_GetObjectItemCaseSensitive(node, "type")))
      return bad(s, path, "the property's type must be string, integer or boolean");
  }
  /* Where sub-schemas live: only "properties" keeps the chain reachable;
   * enum/const/default/examples hold data, not schemas, and are skipped. */
  static const char *const single[] = {"items", "additionalProperties", "not", "if", "then", "else",
                                       "contains", "propertyNames", "unevaluatedItems",
                                       "unevaluatedProperties", "additionalItems"};
  static const char *const arrays[] = {"allOf", "anyOf", "oneOf", "prefixItems"};
  static const char *const maps[] = {"$defs", "definitions", "patternProperties", "dependentSchemas"};
  for (const cJSON *kw = node->child; kw; kw = kw->next) {
    const char *k = kw->string;
    bool ok = true;
    if (strcmp(k, "properties") == 0 && cJSON_IsObject(kw)) {
      for (const cJSON *p = kw->child; p && ok; p = p->next) {
        /* The path names the property; cut at the buffer's end. */
        int w = snprintf(path + len, len < 300 ? 300 - len : 0, ".%s", p->string);
        size_t nl = w > 0 && len + (size_t)w < 300 ? len + (size_t)w : len;
        ok = check_node(s, p, reachable, path, nl, depth + 1);
        path[len] = '\0';
      }
    } else {
      for (size_t i = 0; ok && i < sizeof single / sizeof single[0]; i++)
        if (strcmp(k, single[i]) == 0) ok = check_under(s, kw, false, path, len, depth);
      for (size_t i = 0; ok && i < sizeof arrays / sizeof arrays[0]; i++)
        if (strcmp(k, arrays[i]) == 0) ok = check_under(s, kw, true, path, len, depth);
      for (size_t i = 0; ok && i < sizeof maps / sizeof maps[0]; i++)
        if (strcmp(k, maps[i]) == 0) ok = check_under(s, kw, true, path, len, depth);
    }
    if (!ok) return false;
  }
  return true;
}

bool hl__tool_headers_valid(const cJSON *input_schema, char *why, size_t why_size) {
  char path[304] = "$";
  check_state s = {.why = why, .why_size = why_size};
  if (why_size) why[0] = '\0';
  return check_node(&s, input_schema, true, path, 1, 0);
}

/* ---- values -------------------------------------------------------- */

typedef struct param {
  const char *name;  /* the annotation */
  const char *text;  /* the value as text (a string's own, or num[]) */
  char num[32];
  bool base64;
} param;

/* Plain only when the value is visible ASCII and spaces, with no space at
 * either end (a proxy would trim it), and does not begin like the Base64
 * form (a server would decode it; one that checks the prefix alone too).
 * Tabs are encoded too: they are legal in a field value but some servers
 * fold or trim them. */
bool hl__mcp_header_needs_base64(const char *s) {
  size_t n = strlen(s);
  if (n && (s[0] == ' ' || s[n - 1] == ' ')) return true;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return true;
  return strncmp(s, B64_OPEN, 9) == 0;
}

static hl_status value_of(param *p, const cJSON *v, const char *path) {
  if (cJSON_IsString(v)) {
    p->text = v->valuestring;
  } else if (cJSON_IsBool(v)) {
    p->text = cJSON_IsTrue(v) ? "true" : "false";
  } else if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && floor(v->valuedouble) == v->valuedouble &&
             fabs(v->valuedouble) <= SAFE_INTEGER) {
    snprintf(p->num, sizeof p->num, "%.0f", v->valuedouble);
    p->text = p->num;
  } else {
    return hl_fail(HL_ERR_INVALID_ARGUMENTS,
                   "%s: header Mcp-Param-%s needs a string, a boolean or an integer within +-(2^53-1), "
                   "got %s",
                   path, p->name, cJSON_IsNumber(v) ? "a fractional or too large number" : hl_json_type_name(v));
  }
  p->base64 = hl__mcp_header_needs_base64(p->text);
  return HL_OK;
}

typedef struct collect_state {
  param *params;
  size_t n, room;
} collect_state;

/* The annotated values present in `args`, following "properties" only
 * (hl__tool_headers_valid() allows annotations nowhere else). */
static hl_status collect(collect_state *s, const cJSON *schema, const cJSON *args, char *path, size_t len,
                         int depth) {
  const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
  if (!cJSON_IsObject(props) || !cJSON_IsObject(args) || depth > HL_JSON_MAX_DEPTH) return HL_OK;
  for (const cJSON *p = props->child; p; p = p->next) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, p->string);
    if (!v || cJSON_IsNull(v) || !cJSON_IsObject(p)) continue;
    int w = snprintf(path + len, len < 300 ? 300 - len : 0, ".%s", p->string);
    size_t nl = w > 0 && len + (size_t)w < 300 ? len + (size_t)w : len;
    const cJSON *ann = cJSON_GetObjectItemCaseSensitive(p, ANNOTATION);
    hl_status st = HL_OK;
    if (cJSON_IsString(ann)) {
      if (s->n == s->room) {
        st = hl_fail(HL_ERR_LIMIT, "more Mcp-Param headers than a request can carry (%zu)", s->room);
      } else {
        s->params[s->n].name = ann->valuestring;
        st = value_of(&s->params[s->n], v, path);
        s->n++;
      }
    } else {
      st = collect(s, p, v, path, nl, depth + 1);
    }
    path[len] = '\0';
    if (st) return st;
  }
  return HL_OK;
}

hl_status hl__tool_header_lines(const cJSON *input_schema, const cJSON *args, const char **lines,
                                size_t room, size_t *n_lines, char **block) {
  *n_lines = 0;
  *block = NULL;
  param *params = room ? calloc(room, sizeof *params) : NULL;
  if (room && !params) return hl__oom();
  collect_state s = {params, 0, room};
  char path[304] = "$";
  hl_status st = collect(&s, input_schema, args, path, 1, 0);
  size_t size = 0;
  for (size_t i = 0; st == HL_OK && i < s.n; i++) {
    size_t v = strlen(params[i].text);
    size += strlen(PREFIX) + strlen(params[i].name) + 2 +
            (params[i].base64 ? strlen(B64_OPEN B64_CLOSE) + HL_BASE64_SIZE(v) : v + 1);
  }
  char *b = st == HL_OK && s.n ? malloc(size) : NULL;
  if (st == HL_OK && s.n && !b) st = hl__oom();
  size_t off = 0;
  for (size_t i = 0; st == HL_OK && i < s.n; i++) {
    const param *p = &params[i];
    lines[i] = b + off;
    off += (size_t)sprintf(b + off, PREFIX "%s", p->name);
    if (!p->text[0]) { /* libcurl drops "Name:" with nothing after it; "Name;" sends it empty */
      b[off++] = ';';
    } else if (p->base64) {
      off += (size_t)sprintf(b + off, ": " B64_OPEN);
      off += hl__base64(p->text, strlen(p->text), false, b + off);
      off += (size_t)sprintf(b + off, B64_CLOSE);
    } else {
      off += (size_t)sprintf(b + off, ": %s", p->text);
    }
    b[off++] = '\0';
  }
  free(params);
  if (st) {
    free(b);
    return st;
  }
  *n_lines = s.n;
  *block = b;
  return HL_OK;
}

/* ---- the transport's call ------------------------------------------ */

static const cJSON *listed_schema(const hl_mcp *m, const char *tool) {
  const cJSON *t;
  cJSON_ArrayForEach(t, m->tools_raw) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
    if (cJSON_IsString(name) && strcmp(name->valuestring, tool) == 0)
      return cJSON_GetObjectItemCaseSensitive(t, "inputSchema");
  }
  return NULL;
}

/* Whether any property reached by "properties" is annotated: most tools
 * have none, and their calls need no parse of the request body. */
static bool annotated(const cJSON *schema, int depth) {
  const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
  if (!cJSON_IsObject(props) || depth > HL_JSON_MAX_DEPTH) return false;
  for (const cJSON *p = props->child; p; p = p->next)
    if (cJSON_GetObjectItemCaseSensitive(p, ANNOTATION) || annotated(p, depth + 1)) return true;
  return false;
}

hl_status hl__mcp_param_headers(hl_mcp *m, const char *tool, const char *body, const char **hdrs,
                                size_t *n, size_t room, char **block) {
  *block = NULL;
  if (!tool || !body) return HL_OK;
  hl_status st = HL_OK;
  pthread_mutex_lock(&m->lock);
  const cJSON *schema = listed_schema(m, tool);
  if (schema && annotated(schema, 0)) {
    /* The arguments as they go on the wire: the request text is what the
     * server compares the headers with. */
    cJSON *req = NULL;
    st = hl_json_parse(body, (size_t)-1, &req);
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "params"),
                                                         "arguments");
    size_t k = 0;
    if (st == HL_OK) st = hl__tool_header_lines(schema, args, hdrs + *n, room, &k, block);
    if (st == HL_OK) *n += k;
    else st = hl_fail(st, "mcp server \"%s\": tool \"%s\": %s", m->name, tool, hl_last_error());
    cJSON_Delete(req);
  }
  pthread_mutex_unlock(&m->lock);
  return st;
}
