/*
 * bench/mock_server.c - a fast loopback model server for the benchmarks.
 *
 * Speaks just enough of OpenAI Chat Completions, OpenAI Responses
 * (/responses), Anthropic Messages (/messages) and Gemini's
 * generateContent to drive an agent through the benchmark scenarios,
 * deterministically and statelessly:
 *
 *   request without tools                      -> a text answer      (chat)
 *   request with tools, no tool result yet     -> 3 calls of "lookup" (tools, call 1)
 *   request that carries tool results          -> a text answer      (tools, call 2)
 *
 * Non-streaming and streaming ("stream": true, SSE) both work.
 *
 * Why it is written this way: every response is built in memory and written
 * with one send() on a TCP_NODELAY socket, connections are kept alive. A
 * server that writes headers and body in separate small segments meets the
 * client's delayed ACK (~40 ms on Linux) and that would hide every
 * framework's overhead behind the network. One thread serves every
 * connection through epoll (non-blocking sockets), so that tens of
 * thousands of connections waiting on a slow "model" cost it nothing.
 *
 * --delay-ms D answers each model request D ms after it arrived (a slow
 * model: the concurrent_slow benchmark uses 1000). The answer is built at
 * once and held in a queue (all delays are equal, so arrival order is due
 * order); the loop sleeps until the next one is due.
 *
 * The server measures its own service time per request (from the last byte
 * of the request read to the moment the response is built, the delay not
 * included) and reports it in an "x-mock-service-us" header and, summed, on
 * GET /stats, with how late delayed answers left against their due time
 * (a server that keeps up shows a lateness near 0).
 * Benchmarks subtract it: framework overhead = client wall time - server time.
 *
 *   GET  /stats        {"requests":N,"service_us":T,"connections":C,
 *                       "late_us_mean":L,"late_us_max":M,"cpu_us":U,
 *                       "h2c":B,"h2_connections":H}
 *                      (U: the server process's user + system CPU so far;
 *                      B: this build speaks h2c; H: connections served as h2c)
 *   POST /stats/reset  zero the counters
 *   GET  /health       "ok"
 *   POST /v1/traces, /v1/metrics   200 {} (an OTLP receiver for bench/otel_bench.c;
 *                      counted apart, as "otlp_requests" in /stats)
 *
 * HTTP/2 over cleartext TCP with prior knowledge (h2c, what libcurl's
 * CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE speaks): a connection that starts
 * with the HTTP/2 client preface is served over HTTP/2 (libnghttp2; the
 * "h2c" section below), any other as HTTP/1.1, on the same port. Built
 * without libnghttp2 the server speaks HTTP/1.1 only and /stats says
 * "h2c":false.
 *
 * HTTPS (--tls DIR; built with OpenSSL, mock_tls.c): the port speaks TLS
 * only, with a throwaway CA and server certificate made at start-up; the
 * CA certificate is written to DIR/ca.pem for the client to trust. ALPN
 * offers h2 (when built with libnghttp2) and http/1.1: an h2 connection is
 * served by the same nghttp2 session code as h2c, an http/1.1 one by the
 * same HTTP/1.1 code, on the same epoll loop (non-blocking SSL). /stats
 * then also says "tls":true and "tls_handshakes" (completed so far); a
 * client that refuses the certificate leaves a connection without a
 * handshake.
 *
 * --h2-settings-late-ms D stalls the whole server D ms before it sends the
 * SETTINGS of each new HTTP/2 connection: a loaded or distant server, whose
 * SETTINGS reach the client well after its handshake is done. A client
 * then sees the connection take 100 streams at most (nghttp2's guard) for
 * that long, which is the start-up burst a test needs to reproduce
 * (tests/providers/test_h2tls.c, cold_burst_over_few_connections).
 *
 * Usage: hl-mock-server [PORT] [--delay-ms D] [--tls DIR] [--h2-max-streams N]
 *                       [--h2-settings-late-ms D]
 *        (PORT 0 or nothing: an ephemeral port)
 * Prints "port N" on stdout once listening; runs until killed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef HL_MOCK_TLS
#include "mock_tls.h"
#endif

/* One thread: plain counters would do; atomics keep the code honest if
 * that ever changes. */
static atomic_uint_fast64_t g_requests;
static atomic_uint_fast64_t g_otlp_requests; /* OTLP exports received (otel benchmark) */
static atomic_uint_fast64_t g_service_ns;
static uint64_t g_connections, g_late_ns_sum, g_late_ns_max, g_late_n;
static uint64_t g_delay_ns;

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

static int decide_responses(const char *body) {
  if (body_has(body, "\"function_call_output\"")) return REPLY_FINAL;
  if (body_has(body, "\"tools\"")) return REPLY_TOOL_CALLS;
  return REPLY_CHAT;
}

