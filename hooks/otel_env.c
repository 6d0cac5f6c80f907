/*
 * otel_env.c - the OpenTelemetry SDK's environment variables, as the
 * specification publishes them (configuration/sdk-environment-variables.md,
 * protocol/exporter.md): typed readers, and the settings of each signal
 * (traces, metrics) of the OTLP exporter.
 *
 * Order: an hl_otel_options field wins, then the signal's own variable
 * (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT), then the generic one
 * (OTEL_EXPORTER_OTLP_TIMEOUT), then the default. An empty variable is
 * unset. A value that is not valid prints a warning naming the variable
 * and its value (once per variable) and is ignored, never a failure: a
 * typo in the environment must not stop an application.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "otel_internal.h"

/* A warning about `var` whose value was `value`, once per `key` (the
 * variable, or one item of its list). */
static void vwarn(ot_cfg *c, const char *key, const char *var, const char *value, const char *fmt, va_list ap) {
  for (int i = 0; i < c->n_warned; i++)
    if (strcmp(c->warned[i], key) == 0) return;
  if (c->n_warned < (int)(sizeof c->warned / sizeof c->warned[0]))
    snprintf(c->warned[c->n_warned++], sizeof c->warned[0], "%s", key);
  char msg[600];
  vsnprintf(msg, sizeof msg, fmt, ap);
  /* the value is the user's: printed as text, not as terminal commands */
  char clean[OT_REPLY_TEXT];
  ot_clean_text(clean, sizeof clean, value);
  FILE *out = c->o->warn ? c->o->warn : stderr;
  fprintf(out, "hookline otel: %s=\"%s\": %s\n", var, clean, msg);
  fflush(out);
}

void ot_cfg_warn(ot_cfg *c, const char *var, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(c, var, var, getenv(var), fmt, ap);
  va_end(ap);
}

void ot_cfg_warn_value(ot_cfg *c, const char *name, const char *value, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(c, name, name, value, fmt, ap);
  va_end(ap);
}

void ot_cfg_warn_item(ot_cfg *c, const char *var, const char *value, const char *item, const char *fmt, ...) {
  char key[48];
  snprintf(key, sizeof key, "%s=%s", var, item);
  va_list ap;
  va_start(ap, fmt);
  vwarn(c, key, var, value, fmt, ap);
  va_end(ap);
}

const char *ot_env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

/* The variable of `signal` ("TRACES", "METRICS", or NULL: the generic
 * one) for `what` ("TIMEOUT"): OTEL_EXPORTER_OTLP_[SIGNAL_]WHAT. */
static void var_name(char *out, size_t size, const char *signal, const char *what) {
  snprintf(out, size, "OTEL_EXPORTER_OTLP_%s%s%s", signal ? signal : "", signal ? "_" : "", what);
}

/* The signal's own variable for `what`, else the generic one (its name
 * into var, the one read last); NULL when neither is set. */
static const char *signal_env(const char *signal, const char *what, char var[64]) {
  var_name(var, 64, signal, what);
  const char *v = ot_env(var);
  if (v) return v;
  var_name(var, 64, NULL, what);
  return ot_env(var);
}

/* An integer from `min` to `max`, blanks around it allowed. */
static bool parse_count(const char *v, unsigned long long min, unsigned long long max, unsigned long long *out) {
  while (isspace((unsigned char)*v)) v++;
  if (!isdigit((unsigned char)*v)) return false;
  errno = 0;
  char *end;
  unsigned long long n = strtoull(v, &end, 10);
  while (isspace((unsigned char)*end)) end++;
  if (errno || *end || n < min || n > max) return false;
  *out = n;
  return true;
}

/* The variable `name` as a positive integer up to `max`; false when unset
 * or invalid (warned). */
static bool env_count(ot_cfg *c, const char *name, unsigned long long max, unsigned long long *out) {
  const char *v = ot_env(name);
  if (!v) return false;
  if (parse_count(v, 1, max, out)) return true;
  ot_cfg_warn(c, name, "not a positive integer up to %llu; the default is used", max);
  return false;
}

unsigned ot_cfg_ms(ot_cfg *c, unsigned opt, const char *name, unsigned def) {
  unsigned long long v;
  if (opt) return opt;
  return env_count(c, name, INT_MAX, &v) ? (unsigned)v : def;
}

