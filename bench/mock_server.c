/*
 * bench/mock_server.c - a fast loopback model server for the benchmarks.
 *
 * Speaks just enough of OpenAI Chat Completions (and of Gemini's
 * generateContent, for SDKs that only talk to Gemini) to drive an agent
 * through the benchmark scenarios, deterministically and statelessly:
 *
 *   request without tools                      -> a text answer      (chat)
 *   request with tools, no tool result yet     -> 3 calls of "lookup" (tools, call 1)
 *   request that carries tool results          -> a text answer      (tools, call 2)
 *
 * Non-streaming and streaming ("stream": true, SSE) both work.
 *
 * Why it is written this way: every response is built in memory and written
 * with one send() on a TCP_NODELAY socket, connections are kept alive, and a
 * thread serves each connection. A server that writes headers and body in
 * separate small segments meets the client's delayed ACK (~40 ms on Linux)
 * and that would hide every framework's overhead behind the network.
 *
 * The server measures its own service time per request (from the last byte
 * of the request read to the moment the response is handed to send()) and
 * reports it in an "x-mock-service-us" header and, summed, on GET /stats.
 * Benchmarks subtract it: framework overhead = client wall time - server time.
 *
 *   GET  /stats        {"requests":N,"service_us":T}
 *   POST /stats/reset  zero the counters
 *   GET  /health       "ok"
 *
 * Usage: hl-mock-server [PORT]   (0 or nothing: an ephemeral port)
 * Prints "port N" on stdout once listening; runs until killed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_uint_fast64_t g_requests;
static atomic_uint_fast64_t g_service_ns;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- a growable output buffer ---------------------------------------- */

typedef struct buf {
  char *data;
  size_t len, cap;
} buf;

static bool buf_reserve(buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) return false;
  b->data = p;
  b->cap = cap;
  return true;
}

