/*
 * lib/mcp/stdio.c - the stdio transport: the server is a child process
 * that reads newline-delimited JSON-RPC on its stdin and writes it on its
 * stdout; each line it writes on stderr becomes a STDERR_WRITE event.
 *
 * Why it looks like this: the child gets a socket as stdin so that a
 * write to a dead server fails with EPIPE (MSG_NOSIGNAL) instead of
 * raising SIGPIPE in a process the library does not own; every
 * descriptor is close-on-exec so that no other child inherits the pipes
 * (and no server keeps another's stdin open); the child leads its own
 * process group so that closing kills the whole tree (npx, sh -c
 * wrappers). Its stdout and stderr are read by the library's one event
 * loop (net/engine.h), not by a thread per server: the loop frames
 * lines, parses them and hands answers to the threads waiting for them;
 * events go through the client's queue (hl__mcp_event_later), since
 * observers must not run on the loop. A pidfd tells the loop when the
 * child exits, so that it is reaped without polling.
 *
 * A call waiting for its answer reads stdout itself when nobody else
 * does (hl__mcp_stdio_wait): the loop's watch is switched off meanwhile,
 * so an answer costs one thread wake-up instead of two (the loop's, then
 * the caller's), the largest part of a call's CPU. Stdout is read by one
 * thread at a time (io->rd); at its end the loop takes over again.
 *
 * Which thread touches what: the hl__mcp_io below belongs to the loop
 * from hl__mcp_stdio_start() until hl__mcp_stdio_close() has had the
 * loop run its stop task, except what io->rd and io->pm guard; the child
 * is reaped by the loop until then, by the closing thread after.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcp_internal.h"

extern char **environ;

#define STDERR_LINE_MAX 4096

/* environ plus the client's overrides ("K=v" sets, "K" removes). */
static char **build_env(hl_mcp *m) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + m->n_env + 1, sizeof *env);
  if (!env) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    bool overridden = false;
    for (size_t j = 0; j < m->n_env && !overridden; j++) {
      size_t kl = strcspn(m->env[j], "=");
      overridden = strncmp(environ[i], m->env[j], kl) == 0 && environ[i][kl] == '=';
    }
    if (!overridden) env[k++] = environ[i];
  }
  for (size_t j = 0; j < m->n_env; j++)
    if (strchr(m->env[j], '=')) env[k++] = m->env[j];
  env[k] = NULL;
  return env;
}

/* Waiting for the exit after stdout closed, before the calls in flight
 * are failed with what is known ("closed its stdout" if it did not exit). */
#define EXIT_WAIT_MS 200
/* Waiting for the loop to see the server go after its stdin refused a
 * write (EPIPE), before calls fail with "closed its stdin". */
#define EPIPE_WAIT_MS 1000
/* Without a pidfd (kernels before 5.3), how often to look for the exit. */
#define EXIT_RETRY_MS 5

typedef struct linebuf {
  char *buf;
  size_t len, cap;
  bool overflow;     /* the current line passed the cap: drop it to its end */
} linebuf;

struct hl__mcp_io {
  hl_mcp *m;
  int out_fd, err_fd, pid_fd;
  hl__watch out_w, err_w, pid_w;
  hl__timer exit_timer;
  hl__task start_task, stop_task;
  bool out_open, err_open;
  bool finished;       /* loop: the end was reported (m->io_done) */
  bool stop_ran;       /* under m->lock: the loop let go of this */
  int64_t eof_ms;      /* when stdout closed */
  /* Stdout is read, framed and dispatched by one thread at a time: the
   * loop, or a waiting caller (lb and obuf are theirs under rd). */
  pthread_mutex_t rd;
  bool eof_seen;       /* under rd: stdout ended; only the loop reads now */
  linebuf lb;
  char obuf[32768];
  /* The loop's stdout watch, switched off while a caller reads. */
  pthread_mutex_t pm;
  bool watching;       /* under pm: out_w is registered */
  bool borrowed;       /* under pm: a caller reads (it switched the watch off) */
  bool held;           /* under pm: not read while the answers' queue is full
                        * (the watch off; hl__mcp_stdio_resume) */
  uint64_t borrow_gen; /* under pm: callers that did, the last one owns it */
  int wake_fd;         /* eventfd: wakes a caller reading stdout */
  char errline[STDERR_LINE_MAX + 1];
  size_t errlen;
  char rbuf[32768];    /* stderr (loop only) */
};