size_t ot_cfg_count(ot_cfg *c, size_t opt, const char *name, size_t def) {
  unsigned long long v;
  if (opt) return opt;
  return env_count(c, name, 1u << 24, &v) ? (size_t)v : def;
}

/* ---- span limits ------------------------------------------------------ */

/* A limit: the option when set (non-zero), else the span's own variable,
 * else the general one (NULL: none), else `def`. The variables take 0
 * (nothing kept), as the specification allows; a bad value is warned of
 * and the next in that order is used. */
static uint32_t limit(ot_cfg *c, size_t opt, const char *own, const char *general, uint32_t def) {
  if (opt) return opt < UINT32_MAX ? (uint32_t)opt : UINT32_MAX - 1;
  const char *vars[] = {own, general};
  for (int i = 0; i < 2; i++) {
    const char *v = vars[i] ? ot_env(vars[i]) : NULL;
    unsigned long long n;
    if (!v) continue;
    if (parse_count(v, 0, UINT32_MAX - 1, &n)) return (uint32_t)n;
    ot_cfg_warn(c, vars[i], "not a non-negative integer; ignored");
  }
  return def;
}

void ot_limits_config(ot_cfg *c) {
  const hl_otel_options *opts = c->opts;
  ot_limits d = OT_LIMITS_DEFAULT, *l = &c->o->limits;
#define OPT(f) (OT_HAS_OPTION(opts, f) ? opts->f : 0)
  l->value_chars = limit(c, OPT(attribute_value_length_limit), "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                         "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", d.value_chars);
  l->attrs = limit(c, OPT(attribute_count_limit), "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT", d.attrs);
  l->events = limit(c, OPT(event_count_limit), "OTEL_SPAN_EVENT_COUNT_LIMIT", NULL, d.events);
  l->event_attrs = limit(c, OPT(event_attribute_count_limit), "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
                         "OTEL_ATTRIBUTE_COUNT_LIMIT", d.event_attrs);
#undef OPT
}

bool ot_cfg_true(ot_cfg *c, const char *name) {
  const char *v = ot_env(name);
  if (!v) return false;
  if (strcasecmp(v, "true") == 0) return true;
  if (strcasecmp(v, "false") != 0) ot_cfg_warn(c, name, "neither true nor false; false is used");
  return false;
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
}

/* An OTEL_* list's key or value, blanks around it trimmed; a value
 * percent-decoded, as a W3C Baggage value is (RFC 3986: '+' is a plus).
 * A key is a token, taken as written ('%' is one of its characters).
 * An escape that is not two hex digits stays as written, and so does
 * %00: a C string cannot carry the NUL, and a value cut there would
 * lose its rest without a word. */
static char *list_item(const char *s, size_t n, bool decode) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  char *out = malloc(n + 1), *w = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (decode && s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0 &&
        (s[i + 1] != '0' || s[i + 2] != '0')) {
      *w++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      *w++ = s[i];
    }
  }
  *w = '\0';
  return out;
}

bool ot_parse_list(const char *list, ot_kv_fn fn, void *ud) {
  if (!list) return true;
  const char *p = list;
  while (*p) {
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (eq) {
      char *k = list_item(p, (size_t)(eq - p), false), *v = list_item(eq + 1, (size_t)(end - eq - 1), true);
      if (!k || !v) {
        free(k);
        free(v);
        return false;
      }
      if (*k) fn(ud, k, v);
      else free(k), free(v);
    }
    p = *end ? end + 1 : end;
  }
  return true;
}

/* ---- a signal's headers ---------------------------------------------- */

/* "Key: value" lines added to s; a key that one of its first `keep`
 * lines has is not added again (the signal's own headers replace the
 * generic ones of the same name, compared without case as HTTP does). */
typedef struct header_list {
  ot_signal *s;
  size_t keep;
  bool failed;
} header_list;

static bool has_key(const ot_signal *s, size_t keep, const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; i < keep; i++)
    if (strncasecmp(s->headers[i], key, n) == 0 && s->headers[i][n] == ':') return true;
  return false;
}

