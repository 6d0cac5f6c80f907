/*
 * core/price_internal.h - the price table as the providers read it.
 */
#ifndef HL_CORE_PRICE_INTERNAL_H
#define HL_CORE_PRICE_INTERNAL_H

#include <stdbool.h>
#include "hookline/price.h"

/* Set usage's cost from the price of the model that answered, else of
 * the one asked for (hl_usage_set_cost()'s formula); false, usage
 * untouched and no error set, when neither has a price. Thread-safe. */
bool hl__usage_price(hl_usage *usage, const char *answered, const char *asked);

#endif
