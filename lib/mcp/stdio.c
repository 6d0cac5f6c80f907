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
 * wrappers); one reader thread per server waits on stdout and stderr with
 * poll() and is the only one that reaps the child.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Reap the child if it has exited (block: wait for it). Reader thread or
 * close path, never both at once (close joins the reader first). */
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

typedef struct linebuf {
  char *buf;
  size_t len, cap;
  bool overflow;     /* the current line passed the cap: drop it to its end */
  size_t dropped;
} linebuf;

static void on_stdout_line(hl_mcp *m, linebuf *lb) {
  if (lb->overflow) {
    char msg[300];
    snprintf(msg, sizeof msg, "mcp server \"%s\": sent a message of more than %zu bytes (the cap)",
             m->name, m->max_message);
    hl__mcp_fail_pending(m, HL_ERR_TOO_LARGE, msg);
    cJSON *d = cJSON_CreateObject();
    if (d) cJSON_AddStringToObject(d, "message", msg);
    hl__mcp_event(m, NULL, "mcp.protocol_error", d);
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

static void feed_stderr(hl_mcp *m, char *line, size_t *len, const char *data, size_t n, bool flush) {
  for (size_t i = 0; i < n; i++) {
    if (data[i] == '\n' || *len == STDERR_LINE_MAX) {
      line[*len] = '\0';
      hl__mcp_stderr_event(m, line);
      *len = 0;
      if (data[i] == '\n') continue;
    }
    line[(*len)++] = data[i];
  }
  if (flush && *len) {
    line[*len] = '\0';
    hl__mcp_stderr_event(m, line);
    *len = 0;
  }
}

static void *reader_main(void *arg) {
  hl_mcp *m = arg;
  linebuf lb = {0};
  char errline[STDERR_LINE_MAX + 1];
  size_t errlen = 0;
  char buf[65536];
  bool out_open = true, err_open = m->err_fd >= 0;
  bool woken = false;
  while (out_open) {
    struct pollfd fds[3] = {{m->out_fd, POLLIN, 0}, {err_open ? m->err_fd : -1, POLLIN, 0},
                            {m->wake_fd[0], POLLIN, 0}};
    int r = poll(fds, 3, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents) { /* closing, and the server would not let go */
      woken = true;
      break;
    }
    if (fds[1].revents) {
      ssize_t n = read(m->err_fd, buf, sizeof buf);
      if (n > 0) feed_stderr(m, errline, &errlen, buf, (size_t)n, false);
      else if (n == 0 || errno != EINTR) err_open = false;
    }
    if (fds[0].revents) {
      ssize_t n = read(m->out_fd, buf, sizeof buf);
      if (n > 0) feed_stdout(m, &lb, buf, (size_t)n);
      else if (n == 0 || (errno != EINTR && errno != EAGAIN)) out_open = false;
    }
  }
  /* stdout closed: take what is left on stderr (its last words), then
   * report the exit. */
  for (int tries = 0; err_open && !woken && tries < 50; tries++) {
    struct pollfd pf = {m->err_fd, POLLIN, 0};
    if (poll(&pf, 1, 20) <= 0) break;
    ssize_t n = read(m->err_fd, buf, sizeof buf);
    if (n <= 0) break;
    feed_stderr(m, errline, &errlen, buf, (size_t)n, false);
  }
  feed_stderr(m, errline, &errlen, "", 0, true);
  if (lb.len && !lb.overflow) { /* a last message without its newline */
    lb.buf[lb.len] = '\0';
    on_stdout_line(m, &lb);
  }
  free(lb.buf);
  for (int i = 0; i < 40 && !reap(m, false); i++) {
    struct timespec ts = {0, 5 * 1000000};
    nanosleep(&ts, NULL);
  }
  pthread_mutex_lock(&m->lock);
  bool closing = m->closed;
  pthread_mutex_unlock(&m->lock);
  char how[80], msg[600];
  describe_exit(m, how, sizeof how);
  snprintf(msg, sizeof msg, "mcp server \"%s\" %s", m->name, how);
  pthread_mutex_lock(&m->lock);
  m->reader_done = true;
  pthread_cond_broadcast(&m->cond);
  m->dead = true;
  snprintf(m->dead_msg, sizeof m->dead_msg, "%s", how); /* "exited with status 3" */
  pthread_mutex_unlock(&m->lock);
  if (!closing) hl__mcp_fail_pending(m, HL_ERR_NETWORK, msg);
  return NULL;
}

hl_status hl__mcp_stdio_start(hl_mcp *m) {
  int in_pair[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (pipe2(m->wake_fd, O_CLOEXEC) != 0) {
    m->wake_fd[0] = m->wake_fd[1] = -1;
    return hl_fail(HL_ERR_IO, "mcp server \"%s\": cannot create a pipe: %s", m->name, strerror(errno));
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0 ||
      pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    for (int i = 0; i < 2; i++) {
      if (in_pair[i] >= 0) close(in_pair[i]);
      if (out_pipe[i] >= 0) close(out_pipe[i]);
      if (err_pipe[i] >= 0) close(err_pipe[i]);
    }
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
    return hl_fail(rc == ENOENT ? HL_ERR_NOT_FOUND : HL_ERR_IO, "mcp server \"%s\": cannot start %s: %s%s%s",
                   m->name, m->argv[0], strerror(rc), m->cwd ? " (working directory " : "",
                   m->cwd ? m->cwd : "");
  }
  m->in_fd = in_pair[0];
  m->out_fd = out_pipe[0];
  m->err_fd = err_pipe[0];
  if (pthread_create(&m->reader, NULL, reader_main, m) != 0) {
    hl__mcp_stdio_close(m);
    return hl_fail(HL_ERR_LIMIT, "mcp server \"%s\": cannot start a reader thread", m->name);
  }
  m->reader_running = true;
  return HL_OK;
}

/* Wait up to `ms` for the reader to see stdout close. */
static bool wait_reader(hl_mcp *m, int ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000;
  if (until.tv_nsec >= 1000000000) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&m->lock);
  while (!m->reader_done)
    if (pthread_cond_timedwait(&m->cond, &m->lock, &until) != 0) break;
  bool done = m->reader_done;
  pthread_mutex_unlock(&m->lock);
  return done;
}

hl_status hl__mcp_stdio_send(hl_mcp *m, const char *text) {
  size_t len = strlen(text);
  pthread_mutex_lock(&m->write_lock);
  hl_status st = HL_OK;
  if (m->in_fd < 0) {
    st = hl_fail(HL_ERR_NETWORK, "mcp server \"%s\": not running", m->name);
  } else {
    /* Message and newline in one system call (sendmsg: MSG_NOSIGNAL
     * needs a socket call); the lock keeps writers from interleaving. */
    struct iovec iov[2] = {{(void *)text, len}, {(void *)"\n", 1}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    size_t left = len + 1;
    while (left > 0) {
      ssize_t n = sendmsg(m->in_fd, &mh, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int e = errno;
        /* The server is gone: say how it ended rather than "broken pipe". */
        char how[600] = "";
        if (e == EPIPE || e == ECONNRESET) {
          wait_reader(m, 1000);
          pthread_mutex_lock(&m->lock);
          if (m->dead) snprintf(how, sizeof how, "%s", m->dead_msg);
          pthread_mutex_unlock(&m->lock);
        }
        if (how[0]) st = hl_fail(HL_ERR_NETWORK, "mcp server \"%s\" %s", m->name, how);
        else st = hl_fail(HL_ERR_NETWORK, "mcp server \"%s\": cannot write to it: %s", m->name, strerror(e));
        break;
      }
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
  }
  pthread_mutex_unlock(&m->write_lock);
  return st;
}

void hl__mcp_stdio_close(hl_mcp *m) {
  /* Closing stdin is the polite way to stop a stdio server (the spec's
   * first step); then SIGTERM, then SIGKILL, to its whole group. */
  pthread_mutex_lock(&m->write_lock);
  close_fd(&m->in_fd);
  pthread_mutex_unlock(&m->write_lock);
  if (m->pid > 0 && m->reader_running) {
    if (!wait_reader(m, 2000)) {
      kill(-m->pid, SIGTERM);
      if (!wait_reader(m, 1000)) {
        kill(-m->pid, SIGKILL);
        if (!wait_reader(m, 1000) && m->wake_fd[1] >= 0) {
          /* Someone else holds the server's stdout open: stop reading. */
          ssize_t w = write(m->wake_fd[1], "x", 1);
          (void)w;
        }
      }
    }
    pthread_join(m->reader, NULL);
    m->reader_running = false;
  }
  /* Only this thread reaps now (the reader is gone). */
  if (m->pid > 0 && !reap(m, false)) {
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
    if (!reap(m, false)) {
      kill(-m->pid, SIGKILL);
      reap(m, true);
    }
  }
  close_fd(&m->out_fd);
  close_fd(&m->err_fd);
  close_fd(&m->wake_fd[0]);
  close_fd(&m->wake_fd[1]);
}
