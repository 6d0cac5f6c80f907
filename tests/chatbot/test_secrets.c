/*
 * test_secrets.c - which lines the chatbot keeps out of its history file
 * (examples/chatbot/secrets.c): API keys, bearer tokens and long generated
 * tokens are caught; prose, paths, arithmetic and ordinary ids are not.
 */
#include <stdbool.h>

#include "chat.h"
#include "check.h"

static void secret(const char *line) {
  if (!chat_looks_secret(line)) {
    fprintf(stderr, "should look secret: \"%s\"\n", line);
    check_failures_++;
  }
}

static void ordinary(const char *line) {
  if (chat_looks_secret(line)) {
    fprintf(stderr, "should not look secret: \"%s\"\n", line);
    check_failures_++;
  }
}

int main(void) {
  secret("my key is sk-abcdefghijklmnopqrstuvwxyz0123");
  secret("sk-proj-Ab12Cd34Ef56Gh78Ij90KlMnOpQr");
  secret("OPENAI_API_KEY=sk-test-key-123");
  secret("anthropic: sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe-AA");
  secret("maps key AIzaSyA1234567890abcdefghijklmnopqrstu");
  secret("token ghp_0123456789abcdefghijABCDEFGHIJ");
  secret("aws AKIAIOSFODNN7EXAMPLE");
  secret("curl -H 'Authorization: Bearer abc123def456'");
  secret("authorization: bearer eyJhbGciOiJIUzI1NiJ9.e30.sig");
  secret("sha 0123456789abcdef0123456789abcdef01234567");
  secret("b64 dGhpcyBpcyBhIHNlY3JldCB0b2tlbjEyMzQ1Njc4OTA=");
  secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1234");

  ordinary("what is 17*23?");
  ordinary("what is 1+2+3+4+5+6+7+8+9+10+11+12+13+14+15+16+17+18+19+20");
  ordinary("ask-me-anything-about-this-topic-please");
  ordinary("sk-learn-is-a-python-library");
  ordinary("the bearer of bad news");
  ordinary("bearer bonds");
  ordinary("see /usr/lib/x86_64-linux-gnu/pkgconfig/hookline.pc");
  ordinary("https://example.com/docs/getting-started/installation");
  ordinary("id 123e4567-e89b-12d3-a456-426614174000");
  ordinary("task-sk-1234567890 is a ticket, not a key");
  ordinary("");
  return CHECK_EXIT();
}
