/*
 * otel_gzip.c - gzip of an export's body (OTEL_EXPORTER_OTLP_COMPRESSION=
 * gzip), with zlib: libcurl links it already, so it costs the build a
 * header and the library nothing new. Without zlib (HL_OTEL_GZIP unset)
 * the exporter sends uncompressed and says so once (otel_env.c).
 */
#include <stdlib.h>

#include "otel_internal.h"

#ifdef HL_OTEL_GZIP
#include <zlib.h>

bool ot_gzip(ot_buf *out, const char *in, size_t n) {
  out->len = 0;
  z_stream z = {0};
  /* level 1: this thread's CPU is the runs' machine's, and OTLP JSON
   * (repeated keys, hex ids) still shrinks several times at it;
   * 15 + 16: a gzip header and trailer, not zlib's */
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  size_t bound = deflateBound(&z, (uLong)n);
  if (bound > out->cap) {
    char *p = realloc(out->p, bound);
    if (!p) {
      deflateEnd(&z);
      return false;
    }
    out->p = p;
    out->cap = bound;
  }
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)n;
  z.next_out = (Bytef *)out->p;
  z.avail_out = (uInt)out->cap;
  int rc = deflate(&z, Z_FINISH);
  out->len = z.total_out;
  deflateEnd(&z);
  return rc == Z_STREAM_END;
}

bool ot_gzip_available(void) { return true; }
#else
bool ot_gzip(ot_buf *out, const char *in, size_t n) {
  (void)in, (void)n;
  out->len = 0;
  return false;
}

bool ot_gzip_available(void) { return false; }
#endif
