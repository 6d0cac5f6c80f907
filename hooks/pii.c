/*
 * hooks/pii.c - the PII redaction plugin (guards.h): model requests,
 * streamed chunks and tool results; mask, drop, or pseudonymize with the
 * real values restored for tools and in the final answer.
 *
 * Pseudonyms are per run (a table keyed by invocation id): the same value
 * gets the same token in every request of the run, so the model can
 * still reason about "the first address" and "the second", and the
 * mapping dies with the run instead of accumulating everyone's data.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/context.h"
#include "hookline/guards.h"
#include "hookline/json.h"
#include "plugin_options.h"
#include "plugin_util.h"
#include "run_table.h"

typedef enum { MODE_MASK, MODE_DROP, MODE_PSEUDO } pii_mode;

struct hl_pii {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  pii_mode mode;
  bool kinds[HL_PII_KIND_COUNT];
  bool requests, chunks, tool_results;
  hl__run_table runs;   /* pseudonymize: run -> pseudonyms */
  hl__run_table tails;  /* streamed chunks: run -> the text held back (a buf) */
  atomic_uint_fast64_t redacted;
};

/* One run's pseudonyms: value <-> token, and a counter per kind. */
typedef struct pseudonyms {
  cJSON *by_value;   /* {"alice@example.com": "<EMAIL_1>"} */
  cJSON *by_token;   /* {"<EMAIL_1>": "alice@example.com"} */
  int next[HL_PII_KIND_COUNT];
} pseudonyms;

static void *pseudo_make(void)
{
  pseudonyms *p = calloc(1, sizeof *p);
  if (p && (!(p->by_value = cJSON_CreateObject()) || !(p->by_token = cJSON_CreateObject()))) {
    cJSON_Delete(p->by_value);
    free(p);
    return NULL;
  }
  return p;
}

static void pseudo_destroy(void *value)
{
  pseudonyms *p = value;
  cJSON_Delete(p->by_value);
  cJSON_Delete(p->by_token);
  free(p);
}

static void pii_destroy(void *self)
{
  hl_pii *pii = self;
  hl__run_table_destroy(&pii->runs);
  hl__run_table_destroy(&pii->tails);
  free(pii);
}

static const char *const masks[HL_PII_KIND_COUNT] = {"[EMAIL]", "[PHONE]", "[CARD]",
                                                     "[IBAN]",  "[IP]",    "[SECRET]"};
static const char *const token_names[HL_PII_KIND_COUNT] = {"EMAIL", "PHONE", "CARD",
                                                           "IBAN",  "IP",    "SECRET"};

/* ---- the text transformation --------------------------------------- */

/* A growing string. */
typedef struct buf {
  char *s;
  size_t len, cap;
  bool oom;
} buf;