static void buf_add(buf *b, const char *s, size_t n) {
  if (!buf_reserve(b, n)) return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !buf_reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* ---- the scenario ------------------------------------------------------ */

enum { REPLY_CHAT, REPLY_TOOL_CALLS, REPLY_FINAL };

static const char *const CHAT_WORDS[] = {"Hello!", " This", " is", " the", " mock",
                                         " model", " answering."};
static const char *const FINAL_WORDS[] = {"The", " values", " are", " alpha,", " beta",
                                          " and", " gamma."};
#define N_WORDS 7
static const char *const TOOL_KEYS[3] = {"a", "b", "c"};

static bool body_has(const char *body, const char *needle) {
  return body && strstr(body, needle) != NULL;
}

/* Stateless decision from the request body: every SDK serialises these keys
 * the same way (JSON.stringify or cJSON, no space after the colon is not
 * assumed). */
static int decide_openai(const char *body) {
  if (body_has(body, "\"tool_call_id\"")) return REPLY_FINAL;
  if (body_has(body, "\"tools\"")) return REPLY_TOOL_CALLS;
  return REPLY_CHAT;
}

static int decide_gemini(const char *body) {
  if (body_has(body, "\"functionResponse\"")) return REPLY_FINAL;
  if (body_has(body, "\"functionDeclarations\"")) return REPLY_TOOL_CALLS;
  return REPLY_CHAT;
}

static bool wants_stream(const char *body) {
  return body_has(body, "\"stream\":true") || body_has(body, "\"stream\": true");
}

static const char *const *words_for(int reply) {
  return reply == REPLY_FINAL ? FINAL_WORDS : CHAT_WORDS;
}

static void add_joined(buf *b, const char *const *words) {
  for (int i = 0; i < N_WORDS; i++) buf_add(b, words[i], strlen(words[i]));
}

/* Ids are unique per response: LangGraph merges messages that share an id. */
static _Thread_local unsigned long long t_seq;
static atomic_ullong g_seq;
#define OA_HEAD "\"id\":\"chatcmpl-mock-%llu\",\"created\":1700000000,\"model\":\"mock-model\",\"system_fingerprint\":\"fp_mock\""
#define OA_USAGE "\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":10,\"total_tokens\":30}"

static void openai_body(buf *b, int reply) {
  buf_printf(b, "{" OA_HEAD ",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
                "\"message\":{\"role\":\"assistant\",", t_seq);
  if (reply == REPLY_TOOL_CALLS) {
    buf_printf(b, "\"content\":null,\"refusal\":null,\"tool_calls\":[");
    for (int i = 0; i < 3; i++)
      buf_printf(b, "%s{\"id\":\"call_%llu_%d\",\"type\":\"function\",\"function\":{\"name\":"
                    "\"lookup\",\"arguments\":\"{\\\"key\\\":\\\"%s\\\"}\"}}",
                 i ? "," : "", t_seq, i + 1, TOOL_KEYS[i]);
    buf_printf(b, "]},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]," OA_USAGE "}");
  } else {
    buf_printf(b, "\"content\":\"");
    add_joined(b, words_for(reply));
    buf_printf(b, "\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}]," OA_USAGE "}");
  }
}

static void openai_chunk_start(buf *b) {
  buf_printf(b, "data: {" OA_HEAD ",\"object\":\"chat.completion.chunk\",\"choices\":[", t_seq);
}

static void openai_stream(buf *b, int reply, bool include_usage) {
  openai_chunk_start(b);
  buf_printf(b, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":%s},"
                "\"logprobs\":null,\"finish_reason\":null}]}\n\n",
             reply == REPLY_TOOL_CALLS ? "null" : "\"\"");
  if (reply == REPLY_TOOL_CALLS) {
    for (int i = 0; i < 3; i++) {
      openai_chunk_start(b);
      buf_printf(b, "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,\"id\":\"call_%llu_%d\","
                    "\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"\"}}]},"
                    "\"logprobs\":null,\"finish_reason\":null}]}\n\n", i, t_seq, i + 1);
      openai_chunk_start(b);
      buf_printf(b, "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,\"function\":"
                    "{\"arguments\":\"{\\\"key\\\":\\\"%s\\\"}\"}}]},"
                    "\"logprobs\":null,\"finish_reason\":null}]}\n\n", i, TOOL_KEYS[i]);
    }
  } else {
    const char *const *words = words_for(reply);
    for (int i = 0; i < N_WORDS; i++) {
      openai_chunk_start(b);
      buf_printf(b, "{\"index\":0,\"delta\":{\"content\":\"%s\"},\"logprobs\":null,"
                    "\"finish_reason\":null}]}\n\n", words[i]);
    }
  }
  openai_chunk_start(b);
  buf_printf(b, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"%s\"}]}\n\n",
             reply == REPLY_TOOL_CALLS ? "tool_calls" : "stop");
  if (include_usage) {
    openai_chunk_start(b);
    buf_printf(b, "]," OA_USAGE "}\n\n");
  }
  buf_printf(b, "data: [DONE]\n\n");
}

#define GEM_USAGE "\"usageMetadata\":{\"promptTokenCount\":20,\"candidatesTokenCount\":10,\"totalTokenCount\":30}"

static void gemini_body(buf *b, int reply, const char *const *words, int n_words, bool last) {
  buf_printf(b, "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[");
  if (reply == REPLY_TOOL_CALLS) {
    for (int i = 0; i < 3; i++)
      buf_printf(b, "%s{\"functionCall\":{\"id\":\"call_%llu_%d\",\"name\":\"lookup\",\"args\":{\"key\":\"%s\"}}}",
                 i ? "," : "", t_seq, i + 1, TOOL_KEYS[i]);
  } else {
    buf_printf(b, "{\"text\":\"");
    for (int i = 0; i < n_words; i++) buf_add(b, words[i], strlen(words[i]));
    buf_printf(b, "\"}");
  }
  buf_printf(b, "]},\"index\":0%s}]%s,\"modelVersion\":\"mock-model\"}",
             last ? ",\"finishReason\":\"STOP\"" : "", last ? "," GEM_USAGE : "");
}

static void gemini_stream(buf *b, int reply) {
  if (reply == REPLY_TOOL_CALLS) {
    buf_printf(b, "data: ");
    gemini_body(b, reply, NULL, 0, true);
    buf_printf(b, "\r\n\r\n");
    return;
  }
  const char *const *words = words_for(reply);
  for (int i = 0; i < N_WORDS; i++) {
    buf_printf(b, "data: ");
    gemini_body(b, reply, words + i, 1, i == N_WORDS - 1);
    buf_printf(b, "\r\n\r\n");
  }
}

/* ---- HTTP --------------------------------------------------------------- */

typedef struct request {
  char method[8];
  char path[512];
  bool keep_alive;
  char *body;        /* NUL-terminated, points into the connection buffer */
  size_t body_len;
} request;

static bool send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= (size_t)w;
  }
  return true;
}

