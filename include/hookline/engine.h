/*
 * hookline/engine.h - driving hookline's event loop from the application's
 * own loop (epoll, libuv, libevent, ...), as curl_multi_socket_action()
 * lets one drive libcurl.
 *
 * By default the library runs its own event-loop threads for every HTTP
 * request (model calls, MCP over HTTP): one per CPU, at most 4 (the
 * environment variable HOOKLINE_EVENT_LOOPS=N, read when the first request
 * starts, sets how many); a run's requests all go to one of them. Nothing
 * to do. An application that has its own loop and wants no such thread
 * calls hl_engine_use_external_loop() once, before the first request (then
 * there is one loop, the application's), and then:
 *
 *   int fd = hl_engine_fd();                  // watch for readability
 *   for (;;) {
 *     long t = hl_engine_timeout_ms();        // -1: no deadline
 *     ... wait until fd is readable or t ms passed (with the app's own fds) ...
 *     hl_engine_process();                    // never blocks
 *   }
 *
 * What then runs on the thread that calls hl_engine_process(): libcurl,
 * timers, retries, and what hookline/run.h says runs on the loop thread
 * (decoding an asynchronous model call's answer, its streamed deltas and
 * model_chunk hooks, API_RESPONSE). Run steps, hooks and tools still run
 * on the worker pool (run.h). Nothing advances while the application does
 * not call hl_engine_process(): a model call's answer waits in its socket.
 * So a blocking call that uses HTTP (hl_agent_run() with an HTTP provider,
 * hl_provider_complete(), MCP over HTTP) waits until the application's
 * loop processes: never make one on the thread that drives the loop (it
 * would wait for itself).
 *
 * Thread-safety: hl_engine_use_external_loop() any time before the first
 * request; hl_engine_fd() any thread; hl_engine_timeout_ms() and
 * hl_engine_process() from one thread at a time (the application's loop
 * thread): a second concurrent hl_engine_process() returns HL_ERR_STATE.
 */
#ifndef HOOKLINE_ENGINE_H
#define HOOKLINE_ENGINE_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Let the application drive the loop: no loop thread is started. HL_OK,
 *  or HL_ERR_STATE when the library's loop thread already runs (a request
 *  was made before). Calling it again is harmless. */
HL_API hl_status hl_engine_use_external_loop(void);

/** The descriptor to watch for readability (an epoll descriptor: it
 *  becomes readable when a socket, a posted task or a wake-up needs the
 *  loop). Owned by the library: do not close or read it. -1 with
 *  HL_ERR_STATE when the library runs its own loop, or the loop could not
 *  be set up (message in hl_last_error()). */
HL_API int hl_engine_fd(void);

/** Milliseconds until hl_engine_process() must run even if the descriptor
 *  stays quiet (the next timer: a retry, an idle timeout, libcurl's own);
 *  0: now; -1: no deadline (wait for the descriptor only). -1 when not in
 *  external mode. */
HL_API long hl_engine_timeout_ms(void);

/** One turn of the loop without blocking: handle ready sockets, posted
 *  work and due timers. Call it when the descriptor is readable or the
 *  timeout passed (calling it more often is harmless). HL_ERR_STATE when
 *  not in external mode or when another thread is inside it. */
HL_API hl_status hl_engine_process(void);

#ifdef __cplusplus
}
#endif
#endif
