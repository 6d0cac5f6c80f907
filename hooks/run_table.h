/*
 * hooks/run_table.h - per-run state for plugins whose rules count "per
 * run" (call limits, budgets, PII pseudonyms), keyed by the run's
 * invocation id. Hooks of one run may run on several threads (parallel
 * tool calls), and several runs share one plugin: every access is locked.
 *
 * Entries are created on first use and dropped by after_agent; a run
 * that ends without after_agent (an abort, a before_agent override) leaves
 * its entry until the table is over `max` entries, when the oldest go.
 */
#ifndef HL_RUN_TABLE_H
#define HL_RUN_TABLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hl__run_entry {
  char *id;
  uint64_t seq;        /* creation order, for eviction */
  void *value;
} hl__run_entry;

typedef struct hl__run_table {
  pthread_mutex_t mu;
  hl__run_entry *items;
  size_t count, cap, max;
  uint64_t next_seq;
  void *(*make)(void);        /* a new value (NULL: out of memory) */
  void (*destroy)(void *value);
} hl__run_table;

void hl__run_table_init(hl__run_table *t, size_t max, void *(*make)(void),
                        void (*destroy)(void *value));
void hl__run_table_destroy(hl__run_table *t);
/* Lock the table and return the value of run `id`, created if absent
 * (NULL on out of memory: the table is unlocked then). Unlock with
 * hl__run_table_unlock() when done with the value. */
void *hl__run_table_lock(hl__run_table *t, const char *id);
void hl__run_table_unlock(hl__run_table *t);
/* Drop run `id`'s entry (after_agent). */
void hl__run_table_drop(hl__run_table *t, const char *id);
/* Number of entries (for tests). */
size_t hl__run_table_size(hl__run_table *t);

#endif
