#!/bin/sh
# scripts/fetch_curl8.sh - libcurl 8.14.1 (Debian 13's, from bookworm-backports)
# in a private prefix, and a hookline build against it, for the benchmark's
# "@curl8.14" rows (bench/run.py concurrent_slow). The system's libcurl
# (Debian 12: 7.88.1) stays what `make test` and every other build use:
# nothing here touches /etc/apt, /usr or the default build directory.
#
#   scripts/fetch_curl8.sh [BUILD_DIR]    default BUILD_DIR: build-curl8
#
# The packages come through apt-get with a private configuration
# (.cache/curl8/apt: its own sources.list, lists and cache), so apt checks
# the archive's signature with the system's Debian keyring; each .deb's
# sha256 must also match the one pinned below. They are unpacked with
# dpkg -x into .cache/curl8/root, never installed. libcurl.pc is fixed up
# to point at that prefix, without its Requires.private (the static link's
# -dev packages, which a dynamic link does not need); the build gets an
# rpath to the prefix so that its binaries load 8.14 and not the system's.
# Its runtime dependencies (nghttp2 >= 1.50, OpenSSL 3, ...) are Debian
# 12's own: ldd checks that each one resolves.
#
# Prints nothing and does nothing when the build is there and current.
# Exits non-zero with a message when something is missing (not Debian
# amd64, no network, the pinned version gone from the archive: backports
# keep only the newest upload, so a newer one means new pins here).
set -eu

VERSION="8.14.1-2+deb13u2~bpo13+1"
SHA_LIB="00e72a9c6a41a54c12518fd221447a7d5f7a827bdede2eeddf1dc34e6c813b73"
SHA_DEV="596035390696b3385995cb82148f0d495662674e3f677b38faec775be094f155"
SUITE="bookworm-backports"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build-curl8}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
CACHE="$ROOT/.cache/curl8"
PREFIX="$CACHE/root"
LIBDIR="$PREFIX/usr/lib/x86_64-linux-gnu"
STAMP="$CACHE/unpacked-$VERSION"

die() { echo "fetch_curl8.sh: $*" >&2; exit 1; }

[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] || die "needs Debian amd64 (dpkg --print-architecture)"

if [ ! -f "$STAMP" ]; then
  echo "fetch_curl8.sh: fetching libcurl $VERSION from $SUITE into $CACHE" >&2
  APT="$CACHE/apt"
  mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$CACHE/debs"
  echo "deb http://deb.debian.org/debian $SUITE main" > "$APT/sources.list"
  set -- -o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null \
         -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
  apt-get -q "$@" update >/dev/null || die "apt-get update of $SUITE failed"
  rm -f "$CACHE/debs"/*.deb
  (cd "$CACHE/debs" && apt-get -q "$@" download "libcurl4=$VERSION" "libcurl4-openssl-dev=$VERSION" \
     >/dev/null 2>&1) || die "apt-get download of libcurl4=$VERSION failed (gone from $SUITE? update the pins)"
  check() {
    f=$(ls "$CACHE/debs/$1"_*.deb) || die "$1: no .deb downloaded"
    sum=$(sha256sum "$f" | cut -d' ' -f1)
    [ "$sum" = "$2" ] || die "$f: sha256 $sum, pinned $2"
  }
  check libcurl4 "$SHA_LIB"
  check libcurl4-openssl-dev "$SHA_DEV"
  rm -rf "$PREFIX"
  for f in "$CACHE/debs"/*.deb; do dpkg -x "$f" "$PREFIX"; done
  pc="$LIBDIR/pkgconfig/libcurl.pc"
  sed -i -e "s|^prefix=/usr\$|prefix=$PREFIX/usr|" \
         -e 's|^includedir=/usr/include|includedir=${prefix}/include|' \
         -e 's|^Requires.private:.*|Requires.private:|' "$pc"
  if ldd "$LIBDIR/libcurl.so.4" | grep -q 'not found'; then
    ldd "$LIBDIR/libcurl.so.4" | grep 'not found' >&2
    die "libcurl $VERSION needs libraries this system lacks"
  fi
  touch "$STAMP"
fi

# The bench's build: the library and the benchmarks (hl-bench-slow,
# hl-mock-server); no tests, examples or sandbox (hl-bench-slow needs none).
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$ROOT" -Dpkg_config_path="$LIBDIR/pkgconfig" \
    -Dc_link_args="-Wl,-rpath,$LIBDIR" -Dtests=false -Dexamples=false -Dsandbox=disabled \
    >/dev/null || die "meson setup $BUILD failed"
fi
ninja -C "$BUILD" >/dev/null || die "building $BUILD failed (ninja -C $BUILD)"
got=$(ldd "$BUILD/bench/hl-bench-slow" | awk '/libcurl/ {print $3}')
[ "$got" = "$LIBDIR/libcurl.so.4" ] || die "$BUILD/bench/hl-bench-slow loads $got, not $LIBDIR/libcurl.so.4"
