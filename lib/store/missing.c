/*
 * missing.c - the backends this build was made without: opening their
 * URLs fails with HL_ERR_UNSUPPORTED and says which package is missing,
 * rather than the library failing to link or build.
 */
#include "store/store_config.h"
#include "store/store_internal.h"

#if !HL_STORE_HAVE_SQLITE || !HL_STORE_HAVE_PG || !HL_STORE_HAVE_REDIS
static hl_status hl_missing(const char *what, const char *pkg) {
  return hl_fail(HL_ERR_UNSUPPORTED, "store: this hookline was built without %s support "
                 "(install %s and rebuild)", what, pkg);
}
static void hl_missing_close(void *impl) { (void)impl; }
#endif

#if !HL_STORE_HAVE_SQLITE
hl_status hl__store_sqlite_open(const char *path, void **impl) {
  (void)path; (void)impl;
  return hl_missing("SQLite", "libsqlite3-dev");
}
const hl__store_ops hl__store_sqlite_ops = {.name = "sqlite", .close = hl_missing_close};
#endif
#if !HL_STORE_HAVE_PG
hl_status hl__store_pg_open(const char *url, void **impl) {
  (void)url; (void)impl;
  return hl_missing("PostgreSQL", "libpq-dev");
}
const hl__store_ops hl__store_pg_ops = {.name = "postgresql", .close = hl_missing_close};
#endif
#if !HL_STORE_HAVE_REDIS
hl_status hl__store_redis_open(const char *url, void **impl) {
  (void)url; (void)impl;
  return hl_missing("Redis", "libhiredis-dev");
}
const hl__store_ops hl__store_redis_ops = {.name = "redis", .close = hl_missing_close};
#endif

/* ISO C forbids an empty translation unit. */
typedef int hl__store_missing_unit;
