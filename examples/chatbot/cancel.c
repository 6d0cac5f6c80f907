/*
 * cancel.c - Ctrl-C cancels the turn in progress.
 *
 * hl_agent_cancel() is not async-signal-safe, so the SIGINT handler only
 * writes one byte to a pipe (write() is async-signal-safe). A watcher
 * thread blocks on the other end and calls hl_agent_cancel() when a run is
 * in progress. At the prompt the signal interrupts libedit's read, which
 * repl.c turns into a fresh prompt.
 *
 * The handler is installed without SA_RESTART on purpose: that is what
 * makes libedit's read() return EINTR at the prompt.
 *
 * While a run is in progress the terminal is in its normal (cooked) mode,
 * so it would echo Ctrl-C as "^C", and every key typed ahead (an arrow
 * key moves the cursor), into the middle of the streamed answer.
 * chat_quiet_terminal() turns ECHO and ECHOCTL off for the run and
 * chat_restore_terminal() puts the settings back; keys typed ahead stay
 * queued, and libedit shows them at the next prompt.
 */
#include "chat.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int pipe_fds[2] = {-1, -1};
static struct termios saved_tio;
static int quiet_fd = -1; /* the terminal whose echo is off, or -1 */
static pthread_t watcher;
static bool watcher_started;

static void on_sigint(int sig) {
  (void)sig;
  int saved = errno;
  if (pipe_fds[1] >= 0) {
    ssize_t n = write(pipe_fds[1], "c", 1); /* full pipe: a cancel is pending anyway */
    (void)n;
  }
  errno = saved;
}

static void *watch_main(void *arg) {
  chat_app *app = arg;
  for (;;) {
    char buf[16];
    ssize_t n = read(pipe_fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* write end closed: shutting down */
    bool quit = false;
    for (ssize_t i = 0; i < n; i++)
      if (buf[i] == 'q') quit = true;
    if (quit) break;
    if (atomic_load(&app->running)) {
      atomic_store(&app->cancelled, true);
      hl_agent_cancel(app->agent);
    }
  }
  return NULL;
}

int chat_cancel_init(chat_app *app) {
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  /* The handler must never block on a full pipe. */
  fcntl(pipe_fds[1], F_SETFL, fcntl(pipe_fds[1], F_GETFL) | O_NONBLOCK);
  if (pthread_create(&watcher, NULL, watch_main, app) != 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    pipe_fds[0] = pipe_fds[1] = -1;
    return -1;
  }
  watcher_started = true;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: see the top of the file */
  sigaction(SIGINT, &sa, NULL);
  return 0;
}

void chat_cancel_shutdown(void) {
  if (!watcher_started) return;
  signal(SIGINT, SIG_DFL);
  ssize_t n = write(pipe_fds[1], "q", 1);
  (void)n;
  pthread_join(watcher, NULL);
  watcher_started = false;
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  pipe_fds[0] = pipe_fds[1] = -1;
}

void chat_quiet_terminal(void) {
  if (quiet_fd >= 0) return;
  const int fds[] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
    int fd = fds[i];
    /* Only in the foreground: tcsetattr() from a background job would stop
     * it with SIGTTOU. */
    if (!isatty(fd) || tcgetpgrp(fd) != getpgrp()) continue;
    struct termios tio;
    if (tcgetattr(fd, &tio) != 0) continue;
    saved_tio = tio;
    tio.c_lflag &= ~(tcflag_t)(ECHO | ECHOCTL);
    if (tcsetattr(fd, TCSANOW, &tio) == 0) quiet_fd = fd;
    return;
  }
}

void chat_restore_terminal(void) {
  if (quiet_fd < 0) return;
  tcsetattr(quiet_fd, TCSANOW, &saved_tio); /* TCSANOW: keys typed ahead stay queued */
  quiet_fd = -1;
}
