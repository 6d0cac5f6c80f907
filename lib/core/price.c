/*
 * price.c - the process-wide price table (hookline/price.h): a small
 * array under a read-write lock, searched linearly (an application prices
 * a handful of models; a lookup per model call is noise next to HTTP).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/price.h"
#include "core/price_internal.h"
#include "core/util.h"

typedef struct entry {
  char *model; /* exact name, or a prefix ending in '*' */
  hl_price price;
} entry;

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static entry *table;
static size_t count, cap;

static bool price_ok(const hl_price *p) {
  const double v[] = {p->input, p->output, p->cached_input, p->cache_write, p->reasoning};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    if (!isfinite(v[i])) return false;
  return p->input >= 0 && p->output >= 0;
}

static entry *find_exact(const char *model) {
  for (size_t i = 0; i < count; i++)
    if (!strcmp(table[i].model, model)) return &table[i];
  return NULL;
}

hl_status hl_price_set(const char *model, const hl_price *price) {
  if (!model || !*model) return hl_fail(HL_ERR_INVALID, "hl_price_set: no model name");
  const char *star = strchr(model, '*');
  if (star && star[1])
    return hl_fail(HL_ERR_INVALID, "hl_price_set: '*' only at the end of \"%.80s\"", model);
  if (price && !price_ok(price))
    return hl_fail(HL_ERR_INVALID,
                   "hl_price_set: prices must be finite and input/output not negative (\"%.80s\")",
                   model);
  hl_status st = HL_OK;
  pthread_rwlock_wrlock(&lock);
  entry *e = find_exact(model);
  if (!price) {
    if (e) {
      free(e->model);
      *e = table[--count];
    }
  } else if (e) {
    e->price = *price;
  } else if ((st = hl__reserve((void **)&table, &cap, count + 1, sizeof *table)) == HL_OK) {
    char *name = hl__strdup(model);
    if (name) {
      table[count].model = name;
      table[count].price = *price;
      count++;
    } else {
      st = hl__oom();
    }
  }
  pthread_rwlock_unlock(&lock);
  return st;
}

/* The price for `model` into *out; false when none (no message set). */
static bool lookup(const char *model, hl_price *out) {
  pthread_rwlock_rdlock(&lock);
  const entry *best = find_exact(model);
  size_t best_len = 0;
  if (!best) {
    const entry *pre = NULL;
    for (size_t i = 0; i < count; i++) {
      size_t n = strlen(table[i].model);
      if (table[i].model[n - 1] != '*' || n - 1 < best_len) continue;
      if (strncmp(table[i].model, model, n - 1) == 0 && (!pre || n - 1 > best_len)) {
        pre = &table[i];
        best_len = n - 1;
      }
    }
    best = pre;
  }
  if (best) *out = best->price;
  pthread_rwlock_unlock(&lock);
  return best != NULL;
}

hl_status hl_price_get(const char *model, hl_price *out) {
  if (!model || !out) return hl_fail(HL_ERR_INVALID, "hl_price_get: NULL argument");
  return lookup(model, out) ? HL_OK
                            : hl_fail(HL_ERR_NOT_FOUND, "no price for model \"%.80s\"", model);
}

void hl_price_clear(void) {
  pthread_rwlock_wrlock(&lock);
  for (size_t i = 0; i < count; i++) free(table[i].model);
  free(table);
  table = NULL;
  count = cap = 0;
  pthread_rwlock_unlock(&lock);
}

static void apply(hl_usage *usage, const hl_price *pp) {
  hl_price p = *pp;
  double cached = (double)usage->cached_tokens, written = (double)usage->cache_creation_tokens;
  double plain_in = (double)usage->input_tokens - cached - written;
  double reasoning = (double)usage->reasoning_tokens;
  double plain_out = (double)usage->output_tokens - reasoning;
  if (plain_in < 0) plain_in = 0;
  if (plain_out < 0) plain_out = 0;
  usage->cost = (plain_in * p.input + cached * (p.cached_input < 0 ? p.input : p.cached_input) +
                 written * (p.cache_write < 0 ? p.input : p.cache_write) + plain_out * p.output +
                 reasoning * (p.reasoning < 0 ? p.output : p.reasoning)) /
                1e6;
  usage->has_cost = true;
}

hl_status hl_usage_set_cost(hl_usage *usage, const char *model) {
  if (!usage || !model) return hl_fail(HL_ERR_INVALID, "hl_usage_set_cost: NULL argument");
  hl_price p;
  hl_status st = hl_price_get(model, &p);
  if (st == HL_OK) apply(usage, &p);
  return st;
}

bool hl__usage_price(hl_usage *usage, const char *answered, const char *asked) {
  hl_price p;
  if (answered && lookup(answered, &p)) apply(usage, &p);
  else if (asked && lookup(asked, &p)) apply(usage, &p);
  else return false;
  return true;
}
