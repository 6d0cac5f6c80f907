/*
 * memory.c - the "memory:" store backend: sessions in this process's
 * memory, for tests and for applications that want the store's semantics
 * (versions, conflicts, listing) without a database. Gone at close.
 */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/store_internal.h"

typedef struct mem_session {
  char *app, *user, *id;
  char **rows;
  size_t *lens;
  size_t count, cap, lcap;
  double created, updated;
  char *title;
  int64_t bytes;
} mem_session;

typedef struct mem_store {
  mem_session **items;
  size_t count, cap;
} mem_store;

hl_status hl__store_memory_open(const char *rest, void **impl) {
  (void)rest;
  mem_store *m = calloc(1, sizeof *m);
  if (!m) return hl__oom();
  *impl = m;
  return HL_OK;
}

static void mem_session_free(mem_session *s) {
  for (size_t i = 0; i < s->count; i++) free(s->rows[i]);
  free(s->rows);
  free(s->lens);
  free(s->app);
  free(s->user);
  free(s->id);
  free(s->title);
  free(s);
}

static size_t mem_find(mem_store *m, const hl__skey *k) {
  for (size_t i = 0; i < m->count; i++) {
    mem_session *s = m->items[i];
    if (!strcmp(s->id, k->id) && !strcmp(s->user, k->user) && !strcmp(s->app, k->app)) return i;
  }
  return SIZE_MAX;
}

static hl_status mem_append(void *impl, const hl__skey *k, const hl__sappend *a, int64_t *nv) {
  mem_store *m = impl;
  size_t i = mem_find(m, k);
  mem_session *s = i == SIZE_MAX ? NULL : m->items[i];
  int64_t have = s ? (int64_t)s->count : 0;
  if (have != a->expected)
    return hl_fail(HL_ERR_CONFLICT, "store: session is at version %lld, the writer saw %lld: another writer "
                   "appended first",
                   (long long)have, (long long)a->expected);
  if (!s) {
    if (hl__reserve((void **)&m->items, &m->cap, m->count + 1, sizeof *m->items) != HL_OK)
      return HL_ERR_NOMEM;
    s = calloc(1, sizeof *s);
    if (!s || !(s->app = strdup(k->app)) || !(s->user = strdup(k->user)) ||
        !(s->id = strdup(k->id))) {
      if (s) mem_session_free(s);
      return hl__oom();
    }
    s->created = a->now;
    m->items[m->count++] = s;
  }
  if (hl__reserve((void **)&s->rows, &s->cap, s->count + a->n, sizeof *s->rows) != HL_OK ||
      hl__reserve((void **)&s->lens, &s->lcap, s->count + a->n, sizeof *s->lens) != HL_OK)
    return HL_ERR_NOMEM;
  if (a->title && !s->title && !(s->title = strdup(a->title))) return hl__oom();
  /* Copies first, then the rows: all of the group or none of it. */
  char **copies = calloc(a->n, sizeof *copies);
  for (size_t j = 0; copies && j < a->n; j++) {
    if (!(copies[j] = malloc(a->len[j] + 1))) {
      for (size_t x = 0; x < j; x++) free(copies[x]);
      free(copies);
      copies = NULL;
      break;
    }
    memcpy(copies[j], a->data[j], a->len[j]);
    copies[j][a->len[j]] = '\0';
  }
  if (!copies) return hl__oom();
  for (size_t j = 0; j < a->n; j++) {
    s->rows[s->count] = copies[j];
    s->lens[s->count] = a->len[j];
    s->count++;
  }
  free(copies);
  s->updated = a->now;
  s->bytes += (int64_t)a->bytes;
  *nv = (int64_t)s->count;
  return HL_OK;
}

static hl_status mem_load(void *impl, const hl__skey *k, size_t max_bytes, hl__srow_fn row,
                          void *ud, int64_t *version) {
  mem_store *m = impl;
  (void)max_bytes; /* the row function enforces it */
  size_t i = mem_find(m, k);
  if (i == SIZE_MAX) return hl_fail(HL_ERR_NOT_FOUND, "store: no session \"%.200s\"", k->id);
  mem_session *s = m->items[i];
  *version = (int64_t)s->count;
  for (size_t j = 0; j < s->count; j++)
    if (!row(ud, (int64_t)j + 1, s->rows[j], s->lens[j])) break;
  return HL_OK;
}

static hl_status mem_list(void *impl, const char *app, const char *user, cJSON *out) {
  mem_store *m = impl;
  /* Most recently written first: walk a copy of the pointers sorted by time. */
  size_t n = 0;
  mem_session **sel = calloc(m->count + 1, sizeof *sel);
  if (!sel) return hl__oom();
  for (size_t i = 0; i < m->count; i++)
    if (!strcmp(m->items[i]->app, app) && !strcmp(m->items[i]->user, user)) sel[n++] = m->items[i];
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && sel[j]->updated > sel[j - 1]->updated; j--) {
      mem_session *t = sel[j];
      sel[j] = sel[j - 1];
      sel[j - 1] = t;
    }
  hl_status st = HL_OK;
  for (size_t i = 0; i < n && st == HL_OK; i++)
    if (!hl__store_list_item(out, sel[i]->id, (int64_t)sel[i]->count, sel[i]->created,
                             sel[i]->updated, sel[i]->title, sel[i]->bytes))
      st = hl__oom();
  free(sel);
  return st;
}

static hl_status mem_del(void *impl, const hl__skey *k) {
  mem_store *m = impl;
  size_t i = mem_find(m, k);
  if (i == SIZE_MAX) return hl_fail(HL_ERR_NOT_FOUND, "store: no session \"%.200s\"", k->id);
  mem_session_free(m->items[i]);
  m->items[i] = m->items[--m->count];
  return HL_OK;
}

static void mem_close(void *impl) {
  mem_store *m = impl;
  if (!m) return;
  for (size_t i = 0; i < m->count; i++) mem_session_free(m->items[i]);
  free(m->items);
  free(m);
}

const hl__store_ops hl__store_memory_ops = {
  .name = "memory", .append = mem_append, .load = mem_load, .list = mem_list,
  .del = mem_del, .close = mem_close, .has_ttl = false,
};
