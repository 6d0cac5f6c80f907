/*
 * examples/common/loopback.c - the redirect listener of a native app's
 * OAuth sign-in (RFC 8252 section 7.3): a socket on 127.0.0.1 and a port
 * the system picks, opened before the flow (the redirect_uri names it),
 * and the authorize step that shows the URL and takes the one request the
 * browser makes there after the user signed in.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcp_oauth.h"

hl_status ex_mcp_oauth_open(ex_mcp_oauth *o, FILE *ui, long wait_ms) {
  memset(o, 0, sizeof *o);
  o->fd = -1;
  o->ui = ui;
  o->wait_ms = wait_ms;
  pthread_mutex_init(&o->signin, NULL);
  pthread_mutex_init(&o->file, NULL);
  hl_status st = ex_mcp_oauth_token_path(o);
  if (st) return st;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    return hl_fail(HL_ERR_IO, "OAuth sign-in: cannot listen on 127.0.0.1: %s", strerror(e));
  }
  o->fd = fd;
  snprintf(o->redirect_uri, sizeof o->redirect_uri, "http://127.0.0.1:%d/callback", ntohs(a.sin_port));
  return HL_OK;
}

void ex_mcp_oauth_close(ex_mcp_oauth *o) {
  if (!o || !o->ui) return; /* never opened */
  if (o->fd >= 0) close(o->fd);
  o->fd = -1;
  pthread_mutex_destroy(&o->signin);
  pthread_mutex_destroy(&o->file);
  o->ui = NULL;
}

hl_mcp_oauth ex_mcp_oauth_options(ex_mcp_oauth *o) {
  return (hl_mcp_oauth){.size = sizeof(hl_mcp_oauth), .redirect_uri = o->redirect_uri,
                        .authorize = ex_mcp_oauth_authorize, .user_data = o,
                        .load_tokens = ex_mcp_oauth_load, .save_tokens = ex_mcp_oauth_save,
                        .client_name = "hookline"};
}

static bool on_path(const char *prog) {
  const char *path = getenv("PATH");
  char buf[4096];
  for (const char *p = path; p && *p;) {
    size_t n = strcspn(p, ":");
    if (n && n < sizeof buf - strlen(prog) - 2) {
      snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, prog);
      if (access(buf, X_OK) == 0) return true;
    }
    p += n + (p[n] == ':');
  }
  return false;
}

/* xdg-open URL in the background when the user sits at a terminal and it
 * is installed; nothing happens otherwise (the URL is printed anyway).
 * Two forks: the browser launcher is nobody's child to wait for. */
static void open_browser(const char *url) {
  if (!isatty(STDOUT_FILENO) || !on_path("xdg-open")) return;
  pid_t pid = fork();
  if (pid == 0) {
    if (fork() == 0) {
      int null = open("/dev/null", O_RDWR);
      if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
      }
      execlp("xdg-open", "xdg-open", url, (char *)NULL);
    }
    _exit(0);
  }
  if (pid > 0) waitpid(pid, NULL, 0);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void answer(int fd, int status, const char *html) {
  char head[200];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   status, status == 200 ? "OK" : "Not Found", strlen(html));
  if (send(fd, head, (size_t)n, MSG_NOSIGNAL) == n) send(fd, html, strlen(html), MSG_NOSIGNAL);
}

/* Read one request's head from the browser (within 5 s); the target of
 * "GET TARGET HTTP/1.1" into `target`, false for anything else. */
static bool read_target(int fd, char *target, size_t size) {
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char req[8192];
  size_t len = 0;
  while (len < sizeof req - 1) {
    ssize_t r = recv(fd, req + len, sizeof req - 1 - len, 0);
    if (r <= 0) break;
    len += (size_t)r;
    req[len] = '\0';
    if (strstr(req, "\r\n")) break; /* the request line is all we need */
  }
  req[len] = '\0';
  if (strncmp(req, "GET ", 4) != 0) return false;
  size_t n = strcspn(req + 4, " \r\n");
  if (n == 0 || n >= size || req[4] != '/') return false;
  memcpy(target, req + 4, n);
  target[n] = '\0';
  return true;
}

#define PAGE_DONE "<!DOCTYPE html><title>hookline</title><p>Signed in. You can close this tab.</p>"
#define PAGE_FAILED \
  "<!DOCTYPE html><title>hookline</title><p>The sign-in did not succeed: the program that opened this page says why.</p>"

hl_status ex_mcp_oauth_authorize(hl_mcp *mcp, const char *authorization_url, char **redirect, void *user) {
  ex_mcp_oauth *o = user;
  pthread_mutex_lock(&o->signin);
  fprintf(o->ui, "MCP server \"%s\" asks you to sign in. Open this URL in a browser (waiting %ld s):\n%s\n",
          hl_mcp_name(mcp), o->wait_ms / 1000, authorization_url);
  fflush(o->ui);
  open_browser(authorization_url);
  hl_status st = HL_ERR_TIMEOUT;
  long long deadline = now_ms() + o->wait_ms;
  while (st == HL_ERR_TIMEOUT) {
    long long left = deadline - now_ms();
    struct pollfd p = {.fd = o->fd, .events = POLLIN};
    if (left <= 0 || poll(&p, 1, (int)(left < 60000 ? left : 60000)) < 0) {
      if (left > 0 && errno == EINTR) continue;
      break;
    }
    if (!(p.revents & POLLIN)) continue;
    int c = accept4(o->fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) continue;
    char target[4096];
    /* Anything but the callback (a favicon, a probe) gets a 404: wait on. */
    if (!read_target(c, target, sizeof target) || strncmp(target, "/callback?", 10) != 0) {
      answer(c, 404, "<!DOCTYPE html><p>Not here.</p>");
      close(c);
      continue;
    }
    answer(c, 200, strstr(target, "error=") ? PAGE_FAILED : PAGE_DONE);
    close(c);
    /* The library checks state and error and exchanges the code. */
    size_t n = strlen("http://127.0.0.1:") + 8 + strlen(target) + 1;
    char *r = malloc(n);
    const char *port = strrchr(o->redirect_uri, ':');
    if (!r) {
      st = hl_fail(HL_ERR_NOMEM, "out of memory");
      break;
    }
    snprintf(r, n, "http://127.0.0.1%.*s%s", (int)strcspn(port, "/"), port, target);
    *redirect = r;
    st = HL_OK;
  }
  if (st == HL_ERR_TIMEOUT)
    hl_fail(st, "no sign-in within %ld s (the browser did not come back to %s)", o->wait_ms / 1000,
            o->redirect_uri);
  pthread_mutex_unlock(&o->signin);
  return st;
}
