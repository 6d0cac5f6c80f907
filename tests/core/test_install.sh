#!/bin/sh
# test_install.sh BUILD_DIR - install the built library into a temporary
# DESTDIR and build an outside program against it through pkg-config, the
# way a user of hookline would.
set -eu

build=${1:?usage: test_install.sh BUILD_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# --no-rebuild: the test runner already built everything; rebuilding here
# would race with other tests using the same build directory.
if ! meson install -C "$build" --destdir "$tmp/root" --no-rebuild >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"
  echo "FAIL: meson install"
  exit 1
fi

pc=$(find "$tmp/root" -name hookline.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: hookline.pc was not installed"; exit 1; }
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")

cat >"$tmp/main.c" <<'C'
#include <hookline.h>
#include <stdio.h>
static hl_status hi(hl_context *c, const cJSON *a, cJSON **r, void *u) {
  (void)c, (void)u; *r = cJSON_CreateString(hl_json_get_string(a, "who")); return HL_OK; }
int main(void) {
  hl_tool *t = hl_tool_new("greet", "Greets", hi, NULL);
  if (!t || hl_tool_param(t, "who", "string", "name", true)) return 1;
  cJSON *good = cJSON_Parse("{\"who\":\"pkg-config\"}"), *bad = cJSON_Parse("{\"who\":1}"), *r = NULL;
  hl_status st = hl_tool_invoke(t, NULL, bad, &r);
  printf("bad: %s %s\n", hl_status_name(st), hl_last_error());
  st = hl_tool_invoke(t, NULL, good, &r);
  printf("good: %s %s\n", hl_status_name(st), r ? r->valuestring : "-");
  cJSON_Delete(r); cJSON_Delete(good); cJSON_Delete(bad); hl_tool_unref(t);
  return 0;
}
C

flags=$(PKG_CONFIG_SYSROOT_DIR="$tmp/root" PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs hookline)
# A sanitized build installs a library that needs the sanitizer runtimes
# loaded first, so the program must be built with the same sanitizers.
extra=""
if ldd "$libdir"/libhookline.so | grep -q libasan; then extra="-fsanitize=address,undefined"; fi
# shellcheck disable=SC2086  # flags are words on purpose
${CC:-cc} -std=c11 -Wall -Werror $extra -o "$tmp/main" "$tmp/main.c" $flags

out=$(LD_LIBRARY_PATH="$libdir" "$tmp/main")
echo "$out"
echo "$out" | grep -qx 'bad: InvalidArguments \$.who: expected string, got number' || { echo "FAIL: bad arguments"; exit 1; }
echo "$out" | grep -qx 'good: Ok pkg-config' || { echo "FAIL: good arguments"; exit 1; }
# The program must have used the installed library, not one elsewhere.
LD_LIBRARY_PATH="$libdir" ldd "$tmp/main" | grep -q "$libdir/libhookline.so" || { echo "FAIL: not linked against the installed library"; exit 1; }
echo "PASS"
