/*
 * hookline/otel.h - OpenTelemetry export: GenAI traces and metrics over
 * OTLP/HTTP with JSON encoding (the hooks/otel*.c plugin, built on the
 * public API: an observer plus the trace-context header of trace.h).
 *
 * Two lines send every run of the process to a collector:
 *
 *   hl_otel *otel = hl_otel_new(NULL);        // OTEL_* environment variables
 *   hl_otel_install(otel, NULL);              // every agent (a global observer)
 *   ...
 *   hl_otel_free(otel);                       // flush (bounded) and stop
 *
 * Spans (GenAI semantic conventions), nested as the run tree is:
 *   invoke_agent {agent}   INTERNAL, one per run (sub-agents, agent-as-tool
 *                          runs and workflow children are children of the
 *                          span that started them)
 *   chat {model}           CLIENT, one per model call
 *   execute_tool {tool}    INTERNAL, one per tool call, hooks included
 *                          (calls made from the sandbox's code mode are
 *                          children of the code tool's span)
 *   tools/call {tool}      CLIENT, under execute_tool, for MCP tools
 * with gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
 * gen_ai.response.model, gen_ai.response.id, gen_ai.response.finish_reasons,
 * gen_ai.usage.input_tokens / output_tokens, gen_ai.agent.name,
 * gen_ai.conversation.id (the session id), gen_ai.tool.name,
 * gen_ai.tool.call.id; on failure error.type (hl_status_name()) and status
 * ERROR with the message. Hook decisions (override, abort, edited
 * arguments, ...) are span events named "hook" with hookline.hook.name,
 * hookline.hook.point and hookline.hook.action. Message content, tool
 * arguments and results are recorded only when enabled
 * (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true, or the option);
 * API keys are never recorded (the library never puts them in events).
 *
 * Metrics (cumulative histograms, exported every metrics_interval_ms and
 * at flush): gen_ai.client.token.usage ({token}; gen_ai.token.type input /
 * output), gen_ai.client.operation.duration (s; gen_ai.operation.name
 * chat, execute_tool or invoke_agent, so tool calls have their duration).
 *
 * Never in the way: on the run's thread the observer only copies what a
 * span needs (ids, times, numbers, a few short strings) into a slot of a
 * bounded lock-free ring: no JSON, no lock, no allocation unless content
 * is captured or the strings do not fit the slot. One exporter thread
 * turns the records into spans, keeps finished spans in a bounded queue,
 * batches them and POSTs with its own libcurl handle. A run never waits
 * for the collector: when the ring or the queue is full, spans are
 * dropped and counted (hl_otel_get_stats()), and the first failure prints
 * one warning. The ring holds about twice max_queue records (1024 to
 * 8192, ~320 bytes each). Content capture stays slower: the content is
 * printed as JSON on the run's thread (the event is borrowed), as far as
 * it is kept: the attribute value length limit below, and at most 64 KB
 * of an event's strings (cut at a whole UTF-8 character).
 * The exporter thread runs at a lower priority than the runs (nice +10,
 * hl_otel_options.low_priority) and reads the ring on its own timer,
 * paced by how fast records come so that the ring is at most an eighth
 * full when read (every 1 ms to export_delay_ms / 4 while records come,
 * export_delay_ms when none came); a run wakes it (a system call) only
 * when it finds the ring half full, never per record.
 * 429, 502, 503 and 504 are retried with exponential backoff (honouring
 * Retry-After, in seconds or as an HTTP-date, up to the backoff cap of
 * 5 s) until the request's deadline. Another 4xx or 5xx is not retried:
 * the warning names the message of its google.rpc.Status (cleaned as
 * below).
 * A 200 may carry a partial success (the collector refused some spans or
 * data points, OTLP/HTTP): it is not retried; the refused are counted
 * (hl_otel_stats.spans_rejected, data_points_rejected) and the first one
 * prints one warning with the collector's message (at most 255 bytes,
 * control characters dropped). At most 64 KiB of an answer is read.
 *
 * Environment (read by hl_otel_new(), as the OpenTelemetry SDK
 * specification publishes the variables): an option field that is set
 * wins, then the signal's own variable (..._TRACES_... / ..._METRICS_...),
 * then the generic one, then the default. An empty variable is unset. A
 * value that is not valid prints a warning naming it (once) and is
 * ignored: never a failure of hl_otel_new().
 *   OTEL_SDK_DISABLED=true                    nothing is installed or sent
 *   OTEL_EXPORTER_OTLP_ENDPOINT               base URL (default http://localhost:4318)
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT        full URL of traces (default base + /v1/traces)
 *   OTEL_EXPORTER_OTLP_METRICS_ENDPOINT       full URL of metrics (default base + /v1/metrics)
 *   OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]HEADERS  "k=v,k2=v2" (values percent-decoded
 *                                             as W3C Baggage values: "%2C" is a comma,
 *                                             '+' a plus; keys as written; %00 and bad
 *                                             escapes kept as written) on
 *                                             every export; a signal's own list is
 *                                             merged over the generic one (same key,
 *                                             any case: the signal's value)
 *   OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]TIMEOUT  ms, one export with its retries
 *                                             (default 10000; option timeout_ms)
 *   OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]PROTOCOL only http/json is spoken: grpc or
 *                                             http/protobuf turns that signal off with
 *                                             a warning (JSON is never sent to a port
 *                                             expecting them); another value: a warning,
 *                                             http/json
 *   OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]COMPRESSION  gzip or none (default), option
 *                                             compression
 *   OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]CERTIFICATE        PEM of the CAs trusted for
 *                                             https (default: the system's), option
 *                                             certificate
 *   OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]CLIENT_CERTIFICATE PEM of the client's
 *                                             certificate (mutual TLS), option
 *                                             client_certificate
 *   OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]CLIENT_KEY         PEM of its key, option
 *                                             client_key
 *   OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER  "otlp" (default) or "none"; another
 *                                             exporter (console, zipkin, ...) is not
 *                                             here: a warning, the signal is off. With
 *                                             both signals off the handle is inert
 *                                             (hl_otel_enabled() false)
 *   OTEL_TRACES_SAMPLER                       always_on, always_off, traceidratio,
 *                                             parentbased_always_on (default),
 *                                             parentbased_always_off,
 *                                             parentbased_traceidratio; option sampler
 *   OTEL_TRACES_SAMPLER_ARG                   the ratio of *traceidratio, 0 to 1 (default
 *                                             1), option sampler_ratio
 *   OTEL_BSP_SCHEDULE_DELAY                   ms, option export_delay_ms (default 5000, the
 *                                             specification's). It bounds how long a
 *                                             span waits for a batch that does not fill
 *                                             (512 spans go at once) and how often a
 *                                             quiet exporter wakes; while records come
 *                                             the ring is read on the pace below (at
 *                                             most every export_delay_ms / 4), so a
 *                                             busy process is not slower to export.
 *                                             Interactive use that wants spans in the
 *                                             collector's view sooner sets it lower;
 *                                             hl_otel_free() / hl_otel_flush() send
 *                                             what waits at once
 *   OTEL_BSP_EXPORT_TIMEOUT                   ms, caps an export of spans (default 30000)
 *   OTEL_BSP_MAX_QUEUE_SIZE                   option max_queue (default 2048)
 *   OTEL_BSP_MAX_EXPORT_BATCH_SIZE            option max_batch (default 512; at most
 *                                             the queue's size)
 *   OTEL_METRIC_EXPORT_INTERVAL               ms, option metrics_interval_ms (default 60000)
 *   OTEL_METRIC_EXPORT_TIMEOUT                ms, caps an export of metrics (default 30000)
 *   OTEL_SERVICE_NAME                         service.name (default "hookline"); wins
 *                                             over service.name in the list below
 *   OTEL_RESOURCE_ATTRIBUTES                  "k=v,..." more resource attributes (decoded
 *                                             as the headers above)
 *   OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]INSECURE  gRPC's alone (the specification):
 *                                             ignored without a warning; an https://
 *                                             collector's certificate is always verified
 *   OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true   record content
 *   OTEL_PROPAGATORS                          "tracecontext" (default: traceparent on
 *                                             outgoing requests) or "none" (no header,
 *                                             runs still traced); "baggage" is not
 *                                             propagated (no baggage API): a warning;
 *                                             b3, jaeger, xray, ...: a warning each,
 *                                             ignored (so "b3" alone sends no header).
 *                                             Option propagators
 *   OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, else OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT
 *                                             characters of a string attribute value
 *                                             (spans and their events; cut at a whole
 *                                             UTF-8 character; default none), option
 *                                             attribute_value_length_limit. Captured
 *                                             content is its usual victim
 *   OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, else OTEL_ATTRIBUTE_COUNT_LIMIT
 *                                             attributes per span (default 128; the
 *                                             first set are kept, the rest counted in
 *                                             droppedAttributesCount), option
 *                                             attribute_count_limit
 *   OTEL_SPAN_EVENT_COUNT_LIMIT               events per span (default 128; the rest
 *                                             counted in droppedEventsCount), option
 *                                             event_count_limit
 *   OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, else OTEL_ATTRIBUTE_COUNT_LIMIT
 *                                             attributes per event (default 128), option
 *                                             event_attribute_count_limit. The limits'
 *                                             variables take 0 (nothing kept); resource
 *                                             attributes have no limit
 *
 * Trace context: while a model call or a tool call runs, outgoing
 * provider and MCP HTTP requests carry a W3C `traceparent` naming its
 * span (trace.h), unless OTEL_PROPAGATORS leaves tracecontext out. A run can join its caller's trace: hl_otel_set_parent()
 * before hl_agent_run() on the same thread.
 *
 * Sampling: the sampler decides once per trace, when its top-level run
 * starts; sub-agent runs and every call of the trace follow. The
 * parentbased_* samplers follow the sampled flag of the caller's
 * traceparent (hl_otel_set_parent()), the others decide alone
 * (traceidratio: from the trace id's last 56 bits, so that every service
 * using the same rule agrees). Outgoing traceparent headers carry the
 * decision (flags 01 or 00). An unsampled run publishes no span records
 * (the cheaper for it): only its model, tool and run ends, for the
 * metrics, which count every run.
 *
 * Thread-safety: hl_otel_new and _free are configure-time; hl_otel_install
 * may be called from several threads for different agents (each agent's
 * own configuration is configure-time, agent.h); the observer, the header
 * function, hl_otel_flush, hl_otel_set_parent, hl_otel_traceparent and
 * hl_otel_get_stats are thread-safe.
 */