static void put(buf *b, const char *s, size_t n)
{
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *g = realloc(b->s, cap);
    if (!g) {
      b->oom = true;
      return;
    }
    b->s = g;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void *tail_make(void)
{
  return calloc(1, sizeof(buf));
}

static void tail_destroy(void *value)
{
  buf *b = value;
  free(b->s);
  free(b);
}

/* The token for `value` in `p`, made if new (NULL on out of memory). */
static const char *pseudonym(pseudonyms *p, hl_pii_kind kind, const char *value)
{
  const char *have = hl_json_get_string(p->by_value, value);
  if (have)
    return have;
  char token[48];
  snprintf(token, sizeof token, "<%s_%d>", token_names[kind], ++p->next[kind]);
  if (!cJSON_AddStringToObject(p->by_value, value, token) ||
      !cJSON_AddStringToObject(p->by_token, token, value))
    return NULL;
  return hl_json_get_string(p->by_value, value);
}

/* Every finding in `text`: *spans is `local` when they fit in it, else a
 * malloc'd array (the caller frees it when it is not `local`), NULL on
 * out of memory. Returns how many. */
#define SCAN_LOCAL 16
static size_t scan_all(const char *text, hl_pii_span local[SCAN_LOCAL], hl_pii_span **spans)
{
  size_t n = hl_pii_scan(text, local, SCAN_LOCAL);
  *spans = local;
  if (n > SCAN_LOCAL) {
    *spans = malloc(n * sizeof **spans);
    if (*spans)
      hl_pii_scan(text, *spans, n);
  }
  return n;
}

/* `text` redacted; *changed tells whether anything was. NULL on out of
 * memory. `p` is the run's pseudonyms (pseudonymize mode; NULL: a fresh
 * numbering). */
static char *redact(const hl_pii *pii, pseudonyms *p, const char *text, bool *changed)
{
  hl_pii_span local[SCAN_LOCAL], *spans;
  size_t n = scan_all(text, local, &spans);
  *changed = false;
  if (!spans)
    return NULL;
  pseudonyms *own = NULL;
  if (pii->mode == MODE_PSEUDO && !p)
    p = own = pseudo_make();
  buf out = {0};
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    if (!pii->kinds[spans[i].kind])
      continue;
    put(&out, text + at, spans[i].start - at);
    at = spans[i].start + spans[i].len;
    *changed = true;
    atomic_fetch_add(&((hl_pii *)pii)->redacted, 1);
    if (pii->mode == MODE_MASK) {
      put(&out, masks[spans[i].kind], strlen(masks[spans[i].kind]));
    } else if (pii->mode == MODE_PSEUDO) {
      char *value = p ? strndup(text + spans[i].start, spans[i].len) : NULL;
      const char *tok = value ? pseudonym(p, spans[i].kind, value) : NULL;
      free(value);
      if (!tok)
        out.oom = true;
      else
        put(&out, tok, strlen(tok));
    }
  }
  put(&out, text + at, strlen(text + at));
  if (!out.s && !out.oom)
    put(&out, "", 0);
  if (spans != local)
    free(spans);
  if (own)
    pseudo_destroy(own);
  if (out.oom) {
    free(out.s);
    return NULL;
  }
  return out.s;
}

/* `text` with every token of `p` replaced by its value (NULL: OOM). */
static char *restore(const pseudonyms *p, const char *text, bool *changed)
{
  buf out = {0};
  *changed = false;
  for (const char *s = text; *s;) {
    const char *lt = strchr(s, '<');
    if (!lt) {
      put(&out, s, strlen(s));
      break;
    }
    put(&out, s, (size_t)(lt - s));
    const char *gt = strchr(lt, '>');
    const char *value = NULL;
    if (gt && gt - lt < 40) {
      char token[48];
      snprintf(token, sizeof token, "%.*s", (int)(gt - lt + 1), lt);
      value = hl_json_get_string(p->by_token, token);
    }
    if (value) {
      put(&out, value, strlen(value));
      s = gt + 1;
      *changed = true;
    } else {
      put(&out, "<", 1);
      s = lt + 1;
    }
  }
  if (!out.s && !out.oom)
    put(&out, "", 0);
  if (out.oom) {
    free(out.s);
    return NULL;
  }
  return out.s;
}

char *hl_pii_redact(const hl_pii *pii, const char *text)
{
  if (!pii || !text) {
    hl_fail(HL_ERR_INVALID, "hl_pii_redact: NULL argument");
    return NULL;
  }
  bool changed;
  char *r = redact(pii, NULL, text, &changed);
  if (!r)
    hl_fail(HL_ERR_NOMEM, "out of memory");
  return r;
}

/* Every string value of `v` (recursively) through `fn`; false on OOM. */
typedef char *(*text_fn)(const hl_pii *pii, pseudonyms *p, const char *text, bool *changed);

static char *restore_fn(const hl_pii *pii, pseudonyms *p, const char *text, bool *changed)
{
  (void)pii;
  return restore(p, text, changed);
}

