/*
 * tests/plugins/test_pii.c - the PII scanner on positive and negative
 * samples (Luhn, IBAN mod 97, IP ranges), and the plugin in real runs:
 * requests and tool results masked, streamed chunks masked (findings
 * split across chunks at every byte too), pseudonyms
 * consistent within a run, restored for tools and in the final answer.
 */
#include "check.h"
#include "fixture.h"

/* The kind `text` is found as when it is the whole finding, -1 if it is
 * not found whole. */
static int kind_of(const char *text)
{
  char buf[200];
  snprintf(buf, sizeof buf, "see %s today", text);
  hl_pii_span spans[4];
  size_t n = hl_pii_scan(buf, spans, 4);
  if (n != 1 || spans[0].start != 4 || spans[0].len != strlen(text))
    return n == 0 ? -1 : -2;
  return (int)spans[0].kind;
}

static void scanner_positive_samples(void)
{
  static const struct {
    const char *text;
    hl_pii_kind kind;
  } yes[] = {
      {"alice.smith+tag@example.co.uk", HL_PII_EMAIL},
      {"bob@corp.io", HL_PII_EMAIL},
      {"+44 20 7946 0958", HL_PII_PHONE},
      {"(555) 123-4567", HL_PII_PHONE},
      {"555-123-4567", HL_PII_PHONE},
      {"+4915112345678", HL_PII_PHONE},
      {"4111 1111 1111 1111", HL_PII_CARD},
      {"5500-0000-0000-0004", HL_PII_CARD},
      {"378282246310005", HL_PII_CARD},
      {"4012888888881881", HL_PII_CARD},
      {"DE89 3704 0044 0532 0130 00", HL_PII_IBAN},
      {"GB82WEST12345698765432", HL_PII_IBAN},
      {"FR1420041010050500013M02606", HL_PII_IBAN},
      {"192.168.1.20", HL_PII_IP},
      {"8.8.8.8", HL_PII_IP},
      {"2001:db8::8a2e:370:7334", HL_PII_IP},
      {"fe80::1", HL_PII_IP},
      {"sk-proj-abcdefghijklmnopqrstuvwx", HL_PII_SECRET},
      {"sk-ant-api03-abcdefghijklmnop", HL_PII_SECRET},
      {"AKIAIOSFODNN7EXAMPLE", HL_PII_SECRET},
      {"ghp_abcdefghijklmnopqrstuvwxyz0123456789", HL_PII_SECRET},
      {"AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", HL_PII_SECRET},
      {"Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", HL_PII_SECRET},
  };
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
    int k = kind_of(yes[i].text);
    if (k != (int)yes[i].kind)
      fprintf(stderr, "positive sample \"%s\": got %d, want %s\n", yes[i].text, k,
              hl_pii_kind_name(yes[i].kind));
    CHECK_INT(k, yes[i].kind);
  }
}

static void scanner_negative_samples(void)
{
  static const char *const no[] = {
      "4111 1111 1111 1112",            /* Luhn fails */
      "5500-0000-0000-0005",            /* Luhn fails */
      "1234567890123",                  /* 13 digits, Luhn fails, no groups */
      "DE89 3704 0044 0532 0130 01",    /* mod 97 fails */
      "GB82WEST12345698765433",         /* mod 97 fails */
      "256.1.1.1",                      /* octet > 255 */
      "1.2.3",                          /* three parts */
      "1.2.3.4.5",                      /* a version number, not an address */
      "user@localhost",                 /* no dot in the domain */
      "not-an-email@",                  /* no domain */
      "order 12345678",                 /* a bare number */
      "2026-11-30",                     /* a date */
      "sk-short",                       /* too short for a key */
      "AKIA1234",                       /* too short */
      "Bearer short",                   /* too short */
      "12:30:45",                       /* a time, not IPv6 */
      "the class ab::cd method",        /* not an address */
  };
  for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
    hl_pii_span spans[4];
    size_t n = hl_pii_scan(no[i], spans, 4);
    if (n)
      fprintf(stderr, "negative sample \"%s\": found %s at %zu+%zu\n", no[i],
              hl_pii_kind_name(spans[0].kind), spans[0].start, spans[0].len);
    CHECK_INT(n, 0);
  }
  /* Several in one text, left to right; more than max are still counted. */
  const char *text = "a@b.co, 10.0.0.1 and c@d.org";
  hl_pii_span one[1];
  CHECK_INT(hl_pii_scan(text, one, 1), 3);
  CHECK_INT(one[0].start, 0);
  CHECK_INT(hl_pii_scan(NULL, one, 1), 0);
}