#ifndef HOOKLINE_OTEL_H
#define HOOKLINE_OTEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"
#include "observer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_otel hl_otel;
typedef struct hl_agent hl_agent;

/** Options; zero/NULL fields take the environment, then the default.
 *  Set `size` to sizeof(hl_otel_options): fields are only appended. */
typedef struct hl_otel_options {
  size_t size;
  const char *endpoint;            /**< base URL ("http://127.0.0.1:4318") */
  const char *traces_endpoint;     /**< full URL for traces */
  const char *metrics_endpoint;    /**< full URL for metrics */
  const char *headers;             /**< "k=v,k2=v2", as OTEL_EXPORTER_OTLP_HEADERS */
  const char *service_name;
  const char *resource_attributes; /**< "k=v,...", as OTEL_RESOURCE_ATTRIBUTES */
  int capture_content;             /**< 0: from the environment (default off); 1 on; -1 off */
  size_t max_queue;                /**< finished spans waiting; default 2048 */
  size_t max_batch;                /**< spans per request; default 512 (at most max_queue) */
  unsigned export_delay_ms;        /**< longest a span waits for its batch; default 5000
                                        (the specification's; see OTEL_BSP_SCHEDULE_DELAY) */
  unsigned metrics_interval_ms;    /**< default 60000 (OTEL_METRIC_EXPORT_INTERVAL) */
  unsigned timeout_ms;             /**< one export, retries included, both signals (the
                                        variables' caps do not apply then); default 10000 */
  FILE *warn;                      /**< where the one warning goes; default stderr */
  /** 0 (default) or 1: the exporter thread runs 10 nice levels below the
   *  thread that called hl_otel_new() (Linux: setpriority() on its thread
   *  id; capped at 19), so that on a busy machine the runs' threads get
   *  the cores first and the exporter works in the gaps (its ring and
   *  queue absorb the delay; what does not fit is dropped and counted).
   *  -1: the exporter thread keeps the creator's priority. */
  int low_priority;
  /** 0: OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]COMPRESSION (default none);
   *  1: gzip (zlib; a build without it sends uncompressed, with a
   *  warning); -1: none. */
  int compression;
  /** TLS to an https:// collector, for both signals (NULL: the
   *  variables below, else the system's CAs and no client certificate):
   *  PEM files of the CAs to trust, of this client's certificate and of
   *  its private key (mutual TLS). */
  const char *certificate;
  const char *client_certificate;
  const char *client_key;
  /** Which runs are traced, as OTEL_TRACES_SAMPLER names them:
   *  "always_on", "always_off", "traceidratio", "parentbased_always_on"
   *  (the default), "parentbased_always_off", "parentbased_traceidratio".
   *  NULL: OTEL_TRACES_SAMPLER. Another name: HL_ERR_INVALID. */
  const char *sampler;
  /** The ratio of *traceidratio, 0 to 1 (0: OTEL_TRACES_SAMPLER_ARG, else 1;
   *  to sample nothing use "always_off"); outside: HL_ERR_INVALID. */
  double sampler_ratio;
  /** Span limits (the SDK specification's SpanLimits), 0: the variables
   *  (OTEL_SPAN_..., then the general OTEL_ATTRIBUTE_...), else the
   *  default. Characters of a string attribute value (of spans and of
   *  their events; longer ones are cut at a whole UTF-8 character):
   *  default no limit. Resource attributes are exempt. */
  size_t attribute_value_length_limit;
  /** Attributes per span, default 128: the first set are kept (the GenAI
   *  ones before captured content), the others dropped and counted in the
   *  span's droppedAttributesCount. */
  size_t attribute_count_limit;
  /** Events (hook decisions) per span, default 128; the others counted in
   *  droppedEventsCount. */
  size_t event_count_limit;
  /** Attributes per event, default 128; the others counted in the event's
   *  droppedAttributesCount. */
  size_t event_attribute_count_limit;
  /** Which trace context outgoing requests carry, as OTEL_PROPAGATORS
   *  lists them: "tracecontext" (the default: the W3C traceparent),
   *  "none" (nothing; runs are traced all the same). "baggage" is not
   *  propagated (hookline has no baggage API; a warning), nor are b3,
   *  jaeger, xray and the others (a warning each, ignored). NULL:
   *  OTEL_PROPAGATORS (so does ""). hl_otel_traceparent() works either way. */
  const char *propagators;
} hl_otel_options;