static bool walk_json(const hl_pii *pii, pseudonyms *p, cJSON *v, text_fn fn, bool *changed)
{
  if (cJSON_IsString(v)) {
    bool c;
    char *r = fn(pii, p, v->valuestring, &c);
    if (!r)
      return false;
    if (c) {
      *changed = true;
      cJSON_free(v->valuestring);
      v->valuestring = cJSON_malloc(strlen(r) + 1);
      if (!v->valuestring) {
        free(r);
        return false;
      }
      strcpy(v->valuestring, r);
    }
    free(r);
    return true;
  }
  cJSON *child;
  cJSON_ArrayForEach(child, v) {
    if (!walk_json(pii, p, child, fn, changed))
      return false;
  }
  return true;
}

/* ---- options -------------------------------------------------------- */

hl_pii *hl_pii_new(const cJSON *options)
{
  static const char *const known[] = {"mode", "kinds", "requests", "chunks", "tool_results", NULL};
  cJSON *empty = options ? NULL : cJSON_CreateObject();
  const cJSON *opts = options ? options : empty;
  hl_pii *pii = calloc(1, sizeof *pii);
  if (!pii || !opts) {
    free(pii);
    cJSON_Delete(empty);
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  hl__plugin_ref_init(&pii->ref, pii_destroy);
  hl__run_table_init(&pii->runs, 4096, pseudo_make, pseudo_destroy);
  hl__run_table_init(&pii->tails, 4096, tail_make, tail_destroy);
  atomic_init(&pii->redacted, 0);
  const char *mode;
  const cJSON *kinds;
  hl_status st;
  if (!cJSON_IsObject(opts))
    st = hl_fail(HL_ERR_INVALID, "$: options must be an object, got %s", hl_json_type_name(opts));
  else if ((st = hl__opt_known(opts, known)) || (st = hl__opt_string(opts, "mode", "mask", &mode)) ||
           (st = hl__opt_strings(opts, "kinds", &kinds)) ||
           (st = hl__opt_bool(opts, "requests", true, &pii->requests)) ||
           (st = hl__opt_bool(opts, "chunks", true, &pii->chunks)) ||
           (st = hl__opt_bool(opts, "tool_results", true, &pii->tool_results)))
    ;
  else if (strcmp(mode, "mask") == 0)
    pii->mode = MODE_MASK;
  else if (strcmp(mode, "drop") == 0)
    pii->mode = MODE_DROP;
  else if (strcmp(mode, "pseudonymize") == 0)
    pii->mode = MODE_PSEUDO;
  else
    st = hl_fail(HL_ERR_INVALID, "$.mode: expected \"mask\", \"drop\" or \"pseudonymize\", got \"%.40s\"",
                 mode);
  if (st == HL_OK) {
    for (int k = 0; k < HL_PII_KIND_COUNT; k++)
      pii->kinds[k] = kinds == NULL;
    const cJSON *item;
    long i = 0;
    cJSON_ArrayForEach(item, kinds) {
      int k = 0;
      while (k < HL_PII_KIND_COUNT && strcmp(hl_pii_kind_name((hl_pii_kind)k), item->valuestring))
        k++;
      if (k == HL_PII_KIND_COUNT) {
        st = hl__opt_fail(HL_ERR_INVALID, "kinds", i,
                          "unknown kind \"%.40s\" (email, phone, card, iban, ip, secret)",
                          item->valuestring);
        break;
      }
      pii->kinds[k] = true;
      i++;
    }
  }
  cJSON_Delete(empty);
  if (st != HL_OK) {
    hl__plugin_release(pii);
    return NULL;
  }
  return pii;
}

hl_pii *hl_pii_ref(hl_pii *pii)
{
  hl__plugin_retain(pii);
  return pii;
}

void hl_pii_unref(hl_pii *pii)
{
  hl__plugin_release(pii);
}

uint64_t hl_pii_redacted(const hl_pii *pii)
{
  return pii ? atomic_load(&((hl_pii *)pii)->redacted) : 0;
}

/* ---- hooks ------------------------------------------------------------ */

/* Run the pseudonyms of ctx's run locked (NULL unless pseudonymizing). */
static pseudonyms *run_lock(hl_pii *pii, hl_context *ctx)
{
  return pii->mode == MODE_PSEUDO ? hl__run_table_lock(&pii->runs, hl_context_invocation_id(ctx))
                                  : NULL;
}

static void run_unlock(hl_pii *pii)
{
  if (pii->mode == MODE_PSEUDO)
    hl__run_table_unlock(&pii->runs);
}

static hl_hook_action pii_before_agent(hl_context *ctx, const hl_before_agent_args *args,
                                       hl_before_agent_out *out, void *ud)
{
  (void)args;
  (void)out;
  hl_pii *pii = ud;
  hl__run_table_drop(&pii->runs, hl_context_invocation_id(ctx));
  return HL_HOOK_CONTINUE;
}

static hl_hook_action pii_after_agent(hl_context *ctx, const hl_after_agent_args *args,
                                      hl_after_agent_out *out, void *ud)
{
  hl_pii *pii = ud;
  const char *id = hl_context_invocation_id(ctx);
  hl_hook_action action = HL_HOOK_CONTINUE;
  if (pii->mode == MODE_PSEUDO && args->answer) {
    pseudonyms *p = hl__run_table_lock(&pii->runs, id);
    if (!p)
      return hl_hook_abort("pii: out of memory");
    bool changed;
    char *r = restore(p, args->answer, &changed);
    hl__run_table_unlock(&pii->runs);
    if (!r)
      return hl_hook_abort("pii: out of memory");
    if (changed) {
      out->answer = r;
      action = HL_HOOK_OVERRIDE;
    } else {
      free(r);
    }
  }
  hl__run_table_drop(&pii->runs, id);
  return action;
}

/* Redact one owned string in place (part texts). */
static bool redact_in_place(hl_pii *pii, pseudonyms *p, char **text)
{
  if (!*text)
    return true;
  bool changed;
  char *r = redact(pii, p, *text, &changed);
  if (!r)
    return false;
  if (changed) {
    free(*text);
    *text = r;
  } else {
    free(r);
  }
  return true;
}

static hl_hook_action pii_before_model(hl_context *ctx, const hl_before_model_args *args,
                                       hl_before_model_out *out, void *ud)
{
  (void)args;
  hl_pii *pii = ud;
  hl_request *req = out->request;
  pseudonyms *p = run_lock(pii, ctx);
  if (pii->mode == MODE_PSEUDO && !p)
    return hl_hook_abort("pii: out of memory");
  bool ok = true;
  for (size_t m = 0; ok && m < req->messages.count; m++) {
    hl_message *msg = req->messages.items[m];
    if (msg->role == HL_ROLE_SYSTEM)
      continue;   /* the developer's instruction */
    for (size_t k = 0; ok && k < msg->n_parts; k++) {
      hl_part *part = &msg->parts[k];
      if (part->kind == HL_PART_TEXT || part->kind == HL_PART_TOOL_RESULT) {
        ok = redact_in_place(pii, p, &part->text);
      } else if (part->kind == HL_PART_TOOL_CALL && part->args) {
        bool changed = false;
        ok = walk_json(pii, p, part->args, redact, &changed);
      }
    }
  }
  run_unlock(pii);
  return ok ? HL_HOOK_CONTINUE : hl_hook_abort("pii: out of memory while redacting the request");
}

/* Streamed text: a finding split across deltas ("bob@exa" + "mple.com")
 * is seen whole only if the end of one delta waits for the next. So each
 * delta is joined to the text held back from the previous one, scanned,
 * and passed on up to the longest suffix that could still be the start of
 * a finding; that suffix (at most HOLD_MAX bytes) is held back in turn,
 * and the end-of-stream call (hooks.h) flushes it. */
#define HOLD_MAX 128

/* A character that can be inside a finding (pii_scan.c's matchers). */
static bool findingish(char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && strchr("._%+-@:()~/=", c) != NULL);
}