static void add_header(void *ud, char *key, char *value) {
  header_list *l = ud;
  ot_signal *s = l->s;
  if (!has_key(s, l->keep, key)) {
    char **h = realloc(s->headers, (s->n_headers + 1) * sizeof *h);
    size_t n = strlen(key) + strlen(value) + 3;
    char *line = h ? malloc(n) : NULL;
    if (h) s->headers = h;
    if (line) {
      snprintf(line, n, "%s: %s", key, value);
      /* a header line must stay one line */
      for (char *c = line; *c; c++)
        if (*c == '\r' || *c == '\n') *c = ' ';
      s->headers[s->n_headers++] = line;
    } else {
      l->failed = true;
    }
  }
  free(key);
  free(value);
}

static bool signal_headers(ot_cfg *c, ot_signal *s, const char *signal) {
  char var[64];
  if (c->opts->headers && *c->opts->headers) {
    header_list all = {.s = s};
    return ot_parse_list(c->opts->headers, add_header, &all) && !all.failed;
  }
  var_name(var, sizeof var, signal, "HEADERS");
  header_list own = {.s = s};
  if (!ot_parse_list(ot_env(var), add_header, &own) || own.failed) return false;
  /* what the signal's own list named, the generic one does not add */
  header_list generic = {.s = s, .keep = s->n_headers};
  return ot_parse_list(ot_env("OTEL_EXPORTER_OTLP_HEADERS"), add_header, &generic) && !generic.failed;
}

/* ---- lists of names ---------------------------------------------------- */

/* The next name of a comma-separated list at *p (OTEL_PROPAGATORS,
 * OTEL_TRACES_EXPORTER), blanks around it trimmed: its start, and its
 * length in *n (0 for an empty one); *p moves past it. NULL at the end. */
static const char *list_next(const char **p, size_t *n) {
  if (!**p) return NULL;
  const char *end = strchr(*p, ',');
  if (!end) end = *p + strlen(*p);
  const char *a = *p, *b = end;
  while (a < b && isspace((unsigned char)*a)) a++;
  while (b > a && isspace((unsigned char)b[-1])) b--;
  *p = *end ? end + 1 : end;
  *n = (size_t)(b - a);
  return a;
}

/* ---- OTEL_PROPAGATORS ------------------------------------------------ */

bool ot_propagators_config(ot_cfg *c) {
  const char *var = "OTEL_PROPAGATORS";
  /* an empty option is unset, as the other string options are */
  const char *v = OT_HAS_OPTION(c->opts, propagators) && c->opts->propagators && *c->opts->propagators
                      ? c->opts->propagators
                      : NULL;
  if (v) var = "hl_otel_options.propagators";
  else v = ot_env(var);
  if (!v) return true; /* the default: tracecontext */
  bool tracecontext = false;
  size_t n;
  for (const char *p = v, *a; (a = list_next(&p, &n)) != NULL;) {
    char name[40], clean[40];
    snprintf(name, sizeof name, "%.*s", (int)n, a);
    ot_clean_text(clean, sizeof clean, name);
    if (strcmp(name, "tracecontext") == 0) {
      tracecontext = true;
    } else if (strcmp(name, "baggage") == 0) {
      /* nothing of a run is baggage (no API sets it): warned of, so that
       * a user expecting it downstream knows why it is not there */
      ot_cfg_warn_item(c, var, v, name, "\"baggage\" is not propagated (hookline has no baggage); ignored");
    } else if (*name && strcmp(name, "none") != 0) {
      ot_cfg_warn_item(c, var, v, name, "\"%s\" is not a propagator of this exporter (tracecontext, baggage, none); ignored",
                       clean);
    }
  }
  return tracecontext;
}

/* ---- on or off ------------------------------------------------------- */

/* OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER: a list of exporters;
 * "otlp" (the default) is the one this exporter is, "none" none; others
 * (console, zipkin, prometheus) are not here: warned of, and the signal
 * is not sent anywhere rather than sent where the user did not ask. */
static bool exporter_on(ot_cfg *c, const char *var) {
  const char *v = ot_env(var);
  if (!v) return true;
  bool otlp = false, other = false;
  size_t n;
  for (const char *p = v, *a; (a = list_next(&p, &n)) != NULL;) {
    if (n == 4 && strncasecmp(a, "otlp", 4) == 0) otlp = true;
    else if (n && !(n == 4 && strncasecmp(a, "none", 4) == 0)) other = true;
  }
  if (other)
    ot_cfg_warn(c, var, "only \"otlp\" and \"none\" are exporters here; %s", otlp ? "the others are ignored" : "this signal is not exported");
  return otlp;
}

/* OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL: only http/json is spoken. grpc
 * and http/protobuf are valid values this exporter cannot honour: the
 * signal is off (with a warning) rather than JSON sent to a port that
 * expects gRPC or protobuf. Anything else is not a protocol: warned of,
 * and the default (http/json) is used. */
static bool protocol_on(ot_cfg *c, const char *signal, const char *what) {
  char var[64];
  const char *v = signal_env(signal, "PROTOCOL", var);
  if (!v || strcmp(v, "http/json") == 0) return true;
  if (strcmp(v, "grpc") == 0 || strcmp(v, "http/protobuf") == 0) {
    ot_cfg_warn(c, var, "only http/json is spoken by this exporter; %s are not exported", what);
    return false;
  }
  ot_cfg_warn(c, var, "not a protocol (grpc, http/protobuf, http/json); http/json is used");
  return true;
}

/* OTEL_EXPORTER_OTLP_[SIGNAL_]COMPRESSION: gzip or none (the default);
 * hl_otel_options.compression wins (1 gzip, -1 none). */
static bool compression_gzip(ot_cfg *c, const char *signal) {
  char var[64] = "hl_otel_options.compression";
  int opt = OT_HAS_OPTION(c->opts, compression) ? c->opts->compression : 0;
  bool gzip = opt > 0;
  if (!opt) {
    const char *v = signal_env(signal, "COMPRESSION", var);
    if (!v || strcmp(v, "none") == 0) return false;
    gzip = strcmp(v, "gzip") == 0;
    if (!gzip) ot_cfg_warn(c, var, "neither gzip nor none; none is used");
  }
  if (gzip && !ot_gzip_available()) {
    char value[16]; /* the option's, else the variable's */
    snprintf(value, sizeof value, "%d", opt);
    ot_cfg_warn_value(c, var, opt ? value : getenv(var), "this build has no zlib: exports are sent uncompressed");
    return false;
  }
  return gzip;
}

/* ---- a signal -------------------------------------------------------- */

bool ot_signal_config(ot_cfg *c, ot_signal *s, int which, const char *base) {
  const hl_otel_options *opts = c->opts;
  const char *signal = which == OT_SIG_TRACES ? "TRACES" : "METRICS";
  const char *what = which == OT_SIG_TRACES ? "traces" : "metrics";
  char var[64];
  s->on = exporter_on(c, which == OT_SIG_TRACES ? "OTEL_TRACES_EXPORTER" : "OTEL_METRICS_EXPORTER");
  if (s->on) s->on = protocol_on(c, signal, what);

  /* the URL: the signal's own is used as it is; the base gets the path */
  const char *url = which == OT_SIG_TRACES ? opts->traces_endpoint : opts->metrics_endpoint;
  if (!url || !*url) {
    var_name(var, sizeof var, signal, "ENDPOINT");
    url = ot_env(var);
  }
  if (url) {
    s->url = strdup(url);
  } else {
    const char *path = which == OT_SIG_TRACES ? "/v1/traces" : "/v1/metrics";
    size_t n = strlen(base);
    while (n && base[n - 1] == '/') n--;
    size_t len = n + strlen(path) + 1;
    s->url = malloc(len);
    if (s->url) snprintf(s->url, len, "%.*s%s", (int)n, base, path);
  }

  /* one export, retries included: the exporter's timeout, no longer than
   * the processor's or the reader's export timeout */
  if (opts->timeout_ms) {
    s->timeout_ms = opts->timeout_ms;
  } else {
    var_name(var, sizeof var, signal, "TIMEOUT");
    unsigned t = ot_cfg_ms(c, 0, var, 0);
    if (!t) t = ot_cfg_ms(c, 0, "OTEL_EXPORTER_OTLP_TIMEOUT", 10000);
    unsigned cap = ot_cfg_ms(c, 0, which == OT_SIG_TRACES ? "OTEL_BSP_EXPORT_TIMEOUT" : "OTEL_METRIC_EXPORT_TIMEOUT", 30000);
    s->timeout_ms = t < cap ? t : cap;
  }
  s->gzip = compression_gzip(c, signal);
  /* TLS: the option for both signals, else the variables */
  struct {
    const char *opt, *what;
    char **to;
  } files[] = {{OT_HAS_OPTION(opts, certificate) ? opts->certificate : NULL, "CERTIFICATE", &s->ca},
               {OT_HAS_OPTION(opts, client_certificate) ? opts->client_certificate : NULL, "CLIENT_CERTIFICATE", &s->cert},
               {OT_HAS_OPTION(opts, client_key) ? opts->client_key : NULL, "CLIENT_KEY", &s->key}};
  bool ok = s->url != NULL;
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    const char *v = files[i].opt && *files[i].opt ? files[i].opt : signal_env(signal, files[i].what, var);
    if (v && !(*files[i].to = strdup(v))) ok = false;
  }
  return ok && signal_headers(c, s, signal);
}