static int decide_anthropic(const char *body) {
  if (body_has(body, "\"tool_result\"")) return REPLY_FINAL;
  if (body_has(body, "\"tools\"")) return REPLY_TOOL_CALLS;
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

/* OpenAI Responses: output items (function_call or message). */
#define RS_USAGE "\"usage\":{\"input_tokens\":20,\"output_tokens\":10,\"total_tokens\":30}"

static void responses_output(buf *b, int reply) {
  if (reply == REPLY_TOOL_CALLS) {
    for (int i = 0; i < 3; i++)
      buf_printf(b, "%s{\"type\":\"function_call\",\"id\":\"fc_%llu_%d\",\"call_id\":"
                    "\"call_%llu_%d\",\"name\":\"lookup\",\"arguments\":\"{\\\"key\\\":"
                    "\\\"%s\\\"}\",\"status\":\"completed\"}",
                 i ? "," : "", t_seq, i + 1, t_seq, i + 1, TOOL_KEYS[i]);
  } else {
    buf_printf(b, "{\"type\":\"message\",\"id\":\"msg_%llu\",\"status\":\"completed\","
                  "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"",
               t_seq);
    add_joined(b, words_for(reply));
    buf_printf(b, "\",\"annotations\":[]}]}");
  }
}

static void responses_body(buf *b, int reply) {
  buf_printf(b, "{\"id\":\"resp_%llu\",\"object\":\"response\",\"created_at\":1700000000,"
                "\"status\":\"completed\",\"error\":null,\"incomplete_details\":null,"
                "\"model\":\"mock-model\",\"output\":[", t_seq);
  responses_output(b, reply);
  buf_printf(b, "]," RS_USAGE "}");
}

static void responses_stream(buf *b, int reply) {
  int seq = 0;
  buf_printf(b, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":%d,"
                "\"response\":{\"id\":\"resp_%llu\",\"object\":\"response\",\"status\":"
                "\"in_progress\",\"model\":\"mock-model\",\"output\":[]}}\n\n", seq++, t_seq);
  if (reply == REPLY_TOOL_CALLS) {
    for (int i = 0; i < 3; i++) {
      buf_printf(b, "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
                    "\"sequence_number\":%d,\"output_index\":%d,\"item\":{\"type\":\"function_call\","
                    "\"id\":\"fc_%llu_%d\",\"call_id\":\"call_%llu_%d\",\"name\":\"lookup\","
                    "\"arguments\":\"\",\"status\":\"in_progress\"}}\n\n",
                 seq++, i, t_seq, i + 1, t_seq, i + 1);
      buf_printf(b, "event: response.function_call_arguments.delta\ndata: {\"type\":"
                    "\"response.function_call_arguments.delta\",\"sequence_number\":%d,"
                    "\"output_index\":%d,\"item_id\":\"fc_%llu_%d\",\"delta\":"
                    "\"{\\\"key\\\":\\\"%s\\\"}\"}\n\n", seq++, i, t_seq, i + 1, TOOL_KEYS[i]);
    }
  } else {
    buf_printf(b, "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
                  "\"sequence_number\":%d,\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":"
                  "\"msg_%llu\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n\n",
               seq++, t_seq);
    const char *const *words = words_for(reply);
    for (int i = 0; i < N_WORDS; i++)
      buf_printf(b, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
                    "\"sequence_number\":%d,\"output_index\":0,\"content_index\":0,\"item_id\":"
                    "\"msg_%llu\",\"delta\":\"%s\"}\n\n", seq++, t_seq, words[i]);
  }
  buf_printf(b, "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":%d,"
                "\"response\":{\"id\":\"resp_%llu\",\"object\":\"response\",\"status\":\"completed\","
                "\"error\":null,\"incomplete_details\":null,\"model\":\"mock-model\",\"output\":[",
             seq++, t_seq);
  responses_output(b, reply);
  buf_printf(b, "]," RS_USAGE "}}\n\n");
}

/* Anthropic Messages: content blocks (tool_use or text). */
#define AN_USAGE "\"usage\":{\"input_tokens\":20,\"output_tokens\":10}"

static void anthropic_body(buf *b, int reply) {
  buf_printf(b, "{\"id\":\"msg_%llu\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
                "\"mock-model\",\"content\":[", t_seq);
  if (reply == REPLY_TOOL_CALLS) {
    for (int i = 0; i < 3; i++)
      buf_printf(b, "%s{\"type\":\"tool_use\",\"id\":\"toolu_%llu_%d\",\"name\":\"lookup\","
                    "\"input\":{\"key\":\"%s\"}}", i ? "," : "", t_seq, i + 1, TOOL_KEYS[i]);
  } else {
    buf_printf(b, "{\"type\":\"text\",\"text\":\"");
    add_joined(b, words_for(reply));
    buf_printf(b, "\"}");
  }
  buf_printf(b, "],\"stop_reason\":\"%s\",\"stop_sequence\":null," AN_USAGE "}",
             reply == REPLY_TOOL_CALLS ? "tool_use" : "end_turn");
}

static void anthropic_stream(buf *b, int reply) {
  buf_printf(b, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
                "\"msg_%llu\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"mock-model\","
                "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":20,"
                "\"output_tokens\":1}}}\n\n", t_seq);
  if (reply == REPLY_TOOL_CALLS) {
    for (int i = 0; i < 3; i++) {
      buf_printf(b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":%d,"
                    "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_%llu_%d\",\"name\":"
                    "\"lookup\",\"input\":{}}}\n\n", i, t_seq, i + 1);
      buf_printf(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":%d,"
                    "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
                    "\"{\\\"key\\\":\\\"%s\\\"}\"}}\n\n", i, TOOL_KEYS[i]);
      buf_printf(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":%d}\n\n", i);
    }
  } else {
    buf_printf(b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
                  "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    const char *const *words = words_for(reply);
    for (int i = 0; i < N_WORDS; i++)
      buf_printf(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                    "\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n", words[i]);
    buf_printf(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
  }
  buf_printf(b, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                "\"%s\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":10}}\n\n"
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
             reply == REPLY_TOOL_CALLS ? "tool_use" : "end_turn");
}

/* ---- answers ---------------------------------------------------------------- */

typedef struct request {
  char method[8];
  char path[512];
  bool keep_alive;
  char *body;        /* NUL-terminated (HTTP/1.1: points into the connection buffer) */
  size_t body_len;
} request;

/* An answer, whatever the protocol carries it. */
typedef struct reply {
  int status;
  const char *ctype;
  buf body;
  bool model;        /* a model answer (subject to --delay-ms, counted) */
  double service_us; /* model answers: the server's service time */
} reply;

static void respond(reply *rp, int status, const char *ctype, uint64_t t_start) {
  rp->status = status;
  rp->ctype = ctype;
  rp->model = true;
  uint64_t service = now_ns() - t_start;
  rp->service_us = (double)service / 1e3;
  atomic_fetch_add(&g_requests, 1);
  atomic_fetch_add(&g_service_ns, service);
}

static void own_answer(reply *rp, const char *ctype, const char *text) {
  rp->status = 200;
  rp->ctype = ctype;
  rp->model = false;
  buf_add(&rp->body, text, strlen(text));
}

static bool g_h2c_built; /* this build speaks h2c (libnghttp2) */
static uint64_t g_h2_connections;
static bool g_tls;       /* --tls: the port speaks TLS */

static unsigned long long tls_handshakes(void) {
#ifdef HL_MOCK_TLS
  return mock_tls_handshakes();
#else
  return 0;
#endif
}

/* Build the answer to `rq` into `rp` (zero-initialised; rp->body is the
 * caller's to free). */
static void handle(reply *rp, request *rq, uint64_t t_start) {
  buf *body = &rp->body;
  const char *path = rq->path;
  if (!strcmp(rq->method, "GET") && !strcmp(path, "/stats")) {
    /* The process's whole CPU time (accepting, reading, writing, kernel
     * included), next to the service time: with the wall time of a run it
     * says whether the server kept up or was the bottleneck. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_us = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
                    (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
    buf_printf(body, "{\"requests\":%llu,\"service_us\":%.3f,\"connections\":%llu,"
                     "\"late_us_mean\":%.1f,\"late_us_max\":%.1f,\"otlp_requests\":%llu,"
                     "\"cpu_us\":%.0f,\"h2c\":%s,\"h2_connections\":%llu,\"tls\":%s,"
                     "\"tls_handshakes\":%llu}",
               (unsigned long long)atomic_load(&g_requests),
               (double)atomic_load(&g_service_ns) / 1e3, (unsigned long long)g_connections,
               g_late_n ? (double)g_late_ns_sum / (double)g_late_n / 1e3 : 0.0,
               (double)g_late_ns_max / 1e3, (unsigned long long)atomic_load(&g_otlp_requests),
               cpu_us, g_h2c_built ? "true" : "false", (unsigned long long)g_h2_connections,
               g_tls ? "true" : "false", tls_handshakes());
    /* stats requests are not counted as model requests */
    rp->status = 200;
    rp->ctype = "application/json";
    return;
  }
  if (!strcmp(path, "/stats/reset")) {
    atomic_store(&g_requests, 0);
    atomic_store(&g_service_ns, 0);
    g_late_ns_sum = g_late_ns_max = g_late_n = 0;
    own_answer(rp, "application/json", "{}");
    return;
  }
  /* An OTLP/HTTP receiver for the otel benchmark: accepts and forgets. */
  if (!strcmp(rq->method, "POST") && (!strcmp(path, "/v1/traces") || !strcmp(path, "/v1/metrics"))) {
    atomic_fetch_add(&g_otlp_requests, 1);
    own_answer(rp, "application/json", "{}");
    return;
  }
  if (!strcmp(path, "/health")) {
    own_answer(rp, "text/plain", "ok");
    return;
  }
  t_seq = atomic_fetch_add(&g_seq, 1) + 1;
  size_t plen = strlen(path);
  const char *q = strchr(path, '?');
  size_t base_len = q ? (size_t)(q - path) : plen;
  const char *json = "application/json", *sse = "text/event-stream";
  if (base_len >= 17 && !strncmp(path + base_len - 17, "/chat/completions", 17)) {
    int r = decide_openai(rq->body);
    if (wants_stream(rq->body)) {
      openai_stream(body, r, body_has(rq->body, "\"include_usage\":true"));
      respond(rp, 200, sse, t_start);
    } else {
      openai_body(body, r);
      respond(rp, 200, json, t_start);
    }
  } else if (base_len >= 10 && !strncmp(path + base_len - 10, "/responses", 10)) {
    int r = decide_responses(rq->body);
    if (wants_stream(rq->body)) {
      responses_stream(body, r);
      respond(rp, 200, sse, t_start);
    } else {
      responses_body(body, r);
      respond(rp, 200, json, t_start);
    }
  } else if (base_len >= 9 && !strncmp(path + base_len - 9, "/messages", 9)) {
    int r = decide_anthropic(rq->body);
    if (wants_stream(rq->body)) {
      anthropic_stream(body, r);
      respond(rp, 200, sse, t_start);
    } else {
      anthropic_body(body, r);
      respond(rp, 200, json, t_start);
    }
  } else if (strstr(path, ":streamGenerateContent")) {
    gemini_stream(body, decide_gemini(rq->body));
    respond(rp, 200, sse, t_start);
  } else if (strstr(path, ":generateContent")) {
    int r = decide_gemini(rq->body);
    gemini_body(body, r, words_for(r), N_WORDS, true);
    respond(rp, 200, json, t_start);
  } else {
    buf_printf(body, "{\"error\":{\"message\":\"mock server: no route for %s %s\",\"type\":\"not_found\"}}",
               rq->method, path);
    respond(rp, 404, json, t_start);
  }
}

/* ---- HTTP/1.1 --------------------------------------------------------------- */

/* Status line, headers and body into `out`, for one send. */
static void http1_serialise(buf *out, const reply *rp, bool keep_alive) {
  const char *reason = rp->status == 200 ? "OK" : "Not Found";
  if (rp->model)
    buf_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                    "Connection: %s\r\nx-mock-service-us: %.3f\r\nx-request-id: req_mock\r\n\r\n",
               rp->status, reason, rp->ctype, rp->body.len, keep_alive ? "keep-alive" : "close",
               rp->service_us);
  else
    buf_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", rp->status,
               reason, rp->ctype, rp->body.len);
  buf_add(out, rp->body.data ? rp->body.data : "", rp->body.len);
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