/* Whether the space at text[i] can be inside a finding: between digit
 * groups (cards, phones), upper-case groups (IBANs), after ")" (a phone's
 * area code) or after "Bearer". */
static bool inner_space(const char *text, size_t i)
{
  if (i == 0)
    return false;
  char l = text[i - 1];
  if ((l >= '0' && l <= '9') || (l >= 'A' && l <= 'Z') || l == ')')
    return true;
  return i >= 6 && strncasecmp(text + i - 6, "bearer", 6) == 0;
}

/* How many bytes at the end of text[0..len) to hold back. */
static size_t hold_len(const char *text, size_t len)
{
  size_t i = len;
  while (i > 0 && len - i < HOLD_MAX &&
         (findingish(text[i - 1]) || (text[i - 1] == ' ' && inner_space(text, i - 1))))
    i--;
  return len - i;
}

/* `text` redacted up to `*end` (a finding that starts before it but
 * ends after it moves *end back to its start, when that keeps the hold
 * within HOLD_MAX; else the finding is redacted whole and *end moves past
 * it). NULL on out of memory. */
static char *redact_prefix(hl_pii *pii, const char *text, size_t len, size_t *end, bool *changed)
{
  hl_pii_span local[SCAN_LOCAL], *spans;
  size_t n = scan_all(text, local, &spans);
  *changed = false;
  if (!spans)
    return NULL;
  buf out = {0};
  size_t at = 0;
  for (size_t i = 0; i < n && spans[i].start < *end; i++) {
    size_t stop = spans[i].start + spans[i].len;
    if (stop > *end) {
      if (len - spans[i].start <= HOLD_MAX) {
        *end = spans[i].start;
        break;
      }
      *end = stop;
    }
    if (!pii->kinds[spans[i].kind])
      continue;
    put(&out, text + at, spans[i].start - at);
    at = stop;
    *changed = true;
    atomic_fetch_add(&pii->redacted, 1);
    if (pii->mode == MODE_MASK)
      put(&out, masks[spans[i].kind], strlen(masks[spans[i].kind]));
  }
  put(&out, text + at, *end - at);
  if (!out.s && !out.oom)
    put(&out, "", 0);
  if (spans != local)
    free(spans);
  if (out.oom) {
    free(out.s);
    return NULL;
  }
  return out.s;
}