/** New exporter. `opts` NULL (or its unset fields): the environment, then
 *  the defaults. Starts the exporter thread unless OTEL_SDK_DISABLED=true,
 *  or when neither signal is exported (OTEL_TRACES_EXPORTER and
 *  OTEL_METRICS_EXPORTER none, or a protocol not spoken): then the handle
 *  is inert, install adds nothing. A bad environment variable is a
 *  warning (to opts->warn, else stderr), never a failure. NULL with
 *  HL_ERR_INVALID for an opts size too small, a URL that is not http(s)
 *  or a bad sampler / sampler_ratio option, HL_ERR_NOMEM, HL_ERR_LIMIT
 *  when no thread could be started. The caller owns the handle
 *  (hl_otel_free()). */
HL_API hl_otel *hl_otel_new(const hl_otel_options *opts);

/** False when OTEL_SDK_DISABLED=true made the handle inert. */
HL_API bool hl_otel_enabled(const hl_otel *otel);

/** Watch `agent` (and its children, H14), or every agent of the process
 *  when `agent` is NULL (a global observer), and put `traceparent` on
 *  outgoing requests (hl_trace_set_header_fn(): one exporter per process
 *  should do that; the last installed wins). HL_OK and nothing done when
 *  the handle is inert. Configure-time. */