#define IO_OF(ptr, field) ((hl__mcp_io *)(void *)((char *)(ptr) - offsetof(hl__mcp_io, field)))

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Reap the child if it has exited (block: wait for it). The loop does
 * until the stop task ran, the closing thread after: never both. */
static bool reap(hl_mcp *m, bool block) {
  if (m->reaped || m->pid <= 0) return true;
  int status;
  pid_t r;
  do r = waitpid(m->pid, &status, block ? 0 : WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == m->pid || (r < 0 && errno == ECHILD)) {
    m->reaped = true;
    m->exit_status = r == m->pid ? status : 0;
    return true;
  }
  return false;
}

static void describe_exit(hl_mcp *m, char *buf, size_t size) {
  if (!m->reaped) snprintf(buf, size, "closed its stdout");
  else if (WIFEXITED(m->exit_status)) snprintf(buf, size, "exited with status %d", WEXITSTATUS(m->exit_status));
  else if (WIFSIGNALED(m->exit_status)) snprintf(buf, size, "was killed by signal %d", WTERMSIG(m->exit_status));
  else snprintf(buf, size, "ended");
}

/* ---- on the loop thread -------------------------------------------- */

static void on_stdout_line(hl_mcp *m, linebuf *lb) {
  if (lb->overflow) {
    char msg[300];
    snprintf(msg, sizeof msg, "mcp server \"%s\": sent a message of more than %zu bytes (the cap)",
             m->name, m->max_message);
    hl__mcp_protocol_failure(m, HL_ERR_TOO_LARGE, msg);
    return;
  }
  size_t len = lb->len;
  if (len && lb->buf[len - 1] == '\r') len--;
  size_t start = 0;
  while (start < len && (lb->buf[start] == ' ' || lb->buf[start] == '\t')) start++;
  if (start == len) return; /* blank line: nothing to read */
  hl__mcp_receive(m, lb->buf + start, len - start, NULL, NULL);
}

static void feed_stdout(hl_mcp *m, linebuf *lb, const char *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const char *nl = memchr(data + i, '\n', n - i);
    size_t take = nl ? (size_t)(nl - (data + i)) : n - i;
    if (!lb->overflow) {
      if (lb->len + take > m->max_message) {
        lb->overflow = true;
      } else {
        if (lb->len + take + 1 > lb->cap) {
          size_t cap = lb->cap ? lb->cap : 4096;
          while (cap < lb->len + take + 1) cap *= 2;
          char *nb = realloc(lb->buf, cap);
          if (!nb) {
            lb->overflow = true;
          } else {
            lb->buf = nb;
            lb->cap = cap;
          }
        }
        if (!lb->overflow) {
          memcpy(lb->buf + lb->len, data + i, take);
          lb->len += take;
        }
      }
    }
    i += take;
    if (nl) {
      if (lb->buf) lb->buf[lb->len] = '\0';
      on_stdout_line(m, lb);
      lb->len = 0;
      lb->overflow = false;
      /* Give back a buffer grown for one huge message. */
      if (lb->cap > (1u << 20)) {
        free(lb->buf);
        lb->buf = NULL;
        lb->cap = 0;
      }
    }
  }
}

static void feed_stderr(hl__mcp_io *io, const char *data, size_t n, bool flush) {
  for (size_t i = 0; i < n; i++) {
    if (data[i] == '\n' || io->errlen == STDERR_LINE_MAX) {
      io->errline[io->errlen] = '\0';
      hl__mcp_stderr_later(io->m, io->errline);
      io->errlen = 0;
      if (data[i] == '\n') continue;
    }
    io->errline[io->errlen++] = data[i];
  }
  if (flush && io->errlen) {
    io->errline[io->errlen] = '\0';
    hl__mcp_stderr_later(io->m, io->errline);
    io->errlen = 0;
  }
}

