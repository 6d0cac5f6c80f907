/*
 * tests/mcp/mcp_fixture.h - helpers of the mcp suite: where the servers
 * are (paths from meson), starting server-everything over HTTP on a free
 * port, counting this process's children (zombies included), and an
 * observer that keeps the events it sees.
 */
#ifndef HL_MCP_FIXTURE_H
#define HL_MCP_FIXTURE_H

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hookline.h"
#include "check.h"
#include "net/http.h"
#include "spawn_script.h"

static inline const char *fx_env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) {
    fprintf(stderr, "%s is not set (run through meson test)\n", name);
    exit(1);
  }
  return v;
}

/* server-everything's dist/index.js; the test fails when set-up did not
 * install it (make test installs it). */
static inline const char *fx_everything(void) {
  const char *p = fx_env("HL_MCP_EVERYTHING");
  if (access(p, R_OK) != 0) {
    fprintf(stderr, "server-everything missing at %s: run scripts/setup.sh\n", p);
    exit(1);
  }
  return p;
}

/* GET (body NULL) or POST `body` to a test server's `path` on
 * 127.0.0.1:`port` (its log, its controls): the answer as JSON (the
 * caller's), or NULL. */
static inline cJSON *fx_server_json(int port, const char *path, const char *body) {
  char u[200];
  snprintf(u, sizeof u, "http://127.0.0.1:%d%s", port, path);
  hl__http *h = hl__http_new(NULL);
  hl__http_request req = {.url = u, .what = "test server", .body = body, .body_len = body ? strlen(body) : 0};
  hl__http_response r = {0};
  cJSON *j = NULL;
  if (h && hl__http_request_send(h, &req, &r) == HL_OK && r.body) j = cJSON_Parse(r.body);
  hl__http_response_clear(&r);
  hl__http_free(h);
  return j;
}

static inline void fx_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static inline int fx_free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(s, (struct sockaddr *)&a, sizeof a);
  socklen_t l = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &l);
  close(s);
  return ntohs(a.sin_port);
}

static inline int fx_port_open(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
  close(s);
  return ok;
}

/* Start `node index.js streamableHttp` on a free port; *url gets the
 * endpoint. Returns the pid (> 0) once the port accepts connections. */