HL_API hl_status hl_otel_install(hl_otel *otel, hl_agent *agent);

/** The exporter's observer (borrowed; NULL when inert), to add by hand
 *  (hl_agent_add_observer(), hl_mcp_add_observer()). */
HL_API hl_observer *hl_otel_observer(hl_otel *otel);

/** Export every finished span and the metrics now; wait at most
 *  `deadline_ms`. HL_OK when all were sent, HL_ERR_TIMEOUT when the
 *  deadline passed first (they are still being sent), HL_ERR_NETWORK when
 *  an export failed (they were dropped and counted). Thread-safe. */
HL_API hl_status hl_otel_flush(hl_otel *otel, unsigned deadline_ms);

/** Flush with a deadline of `deadline_ms` (0: 2000), stop the exporter
 *  thread (abandoning a hanging request at the deadline) and free.
 *  Uninstall first: no run may still be using it (the observer stays
 *  valid but inert if still installed somewhere). NULL is fine. */
HL_API void hl_otel_shutdown(hl_otel *otel, unsigned deadline_ms);
/** hl_otel_shutdown(otel, 0). */
HL_API void hl_otel_free(hl_otel *otel);

/** Make the next top-level run started on this thread a child of the
 *  remote span named by a W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>"),
 *  so it joins the caller's trace. NULL clears. HL_ERR_INVALID (and
 *  nothing set) for a malformed value. Thread-local; consumed by that run. */