static hl_hook_action pii_model_chunk(hl_context *ctx, const hl_model_chunk_args *args,
                                      hl_model_chunk_out *out, void *ud)
{
  hl_pii *pii = ud;
  if (args->kind != HL_CHUNK_TEXT || !args->text || pii->mode == MODE_PSEUDO)
    return HL_HOOK_CONTINUE;
  bool final = args->size > offsetof(hl_model_chunk_args, final) && args->final;
  const char *id = hl_context_invocation_id(ctx);
  buf *tail = hl__run_table_lock(&pii->tails, id);
  if (!tail)
    return hl_hook_abort("pii: out of memory");
  size_t held = tail->len;
  put(tail, args->text, strlen(args->text)); /* tail->s is now the joined text */
  char *r = NULL;
  bool changed = false;
  size_t end = 0;
  if (!tail->oom) {
    end = final ? tail->len : tail->len - hold_len(tail->s, tail->len);
    r = redact_prefix(pii, tail->s, tail->len, &end, &changed);
  }
  if (r) {
    /* keep the unsent rest, raw: it is scanned again with the next delta */
    memmove(tail->s, tail->s + end, tail->len - end + 1);
    tail->len -= end;
  }
  hl__run_table_unlock(&pii->tails);
  if (final || !r)
    hl__run_table_drop(&pii->tails, id);
  if (!r)
    return hl_hook_abort("pii: out of memory");
  if (!changed && held == 0 && end == strlen(args->text)) {
    free(r); /* passed on as it came */
    return HL_HOOK_CONTINUE;
  }
  if (!r[0] && !final) {
    free(r);
    out->drop = true;
  } else {
    out->text = r;
  }
  return HL_HOOK_CONTINUE;
}

