/*
 * tests/child_report.h - running a test case in a child process and
 * keeping what it printed: for cases that need a fresh process (the
 * sandboxes' template is made once per process, so each template-file
 * case of tests/sandbox and tests/sandbox_py runs in its own child).
 */
#ifndef HL_TEST_CHILD_REPORT_H
#define HL_TEST_CHILD_REPORT_H

#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a child printed on stdout and stderr (cut to fit, NUL-terminated),
 * and its exit code (-1: it could not be started or did not exit). */
typedef struct child_report {
  char out[1024];
  char err[4096];
  int exit_code;
} child_report;

/* Reads `fd` to its end, keeping at most cap - 1 bytes and a NUL. */
static inline void child_read_all(int fd, char *buf, size_t cap) {
  size_t n = 0;
  ssize_t r;
  while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
    n += (size_t)r;
  buf[n] = 0;
}

/* Runs body(arg) in a forked child whose stdout and stderr go to pipes;
 * the child flushes stdout and exits with what body returns. Waits for
 * the child. Call it before the parent has threads (fork). Output past
 * the report's buffers is not read: a child that wrote more than a pipe
 * holds (64 KiB on Linux) would block, so keep it short. */
static inline child_report child_run(int (*body)(const char *arg), const char *arg) {
  child_report rep = {.exit_code = -1};
  int out[2], err[2];
  if (pipe(out) || pipe(err))
    return rep;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]), close(err[0]);
    int code = body(arg);
    fflush(stdout);
    _exit(code);
  }
  close(out[1]), close(err[1]);
  child_read_all(out[0], rep.out, sizeof rep.out);
  child_read_all(err[0], rep.err, sizeof rep.err);
  close(out[0]), close(err[0]);
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
    rep.exit_code = WEXITSTATUS(status);
  return rep;
}

/* The number of lines (newlines) in `s`: how many notes a child wrote. */
static inline int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

#endif