HL_API hl_status hl_otel_set_parent(const char *traceparent);

/** The traceparent of the span current on this thread for `ctx`'s run
 *  (the model or tool call running, else the run's agent span) into
 *  `out` (>= 56 bytes). HL_ERR_NOT_FOUND when there is none. For
 *  applications that make their own HTTP calls from tools. */
HL_API hl_status hl_otel_traceparent(hl_otel *otel, hl_context *ctx, char *out, size_t size);

/** Counters. Set `size` to sizeof(hl_otel_stats) before the call. Spans
 *  are made on the exporter's side: the call first reads what the runs
 *  published so far (so spans_started counts every finished run's spans).
 *  Thread-safe. */
typedef struct hl_otel_stats {
  size_t size;
  uint64_t spans_started;
  uint64_t spans_exported;  /**< accepted by the collector */
  uint64_t spans_dropped;   /**< queue full, or the export failed */
  uint64_t export_requests; /**< HTTP requests made (retries included) */
  uint64_t export_failures; /**< exports given up */
  uint64_t metric_exports;  /**< metrics requests accepted */
  int exporter_nice;        /**< the exporter thread's nice value (Linux; 0 elsewhere
                                 or before the thread started) */
  uint64_t run_wakeups;     /**< times a run's thread woke the exporter because the
                                 ring was half full (each a system call on that
                                 thread; 0 while the exporter keeps up) */
  uint64_t spans_rejected;  /**< sent, but refused by the collector in a partial
                                 success (a 200 naming rejectedSpans; not retried,
                                 not counted in spans_exported) */
  uint64_t data_points_rejected; /**< likewise, rejectedDataPoints of metrics */
  uint64_t runs_unsampled;  /**< runs (sub-agent runs included) the sampler left
                                 out: no span, their metrics recorded */
} hl_otel_stats;
HL_API hl_status hl_otel_get_stats(const hl_otel *otel, hl_otel_stats *out);

#ifdef __cplusplus
}
#endif
#endif