/* Build status line, headers and body into one buffer and send it at once. */
static bool respond(int fd, const request *rq, int status, const char *ctype,
                    const buf *body, uint64_t t_start) {
  buf out = {0};
  uint64_t service = now_ns() - t_start;
  buf_printf(&out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: %s\r\nx-mock-service-us: %.3f\r\nx-request-id: req_mock\r\n\r\n",
             status, status == 200 ? "OK" : "Not Found", ctype, body->len,
             rq->keep_alive ? "keep-alive" : "close", (double)service / 1e3);
  buf_add(&out, body->data ? body->data : "", body->len);
  if (!out.data) return false;
  service = now_ns() - t_start;
  atomic_fetch_add(&g_requests, 1);
  atomic_fetch_add(&g_service_ns, service);
  bool ok = send_all(fd, out.data, out.len);
  free(out.data);
  return ok;
}

static bool handle(int fd, request *rq, uint64_t t_start) {
  buf body = {0};
  bool ok;
  const char *path = rq->path;
  if (!strcmp(rq->method, "GET") && !strcmp(path, "/stats")) {
    buf_printf(&body, "{\"requests\":%llu,\"service_us\":%.3f}",
               (unsigned long long)atomic_load(&g_requests),
               (double)atomic_load(&g_service_ns) / 1e3);
    buf out = {0};   /* stats requests are not counted as model requests */
    buf_printf(&out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
               body.len, body.data);
    ok = out.data && send_all(fd, out.data, out.len);
    free(out.data);
    free(body.data);
    return ok;
  }
  if (!strcmp(path, "/stats/reset")) {
    atomic_store(&g_requests, 0);
    atomic_store(&g_service_ns, 0);
    const char *r = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    return send_all(fd, r, strlen(r));
  }
  if (!strcmp(path, "/health")) {
    const char *r = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
    return send_all(fd, r, strlen(r));
  }
  t_seq = atomic_fetch_add(&g_seq, 1) + 1;
  size_t plen = strlen(path);
  const char *q = strchr(path, '?');
  size_t base_len = q ? (size_t)(q - path) : plen;
  if (base_len >= 17 && !strncmp(path + base_len - 17, "/chat/completions", 17)) {
    int reply = decide_openai(rq->body);
    if (wants_stream(rq->body)) {
      openai_stream(&body, reply, body_has(rq->body, "\"include_usage\":true"));
      ok = respond(fd, rq, 200, "text/event-stream", &body, t_start);
    } else {
      openai_body(&body, reply);
      ok = respond(fd, rq, 200, "application/json", &body, t_start);
    }
  } else if (strstr(path, ":streamGenerateContent")) {
    gemini_stream(&body, decide_gemini(rq->body));
    ok = respond(fd, rq, 200, "text/event-stream", &body, t_start);
  } else if (strstr(path, ":generateContent")) {
    int reply = decide_gemini(rq->body);
    gemini_body(&body, reply, words_for(reply), N_WORDS, true);
    ok = respond(fd, rq, 200, "application/json", &body, t_start);
  } else {
    buf_printf(&body, "{\"error\":{\"message\":\"mock server: no route for %s %s\",\"type\":\"not_found\"}}",
               rq->method, path);
    ok = respond(fd, rq, 404, "application/json", &body, t_start);
  }
  free(body.data);
  return ok;
}

