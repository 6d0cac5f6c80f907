/*
 * tools.h - the chatbot's tools: calculator, clock, and the JavaScript
 * and Python code tools when the library was built with the sandbox.
 */
#ifndef CHAT_TOOLS_H
#define CHAT_TOOLS_H

#include <stdbool.h>
#include <hookline.h>

/** Add the chatbot's tools to `agent`. Sets *have_js to whether the
 *  JavaScript tool is available. HL_OK or the failing status (message in
 *  hl_last_error()). */
hl_status chat_add_tools(hl_agent *agent, bool *have_js);

#endif