/* Read what `fd` has now (non-blocking): > 0 bytes read into rbuf, 0 at
 * its end (or a read error), -1 when nothing is there yet. */
static ssize_t read_some(hl__mcp_io *io, int fd) {
  for (;;) {
    ssize_t n = read(fd, io->rbuf, sizeof io->rbuf);
    if (n > 0) return n;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return -1;
    return 0;
  }
}

static void unwatch_all(hl__mcp_io *io) {
  pthread_mutex_lock(&io->pm);
  io->watching = false;
  pthread_mutex_unlock(&io->pm);
  hl__engine_unwatch(&io->out_w);
  hl__engine_unwatch(&io->err_w);
  hl__engine_unwatch(&io->pid_w);
  hl__engine_timer_disarm(&io->exit_timer);
}

/* The server is gone (or will not be read any more): take its last words
 * on stderr, say how it ended and fail the calls still waiting. */
static void finish(hl__mcp_io *io) {
  hl_mcp *m = io->m;
  io->finished = true;
  /* What it wrote on stderr before it exited is in the pipe now; a
   * grandchild holding the pipe open is not waited for. */
  for (int i = 0; io->err_open && i < 64; i++) {
    ssize_t n = read_some(io, io->err_fd);
    if (n <= 0) break;
    feed_stderr(io, io->rbuf, (size_t)n, false);
  }
  feed_stderr(io, "", 0, true);
  pthread_mutex_lock(&io->rd);
  if (io->lb.len && !io->lb.overflow) { /* a last message without its newline */
    io->lb.buf[io->lb.len] = '\0';
    on_stdout_line(m, &io->lb);
  }
  io->lb.len = 0;
  pthread_mutex_unlock(&io->rd);
  unwatch_all(io);
  char how[80], msg[600];
  describe_exit(m, how, sizeof how);
  snprintf(msg, sizeof msg, "mcp server \"%s\" %s", m->name, how);
  pthread_mutex_lock(&m->lock);
  bool closing = m->closed;
  m->io_done = true;
  m->dead = true;
  snprintf(m->dead_msg, sizeof m->dead_msg, "%s", how); /* "exited with status 3" */
  m->dead_unsure_until = 0;
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->lock);
  /* m stays valid: hl__mcp_stdio_close() waits for the stop task, which
   * runs after this function on the same thread. */
  if (!closing) hl__mcp_fail_pending(m, HL_ERR_NETWORK, msg);
}

/* After stdout closed: finish once the child is reaped, or EXIT_WAIT_MS
 * later without it. */
static void try_finish(hl__mcp_io *io) {
  if (io->finished || io->out_open) return;
  int64_t now = hl__engine_now_ms();
  if (!reap(io->m, false) && now < io->eof_ms + EXIT_WAIT_MS) {
    /* The pidfd says when it exits; without one, look again shortly. */
    int64_t due = io->pid_fd >= 0 ? io->eof_ms + EXIT_WAIT_MS : now + EXIT_RETRY_MS;
    hl__engine_timer_arm(&io->exit_timer, due);
    return;
  }
  finish(io);
}

static void on_exit_timer(hl__timer *t) { try_finish(IO_OF(t, exit_timer)); }

static void on_pidfd(hl__watch *w, uint32_t events) {
  (void)events;
  hl__mcp_io *io = IO_OF(w, pid_w);
  hl__engine_unwatch(&io->pid_w); /* stays readable once the child exited */
  reap(io->m, false);
  try_finish(io);
}

/* Read stdout into obuf (io->rd held): as read_some(). */
static ssize_t read_out(hl__mcp_io *io) {
  for (;;) {
    ssize_t n = read(io->out_fd, io->obuf, sizeof io->obuf);
    if (n > 0) return n;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return -1;
    return 0;
  }
}