static hl_pii *pii_from(const char *json)
{
  cJSON *o = cJSON_Parse(json);
  hl_pii *p = hl_pii_new(o);
  cJSON_Delete(o);
  return p;
}

static void redact_modes_and_bad_options(void)
{
  hl_pii *mask = pii_from("{}");
  hl_pii *drop = pii_from("{\"mode\": \"drop\"}");
  hl_pii *emails = pii_from("{\"kinds\": [\"email\"]}");
  hl_pii *pseudo = pii_from("{\"mode\": \"pseudonymize\"}");
  REQUIRE(mask && drop && emails && pseudo);
  const char *t = "mail x@y.com from 10.1.2.3 or x@y.com";
  char *r = hl_pii_redact(mask, t);
  CHECK_STR(r, "mail [EMAIL] from [IP] or [EMAIL]");
  hl_free(r);
  r = hl_pii_redact(drop, t);
  CHECK_STR(r, "mail  from  or ");
  hl_free(r);
  r = hl_pii_redact(emails, t);
  CHECK_STR(r, "mail [EMAIL] from 10.1.2.3 or [EMAIL]");
  hl_free(r);
  r = hl_pii_redact(pseudo, t);
  CHECK_STR(r, "mail <EMAIL_1> from <IP_1> or <EMAIL_1>");
  hl_free(r);
  CHECK(hl_pii_redacted(mask) == 3);
  hl_pii_unref(mask);
  hl_pii_unref(drop);
  hl_pii_unref(emails);
  hl_pii_unref(pseudo);
  CHECK(pii_from("{\"mode\": \"blur\"}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.mode: expected \"mask\", \"drop\" or \"pseudonymize\"");
  CHECK(pii_from("{\"kinds\": [\"email\", \"ssn\"]}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.kinds[1]: unknown kind \"ssn\"");
  CHECK(pii_from("{\"chunks\": 1}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.chunks: expected true or false");
}

/* The model never sees the input's PII nor the tool result's. */
static void mask_mode_redacts_requests_and_tool_results(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "lookup", "{\"who\": \"the customer\"}");
  hl_scripted_push_text(p, "done");
  hl_agent *agent = fx_agent("support", p);
  fx_counter c = {0};
  hl_tool *t = fx_echo_tool("lookup", &c);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_plugin *plugin = NULL;
  REQUIRE(hl_plugin_load(hl_agent_hooks(agent), "pii", NULL, &plugin) == HL_OK);
  CHECK_RUN(agent, NULL,
            "I am alice@example.com, card 4111 1111 1111 1111, IBAN DE89370400440532013000", "done");
  char *first = fx_request_last_text(p, 0);
  CHECK_STR(first, "I am [EMAIL], card [CARD], IBAN [IBAN]");
  free(first);
  /* The second request repeats the history: still masked. */
  hl_request *req = hl_scripted_request(p, 1);
  REQUIRE(req);
  char *user = hl_message_text(req->messages.items[1]);
  CHECK_STR(user, "I am [EMAIL], card [CARD], IBAN [IBAN]");
  free(user);
  hl_request_free(req);
  CHECK_INT(atomic_load(&c.calls), 1);
  hl_plugin_free(plugin);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static hl_status card_tool(hl_context *ctx, const cJSON *args, cJSON **result, void *ud)
{
  (void)ctx;
  (void)args;
  (void)ud;
  *result = cJSON_Parse("{\"name\": \"Bob\", \"card\": \"5500-0000-0000-0004\", \"ip\": \"8.8.4.4\"}");
  return *result ? HL_OK : HL_ERR_NOMEM;
}

static void tool_results_are_redacted_before_history(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "account", "{}");
  hl_scripted_push_text(p, "ok");
  hl_agent *agent = fx_agent("support", p);
  hl_tool *t = hl_tool_new("account", "Account record.", card_tool, NULL);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_observer *events = hl_observer_collecting();
  hl_agent_add_observer(agent, events);
  hl_pii *pii = pii_from("{\"requests\": false}");   /* only the after_tool hook */
  REQUIRE(pii && hl_pii_install(pii, hl_agent_hooks(agent)) == HL_OK);
  CHECK_RUN(agent, NULL, "show my account", "ok");
  char *results = fx_request_tool_results(p, 1);
  CHECK_CONTAINS(results, "\"card\":\"[CARD]\"");
  CHECK_CONTAINS(results, "\"ip\":\"[IP]\"");
  CHECK_CONTAINS(results, "\"name\":\"Bob\"");
  CHECK(strstr(results, "5500") == NULL);
  free(results);
  hl_pii_unref(pii);
  hl_observer_unref(events);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

typedef struct streamed {
  char text[512];
} streamed;

static void on_token(const char *delta, void *ud)
{
  streamed *s = ud;
  if (delta)
    strncat(s->text, delta, sizeof s->text - strlen(s->text) - 1);
}

static void streamed_chunks_are_masked(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "Write to carol@example.org or 10.0.0.7 today");
  hl_agent *agent = fx_agent("streamer", p);
  hl_agent_set_stream(agent, true);
  streamed s = {{0}};
  hl_agent_set_token_callback(agent, on_token, &s);
  hl_pii *pii = pii_from("{\"mode\": \"mask\"}");
  REQUIRE(pii && hl_pii_install(pii, hl_agent_hooks(agent)) == HL_OK);
  CHECK_RUN(agent, NULL, "who do I write to?", "Write to [EMAIL] or [IP] today");
  CHECK_STR(s.text, "Write to [EMAIL] or [IP] today");
  hl_pii_unref(pii);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

/* A provider that streams its answer in the pieces it is given, so that
 * a finding can be split at any byte, then answers the joined text. */
typedef struct pieces {
  char piece[3][160];
  size_t n;
} pieces;

static hl_status pieces_complete(void *impl, hl_context *ctx, const hl_request *req, hl_response **out)
{
  (void)req;
  pieces *pc = impl;
  char all[480] = "";
  for (size_t i = 0; i < pc->n; i++) {
    hl_status st = hl_context_emit_delta(ctx, pc->piece[i]);
    if (st != HL_OK)
      return st;
    strcat(all, pc->piece[i]);
  }
  *out = hl_response_new_text(all);
  return *out ? HL_OK : hl_fail(HL_ERR_NOMEM, "out of memory");
}

static const hl_provider_ops pieces_ops = {.size = sizeof(hl_provider_ops), .name = "pieces",
                                           .complete = pieces_complete};

/* `text` streamed cut at `cuts` (ascending byte offsets): the answer and
 * the deltas must both be exactly `want`. */
static bool split_run(hl_agent *agent, pieces *pc, streamed *s, const char *text, const size_t *cuts,
                      size_t n_cuts, const char *want)
{
  size_t at = 0;
  pc->n = 0;
  for (size_t i = 0; i <= n_cuts; i++) {
    size_t end = i < n_cuts ? cuts[i] : strlen(text);
    snprintf(pc->piece[pc->n++], sizeof pc->piece[0], "%.*s", (int)(end - at), text + at);
    at = end;
  }
  s->text[0] = '\0';
  char *answer = NULL;
  hl_status st = hl_agent_run(agent, NULL, "go", &answer);
  bool ok = st == HL_OK && answer && strcmp(answer, want) == 0 && strcmp(s->text, want) == 0;
  if (!ok)
    fprintf(stderr, "cuts %zu/%zu of \"%s\": status %d, answer \"%s\", deltas \"%s\", want \"%s\"\n",
            cuts[0], n_cuts > 1 ? cuts[1] : 0, text, st, answer ? answer : "(null)", s->text, want);
  hl_free(answer);
  return ok;
}

static void findings_split_across_chunks_are_masked(void)
{
  static const struct {
    const char *finding, *mask;
  } cases[] = {
      {"bob.smith@example.com", "[EMAIL]"},
      {"4111 1111 1111 1111", "[CARD]"},                  /* Luhn-valid */
      {"sk-proj-abcdefghijklmnopqrstuvwx", "[SECRET]"},
  };
  pieces pc = {0};
  hl_provider *p = hl_provider_new(&pieces_ops, &pc);
  hl_agent *agent = fx_agent("splitter", p);
  hl_agent_set_stream(agent, true);
  streamed s = {{0}};
  hl_agent_set_token_callback(agent, on_token, &s);
  hl_pii *pii = pii_from("{\"mode\": \"mask\"}");
  REQUIRE(pii && hl_pii_install(pii, hl_agent_hooks(agent)) == HL_OK);
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char text[160], want[160];
    snprintf(text, sizeof text, "Mail %s now.", cases[c].finding);
    snprintf(want, sizeof want, "Mail %s now.", cases[c].mask);
    size_t start = 5, end = 5 + strlen(cases[c].finding);
    int failures = 0;
    /* two chunks: every cut in the whole text */
    for (size_t i = 1; i < strlen(text); i++)
      failures += !split_run(agent, &pc, &s, text, &i, 1, want);
    /* three chunks: both cuts inside the finding */
    for (size_t i = start + 1; i < end; i++)
      for (size_t j = i + 1; j < end; j++)
        failures += !split_run(agent, &pc, &s, text, (size_t[]){i, j}, 2, want);
    CHECK_INT(failures, 0);
  }
  /* text without findings passes whole, its last bytes (which could have
   * started one, so were held back) included */
  const char *plain = "Order 42 of item AB 12: ship it to dock 7 (gate C) at 9.30 ABC 123";
  int failures = 0;
  for (size_t i = 1; i < strlen(plain); i++)
    failures += !split_run(agent, &pc, &s, plain, &i, 1, plain);
  for (size_t i = 1; i + 1 < strlen(plain); i += 16)
    for (size_t j = i + 1; j < strlen(plain); j++)
      failures += !split_run(agent, &pc, &s, plain, (size_t[]){i, j}, 2, plain);
  CHECK_INT(failures, 0);
  hl_pii_unref(pii);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

typedef struct seen_args {
  char to[128];
} seen_args;

static hl_status send_mail(hl_context *ctx, const cJSON *args, cJSON **result, void *ud)
{
  (void)ctx;
  seen_args *seen = ud;
  const char *to = hl_json_get_string(args, "to");
  snprintf(seen->to, sizeof seen->to, "%s", to ? to : "");
  *result = cJSON_CreateString(to ? to : "");   /* echoes the real address */
  return *result ? HL_OK : HL_ERR_NOMEM;
}

static void pseudonyms_are_consistent_and_restored(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "send_mail", "{\"to\": \"<EMAIL_2>\"}");
  hl_scripted_push_text(p, "Sent to <EMAIL_2>, not <EMAIL_1>.");
  hl_agent *agent = fx_agent("mailer", p);
  seen_args seen = {{0}};
  hl_tool *t = hl_tool_new("send_mail", "Send a mail.", send_mail, &seen);
  hl_tool_param(t, "to", "string", "address", true);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_pii *pii = pii_from("{\"mode\": \"pseudonymize\"}");
  REQUIRE(pii && hl_pii_install(pii, hl_agent_hooks(agent)) == HL_OK);
  CHECK_RUN(agent, NULL, "From alice@example.com to bob@example.com; cc alice@example.com",
            "Sent to bob@example.com, not alice@example.com.");
  char *first = fx_request_last_text(p, 0);
  CHECK_STR(first, "From <EMAIL_1> to <EMAIL_2>; cc <EMAIL_1>");
  free(first);
  CHECK_STR(seen.to, "bob@example.com");         /* the tool got the real value */
  char *results = fx_request_tool_results(p, 1);
  CHECK_CONTAINS(results, "<EMAIL_2>");           /* and the model got the token back */
  CHECK(strstr(results, "bob@") == NULL);
  free(results);
  hl_pii_unref(pii);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

int main(int argc, char **argv)
{
  CHECK_ARGS(argc, argv);
  RUN(scanner_positive_samples);
  RUN(scanner_negative_samples);
  RUN(redact_modes_and_bad_options);
  RUN(mask_mode_redacts_requests_and_tool_results);
  RUN(tool_results_are_redacted_before_history);
  RUN(streamed_chunks_are_masked);
  RUN(findings_split_across_chunks_are_masked);
  RUN(pseudonyms_are_consistent_and_restored);
  return CHECK_EXIT();
}
