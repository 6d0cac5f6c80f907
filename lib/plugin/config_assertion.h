/*
 * lib/plugin/config_assertion.h - a config file's oauth "assertion_file"
 * (config_assertion.c): the hl_mcp_oauth.assertion callback that reads a
 * workload identity token from a file at each authorization.
 */
#ifndef HL_CONFIG_ASSERTION_H
#define HL_CONFIG_ASSERTION_H

#include "hookline/mcp.h"

typedef struct hl__file_assertion hl__file_assertion;

/* Make `o` take its jwt-bearer assertion from the file `path` (copied):
 * o->assertion reads it, and o->user_data becomes the state, the
 * application's user_data still reaching its own callbacks (authorize,
 * the token store, sign) through forwarders. *out: the state, to free
 * with hl__file_assertion_free() after the client that uses it. */
hl_status hl__file_assertion_apply(hl_mcp_oauth *o, const char *path, hl__file_assertion **out);
void hl__file_assertion_free(hl__file_assertion *f);

#endif