/* ---- connections and the event loop ---------------------------------------- */

#ifdef HL_MOCK_H2C
#include <nghttp2/nghttp2.h>
typedef struct h2_stream h2_stream;
#endif

typedef struct conn {
  int fd;                /* -1 once closed */
  char *in;
  size_t len, cap;
  buf out;               /* bytes not yet sent */
  size_t out_off;
  bool want_out;         /* EPOLLOUT registered */
  bool close_after;      /* "Connection: close" answered */
  int queued;            /* delayed answers not yet sent */
  bool sniffed;          /* protocol known (HTTP/1.1 or h2c) */
#ifdef HL_MOCK_TLS
  mock_tls *tls;         /* --tls: the connection's TLS (NULL in cleartext) */
#endif
#ifdef HL_MOCK_H2C
  nghttp2_session *h2;   /* h2c with prior knowledge: the session */
  h2_stream *streams;    /* open streams (freed with the connection) */
#endif
} conn;

/* A delayed answer. Equal delays: a FIFO is ordered by due time. */
typedef struct delayed {
  conn *c;
  uint64_t due_ns;
  buf out;               /* HTTP/1.1: the bytes to send */
  reply rp;              /* h2c: the answer, for stream `stream_id` */
  int32_t stream_id;     /* 0: HTTP/1.1 */
  bool close_after;
  struct delayed *next;
} delayed;