void ot_signal_free(ot_signal *s) {
  for (size_t i = 0; i < s->n_headers; i++) free(s->headers[i]);
  free(s->headers);
  free(s->url);
  free(s->ca);
  free(s->cert);
  free(s->key);
}

/* ---- the sampler ----------------------------------------------------- */

static const char *const samplers[] = {"always_on", "always_off", "traceidratio", "parentbased_always_on",
                                       "parentbased_always_off", "parentbased_traceidratio"};

static int sampler_of(const char *name) {
  for (int i = 0; i < (int)(sizeof samplers / sizeof samplers[0]); i++)
    if (strcmp(name, samplers[i]) == 0) return i;
  return -1;
}

bool ot_sampler_config(ot_cfg *c) {
  const hl_otel_options *opts = c->opts;
  hl_otel *o = c->o;
  const char *opt = OT_HAS_OPTION(opts, sampler) ? opts->sampler : NULL;
  double ratio = OT_HAS_OPTION(opts, sampler_ratio) ? opts->sampler_ratio : 0;
  /* the options are the program's: a bad one is an error */
  if (opt && sampler_of(opt) < 0) {
    hl_fail(HL_ERR_INVALID, "hl_otel_new: unknown sampler \"%.80s\" (always_on, always_off, traceidratio, "
                            "parentbased_always_on, parentbased_always_off, parentbased_traceidratio)", opt);
    return false;
  }
  if (!(ratio >= 0 && ratio <= 1)) {
    hl_fail(HL_ERR_INVALID, "hl_otel_new: sampler_ratio %g is not within 0 and 1", ratio);
    return false;
  }
  o->sampler = OT_SAMPLE_PB_ON;
  if (opt) {
    o->sampler = sampler_of(opt);
  } else if (ot_env("OTEL_TRACES_SAMPLER")) {
    int s = sampler_of(ot_env("OTEL_TRACES_SAMPLER"));
    if (s >= 0) o->sampler = s;
    else ot_cfg_warn(c, "OTEL_TRACES_SAMPLER", "not a sampler of this exporter; parentbased_always_on is used");
  }
  if (!ratio) {
    ratio = 1;
    const char *arg = ot_env("OTEL_TRACES_SAMPLER_ARG");
    if (arg && (o->sampler == OT_SAMPLE_RATIO || o->sampler == OT_SAMPLE_PB_RATIO)) {
      char *end;
      double v = strtod(arg, &end);
      while (isspace((unsigned char)*end)) end++;
      if (end != arg && !*end && v >= 0 && v <= 1) ratio = v;
      else ot_cfg_warn(c, "OTEL_TRACES_SAMPLER_ARG", "not a ratio from 0 to 1; 1 is used");
    }
  }
  /* 56 bits of the trace id, as W3C Trace Context level 2 makes random */
  o->ratio_bound = ratio >= 1 ? UINT64_C(1) << 56 : (uint64_t)(ratio * (double)(UINT64_C(1) << 56));
  return true;
}

bool ot_sample(const hl_otel *o, const uint8_t trace[16], int remote) {
  switch (o->sampler) {
  case OT_SAMPLE_OFF: return false;
  case OT_SAMPLE_PB_ON: return remote >= 0 ? remote : true;
  case OT_SAMPLE_PB_OFF: return remote >= 0 ? remote : false;
  case OT_SAMPLE_PB_RATIO:
    if (remote >= 0) return remote;
    /* fall through */
  case OT_SAMPLE_RATIO: {
    uint64_t r = 0;
    for (int i = 9; i < 16; i++) r = r << 8 | trace[i];
    return r < o->ratio_bound;
  }
  default: return true;
  }
}
