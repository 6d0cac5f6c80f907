/*
 * tests/plugins/test_response_cache.c - the response cache answers repeated
 * requests without calling the model, keyed by a hash of the request.
 */
#include <pthread.h>

#include "check.h"
#include "fixture.h"

/* hooks/request_hash.c (internal; tests link the static library). */
uint64_t hl__fnv1a64(const char *s, size_t len);

static void cache_hit_skips_the_model(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "Paris");
  hl_scripted_push_text(p, "Rome");
  hl_agent *agent = fx_agent("geo", p);
  hl_response_cache *cache = hl_response_cache_new(8);
  REQUIRE(cache);
  REQUIRE(hl_response_cache_install(cache, hl_agent_hooks(agent)) == HL_OK);

  hl_session *s1 = hl_session_new(NULL, NULL, "s1");
  hl_session *s2 = hl_session_new(NULL, NULL, "s2");
  hl_session *s3 = hl_session_new(NULL, NULL, "s3");
  char *a1 = NULL, *a2 = NULL, *a3 = NULL;
  CHECK_INT(hl_agent_run(agent, s1, "capital of France?", &a1), HL_OK);
  CHECK(hl_agent_last_usage(agent).input_tokens >= 0);
  /* Same conversation on a fresh session: the same request, a hit. */
  CHECK_INT(hl_agent_run(agent, s2, "capital of France?", &a2), HL_OK);
  hl_usage u = hl_agent_last_usage(agent);
  CHECK_INT(u.input_tokens + u.output_tokens, 0);
  /* A different question misses and reaches the model. */
  CHECK_INT(hl_agent_run(agent, s3, "capital of Italy?", &a3), HL_OK);
  CHECK_STR(a1, "Paris");
  CHECK_STR(a2, "Paris");
  CHECK_STR(a3, "Rome");
  CHECK_INT(hl_scripted_request_count(p), 2);
  CHECK_INT(hl_response_cache_hits(cache), 1);
  CHECK_INT(hl_response_cache_misses(cache), 2);
  CHECK_INT(hl_response_cache_size(cache), 2);
  /* The hit was written to the session like a real answer. */
  const hl_messages *hist = hl_session_messages(s2);
  REQUIRE(hist->count >= 2);
  char *last = hl_message_text(hist->items[hist->count - 1]);
  CHECK_STR(last, "Paris");
  hl_free(last);

  hl_response_cache_clear(cache);
  CHECK_INT(hl_response_cache_size(cache), 0);
  hl_free(a1);
  hl_free(a2);
  hl_free(a3);
  hl_session_free(s1);
  hl_session_free(s2);
  hl_session_free(s3);
  hl_response_cache_unref(cache);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void cache_replays_tool_call_turns(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "lookup", "{\"q\":\"x\"}");
  hl_scripted_push_text(p, "found it");
  hl_agent *agent = fx_agent("tooly", p);
  fx_counter counter = {0};
  hl_tool *t = fx_echo_tool("lookup", &counter);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_response_cache *cache = hl_response_cache_new(4);
  REQUIRE(hl_response_cache_install(cache, hl_agent_hooks(agent)) == HL_OK);
  for (int i = 0; i < 2; i++) {
    hl_session *s = hl_session_new(NULL, NULL, "same");
    CHECK_RUN(agent, s, "look x up", "found it");
    hl_session_free(s);
  }
  /* Both turns of the second run came from the cache; the tool still ran. */
  CHECK_INT(hl_scripted_request_count(p), 2);
  CHECK_INT(hl_response_cache_hits(cache), 2);
  CHECK_INT(hl_response_cache_misses(cache), 2);
  CHECK_INT(atomic_load(&counter.calls), 2);
  hl_response_cache_unref(cache);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void cache_evicts_least_recently_used(void)
{
  hl_provider *p = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(p, "{\"rules\":[{\"match\":\"(.*)\","
                                    "\"steps\":[{\"text\":\"re: $1\"}]}]}") == HL_OK);
  hl_agent *agent = fx_agent("lru", p);
  hl_response_cache *cache = hl_response_cache_new(2);
  REQUIRE(hl_response_cache_install(cache, hl_agent_hooks(agent)) == HL_OK);
  const char *inputs[] = {"a", "b", "a", "c", "b", "a"};
  /* a miss, b miss, a hit (a most recent), c miss evicts b, b miss evicts a,
   * a miss. */
  for (size_t i = 0; i < 6; i++) {
    hl_session *s = hl_session_new(NULL, NULL, "x");
    char *ans = NULL;
    CHECK_INT(hl_agent_run(agent, s, inputs[i], &ans), HL_OK);
    char want[16];
    snprintf(want, sizeof want, "re: %s", inputs[i]);
    CHECK_STR(ans, want);
    hl_free(ans);
    hl_session_free(s);
    CHECK(hl_response_cache_size(cache) <= 2);
  }
  CHECK_INT(hl_response_cache_hits(cache), 1);
  CHECK_INT(hl_response_cache_misses(cache), 5);
  CHECK_INT(hl_scripted_request_count(p), 5);
  hl_response_cache_unref(cache);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void cache_does_not_store_failures(void)
{
  hl_provider *p = hl_scripted_new();   /* empty: every call fails */
  hl_agent *agent = fx_agent("fails", p);
  hl_response_cache *cache = hl_response_cache_new(2);
  REQUIRE(hl_response_cache_install(cache, hl_agent_hooks(agent)) == HL_OK);
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "q", &ans), HL_ERR_PROVIDER);
  CHECK_INT(hl_response_cache_size(cache), 0);
  hl_scripted_push_text(p, "now it works");
  hl_session *s = hl_session_new(NULL, NULL, NULL);
  CHECK_RUN(agent, s, "q", "now it works");
  hl_session_free(s);
  hl_response_cache_unref(cache);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void request_hash_is_canonical(void)
{
  const char *one =
      "{\"model\":\"m\",\"temperature\":0.5,\"messages\":[{\"role\":\"user\","
      "\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]}";
  const char *two =
      "{\"messages\":[{\"content\":[{\"text\":\"hi\",\"type\":\"text\"}],"
      "\"role\":\"user\"}],\"temperature\":0.5,\"model\":\"m\"}";
  const char *other =
      "{\"model\":\"m\",\"temperature\":0.5,\"messages\":[{\"role\":\"user\","
      "\"content\":[{\"type\":\"text\",\"text\":\"ho\"}]}]}";
  cJSON *j1 = cJSON_Parse(one), *j2 = cJSON_Parse(two), *j3 = cJSON_Parse(other);
  hl_request *r1 = NULL, *r2 = NULL, *r3 = NULL;
  REQUIRE(hl_request_from_json(j1, &r1) == HL_OK);
  REQUIRE(hl_request_from_json(j2, &r2) == HL_OK);
  REQUIRE(hl_request_from_json(j3, &r3) == HL_OK);
  uint64_t h1 = 0, h2 = 0, h3 = 0, h4 = 0;
  CHECK_INT(hl_request_hash(r1, &h1), HL_OK);
  CHECK_INT(hl_request_hash(r2, &h2), HL_OK);
  CHECK_INT(hl_request_hash(r3, &h3), HL_OK);
  CHECK(h1 == h2);
  CHECK(h1 != h3);
  /* Streaming does not change the key. */
  r1->stream = true;
  CHECK_INT(hl_request_hash(r1, &h4), HL_OK);
  CHECK(h4 == h2);
  /* Keys come out sorted. */
  char *canon = NULL;
  CHECK_INT(hl_request_canonical_json(r2, &canon), HL_OK);
  CHECK(canon && strstr(canon, "\"messages\"") < strstr(canon, "\"model\""));
  CHECK_CONTAINS(canon, "{\"text\":\"hi\",\"type\":\"text\"}");
  CHECK(!strstr(canon, "\"stream\""));
  hl_free(canon);
  /* The hash is FNV-1a 64 of the canonical text (known test vectors). */
  CHECK(hl__fnv1a64("", 0) == 0xcbf29ce484222325ULL);
  CHECK(hl__fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
  CHECK_INT(hl_request_canonical_json(r3, &canon), HL_OK);
  CHECK(canon && hl__fnv1a64(canon, strlen(canon)) == h3);
  hl_free(canon);
  CHECK_INT(hl_request_hash(NULL, &h1), HL_ERR_INVALID);
  CHECK(hl_response_cache_new(0) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  cJSON_Delete(j1);
  cJSON_Delete(j2);
  cJSON_Delete(j3);
  hl_request_free(r1);
  hl_request_free(r2);
  hl_request_free(r3);
}

/* Several agents on several threads share one cache. */
typedef struct worker {
  hl_provider *provider;
  hl_response_cache *cache;
  int runs;
  int ok;
} worker;

static void *worker_main(void *arg)
{
  worker *w = arg;
  hl_agent *agent = fx_agent("shared", w->provider);
  hl_response_cache_install(w->cache, hl_agent_hooks(agent));
  for (int i = 0; i < w->runs; i++) {
    hl_session *s = hl_session_new(NULL, NULL, "t");
    char *ans = NULL;
    /* Two distinct questions, alternating. */
    if (hl_agent_run(agent, s, (i % 2) ? "odd" : "even", &ans) == HL_OK &&
        ans && strncmp(ans, "re: ", 4) == 0)
      w->ok++;
    hl_free(ans);
    hl_session_free(s);
  }
  hl_agent_unref(agent);
  return NULL;
}

static void cache_shared_across_threads(void)
{
  hl_provider *p = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(p, "{\"rules\":[{\"match\":\"(.*)\","
                                    "\"steps\":[{\"text\":\"re: $1\"}]}]}") == HL_OK);
  hl_response_cache *cache = hl_response_cache_new(16);
  enum { THREADS = 8, RUNS = 25 };
  pthread_t th[THREADS];
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){p, cache, RUNS, 0};
    pthread_create(&th[i], NULL, worker_main, &w[i]);
  }
  int ok = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    ok += w[i].ok;
  }
  CHECK_INT(ok, THREADS * RUNS);
  uint64_t hits = hl_response_cache_hits(cache), misses = hl_response_cache_misses(cache);
  CHECK_INT(hits + misses, THREADS * RUNS);
  /* Every miss, and only a miss, reached the model. */
  CHECK_INT(hl_scripted_request_count(p), misses);
  CHECK(misses >= 2);
  CHECK(hits >= (uint64_t)(THREADS * RUNS) - (uint64_t)THREADS * 2);
  CHECK_INT(hl_response_cache_size(cache), 2);
  hl_response_cache_unref(cache);
  hl_provider_unref(p);
}

int main(void)
{
  RUN(cache_hit_skips_the_model);
  RUN(cache_replays_tool_call_turns);
  RUN(cache_evicts_least_recently_used);
  RUN(cache_does_not_store_failures);
  RUN(request_hash_is_canonical);
  RUN(cache_shared_across_threads);
  return CHECK_EXIT();
}