static inline pid_t fx_start_everything_http(char *url, size_t url_size) {
  int port = fx_free_port();
  char portstr[16];
  snprintf(portstr, sizeof portstr, "%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    setenv("PORT", portstr, 1);
    int devnull = open("/dev/null", 1);
    dup2(devnull, 1);
    execlp("node", "node", fx_everything(), "streamableHttp", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 600 && !fx_port_open(port); i++) fx_sleep_ms(50);
  snprintf(url, url_size, "http://127.0.0.1:%d/mcp", port);
  return pid;
}

/* Start `python3 script` that prints its port on its first line. */
static inline pid_t fx_start_port_printer(const char *script, int *port) {
  pid_t pid = spawn_script(script, port);
  return *port > 0 ? pid : -1;
}

static inline void fx_stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

/* Children of this process, zombies included (from /proc). */
static inline int fx_children(int *zombies) {
  int n = 0, z = 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  pid_t me = getpid();
  while (d && (e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *rp = strrchr(buf, ')');
    char state;
    int ppid;
    if (rp && sscanf(rp + 2, "%c %d", &state, &ppid) == 2 && ppid == me) {
      n++;
      if (state == 'Z') z++;
    }
  }
  if (d) closedir(d);
  if (zombies) *zombies = z;
  return n;
}

/* What hl_mcp_set_oauth() says of `o` for a new client of `url` (its
 * message stays for hl_last_error()). */
static inline hl_status fx_set_oauth(const char *url, hl_mcp_oauth o) {
  hl_mcp *m = hl_mcp_new_http("opts", url);
  hl_status st = hl_mcp_set_oauth(m, &o);
  hl_mcp_free(m);
  return st;
}

/* An observer that keeps "type name text" lines of what it sees. */
typedef struct fx_events {
  pthread_mutex_t lock;
  char *lines[512];
  int n;
} fx_events;

static inline int fx_events_fn(const hl_event *ev, void *user) {
  fx_events *e = user;
  char *j = ev->data ? cJSON_PrintUnformatted(ev->data)
           : ev->result ? cJSON_PrintUnformatted(ev->result)
           : ev->args ? cJSON_PrintUnformatted(ev->args) : NULL;
  char buf[1024];
  snprintf(buf, sizeof buf, "%s %s %s %s", hl_event_type_name(ev->type), ev->name ? ev->name : "-",
           ev->text ? ev->text : "-", j ? j : "-");
  free(j);
  pthread_mutex_lock(&e->lock);
  if (e->n < 512) e->lines[e->n++] = strdup(buf);
  pthread_mutex_unlock(&e->lock);
  return 0;
}

/* How many kept lines contain `needle`. */
static inline int fx_events_count(fx_events *e, const char *needle) {
  int c = 0;
  pthread_mutex_lock(&e->lock);
  for (int i = 0; i < e->n; i++)
    if (strstr(e->lines[i], needle)) c++;
  pthread_mutex_unlock(&e->lock);
  return c;
}

static inline void fx_events_clear(fx_events *e) {
  pthread_mutex_lock(&e->lock);
  for (int i = 0; i < e->n; i++) free(e->lines[i]);
  e->n = 0;
  pthread_mutex_unlock(&e->lock);
}

/* hl_mcp_free() while another thread is inside a call of the client,
 * made to stay there: an observer of the client, run on the calling thread
 * for the call's first progress event, holds that thread until the client
 * was freed (or 3 s passed). hl_mcp_free() must wait for it: it may
 * return only once the call has left the client, and the call ends with
 * HL_ERR_STATE. A free that does not wait returns while the observer
 * still holds the call (checked below), and the call then uses the freed
 * client (ASan). */
typedef struct fx_free_race {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool in_observer, freed, observer_left;
  hl_mcp *m;
  const char *tool;
  hl_status st;
} fx_free_race;

static inline int fx_free_race_observer(const hl_event *ev, void *user) {
  fx_free_race *r = user;
  if (ev->type != HL_EVENT_CUSTOM || !ev->name || strcmp(ev->name, "mcp.progress") != 0) return 0;
  pthread_mutex_lock(&r->lock);
  if (!r->in_observer) {
    r->in_observer = true;
    pthread_cond_broadcast(&r->cond);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 3;
    while (!r->freed)
      if (pthread_cond_timedwait(&r->cond, &r->lock, &until) != 0) break;
    r->observer_left = true;
  }
  pthread_mutex_unlock(&r->lock);
  return 0;
}

static inline void *fx_free_race_call(void *arg) {
  fx_free_race *r = arg;
  cJSON *args = cJSON_Parse("{\"steps\":40}"), *res = NULL;
  r->st = hl_mcp_call(r->m, NULL, r->tool, args, &res, NULL);
  cJSON_Delete(args);
  cJSON_Delete(res);
  return NULL;
}

/* `m` is configured, not connected; `tool` sends progress and then takes
 * its time. Returns the failures seen (0: hl_mcp_free waited). */
static inline int fx_free_during_call(hl_mcp *m, const char *tool) {
  static fx_free_race r0;
  fx_free_race *r = &r0;
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->cond, NULL);
  r->m = m;
  r->tool = tool;
  r->st = HL_OK;
  int bad = 0;
  hl_observer *obs = hl_observer_new(fx_free_race_observer, r);
  hl_mcp_add_observer(m, obs);
  hl_observer_unref(obs);
  if (hl_mcp_connect(m) != HL_OK) {
    fprintf(stderr, "connect: %s\n", hl_mcp_errmsg(m));
    hl_mcp_free(m);
    return 1;
  }
  pthread_t th;
  pthread_create(&th, NULL, fx_free_race_call, r);
  pthread_mutex_lock(&r->lock);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 30;
  while (!r->in_observer)
    if (pthread_cond_timedwait(&r->cond, &r->lock, &until) != 0) break;
  bool held = r->in_observer;
  pthread_mutex_unlock(&r->lock);
  if (!held) {
    fprintf(stderr, "the call's progress event never came\n");
    bad++;
  }
  hl_mcp_free(m);
  pthread_mutex_lock(&r->lock);
  bool left = r->observer_left;
  r->freed = true;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  pthread_join(th, NULL);
  if (held && !left) {
    fprintf(stderr, "hl_mcp_free returned while a call was still inside the client\n");
    bad++;
  }
  if (r->st != HL_ERR_STATE) {
    fprintf(stderr, "the call ended with %s, not HL_ERR_STATE\n", hl_status_name(r->st));
    bad++;
  }
  pthread_mutex_destroy(&r->lock);
  pthread_cond_destroy(&r->cond);
  return bad;
}

#endif