static int g_ep;
static delayed *g_dhead, *g_dtail;

static void h2_conn_free(conn *c);

static void conn_free_if_done(conn *c) {
  if (c->fd < 0 && c->queued == 0) {
    h2_conn_free(c);
#ifdef HL_MOCK_TLS
    mock_tls_free(c->tls);
#endif
    free(c->in);
    free(c->out.data);
    free(c);
  }
}

/* recv()/send() on the connection, through TLS when it has it. */
static ssize_t conn_recv(conn *c, char *data, size_t n) {
#ifdef HL_MOCK_TLS
  if (c->tls) return mock_tls_read(c->tls, data, n);
#endif
  return recv(c->fd, data, n, 0);
}

static ssize_t conn_send(conn *c, const char *data, size_t n) {
#ifdef HL_MOCK_TLS
  if (c->tls) return mock_tls_write(c->tls, data, n);
#endif
  return send(c->fd, data, n, MSG_NOSIGNAL);
}

/* TLS must write before it can go on reading (a handshake message that
 * did not fit the socket): the loop waits for EPOLLOUT. */
static bool conn_tls_blocked_on_write(const conn *c) {
#ifdef HL_MOCK_TLS
  return c->tls && mock_tls_wants_write(c->tls);
#else
  (void)c;
  return false;
#endif
}

