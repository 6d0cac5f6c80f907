/*
 * hookline.h - umbrella header: everything public in hookline.
 *
 * Link with `pkg-config --cflags --libs hookline`. Each concept has its
 * own header under hookline/; read those for ownership and thread-safety.
 */
#ifndef HOOKLINE_H
#define HOOKLINE_H

#include "hookline/status.h"
#include "hookline/json.h"
#include "hookline/model.h"
#include "hookline/tool.h"
#include "hookline/context.h"
#include "hookline/hooks.h"
#include "hookline/observer.h"
#include "hookline/session.h"
#include "hookline/provider.h"
#include "hookline/scripted.h"
#include "hookline/agent.h"
#include "hookline/run.h"
#include "hookline/engine.h"
#include "hookline/interrupt.h"
#include "hookline/openai.h"
#include "hookline/anthropic.h"
#include "hookline/pool.h"
#include "hookline/responses.h"
#include "hookline/gemini.h"
#include "hookline/price.h"
#include "hookline/sandbox.h"
#include "hookline/plugins.h"
#include "hookline/plugin.h"
#include "hookline/config.h"
#include "hookline/guards.h"
#include "hookline/workflow.h"
#include "hookline/mcp.h"
#include "hookline/store.h"
#include "hookline/trace.h"
#include "hookline/retry_after.h"
#include "hookline/otel.h"

#define HOOKLINE_VERSION "0.1.0"

#endif