/* Pseudonymize: the tool gets the real values back. */
static hl_hook_action pii_before_tool(hl_context *ctx, const hl_before_tool_args *args,
                                      hl_before_tool_out *out, void *ud)
{
  (void)args;
  hl_pii *pii = ud;
  pseudonyms *p = run_lock(pii, ctx);
  if (!p)
    return hl_hook_abort("pii: out of memory");
  bool changed = false;
  bool ok = walk_json(pii, p, out->args, restore_fn, &changed);
  run_unlock(pii);
  return ok ? HL_HOOK_CONTINUE : hl_hook_abort("pii: out of memory");
}

static hl_hook_action pii_after_tool(hl_context *ctx, const hl_after_tool_args *args,
                                     hl_after_tool_out *out, void *ud)
{
  hl_pii *pii = ud;
  if (!args->result)
    return HL_HOOK_CONTINUE;
  cJSON *copy = hl_json_clone(args->result);
  if (!copy)
    return hl_hook_abort("pii: out of memory");
  pseudonyms *p = run_lock(pii, ctx);
  if (pii->mode == MODE_PSEUDO && !p) {
    cJSON_Delete(copy);
    return hl_hook_abort("pii: out of memory");
  }
  bool changed = false;
  bool ok = walk_json(pii, p, copy, redact, &changed);
  run_unlock(pii);
  if (!ok || !changed) {
    cJSON_Delete(copy);
    return ok ? HL_HOOK_CONTINUE : hl_hook_abort("pii: out of memory");
  }
  out->result = copy;
  return HL_HOOK_OVERRIDE;
}

hl_status hl_pii_install(hl_pii *pii, hl_hooks *hooks)
{
  if (!pii || !hooks)
    return hl_fail(HL_ERR_INVALID, "hl_pii_install: NULL argument");
  hl_status st = HL_OK;
  if (pii->mode == MODE_PSEUDO &&
      ((st = hl__plugin_add(pii, hooks, HL_HOOK_BEFORE_AGENT, "pii", HL_HOOK_OBSERVE,
                            (hl_hook_fn){.before_agent = pii_before_agent})) ||
       (st = hl__plugin_add(pii, hooks, HL_HOOK_AFTER_AGENT, "pii", HL_HOOK_DECIDE,
                            (hl_hook_fn){.after_agent = pii_after_agent})) ||
       (st = hl__plugin_add(pii, hooks, HL_HOOK_BEFORE_TOOL, "pii", HL_HOOK_EDIT_ARGS,
                            (hl_hook_fn){.before_tool = pii_before_tool}))))
    return hl__plugin_install_failed(hooks, "pii", "hl_pii_install", st);
  if ((pii->requests &&
       (st = hl__plugin_add(pii, hooks, HL_HOOK_BEFORE_MODEL, "pii", HL_HOOK_EDIT_REQUEST,
                            (hl_hook_fn){.before_model = pii_before_model}))) ||
      (pii->chunks && pii->mode != MODE_PSEUDO &&
       (st = hl__plugin_add(pii, hooks, HL_HOOK_MODEL_CHUNK, "pii", HL_HOOK_EDIT_CHUNK,
                            (hl_hook_fn){.model_chunk = pii_model_chunk}))) ||
      (pii->tool_results &&
       (st = hl__plugin_add(pii, hooks, HL_HOOK_AFTER_TOOL, "pii", HL_HOOK_DECIDE,
                            (hl_hook_fn){.after_tool = pii_after_tool}))))
    return hl__plugin_install_failed(hooks, "pii", "hl_pii_install", st);
  return HL_OK;
}