static void conn_close(conn *c) {
  if (c->fd >= 0) {
    epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
  }
  conn_free_if_done(c);
}

static void delay_answer(delayed *d, conn *c, uint64_t t_start) {
  d->c = c;
  d->due_ns = t_start + g_delay_ns;
  c->queued++;
  if (g_dtail) g_dtail->next = d;
  else g_dhead = d;
  g_dtail = d;
}

/* Send what is pending; register for EPOLLOUT while something remains.
 * False if the connection was closed. */
static bool conn_flush(conn *c) {
  while (c->out_off < c->out.len) {
    ssize_t w = conn_send(c, c->out.data + c->out_off, c->out.len - c->out_off);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      conn_close(c);
      return false;
    }
    c->out_off += (size_t)w;
  }
  bool pending = c->out_off < c->out.len;
  if (!pending) {
    c->out.len = c->out_off = 0;
    if (c->close_after) {
      conn_close(c);
      return false;
    }
  }
  pending = pending || conn_tls_blocked_on_write(c);
  if (pending != c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN | (pending ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = pending;
  }
  return true;
}

/* ---- h2c (HTTP/2 over cleartext TCP, prior knowledge) ----------------------
 *
 * A connection whose first bytes are the HTTP/2 client preface is served
 * by an nghttp2 server session: requests are streams, answers are the
 * same replies as over HTTP/1.1 (status, content-type, content-length,
 * x-mock-service-us, then the body as DATA frames), delayed by the same
 * FIFO of due times. The server's SETTINGS allow 100,000 concurrent
 * streams per connection (--h2-max-streams N: N, as a real server's lower
 * limit, e.g. 100 to 256) and a 1 GiB connection window, so that a client
 * may put every session on one connection; what it does is its choice
 * (GET /stats counts connections, "h2_connections" those that were h2c).
 * Same thread, same epoll loop: nghttp2 only turns bytes into frames
 * (nghttp2_session_mem_recv/mem_send), the sockets stay ours. */
#ifdef HL_MOCK_H2C
struct h2_stream {
  int32_t id;
  char method[8];
  char path[512];
  buf body_in;           /* the request body */
  reply rp;              /* the answer being sent */
  size_t sent;           /* of rp.body */
  h2_stream *prev, *next;
};

static const char H2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

static void h2_stream_free(h2_stream *st) {
  free(st->body_in.data);
  free(st->rp.body.data);
  free(st);
}

static void h2_conn_free(conn *c) {
  if (c->h2) nghttp2_session_del(c->h2);
  c->h2 = NULL;
  while (c->streams) {
    h2_stream *next = c->streams->next;
    h2_stream_free(c->streams);
    c->streams = next;
  }
}

static int h2_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *user) {
  conn *c = user;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  h2_stream *st = calloc(1, sizeof *st);
  if (!st) return NGHTTP2_ERR_CALLBACK_FAILURE;
  st->id = f->hd.stream_id;
  st->next = c->streams;
  if (c->streams) c->streams->prev = st;
  c->streams = st;
  nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
  return 0;
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *user) {
  (void)flags;
  (void)user;
  if (f->hd.type != NGHTTP2_HEADERS) return 0;
  h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
  if (!st) return 0;
  if (namelen == 7 && !memcmp(name, ":method", 7))
    snprintf(st->method, sizeof st->method, "%.*s", (int)valuelen, (const char *)value);
  else if (namelen == 5 && !memcmp(name, ":path", 5))
    snprintf(st->path, sizeof st->path, "%.*s", (int)valuelen, (const char *)value);
  return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                      size_t len, void *user) {
  (void)flags;
  (void)user;
  h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
  if (st) buf_add(&st->body_in, (const char *)data, len);
  return 0;
}

