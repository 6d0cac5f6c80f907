/*
 * tests/providers/four_wires.h - the four HTTP providers as the table a
 * test program runs its cases over (test_providers_v3.c,
 * test_providers_wire.c): a name, the constructor, and what separates the
 * scenario from the tag in a model name (Gemini's model travels in the
 * URL path, where its servers split at "__"). `W` is the wire of the case
 * running. Header-only: a test program includes it once.
 */
#ifndef HL_TEST_FOUR_WIRES_H
#define HL_TEST_FOUR_WIRES_H

#include "hookline.h"

typedef struct wire {
  const char *name;
  hl_provider *(*make)(const char *base, const char *key);
  const char *sep; /* between scenario and tag in a model name */
} wire;

static const wire OPENAI = {"openai", hl_openai_new, "@"};
static const wire ANTHROPIC = {"anthropic", hl_anthropic_new, "@"};
static const wire RESPONSES = {"responses", hl_responses_new, "@"};
static const wire GEMINI = {"gemini", hl_gemini_new, "__"};
static const wire *W = &OPENAI;

#endif
