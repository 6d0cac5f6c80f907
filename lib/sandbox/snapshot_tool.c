/*
 * lib/sandbox/snapshot_tool.c - build-time program: initialises QuickJS
 * once (runtime, context, prelude) and writes the result as the snapshot
 * file that libhookline maps at run time (see snapshot_file.c).
 *
 *   hl-sandbox-snapshot OUTPUT
 *
 * Also checks what the loader relies on: initialisation leaves the
 * function table as instantiation made it, so the table need not (and,
 * being host pointers, could not) be stored in the file.
 */
#include <stdio.h>
#include <stdlib.h>

#include "qjs_vm_internal.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUTPUT\n", argv[0]);
    return 2;
  }
  hl_vm_snapshot *snap = NULL;
  hl_status st = hl__vm_template_build(&snap);
  if (st) {
    fprintf(stderr, "hl-sandbox-snapshot: %s\n", hl_last_error());
    return 1;
  }
  hl_vm_snapshot fresh = {.fd = -1};
  st = hl__vm_fresh_table(&fresh);
  if (st) {
    fprintf(stderr, "hl-sandbox-snapshot: %s\n", hl_last_error());
    hl_vm_snapshot_free(snap);
    return 1;
  }
  int rc = 0;
  if (fresh.table_size != snap->table_size || fresh.table_max != snap->table_max) {
    rc = 1;
  } else {
    for (uint32_t i = 0; i < snap->table_size; i++)
      if (fresh.table[i].func != snap->table[i].func ||
          fresh.table[i].func_type != snap->table[i].func_type)
        rc = 1;
  }
  free(fresh.table);
  if (rc) {
    fprintf(stderr, "hl-sandbox-snapshot: initialisation changed the function table; "
                    "a snapshot file cannot describe it\n");
    hl_vm_snapshot_free(snap);
    return 1;
  }
  st = hl__vm_snapshot_save(snap, argv[1]);
  hl_vm_snapshot_free(snap);
  if (st) {
    fprintf(stderr, "hl-sandbox-snapshot: %s\n", hl_last_error());
    return 1;
  }
  return 0;
}