/* Whether the answers' queue is full (m->replies_full): the reader (the
 * loop, or a caller that has the watch switched off) stops reading
 * stdout until the sender resumes it, so a server that sends requests
 * faster than it reads their answers waits instead of losing answers.
 * Checked and set under pm, where the sender clears it (after clearing
 * replies_full): a resume is never missed. */
static bool hold_if_full(hl__mcp_io *io) {
  if (!atomic_load(&io->m->replies_full)) return false;
  pthread_mutex_lock(&io->pm);
  bool full = atomic_load(&io->m->replies_full);
  if (full && !io->held) {
    io->held = true;
    if (io->watching && !io->borrowed) hl__engine_watch_events(&io->out_w, 0);
  }
  pthread_mutex_unlock(&io->pm);
  return full;
}

void hl__mcp_stdio_resume(hl_mcp *m) {
  hl__mcp_io *io = m->io;
  if (!io) return;
  pthread_mutex_lock(&io->pm);
  if (io->held) {
    io->held = false;
    if (io->watching && !io->borrowed) hl__engine_watch_events(&io->out_w, EPOLLIN);
  }
  pthread_mutex_unlock(&io->pm);
}

static void on_stdout(hl__watch *w, uint32_t events) {
  (void)events;
  hl__mcp_io *io = IO_OF(w, out_w);
  /* A caller reads it now: make sure the watch is off (an event fetched
   * before the caller switched it off), or the loop would spin on it. */
  if (pthread_mutex_trylock(&io->rd) != 0) {
    pthread_mutex_lock(&io->pm);
    if (io->borrowed && io->watching) hl__engine_watch_events(&io->out_w, 0);
    pthread_mutex_unlock(&io->pm);
    return;
  }
  /* One read per wake-up is the common case (one answer); a full buffer
   * may have more behind it. Level-triggered: the rest comes next turn. */
  bool eof = false;
  for (int i = 0; i < 8 && !hold_if_full(io); i++) {
    ssize_t n = read_out(io);
    if (n < 0) break;
    if (n > 0) {
      feed_stdout(io->m, &io->lb, io->obuf, (size_t)n);
      if ((size_t)n < sizeof io->obuf) break;
      continue;
    }
    eof = io->eof_seen = true;
    break;
  }
  pthread_mutex_unlock(&io->rd);
  if (eof) {
    pthread_mutex_lock(&io->pm);
    io->watching = false;
    pthread_mutex_unlock(&io->pm);
    hl__engine_unwatch(&io->out_w);
    io->out_open = false;
    io->eof_ms = hl__engine_now_ms();
    try_finish(io);
  }
}

static void on_stderr(hl__watch *w, uint32_t events) {
  (void)events;
  hl__mcp_io *io = IO_OF(w, err_w);
  ssize_t n = read_some(io, io->err_fd);
  if (n > 0) feed_stderr(io, io->rbuf, (size_t)n, false);
  if (n == 0) {
    hl__engine_unwatch(&io->err_w);
    io->err_open = false;
    feed_stderr(io, "", 0, true);
  }
}

static void start_task(hl__task *t) {
  hl__mcp_io *io = IO_OF(t, start_task);
  pthread_mutex_lock(&io->pm);
  hl_status wst = hl__engine_watch(&io->out_w, io->out_fd, EPOLLIN);
  io->watching = wst == HL_OK;
  pthread_mutex_unlock(&io->pm);
  if (wst != HL_OK) {
    /* Cannot read it: as good as gone (the message says how it ended). */
    io->out_open = false;
    io->eof_ms = hl__engine_now_ms();
    hl_mcp *m = io->m;
    kill(-m->pid, SIGKILL);
    try_finish(io);
    return;
  }
  if (hl__engine_watch(&io->err_w, io->err_fd, EPOLLIN) != HL_OK) io->err_open = false;
  if (io->pid_fd >= 0 && hl__engine_watch(&io->pid_w, io->pid_fd, EPOLLIN) != HL_OK) close_fd(&io->pid_fd);
}