static const char *header_value(const char *headers, const char *end, const char *name) {
  size_t n = strlen(name);
  for (const char *line = headers; line && line < end;) {
    if (!strncasecmp(line, name, n) && line[n] == ':') {
      const char *v = line + n + 1;
      while (*v == ' ' || *v == '\t') v++;
      return v;
    }
    const char *nl = strstr(line, "\r\n");
    line = nl ? nl + 2 : NULL;
  }
  return NULL;
}

/* Decode a chunked body in place; returns its length or -1 if incomplete. */
static long dechunk(char *p, size_t avail, size_t *consumed) {
  char *out = p, *in = p, *end = p + avail;
  for (;;) {
    char *nl = memmem(in, (size_t)(end - in), "\r\n", 2);
    if (!nl) return -1;
    unsigned long sz = strtoul(in, NULL, 16);
    in = nl + 2;
    if (sz == 0) {
      char *fin = memmem(in - 2, (size_t)(end - in + 2), "\r\n\r\n", 4);
      if (!fin) return -1;
      *consumed = (size_t)(fin + 4 - p);
      return (long)(out - p);
    }
    if ((size_t)(end - in) < sz + 2) return -1;
    memmove(out, in, sz);
    out += sz;
    in += sz + 2;
  }
}

static void *serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  size_t cap = 1 << 16, len = 0;
  char *in = malloc(cap);
  while (in) {
    /* Read until a full request (headers + body) is in the buffer. */
    char *hdr_end = NULL;
    size_t need = 0;
    bool chunked = false;
    for (;;) {
      if (!hdr_end) {
        hdr_end = len >= 4 ? memmem(in, len, "\r\n\r\n", 4) : NULL;
        if (hdr_end) {
          *hdr_end = '\0';   /* headers become a C string; the body starts 4 bytes on */
          const char *cl = header_value(in, hdr_end, "Content-Length");
          const char *te = header_value(in, hdr_end, "Transfer-Encoding");
          chunked = te && !strncasecmp(te, "chunked", 7);
          need = (size_t)(hdr_end + 4 - in) + (cl ? strtoul(cl, NULL, 10) : 0);
        }
      }
      if (hdr_end && !chunked && len >= need) break;
      if (hdr_end && chunked) {
        size_t consumed = 0;
        size_t off = (size_t)(hdr_end + 4 - in);
        /* dechunk works in place only once complete: probe on a copy */
        char *probe = malloc(len - off + 1);
        if (!probe) goto done;
        memcpy(probe, in + off, len - off);
        long blen = dechunk(probe, len - off, &consumed);
        if (blen >= 0) {
          memcpy(in + off, probe, (size_t)blen);
          free(probe);
          /* move the rest after the decoded body */
          size_t rest = len - off - consumed;
          memmove(in + off + (size_t)blen, in + off + consumed, rest);
          len = off + (size_t)blen + rest;
          need = off + (size_t)blen;
          chunked = false;
          break;
        }
        free(probe);
      }
      if (len + 1 >= cap) {
        size_t hdr_off = hdr_end ? (size_t)(hdr_end - in) : 0;
        cap *= 2;
        char *p = realloc(in, cap);
        if (!p) goto done;
        hdr_end = hdr_end ? p + hdr_off : NULL;
        in = p;
      }
      ssize_t r = recv(fd, in + len, cap - len - 1, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) goto done;
      len += (size_t)r;
    }
    uint64_t t_start = now_ns();
    request rq = {0};
    sscanf(in, "%7s %511s", rq.method, rq.path);
    const char *conn = header_value(in, hdr_end, "Connection");
    rq.keep_alive = !(conn && !strncasecmp(conn, "close", 5));
    size_t off = (size_t)(hdr_end + 4 - in);
    char saved = in[need];
    in[need] = '\0';
    rq.body = in + off;
    rq.body_len = need - off;
    bool ok = handle(fd, &rq, t_start);
    in[need] = saved;
    memmove(in, in + need, len - need);
    len -= need;
    if (!ok || !rq.keep_alive) break;
  }
done:
  free(in);
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) || listen(ls, 512)) {
    perror("mock server: bind/listen");
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(ls, (struct sockaddr *)&addr, &alen);
  printf("port %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (;;) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      perror("mock server: accept");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t t;
    if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd)) close(fd);
  }
}
