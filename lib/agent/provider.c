/*
 * provider.c - the reference-counted wrapper around a provider
 * implementation, and the one place that checks what a provider returns.
 *
 * Providers are written by applications too, so hl_provider_complete()
 * treats their output as untrusted: a success without a response, a
 * failure without a message or with a stray response, or a status outside
 * the enum all become a well-formed HL_ERR_PROVIDER failure instead of a
 * crash or a leak further down the agent loop.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "hookline/provider.h"

struct hl_provider {
  atomic_uint refs;
  const hl_provider_ops *ops; /* points at own_ops */
  hl_provider_ops own_ops;
  void *impl;
};

hl_provider *hl_provider_new(const hl_provider_ops *ops, void *impl) {
  if (!ops) {
    hl_fail(HL_ERR_INVALID, "hl_provider_new: ops is NULL");
    return NULL;
  }
  if (ops->size < offsetof(hl_provider_ops, complete) + sizeof ops->complete) {
    hl_fail(HL_ERR_INVALID,
            "hl_provider_new: ops->size is %zu; set it to sizeof(hl_provider_ops)", ops->size);
    return NULL;
  }
  /* A caller built against an older header has fewer functions: the rest
   * stay unset (never read past the caller's struct). */
  hl_provider_ops copy = {0};
  memcpy(&copy, ops, ops->size < sizeof copy ? ops->size : sizeof copy);
  copy.size = sizeof copy;
  if (!copy.complete) {
    hl_fail(HL_ERR_INVALID, "hl_provider_new: ops->complete is required");
    return NULL;
  }
  hl_provider *p = calloc(1, sizeof *p);
  if (!p) {
    hl__oom();
    return NULL;
  }
  atomic_init(&p->refs, 1);
  p->own_ops = copy;
  p->ops = &p->own_ops;
  p->impl = impl;
  return p;
}

hl_provider *hl_provider_ref(hl_provider *provider) {
  if (provider) atomic_fetch_add_explicit(&provider->refs, 1, memory_order_relaxed);
  return provider;
}

void hl_provider_unref(hl_provider *provider) {
  if (!provider) return;
  if (atomic_fetch_sub_explicit(&provider->refs, 1, memory_order_acq_rel) != 1) return;
  if (provider->ops->destroy) provider->ops->destroy(provider->impl);
  free(provider);
}

const char *hl_provider_name(const hl_provider *provider) {
  if (!provider) return "";
  return provider->ops->name ? provider->ops->name : "provider";
}

void *hl_provider_impl(const hl_provider *provider) {
  return provider ? provider->impl : NULL;
}

hl_status hl_provider_complete(hl_provider *provider, hl_context *ctx,
                               const hl_request *req, hl_response **out) {
  if (out) *out = NULL;
  if (!provider || !req || !out)
    return hl_fail(HL_ERR_INVALID, "hl_provider_complete: provider, request and out are required");
  hl_response *resp = NULL;
  hl_clear_error();
  hl_status st = provider->ops->complete(provider->impl, ctx, req, &resp);
  if (st == HL_OK) {
    if (!resp)
      return hl_fail(HL_ERR_PROVIDER, "provider \"%s\" returned no response",
                     hl_provider_name(provider));
    if (!resp->message) {
      hl_response_free(resp);
      return hl_fail(HL_ERR_PROVIDER, "provider \"%s\" returned a response without a message",
                     hl_provider_name(provider));
    }
    *out = resp;
    return HL_OK;
  }
  hl_response_free(resp);
  if ((unsigned)st >= (unsigned)HL_STATUS_COUNT_)
    return hl_fail(HL_ERR_PROVIDER, "provider \"%s\" failed with unknown status %d",
                   hl_provider_name(provider), (int)st);
  if (hl_last_status() != st || !hl_last_error()[0])
    return hl_fail(st, "provider \"%s\" failed: %s", hl_provider_name(provider),
                   hl_strerror(st));
  return st;
}

/* ---- asynchronous calls ---------------------------------------------- */

/* Checks the implementation's answer as hl_provider_complete() does, on
 * whichever thread `done` came from. */
typedef struct hl_start_call {
  hl_provider *provider;
  hl_provider_done_fn done;
  void *user;
} hl_start_call;

static void hl_start_done(hl_status st, hl_response *resp, void *user) {
  hl_start_call *c = user;
  hl_provider *p = c->provider;
  hl_provider_done_fn done = c->done;
  void *u = c->user;
  free(c);
  if (st == HL_OK && (!resp || !resp->message)) {
    const char *what = resp ? "a response without a message" : "no response";
    hl_response_free(resp);
    resp = NULL;
    st = hl_fail(HL_ERR_PROVIDER, "provider \"%s\" returned %s", hl_provider_name(p), what);
  } else if (st != HL_OK) {
    hl_response_free(resp);
    resp = NULL;
    if ((unsigned)st >= (unsigned)HL_STATUS_COUNT_)
      st = hl_fail(HL_ERR_PROVIDER, "provider \"%s\" failed with unknown status %d",
                   hl_provider_name(p), (int)st);
    else if (hl_last_status() != st || !hl_last_error()[0])
      hl_fail(st, "provider \"%s\" failed: %s", hl_provider_name(p), hl_strerror(st));
  }
  hl_provider_unref(p);
  done(st, resp, u);
}

bool hl_provider_can_start(const hl_provider *provider) {
  return provider && provider->ops->start != NULL;
}

hl_status hl_provider_start(hl_provider *provider, hl_context *ctx, const hl_request *req,
                            hl_provider_done_fn done, void *user_data) {
  if (!provider || !req || !done)
    return hl_fail(HL_ERR_INVALID, "hl_provider_start: provider, request and done are required");
  if (!provider->ops->start)
    return hl_fail(HL_ERR_UNSUPPORTED, "provider \"%s\" has no asynchronous start",
                   hl_provider_name(provider));
  hl_start_call *c = malloc(sizeof *c);
  if (!c) return hl__oom();
  c->provider = hl_provider_ref(provider);
  c->done = done;
  c->user = user_data;
  hl_clear_error();
  hl_status st = provider->ops->start(provider->impl, ctx, req, hl_start_done, c);
  if (st != HL_OK) {
    hl_provider_unref(provider);
    free(c);
    if ((unsigned)st >= (unsigned)HL_STATUS_COUNT_)
      return hl_fail(HL_ERR_PROVIDER, "provider \"%s\" failed with unknown status %d",
                     hl_provider_name(provider), (int)st);
    if (hl_last_status() != st || !hl_last_error()[0])
      return hl_fail(st, "provider \"%s\" failed: %s", hl_provider_name(provider),
                     hl_strerror(st));
  }
  return st;
}