static void stop_task(hl__task *t) {
  hl__mcp_io *io = IO_OF(t, stop_task);
  hl_mcp *m = io->m;
  unwatch_all(io);
  if (!io->finished) { /* closing, and stdout is still held open */
    io->finished = true;
    feed_stderr(io, "", 0, true);
  }
  pthread_mutex_lock(&m->lock);
  m->io_done = true;
  io->stop_ran = true;
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->lock);
}

/* ---- on the caller's thread ---------------------------------------- */

hl_status hl__mcp_stdio_start(hl_mcp *m) {
  hl_status est = hl__engine_start();
  if (est) return est;
  hl__mcp_io *io = calloc(1, sizeof *io);
  if (!io) return hl_fail(HL_ERR_NOMEM, "mcp server \"%s\": out of memory", m->name);
  io->m = m;
  io->out_fd = io->err_fd = io->pid_fd = -1;
  io->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (io->wake_fd < 0) {
    int e = errno;
    free(io);
    return hl_fail(HL_ERR_IO, "mcp server \"%s\": cannot create an eventfd: %s", m->name, strerror(e));
  }
  pthread_mutex_init(&io->rd, NULL);
  pthread_mutex_init(&io->pm, NULL);
  int in_pair[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0 ||
      pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    for (int i = 0; i < 2; i++) {
      if (in_pair[i] >= 0) close(in_pair[i]);
      if (out_pipe[i] >= 0) close(out_pipe[i]);
      if (err_pipe[i] >= 0) close(err_pipe[i]);
    }
    close(io->wake_fd);
    free(io);
    return hl_fail(HL_ERR_IO, "mcp server \"%s\": cannot create pipes: %s", m->name, strerror(e));
  }
  /* The child only reads its stdin, the client only writes it. */
  shutdown(in_pair[0], SHUT_RD);
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&fa, in_pair[1], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  /* Nothing else of the application's reaches the server: a descriptor
   * opened without close-on-exec (by the application, or by a library it
   * uses) would keep a socket, a pipe's end or a file open in a process
   * the application does not control, for as long as that runs. */
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (m->cwd) posix_spawn_file_actions_addchdir_np(&fa, m->cwd);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  char **env = build_env(m);
  int rc = env ? posix_spawnp(&m->pid, m->argv[0], &fa, &attr, m->argv, env) : ENOMEM;
  free(env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in_pair[1]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    m->pid = -1;
    close(in_pair[0]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    close(io->wake_fd);
    free(io);
    return hl_fail(rc == ENOENT ? HL_ERR_NOT_FOUND : HL_ERR_IO, "mcp server \"%s\": cannot start %s: %s%s%s",
                   m->name, m->argv[0], strerror(rc), m->cwd ? " (working directory " : "",
                   m->cwd ? m->cwd : "");
  }
  m->in_fd = in_pair[0];
  /* The loop reads without blocking (the child's ends stay blocking: they
   * are other open file descriptions). */
  fcntl(out_pipe[0], F_SETFL, fcntl(out_pipe[0], F_GETFL) | O_NONBLOCK);
  fcntl(err_pipe[0], F_SETFL, fcntl(err_pipe[0], F_GETFL) | O_NONBLOCK);
  io->out_fd = out_pipe[0];
  io->err_fd = err_pipe[0];
#ifdef SYS_pidfd_open
  io->pid_fd = (int)syscall(SYS_pidfd_open, m->pid, 0);
  if (io->pid_fd >= 0) fcntl(io->pid_fd, F_SETFD, FD_CLOEXEC);
  else io->pid_fd = -1;
#endif
  io->out_open = io->err_open = true;
  io->out_w.fn = on_stdout;
  io->err_w.fn = on_stderr;
  io->pid_w.fn = on_pidfd;
  io->exit_timer.fn = on_exit_timer;
  io->start_task.fn = start_task;
  io->stop_task.fn = stop_task;
  m->io = io;
  hl__engine_post(&io->start_task);
  return HL_OK;
}

void hl__mcp_stdio_wake(hl_mcp *m) {
  if (!m->io) return;
  uint64_t one = 1;
  ssize_t w = write(m->io->wake_fd, &one, sizeof one);
  (void)w;
}

void hl__mcp_stdio_wait(hl_mcp *m, hl__mcp_pending *p) {
  hl__mcp_io *io = m->io;
  if (!io || m->io_done) {
    hl__mcp_wait(m, p->deadline_ms);
    return;
  }
  pthread_mutex_unlock(&m->lock);
  /* rd is taken under pm: a loop that finds rd taken then finds
   * `borrowed` set too. */
  pthread_mutex_lock(&io->pm);
  bool mine = io->watching && !io->held && pthread_mutex_trylock(&io->rd) == 0;
  if (mine && (io->eof_seen || hl__engine_watch_events(&io->out_w, 0) != HL_OK)) {
    pthread_mutex_unlock(&io->rd); /* its end: the loop reports it */
    mine = false;
  }
  uint64_t gen = 0;
  if (mine) {
    gen = ++io->borrow_gen;
    io->borrowed = true;
  }
  pthread_mutex_unlock(&io->pm);
  if (!mine) { /* the loop or another caller reads, or not watched (yet) */
    pthread_mutex_lock(&m->lock);
    hl__mcp_wait(m, p->deadline_ms);
    return;
  }
  for (;;) {
    pthread_mutex_lock(&m->lock);
    bool stop = p->done || p->cancelled || m->closed || p->notes;
    int64_t deadline = p->deadline_ms;
    pthread_mutex_unlock(&m->lock);
    int64_t now = hl__engine_now_ms();
    if (stop || (deadline && now >= deadline)) break;
    struct pollfd fds[2] = {{io->out_fd, POLLIN, 0}, {io->wake_fd, POLLIN, 0}};
    int64_t left = deadline ? deadline - now : -1;
    int r = poll(fds, 2, left > 3600000 ? 3600000 : (int)left);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    if (fds[1].revents) {
      uint64_t n;
      ssize_t rn = read(io->wake_fd, &n, sizeof n);
      (void)rn;
    }
    if (fds[0].revents) {
      ssize_t n = read_out(io);
      if (n > 0) {
        feed_stdout(m, &io->lb, io->obuf, (size_t)n);
        if (hold_if_full(io)) break; /* the loop is not told: the sender resumes */
      } else if (n == 0) { /* its end: the loop sees it and reports it */
        io->eof_seen = true;
        break;
      }
    }
  }
  pthread_mutex_unlock(&io->rd);
  /* Give the watch back, unless another caller took over meanwhile. */
  pthread_mutex_lock(&io->pm);
  if (io->borrow_gen == gen) {
    io->borrowed = false;
    if (io->watching && !io->held) hl__engine_watch_events(&io->out_w, EPOLLIN);
  }
  pthread_mutex_unlock(&io->pm);
  pthread_mutex_lock(&m->lock);
}

void hl__mcp_dead_words(hl_mcp *m, char *buf, size_t size) {
  /* finish() broadcasts m->cond when it knows; so does the close. */
  while (m->dead_unsure_until && !m->io_done && !m->closed && hl__mcp_wait(m, m->dead_unsure_until)) {
  }
  snprintf(buf, size, "%s", m->dead_msg);
}

/* Wait up to `ms` for the loop to see the server go. */
static bool wait_io(hl_mcp *m, int ms) {
  int64_t deadline = hl__engine_now_ms() + ms;
  pthread_mutex_lock(&m->lock);
  while (!m->io_done && hl__mcp_wait(m, deadline)) {
  }
  bool done = m->io_done;
  pthread_mutex_unlock(&m->lock);
  return done;
}

/* Wait until the server's stdin takes bytes again (a write found it
 * full): 0 when it may; else the failure, message set: HL_ERR_TIMEOUT
 * when it took none for HL_MCP_ANSWER_TIMEOUT_MS since `since_ms` (a dead
 * peer), HL_ERR_NETWORK when the session failed meanwhile, HL_ERR_STATE
 * when the client closes. In slices: hl_mcp_free() joins the sender,
 * which may wait here, and does not wait for the deadline. */
static hl_status wait_writable(hl_mcp *m, int64_t since_ms) {
  for (;;) {
    pthread_mutex_lock(&m->lock);
    bool closed = m->closed, dead = m->dead;
    char how[600];
    if (dead && !closed) hl__mcp_dead_words(m, how, sizeof how);
    pthread_mutex_unlock(&m->lock);
    if (closed) return hl_fail(HL_ERR_STATE, "mcp server \"%s\": the client was closed", m->name);
    if (dead) return hl_fail(HL_ERR_NETWORK, "mcp server \"%s\" %s", m->name, how);
    int64_t left = since_ms + HL_MCP_ANSWER_TIMEOUT_MS - hl__engine_now_ms();
    if (left <= 0)
      return hl_fail(HL_ERR_TIMEOUT, "mcp server \"%s\": took no byte written to it for %d ms", m->name,
                     HL_MCP_ANSWER_TIMEOUT_MS);
    struct pollfd pf = {m->in_fd, POLLOUT, 0};
    int r = poll(&pf, 1, left < 250 ? (int)left : 250);
    if (r > 0 || (r < 0 && errno != EINTR)) return HL_OK; /* writable, or the write says what */
  }
}

/* Write `text` and a newline (write_lock held), without blocking: a
 * full stdin is waited for with wait_writable(). `try_only`: give up,
 * false, when nothing can go out at once or the write fails; what was
 * started is finished all the same, or the stream's framing would break
 * (a short answer goes out whole or not at all on Linux's unix sockets,
 * so that wait does not come). *st: the failure, HL_OK else and when
 * try_only gave up. */
static bool write_line(hl_mcp *m, const char *text, bool try_only, hl_status *st) {
  *st = HL_OK;
  if (m->in_fd < 0) {
    *st = hl_fail(HL_ERR_NETWORK, "mcp server \"%s\": not running", m->name);
    return false;
  }
  /* Message and newline in one system call (sendmsg: MSG_NOSIGNAL
   * needs a socket call); the lock keeps writers from interleaving. */
  size_t len = strlen(text);
  struct iovec iov[2] = {{(void *)text, len}, {(void *)"\n", 1}};
  struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
  size_t left = len + 1;
  bool started = false;
  int64_t stuck_ms = 0; /* since when the server takes nothing (0: it takes) */
  while (left > 0) {
    ssize_t n = sendmsg(m->in_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !(try_only && !started)) {
      if (!stuck_ms) stuck_ms = hl__engine_now_ms();
      *st = wait_writable(m, stuck_ms);
      if (*st) return false;
      continue;
    }
    /* Not now, or the server is gone: the sender's write finds out
     * which (never the reading thread: the loop must not wait). */
    if (n < 0 && try_only) return false;
    if (n < 0) {
      int e = errno;
      /* The server is gone: say how it ended rather than "broken pipe". */
      char how[600] = "";
      if (e == EPIPE || e == ECONNRESET) {
        /* Nothing more reaches it: answers are not queued any more, and
         * stdout, if held for them, is read again to its end. A server
         * that stops reading is usually exiting: "closed its stdin" is
         * what every call says only if the loop does not see it go
         * within EPIPE_WAIT_MS (hl__mcp_dead_words waits for that). */
        pthread_mutex_lock(&m->lock);
        if (!m->dead) {
          snprintf(m->dead_msg, sizeof m->dead_msg, "closed its stdin");
          m->dead_unsure_until = hl__engine_now_ms() + EPIPE_WAIT_MS;
        }
        m->dead = true;
        pthread_mutex_unlock(&m->lock);
        atomic_store(&m->replies_full, false);
        hl__mcp_stdio_resume(m);
        pthread_mutex_lock(&m->lock);
        hl__mcp_dead_words(m, how, sizeof how);
        pthread_mutex_unlock(&m->lock);
      }
      if (how[0]) *st = hl_fail(HL_ERR_NETWORK, "mcp server \"%s\" %s", m->name, how);
      else *st = hl_fail(HL_ERR_NETWORK, "mcp server \"%s\": cannot write to it: %s", m->name, strerror(e));
      return false;
    }
    started = true;
    stuck_ms = 0;
    left -= (size_t)n;
    /* A partial write: skip what went out. */
    while (n > 0 && mh.msg_iovlen > 0) {
      size_t take = (size_t)n < mh.msg_iov[0].iov_len ? (size_t)n : mh.msg_iov[0].iov_len;
      mh.msg_iov[0].iov_base = (char *)mh.msg_iov[0].iov_base + take;
      mh.msg_iov[0].iov_len -= take;
      n -= (ssize_t)take;
      if (mh.msg_iov[0].iov_len == 0) {
        mh.msg_iov++;
        mh.msg_iovlen--;
      }
    }
  }
  return true;
}

hl_status hl__mcp_stdio_send(hl_mcp *m, const char *text) {
  hl_status st;
  pthread_mutex_lock(&m->write_lock);
  write_line(m, text, false, &st);
  pthread_mutex_unlock(&m->write_lock);
  if (st != HL_ERR_TIMEOUT) return st;
  /* The server reads nothing: the session fails, with the same words
   * for this write as for the calls it fails. */
  hl__mcp_dead_peer(m);
  pthread_mutex_lock(&m->lock);
  char how[600];
  hl__mcp_dead_words(m, how, sizeof how);
  pthread_mutex_unlock(&m->lock);
  return hl_fail(HL_ERR_NETWORK, "mcp server \"%s\" %s", m->name, how);
}

bool hl__mcp_stdio_try_send(hl_mcp *m, const char *text) {
  if (pthread_mutex_trylock(&m->write_lock) != 0) return false; /* a writer waits for the server */
  hl_status st;
  bool sent = write_line(m, text, true, &st);
  pthread_mutex_unlock(&m->write_lock);
  return sent;
}

void hl__mcp_stdio_close(hl_mcp *m) {
  /* Stdout held for a full answers' queue (the sender is gone now, and
   * nothing is queued any more): read it again, to see the server go. */
  atomic_store(&m->replies_full, false);
  hl__mcp_stdio_resume(m);
  /* Closing stdin is the polite way to stop a stdio server (the spec's
   * first step); then SIGTERM, then SIGKILL, to its whole group. */
  pthread_mutex_lock(&m->write_lock);
  close_fd(&m->in_fd);
  pthread_mutex_unlock(&m->write_lock);
  hl__mcp_io *io = m->io;
  if (io) {
    if (!wait_io(m, 2000)) {
      kill(-m->pid, SIGTERM);
      if (!wait_io(m, 1000)) {
        kill(-m->pid, SIGKILL);
        wait_io(m, 1000); /* else someone else holds its stdout open */
      }
    }
    /* The loop lets go of the pipes (and of io) in the stop task, after
     * whatever it was doing with them. */
    hl__engine_post(&io->stop_task);
    pthread_mutex_lock(&m->lock);
    while (!io->stop_ran) hl__mcp_wait(m, 0);
    pthread_mutex_unlock(&m->lock);
    close_fd(&io->out_fd);
    close_fd(&io->err_fd);
    close_fd(&io->pid_fd);
    close_fd(&io->wake_fd);
    free(io->lb.buf);
    pthread_mutex_destroy(&io->rd);
    pthread_mutex_destroy(&io->pm);
    free(io);
    m->io = NULL;
  }
  /* Only this thread reaps now. */
  if (m->pid > 0 && !reap(m, false)) {
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
    if (!reap(m, false)) {
      kill(-m->pid, SIGKILL);
      reap(m, true);
    }
  }
}
