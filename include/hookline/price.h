/*
 * hookline/price.h - what model calls cost: a price table per model,
 * set by the application, from which every HTTP provider (OpenAI Chat
 * Completions and Responses, Anthropic, Gemini) fills usage.cost of each
 * response it returns. The cost then travels with the usage: in
 * API_RESPONSE and LM_END for one call, summed in AGENT_END and
 * TRACE_COMPLETE for a run (hl_usage_add() sums costs) and in
 * hl_agent_last_usage(). A model without a price has no cost
 * (usage.has_cost false); hookline ships no prices of its own, as
 * providers change them.
 *
 *   hl_price p = {.input = 2.50, .output = 10.00, .cached_input = 1.25,
 *                 .cache_write = -1, .reasoning = -1};
 *   hl_price_set("gpt-4o", &p);          // USD per million tokens
 *   hl_price_set("gpt-4o-2024-*", &p);   // a '*' at the end: every name it starts
 *
 * Thread-safety: the table is process-wide and locked; set prices before
 * runs start, though setting while runs read is safe (a call sees the old
 * or the new price).
 */
#ifndef HOOKLINE_PRICE_H
#define HOOKLINE_PRICE_H

#include "status.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Prices in USD per million tokens. A negative price means "as the
 *  plain one": cached_input and cache_write as input, reasoning as
 *  output. Plain value struct; declare it as you like. */
typedef struct hl_price {
  double input;        /**< input tokens neither read from nor written to a cache */
  double output;       /**< output tokens that are not reasoning */
  double cached_input; /**< input tokens read from the prompt cache (usage.cached_tokens) */
  double cache_write;  /**< input tokens written to the cache (usage.cache_creation_tokens) */
  double reasoning;    /**< output tokens spent on reasoning (usage.reasoning_tokens) */
} hl_price;

/**
 * Set (copy) the price of `model`, replacing any; `price` NULL removes it.
 * `model` is an exact model name, or a prefix ending in '*' that covers
 * every name starting with it (the longest such prefix wins; an exact
 * name wins over any prefix). HL_ERR_INVALID for an empty name, a '*'
 * elsewhere than at the end, or a price that is NaN or infinite or
 * whose input or output is negative; HL_ERR_NOMEM.
 */
HL_API hl_status hl_price_set(const char *model, const hl_price *price);
/** The price that applies to `model` (exact name first, then the longest
 *  '*' prefix) into *out. HL_ERR_NOT_FOUND when none applies. */
HL_API hl_status hl_price_get(const char *model, hl_price *out);
/** Forget every price. */
HL_API void hl_price_clear(void);
/**
 * Set usage->cost (and has_cost) from the price of `model`:
 *   (input - cached - cache_creation) x input + cached x cached_input
 *   + cache_creation x cache_write + (output - reasoning) x output
 *   + reasoning x reasoning, over one million.
 * HL_ERR_NOT_FOUND (usage untouched) when `model` has no price.
 */
HL_API hl_status hl_usage_set_cost(hl_usage *usage, const char *model);

#ifdef __cplusplus
}
#endif
#endif