static ssize_t h2_read_body(nghttp2_session *s, int32_t id, uint8_t *out, size_t length,
                            uint32_t *data_flags, nghttp2_data_source *source, void *user) {
  (void)s;
  (void)id;
  (void)user;
  h2_stream *st = source->ptr;
  size_t left = st->rp.body.len - st->sent;
  size_t n = left < length ? left : length;
  if (n) memcpy(out, st->rp.body.data + st->sent, n);
  st->sent += n;
  if (st->sent == st->rp.body.len) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* Answer stream `id` with `rp` (taken). */
static void h2_submit(conn *c, int32_t id, reply *rp) {
  h2_stream *st = c->h2 ? nghttp2_session_get_stream_user_data(c->h2, id) : NULL;
  if (!st) { /* the client reset the stream meanwhile */
    free(rp->body.data);
    return;
  }
  st->rp = *rp;
  st->sent = 0;
  char status[8], clen[24], service[32];
  snprintf(status, sizeof status, "%d", rp->status);
  snprintf(clen, sizeof clen, "%zu", rp->body.len);
  snprintf(service, sizeof service, "%.3f", rp->service_us);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv nva[] = {NV(":status", status), NV("content-type", rp->ctype),
                      NV("content-length", clen), NV("x-mock-service-us", service),
                      NV("x-request-id", "req_mock")};
#undef NV
  nghttp2_data_provider prd = {.source.ptr = st, .read_callback = h2_read_body};
  nghttp2_submit_response(c->h2, id, nva, rp->model ? 5 : 3, &prd);
}

/* Stream `id`'s request is complete: answer it now or when due. */
static int h2_request_done(conn *c, int32_t id, h2_stream *st) {
  request rq;
  memset(&rq, 0, sizeof rq);
  memcpy(rq.method, st->method, sizeof rq.method);
  memcpy(rq.path, st->path, sizeof rq.path);
  rq.keep_alive = true;
  buf_reserve(&st->body_in, 0); /* a NUL-terminated body, also when empty */
  rq.body = st->body_in.data;
  rq.body_len = st->body_in.len;
  uint64_t t_start = now_ns();
  reply rp;
  memset(&rp, 0, sizeof rp);
  handle(&rp, &rq, t_start);
  if (rp.model && g_delay_ns > 0) {
    delayed *d = calloc(1, sizeof *d);
    if (!d) {
      free(rp.body.data);
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    d->rp = rp;
    d->stream_id = id;
    delay_answer(d, c, t_start);
    return 0;
  }
  h2_submit(c, id, &rp);
  return 0;
}

static int h2_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *user) {
  if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
      !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
  return st ? h2_request_done(user, f->hd.stream_id, st) : 0;
}

static int h2_on_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *user) {
  (void)error_code;
  conn *c = user;
  h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
  if (!st) return 0;
  nghttp2_session_set_stream_user_data(s, id, NULL);
  if (st->prev) st->prev->next = st->next;
  else c->streams = st->next;
  if (st->next) st->next->prev = st->prev;
  h2_stream_free(st);
  return 0;
}

static nghttp2_session_callbacks *g_h2_cbs;
static uint32_t g_h2_max_streams = 100000; /* --h2-max-streams */
static long g_h2_settings_late_ms;         /* --h2-settings-late-ms */

static bool h2_start(conn *c) {
  if (!g_h2_cbs) {
    if (nghttp2_session_callbacks_new(&g_h2_cbs) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_headers_callback(g_h2_cbs, h2_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(g_h2_cbs, h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g_h2_cbs, h2_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(g_h2_cbs, h2_on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(g_h2_cbs, h2_on_close);
  }
  if (nghttp2_session_server_new(&c->h2, g_h2_cbs, c) != 0) return false;
  c->sniffed = true;
  if (g_h2_settings_late_ms > 0) {
    /* The client is connected already (its handshake ended with our
     * Finished) and sends its requests meanwhile. */
    struct timespec late = {.tv_sec = g_h2_settings_late_ms / 1000,
                            .tv_nsec = (g_h2_settings_late_ms % 1000) * 1000000L};
    while (nanosleep(&late, &late) != 0 && errno == EINTR) {
    }
  }
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, g_h2_max_streams},
                                 {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20}};
  nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
  nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 1 << 30);
  g_h2_connections++;
  return true;
}

/* Frames nghttp2 has ready, onto the socket. False if the connection closed. */
static bool h2_flush(conn *c) {
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(c->h2, &data);
    if (n < 0) {
      conn_close(c);
      return false;
    }
    if (n == 0) break;
    buf_add(&c->out, (const char *)data, (size_t)n);
  }
  if (!conn_flush(c)) return false;
  if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
      c->out_off >= c->out.len) {
    conn_close(c);
    return false;
  }
  return true;
}

/* Bytes read on an h2c connection: into the session. */
static void h2_readable(conn *c) {
  ssize_t r = nghttp2_session_mem_recv(c->h2, (const uint8_t *)c->in, c->len);
  c->len = 0;
  if (r < 0) {
    conn_close(c);
    return;
  }
  h2_flush(c);
}

/* HTTP/1.1 or h2c? Decided by the first bytes: 1 h2c, 0 HTTP/1.1, -1 not
 * known yet (a prefix of the preface). */
static int sniff(conn *c) {
  size_t n = c->len < H2_PREFACE_LEN ? c->len : H2_PREFACE_LEN;
  if (memcmp(c->in, H2_PREFACE, n) != 0) return 0;
  return n == H2_PREFACE_LEN ? 1 : -1;
}
#else
static void h2_conn_free(conn *c) { (void)c; }
#endif

/* ---- HTTP/1.1 connections ---------------------------------------------------- */

