/*
 * tests/spawn_script.h - starting a helper server for a test: `python3
 * SCRIPT` in a child process, which binds an ephemeral port on 127.0.0.1
 * and prints it on its first line (tests/providers/server*.py,
 * tests/mcp's hostile HTTP server). Used by tests/providers/test_server.h
 * and tests/mcp/mcp_fixture.h.
 */
#ifndef HL_TEST_SPAWN_SCRIPT_H
#define HL_TEST_SPAWN_SCRIPT_H

#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* Starts `python3 script [arg1 [arg2]]` (NULL: no such argument) with its
 * stdout on a pipe and reads its first line: *port gets the number there
 * (0 when the script printed none or died first). Returns the child's pid
 * (the caller stops it: SIGTERM and waitpid), or -1 when no child could be
 * started. Call it before the test has threads (fork). */
static inline pid_t spawn_script_args(const char *script, const char *arg1, const char *arg2,
                                      int *port) {
  *port = 0;
  int fds[2];
  if (pipe(fds) != 0)
    return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execlp("python3", "python3", script, arg1, arg1 ? arg2 : NULL, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char line[32] = {0};
  size_t n = 0;
  while (n < sizeof line - 1) {
    ssize_t r = read(fds[0], line + n, 1);
    if (r <= 0 || line[n] == '\n')
      break;
    n++;
  }
  line[n] = '\0';
  close(fds[0]);
  *port = atoi(line);
  return pid;
}

static inline pid_t spawn_script(const char *script, int *port) {
  return spawn_script_args(script, NULL, NULL, port);
}

#endif
