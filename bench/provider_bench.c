/*
 * bench/provider_bench.c - the cost of hookline's OpenAI provider per request,
 * next to a minimal libcurl loop on the same keep-alive loopback server.
 *
 * Both loops send the same chat request to the mock server
 * (bench/mock_server.c) over one reused connection and wait for the whole
 * answer; the provider also encodes the request from hl_request and decodes
 * the response into hl_response. Each figure is wall time per request minus
 * the server's own service time, so the difference between the two is what
 * the provider adds on top of libcurl. The two alternate request by request
 * so that both see the same machine load, and medians are reported (means
 * too) to keep preemption spikes on a busy machine out of the comparison.
 *
 *   hl-bench-providers --url http://127.0.0.1:PORT [--requests 2000] [--rounds 5]  (of each)
 *
 * Prints one JSON object:
 *   {"requests":..,"raw_curl_us":..,"client_overhead_us":..,"delta_us":..,...}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <hookline.h>

#include "bench_util.h"

/* What hookline's provider sends for the request built in make_request()
 * is of the same size; the raw loop posts this fixed body. */
static const char *RAW_BODY =
    "{\"model\":\"mock-model\",\"messages\":[{\"role\":\"system\",\"content\":"
    "\"You are a benchmark agent.\"},{\"role\":\"user\",\"content\":\"Say hello.\"}]}";

static size_t sink(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  *(size_t *)ud += size * n;
  return size * n;
}

typedef struct raw_loop {
  CURL *h;
  struct curl_slist *headers;
  size_t received;
} raw_loop;

static bool raw_init(raw_loop *r, const char *url) {
  char full[1024];
  snprintf(full, sizeof full, "%s/v1/chat/completions", url);
  r->h = curl_easy_init();
  if (!r->h) return false;
  r->headers = curl_slist_append(NULL, "Content-Type: application/json");
  r->headers = curl_slist_append(r->headers, "Authorization: Bearer sk-bench-dummy");
  curl_easy_setopt(r->h, CURLOPT_URL, full);
  curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, RAW_BODY);
  curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(r->h, CURLOPT_WRITEDATA, &r->received);
  curl_easy_setopt(r->h, CURLOPT_TCP_NODELAY, 1L);
  return true;
}

static bool raw_request(raw_loop *r) {
  long code = 0;
  if (curl_easy_perform(r->h) != CURLE_OK) return false;
  curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
  return code == 200;
}

static hl_request *make_request(void) {
  hl_request *req = hl_request_new();
  if (!req) return NULL;
  hl_request_set_model(req, "mock-model");
  if (hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_SYSTEM, "You are a benchmark agent.")) ||
      hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_USER, "Say hello."))) {
    hl_request_free(req);
    return NULL;
  }
  return req;
}

static bool provider_request(hl_provider *p, const hl_request *req) {
  hl_response *resp = NULL;
  hl_status st = hl_provider_complete(p, NULL, req, &resp);
  bool ok = st == HL_OK && resp && resp->message && resp->message->n_parts > 0;
  if (!ok) fprintf(stderr, "provider bench: %s\n", hl_last_error());
  hl_response_free(resp);
  return ok;
}

int main(int argc, char **argv) {
  const char *url = bench_arg(argc, argv, "--url", "http://127.0.0.1:8089");
  long n = atol(bench_arg(argc, argv, "--requests", "2000"));
  int rounds = atoi(bench_arg(argc, argv, "--rounds", "5"));
  if (n < 1 || rounds < 1 || rounds > 64) return 2;
  curl_global_init(CURL_GLOBAL_DEFAULT);

  raw_loop raw = {0};
  char base[1024];
  snprintf(base, sizeof base, "%s/v1", url);
  hl_provider *p = hl_openai_new(base, "sk-bench-dummy");
  hl_request *req = make_request();
  if (!raw_init(&raw, url) || !p || !req) {
    fprintf(stderr, "provider bench: setup failed: %s\n", hl_last_error());
    return 1;
  }
  bool ok = true;
  for (int i = 0; i < 50 && ok; i++) ok = raw_request(&raw) && provider_request(p, req);   /* warm up */

  /* Alternate one raw request and one provider request, so that both see
   * the same machine load, and keep every latency. */
  size_t total = (size_t)n * (size_t)rounds;
  double *raw_lat = malloc(total * sizeof(double)), *prov_lat = malloc(total * sizeof(double));
  double raw_sum = 0, prov_sum = 0, cpu_raw = 0, cpu_prov = 0;
  bench_server_stats s0, s1;
  if (!raw_lat || !prov_lat || !ok || !bench_server_stats_get(url, &s0)) return 1;
  for (size_t i = 0; i < total && ok; i++) {
    double c0 = bench_cpu_us();
    uint64_t t0 = bench_now_ns();
    ok = raw_request(&raw);
    uint64_t t1 = bench_now_ns();
    double c1 = bench_cpu_us();
    ok = ok && provider_request(p, req);
    uint64_t t2 = bench_now_ns();
    cpu_raw += c1 - c0;
    cpu_prov += bench_cpu_us() - c1;
    raw_lat[i] = (double)(t1 - t0) / 1e3;
    prov_lat[i] = (double)(t2 - t1) / 1e3;
    raw_sum += raw_lat[i];
    prov_sum += prov_lat[i];
  }
  if (!ok || !bench_server_stats_get(url, &s1) || s1.requests <= s0.requests) {
    fprintf(stderr, "provider bench: a request failed\n");
    return 1;
  }
  /* Both loops get the same canned answer, so the same server work. */
  double server_us = (s1.service_us - s0.service_us) / (s1.requests - s0.requests);
  double raw_p50 = bench_percentile(raw_lat, total, 50) - server_us;
  double prov_p50 = bench_percentile(prov_lat, total, 50) - server_us;
  double raw_mean = raw_sum / (double)total - server_us;
  double prov_mean = prov_sum / (double)total - server_us;
  printf("{\"system\":\"hookline\",\"benchmark\":\"providers\",\"provider\":\"openai\","
         "\"requests\":%zu,\"raw_curl_us\":%.2f,\"client_overhead_us\":%.2f,\"delta_us\":%.2f,"
         "\"raw_curl_mean_us\":%.2f,\"client_mean_us\":%.2f,\"server_us\":%.2f,"
         "\"raw_curl_cpu_us\":%.2f,\"client_cpu_us\":%.2f,\"peak_rss_mb\":%.1f,"
         "\"note\":\"per request on one keep-alive connection each, minus the server's service "
         "time; medians (means in *_mean_us); raw and client requests alternate\"}\n",
         total, raw_p50, prov_p50, prov_p50 - raw_p50, raw_mean, prov_mean, server_us,
         cpu_raw / (double)total, cpu_prov / (double)total, bench_peak_rss_mb());
  free(raw_lat);
  free(prov_lat);
  hl_request_free(req);
  hl_provider_unref(p);
  curl_slist_free_all(raw.headers);
  curl_easy_cleanup(raw.h);
  curl_global_cleanup();
  return 0;
}