/* One complete request at the start of c->in: its total length, 0 if
 * incomplete (more bytes needed), or -1 on garbage. Decodes a chunked body
 * in place (the buffer then shrinks). */
static long parse_request(conn *c, request *rq) {
  char *hdr_end = c->len >= 4 ? memmem(c->in, c->len, "\r\n\r\n", 4) : NULL;
  if (!hdr_end) return c->len > (1u << 20) ? -1 : 0;
  size_t off = (size_t)(hdr_end + 4 - c->in);
  *hdr_end = '\0';   /* headers become a C string; restored below if incomplete */
  const char *cl = header_value(c->in, hdr_end, "Content-Length");
  const char *te = header_value(c->in, hdr_end, "Transfer-Encoding");
  const char *conn_h = header_value(c->in, hdr_end, "Connection");
  bool chunked = te && !strncasecmp(te, "chunked", 7);
  size_t need;
  if (chunked) {
    size_t consumed = 0;
    char *probe = malloc(c->len - off + 1);
    if (!probe) return -1;
    memcpy(probe, c->in + off, c->len - off);
    long blen = dechunk(probe, c->len - off, &consumed);
    if (blen < 0) {
      free(probe);
      *hdr_end = '\r';
      return 0;
    }
    memcpy(c->in + off, probe, (size_t)blen);
    free(probe);
    size_t rest = c->len - off - consumed;
    memmove(c->in + off + (size_t)blen, c->in + off + consumed, rest);
    c->len = off + (size_t)blen + rest;
    need = off + (size_t)blen;
  } else {
    need = off + (cl ? strtoul(cl, NULL, 10) : 0);
    if (c->len < need) {
      *hdr_end = '\r';
      return 0;
    }
  }
  memset(rq, 0, sizeof *rq);
  sscanf(c->in, "%7s %511s", rq->method, rq->path);
  rq->keep_alive = !(conn_h && !strncasecmp(conn_h, "close", 5));
  rq->body = c->in + off;
  rq->body_len = need - off;
  return (long)need;
}

static void conn_readable(conn *c) {
  for (;;) {
    if (c->len + 1 >= c->cap) {
      size_t nc = c->cap * 2;
      char *p = realloc(c->in, nc);
      if (!p) {
        conn_close(c);
        return;
      }
      c->in = p;
      c->cap = nc;
    }
    ssize_t r = conn_recv(c, c->in + c->len, c->cap - c->len - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (r <= 0) {
      conn_close(c);
      return;
    }
    c->len += (size_t)r;
  }
#ifdef HL_MOCK_TLS
  if (c->tls) {
    /* Handshake still under way: wait (for EPOLLOUT if TLS must write). */
    if (!mock_tls_ready(c->tls)) {
      conn_flush(c);
      return;
    }
    /* ALPN decided the protocol; an h2 client still sends the preface,
     * which the nghttp2 session reads. */
    if (!c->sniffed) {
      c->sniffed = true;
#ifdef HL_MOCK_H2C
      if (mock_tls_h2(c->tls) && !h2_start(c)) {
        conn_close(c);
        return;
      }
#endif
    }
  }
#endif
#ifdef HL_MOCK_H2C
  if (!c->sniffed) {
    int h2 = sniff(c);
    if (h2 < 0) return;
    c->sniffed = true;
    if (h2 && !h2_start(c)) {
      conn_close(c);
      return;
    }
  }
  if (c->h2) {
    h2_readable(c);
    return;
  }
#endif
  for (;;) {
    request rq;
    long need = parse_request(c, &rq);
    if (need < 0) {
      conn_close(c);
      return;
    }
    if (need == 0) break;
    uint64_t t_start = now_ns();
    char saved = c->in[need];
    c->in[need] = '\0';
    reply rp;
    memset(&rp, 0, sizeof rp);
    handle(&rp, &rq, t_start);
    c->in[need] = saved;
    memmove(c->in, c->in + need, c->len - (size_t)need);
    c->len -= (size_t)need;
    buf out = {0};
    http1_serialise(&out, &rp, rq.keep_alive);
    free(rp.body.data);
    if (rp.model && g_delay_ns > 0) {
      delayed *d = calloc(1, sizeof *d);
      if (!d) {
        free(out.data);
        conn_close(c);
        return;
      }
      d->out = out;
      d->close_after = !rq.keep_alive;
      delay_answer(d, c, t_start);
      continue;
    }
    buf_add(&c->out, out.data ? out.data : "", out.len);
    free(out.data);
    if (!rq.keep_alive) c->close_after = true;
    if (!conn_flush(c)) return;
  }
}

/* Send the delayed answers that are due. The h2c connections that got one
 * are flushed once at the end (one send for all their streams). */
static void send_due(void) {
  uint64_t now = now_ns();
#ifdef HL_MOCK_H2C
  conn *touched[256];
  size_t n_touched = 0;
#endif
  while (g_dhead && g_dhead->due_ns <= now) {
    delayed *d = g_dhead;
    g_dhead = d->next;
    if (!g_dhead) g_dtail = NULL;
    conn *c = d->c;
    uint64_t late = now - d->due_ns;
    g_late_ns_sum += late;
    g_late_n++;
    if (late > g_late_ns_max) g_late_ns_max = late;
    if (c->fd >= 0 && d->stream_id) {
#ifdef HL_MOCK_H2C
      h2_submit(c, d->stream_id, &d->rp);
      d->rp.body.data = NULL;
      size_t k = 0;
      while (k < n_touched && touched[k] != c) k++;
      if (k == n_touched) {
        if (n_touched == sizeof touched / sizeof *touched) {
          /* Full: flush the oldest now and let it go. */
          conn *old = touched[0];
          old->queued--;
          if (old->fd >= 0) h2_flush(old);
          else conn_free_if_done(old);
          touched[0] = c;
        } else {
          touched[n_touched++] = c;
        }
        c->queued++; /* held until flushed */
      }
#endif
      c->queued--;
    } else if (c->fd >= 0) {
      c->queued--;
      buf_add(&c->out, d->out.data ? d->out.data : "", d->out.len);
      if (d->close_after) c->close_after = true;
      conn_flush(c);
    } else {
      c->queued--;
      conn_free_if_done(c);
    }
    free(d->out.data);
    free(d->rp.body.data);
    free(d);
  }
#ifdef HL_MOCK_H2C
  for (size_t k = 0; k < n_touched; k++) {
    conn *c = touched[k];
    c->queued--;
    if (c->fd >= 0) h2_flush(c);
    else conn_free_if_done(c);
  }
#endif
}

static void accept_all(int ls) {
  int one = 1;
  for (;;) {
    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return; /* EAGAIN, or EMFILE: try again at the next wake-up */
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn *c = calloc(1, sizeof *c);
    if (c) c->in = malloc(c->cap = 16384);
    if (!c || !c->in) {
      if (c) free(c);
      close(fd);
      continue;
    }
    c->fd = fd;
#ifdef HL_MOCK_TLS
    if (g_tls && !(c->tls = mock_tls_new(fd))) {
      free(c->in);
      free(c);
      close(fd);
      continue;
    }
#endif
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
#ifdef HL_MOCK_TLS
      mock_tls_free(c->tls);
#endif
      free(c->in);
      free(c);
      close(fd);
      continue;
    }
    g_connections++;
  }
}

