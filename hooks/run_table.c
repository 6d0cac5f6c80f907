/*
 * hooks/run_table.c - per-run plugin state keyed by invocation id (see
 * run_table.h). A linear array: a plugin sees as many live runs as run
 * at once, and comparing a few dozen ids beats a hash table's upkeep.
 */
#include "run_table.h"

#include <stdlib.h>
#include <string.h>

void hl__run_table_init(hl__run_table *t, size_t max, void *(*make)(void),
                        void (*destroy)(void *value))
{
  memset(t, 0, sizeof *t);
  pthread_mutex_init(&t->mu, NULL);
  t->max = max ? max : 1;
  t->make = make;
  t->destroy = destroy;
}

void hl__run_table_destroy(hl__run_table *t)
{
  for (size_t i = 0; i < t->count; i++) {
    t->destroy(t->items[i].value);
    free(t->items[i].id);
  }
  free(t->items);
  pthread_mutex_destroy(&t->mu);
}

static void remove_at(hl__run_table *t, size_t i)
{
  t->destroy(t->items[i].value);
  free(t->items[i].id);
  t->items[i] = t->items[--t->count];
}

void *hl__run_table_lock(hl__run_table *t, const char *id)
{
  if (!id)
    id = "";
  pthread_mutex_lock(&t->mu);
  for (size_t i = 0; i < t->count; i++)
    if (strcmp(t->items[i].id, id) == 0)
      return t->items[i].value;
  if (t->count >= t->max) {   /* runs that never reached after_agent */
    size_t oldest = 0;
    for (size_t i = 1; i < t->count; i++)
      if (t->items[i].seq < t->items[oldest].seq)
        oldest = i;
    remove_at(t, oldest);
  }
  if (t->count == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    hl__run_entry *grown = realloc(t->items, cap * sizeof *grown);
    if (!grown) {
      pthread_mutex_unlock(&t->mu);
      return NULL;
    }
    t->items = grown;
    t->cap = cap;
  }
  char *copy = strdup(id);
  void *value = copy ? t->make() : NULL;
  if (!value) {
    free(copy);
    pthread_mutex_unlock(&t->mu);
    return NULL;
  }
  t->items[t->count++] = (hl__run_entry){.id = copy, .seq = t->next_seq++, .value = value};
  return value;
}

void hl__run_table_unlock(hl__run_table *t)
{
  pthread_mutex_unlock(&t->mu);
}

void hl__run_table_drop(hl__run_table *t, const char *id)
{
  if (!id)
    id = "";
  pthread_mutex_lock(&t->mu);
  for (size_t i = 0; i < t->count; i++)
    if (strcmp(t->items[i].id, id) == 0) {
      remove_at(t, i);
      break;
    }
  pthread_mutex_unlock(&t->mu);
}

size_t hl__run_table_size(hl__run_table *t)
{
  pthread_mutex_lock(&t->mu);
  size_t n = t->count;
  pthread_mutex_unlock(&t->mu);
  return n;
}
