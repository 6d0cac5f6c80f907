/*
 * tests/store/test_hostile_redis.c - the Redis store against a server that
 * lies (hostile_redis.py): wrong reply types, versions that do not follow,
 * ids that are not strings, deep nesting, replies cut off or split into
 * one-byte writes, errors with CR/LF, RESP3 types, impossible lengths,
 * a 2 GB bulk streamed (peak RSS stays bounded).
 * Every call ends with a clear status and a one-line message naming what
 * is wrong, no crash, no leak (the ASan build runs this too).
 *
 *   hostile_redis_test PATH/TO/hostile_redis.py [SCENARIO-PREFIX]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "hookline.h"

static const char *script;

typedef struct fake {
  pid_t pid;
  int in;   /* its stdin: closing it ends the server */
  int port;
} fake;

static bool fake_start(fake *f, const char *scenario) {
  int to[2], from[2];
  if (pipe(to) != 0 || pipe(from) != 0) return false;
  f->pid = fork();
  if (f->pid == 0) {
    dup2(to[0], 0);
    dup2(from[1], 1);
    close(to[1]);
    close(from[0]);
    execlp("python3", "python3", script, scenario, (char *)NULL);
    _exit(127);
  }
  close(to[0]);
  close(from[1]);
  f->in = to[1];
  char line[32] = {0};
  ssize_t n = 0, got;
  while (n < (ssize_t)sizeof line - 1 && (got = read(from[0], line + n, 1)) == 1 && line[n] != '\n')
    n++;
  close(from[0]);
  f->port = atoi(line);
  return f->pid > 0 && f->port > 0;
}

static void fake_stop(fake *f) {
  close(f->in);
  int status;
  waitpid(f->pid, &status, 0);
}

/* The process's peak resident size in KiB (VmHWM), after resetting it to
 * the current size when `reset` (clear_refs 5): what a call in between
 * took at most. -1 if /proc cannot tell. */
static long peak_rss_kib(bool reset) {
  if (reset) {
    FILE *c = fopen("/proc/self/clear_refs", "w");
    if (!c || fputs("5", c) < 0 || fclose(c) != 0) return -1;
  }
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

static cJSON *event(void) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "type", "reset");
  return e;
}

/* Run `op` ('a' append, 'l' load, 'L' list) against SCENARIO and check
 * the status and that the message holds `want`. */
static void expect(const char *scenario, char op, hl_status want_st, const char *want) {
  if (check_filter_ && strncmp(scenario, check_filter_, strlen(check_filter_)) != 0) return;
  check_ran_++;
  fake f;
  if (!fake_start(&f, scenario)) {
    fprintf(stderr, "FAIL %s: the fake server did not start\n", scenario);
    check_failures_++;
    return;
  }
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", f.port);
  hl_store *s = NULL;
  hl_status st = hl_store_open(url, &s);
  int before = check_failures_;
  CHECK_INT(st, HL_OK);
  if (st == HL_OK) {
    cJSON *e = event(), *out = NULL;
    int64_t v = -1;
    long rss_before = peak_rss_kib(true);
    if (op == 'a') st = hl_store_append(s, "app", "u", "s", 0, e, &v);
    else if (op == 'l') st = hl_store_load(s, "app", "u", "s", &out, &v);
    else st = hl_store_list(s, "app", "u", &out);
    long rss_peak = peak_rss_kib(false);
    const char *msg = hl_last_error();
    if (rss_before > 0 && rss_peak > 0) {
      /* a reply refused is refused before it is buffered (a 2 GB bulk
       * streamed is cut off at its header), not after 512 MiB of it */
      CHECK(want_st != HL_ERR_TOO_LARGE || rss_peak - rss_before < 64 * 1024);
      if (want_st == HL_ERR_TOO_LARGE)
        fprintf(stderr, "  %-28s peak RSS grew %ld KiB\n", scenario, rss_peak - rss_before);
    }
    fprintf(stderr, "  %-28s %s: %s\n", scenario, hl_status_name(st), msg);
    CHECK_INT(st, want_st);
    CHECK(strstr(msg, want) != NULL);
    CHECK(!strchr(msg, '\r') && !strchr(msg, '\n'));
    CHECK(out == NULL && (v == 0 || v == -1));
    if (op == 'a' && want_st == HL_ERR_IO) {
      /* the handle goes on: what a bad reply left on the connection (the
       * error's second line here) is not read as the next reply */
      CHECK_INT(hl_store_append(s, "app", "u", "s", 0, e, &v), want_st);
      fprintf(stderr, "  %-28s then: %s\n", scenario, hl_last_error());
      CHECK(strstr(hl_last_error(), want) != NULL);
    }
    cJSON_Delete(out);
    cJSON_Delete(e);
    hl_store_close(s);
  }
  fake_stop(&f);
  fprintf(stderr, "%s %s\n", check_failures_ == before ? "ok  " : "FAIL", scenario);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s hostile_redis.py [scenario-prefix]\n", argv[0]);
    return 2;
  }
  script = argv[1];
  check_filter_ = argc > 2 ? argv[2] : NULL;
  signal(SIGPIPE, SIG_IGN);
  /* appends */
  expect("EVALSHA:integer", 'a', HL_ERR_IO, "version 5");
  expect("EVALSHA:version-999", 'a', HL_ERR_IO, "version 999");
  expect("EVALSHA:status", 'a', HL_ERR_IO, "unexpected reply");
  expect("EVALSHA:error-crlf", 'a', HL_ERR_IO, "ERR first line");
  expect("EVALSHA:deep", 'a', HL_ERR_NETWORK, "nested");
  expect("EVALSHA:resp3-map", 'a', HL_ERR_NETWORK, "rotocol");
  expect("EVALSHA:resp3-double", 'a', HL_ERR_NETWORK, "rotocol");
  expect("EVALSHA:huge-array", 'a', HL_ERR_NETWORK, "out of range");
  /* loads */
  expect("EVALSHA:nil", 'l', HL_ERR_NOT_FOUND, "no session");
  expect("EVALSHA:integer", 'l', HL_ERR_IO, "unexpected reply");
  expect("EVALSHA:load-int-version", 'l', HL_ERR_IO, "unexpected reply");
  expect("EVALSHA:load-negative-bulk", 'l', HL_ERR_NETWORK, "out of range");
  expect("EVALSHA:load-int-events", 'l', HL_ERR_JSON, "corrupt row");
  expect("EVALSHA:load-short", 'l', HL_ERR_IO, "truncated");
  expect("EVALSHA:split-load-short", 'l', HL_ERR_IO, "truncated");
  expect("EVALSHA:cut", 'l', HL_ERR_NETWORK, "closed");
  expect("EVALSHA:huge-bulk", 'l', HL_ERR_TOO_LARGE, "512 MiB");
  expect("EVALSHA:stream-bulk", 'l', HL_ERR_TOO_LARGE, "512 MiB");
  /* a line never ended: refused past 64 KiB (hiredis rescans it per read) */
  expect("EVALSHA:stream-line", 'l', HL_ERR_TOO_LARGE, "64 KiB");
  expect("EVALSHA:big-array", 'l', HL_ERR_TOO_LARGE, "512 MiB");
  expect("EVALSHA:nested-arrays", 'l', HL_ERR_TOO_LARGE, "512 MiB");
  /* listings */
  expect("ZREVRANGE:list-int-ids", 'L', HL_ERR_IO, "not a string");
  expect("ZREVRANGE:integer", 'L', HL_ERR_IO, "unexpected reply");
  return CHECK_EXIT();
}