int main(int argc, char **argv) {
  int port = 0;
#ifdef HL_MOCK_H2C
  g_h2c_built = true;
#endif
  const char *tls_dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--delay-ms") && i + 1 < argc) g_delay_ns = (uint64_t)atol(argv[++i]) * 1000000u;
    else if (!strcmp(argv[i], "--tls") && i + 1 < argc) tls_dir = argv[++i];
#ifdef HL_MOCK_H2C
    else if (!strcmp(argv[i], "--h2-max-streams") && i + 1 < argc) g_h2_max_streams = (uint32_t)atol(argv[++i]);
    else if (!strcmp(argv[i], "--h2-settings-late-ms") && i + 1 < argc) g_h2_settings_late_ms = atol(argv[++i]);
#endif
    else port = atoi(argv[i]);
  }
  if (tls_dir) {
#ifdef HL_MOCK_TLS
    char err[512];
    if (!mock_tls_setup(tls_dir, g_h2c_built, err, sizeof err)) {
      fprintf(stderr, "mock server: --tls %s: %s\n", tls_dir, err);
      return 1;
    }
    g_tls = true;
#else
    fprintf(stderr, "mock server: --tls: built without OpenSSL (libssl-dev, scripts/setup.d/tls.sh)\n");
    return 3;
#endif
  }
  signal(SIGPIPE, SIG_IGN);
  /* Thousands of clients at once: take every file descriptor allowed. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) || listen(ls, 65535)) {
    perror("mock server: bind/listen");
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(ls, (struct sockaddr *)&addr, &alen);
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  if (g_ep < 0 || epoll_ctl(g_ep, EPOLL_CTL_ADD, ls, &lev) != 0) {
    perror("mock server: epoll");
    return 1;
  }
  printf("port %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  struct epoll_event evs[512];
  for (;;) {
    int timeout = -1;
    if (g_dhead) {
      uint64_t now = now_ns();
      timeout = g_dhead->due_ns <= now ? 0 : (int)((g_dhead->due_ns - now + 999999) / 1000000);
    }
    int n = epoll_wait(g_ep, evs, 512, timeout);
    if (n < 0 && errno != EINTR) {
      perror("mock server: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (!c) {
        accept_all(ls);
        continue;
      }
      if (c->fd < 0) continue;
      bool tls_wait = conn_tls_blocked_on_write(c);
      if (evs[i].events & EPOLLOUT) {
        if (!conn_flush(c)) continue;
      }
      if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || (tls_wait && (evs[i].events & EPOLLOUT)))
        conn_readable(c);
    }
    send_due();
  }
}
