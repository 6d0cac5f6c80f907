/*
 * lib/sandbox/py_snapshot_tool.c - build-time program: boots MicroPython
 * once (start-up, the prelude) and writes the Python template file that
 * libhookline maps at run time instead (py_vm.c, py_snapshot.c).
 *
 *   hl-py-sandbox-snapshot OUTPUT
 */
#include <stdio.h>

#include "py_vm_internal.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUTPUT\n", argv[0]);
    return 2;
  }
  if (hl__py_template_write(argv[1]) != HL_OK) {
    fprintf(stderr, "hl-py-sandbox-snapshot: %s\n", hl_last_error());
    return 1;
  }
  return 0;
}
