#!/bin/sh
# test_install.sh BUILD_DIR README - build an outside program against a
# staged install (meson install --destdir) through pkg-config, by running
# the README's "staged install" shell block exactly as written, so that the
# README cannot say something that does not work.
#
# The block runs in a scratch directory where `build` is BUILD_DIR and
# weather.c is the small program below (the README's own weather.c needs a
# model). `cc` is a wrapper that adds -Wall -Werror (and the sanitizers of
# a sanitized build, whose library needs their runtimes) and records its
# arguments, so the test can check that pkg-config's flags point into the
# staging directory.
set -eu

build=${1:?usage: test_install.sh BUILD_DIR README}
readme=${2:?usage: test_install.sh BUILD_DIR README}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
work="$tmp/work"
mkdir -p "$work" "$tmp/bin"
ln -s "$(cd "$build" && pwd)" "$work/build"

# The shell block that follows the marker comment in the README.
awk '/<!-- staged install:/ { marked = 1; next }
     marked && /^```sh$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' "$readme" >"$tmp/staged.sh"
[ -s "$tmp/staged.sh" ] || { echo "FAIL: $readme has no staged-install block"; exit 1; }
echo "README block:"
sed 's/^/  /' "$tmp/staged.sh"

cat >"$work/weather.c" <<'C'
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

# A sanitized build installs a library that needs the sanitizer runtimes
# loaded first, so the program must be built with the same sanitizers.
extra=""
if ldd "$build"/libhookline.so | grep -q libasan; then extra="-fsanitize=address,undefined"; fi
real_cc=$(command -v "${CC:-cc}")
cat >"$tmp/bin/cc" <<WRAP
#!/bin/sh
printf '%s\n' "\$@" >"$tmp/cc.args"
exec "$real_cc" -std=c11 -Wall -Werror $extra "\$@"
WRAP
chmod +x "$tmp/bin/cc"

# The block as written; the test runner has built everything, so the
# install's rebuild step finds nothing to do.
if ! (cd "$work" && PATH="$tmp/bin:$PATH" sh -eu "$tmp/staged.sh") >"$tmp/out" 2>&1; then
  cat "$tmp/out"
  echo "FAIL: the README's staged-install commands failed"
  exit 1
fi
cat "$tmp/out"

grep -qx 'bad: InvalidArguments \$.who: expected string, got number' "$tmp/out" || { echo "FAIL: bad arguments"; exit 1; }
grep -qx 'good: Ok pkg-config' "$tmp/out" || { echo "FAIL: good arguments"; exit 1; }
# pkg-config's flags point into the staging directory...
grep -qx -- "-I$work/stage/.*include" "$tmp/cc.args" || { echo "FAIL: no -I into the staging directory:"; cat "$tmp/cc.args"; exit 1; }
grep -qx -- "-L$work/stage/.*lib.*" "$tmp/cc.args" || { echo "FAIL: no -L into the staging directory:"; cat "$tmp/cc.args"; exit 1; }
# ...and the program uses the staged library, not one elsewhere.
libdir=$(dirname "$(dirname "$(find "$work/stage" -name hookline.pc)")")
LD_LIBRARY_PATH="$libdir" ldd "$work/weather" | grep -q "$libdir/libhookline.so" || { echo "FAIL: not linked against the staged library"; exit 1; }
echo "PASS"
