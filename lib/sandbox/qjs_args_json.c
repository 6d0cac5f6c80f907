/*
 * lib/sandbox/qjs_args_json.c - a callback's arguments object written as
 * JSON by the host, as JSON.stringify would write it, without
 * JSON.stringify.
 *
 * Why: `await f({x: 41})` spent ~21,000 of its ~95,000 instructions in
 * QuickJS's JSON.stringify of {x: 41}: a cycle-check array, a wrapper
 * object, an array of keys, a string buffer, toJSON lookups, each with
 * its allocations. The host reads the object's own enumerable string keys
 * and primitive values through the module's exports and writes the text
 * itself. A member it does not write itself (a nested object or array, a
 * function, a symbol, a BigInt, a string it cannot read whole) goes to the
 * prelude's member(), JSON.stringify of that one member, so the text is
 * JSON.stringify's, and every getter and toJSON runs once, in the same
 * order. (Numbers: the same value, "%.17g" rather than the shortest form;
 * the host parses the text at once.)
 *
 * The prelude (prelude.c) sends only objects whose prototype is
 * Object.prototype and that have no toJSON; the top level's toJSON and the
 * boxed primitives are its business.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "qjs_vm_internal.h"

typedef struct Z_a_instance_t vm_t;

/* JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY, and quickjs-emscripten's flag
 * that gives integer keys as strings (as Object.keys does). */
#define OWN_ENUMERABLE_STRING_KEYS (1u | (1u << 4) | (1u << 7))

typedef struct out_buf {
  char *data;
  size_t len, cap;
} out_buf;

/* The buffer is parked in vm->held: a trap while JavaScript runs (a
 * getter, a toJSON) unwinds past this file, and vm_enter frees it. */
static void put(vm_t *vm, out_buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 128;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
      wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION); /* host out of memory: stop the guest */
    b->data = p;
    b->cap = cap;
    vm->held = p;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

/* UTF-16 code units of the UTF-8 text QuickJS made of a string (lone
 * surrogates as 3-byte sequences, pairs as one 4-byte sequence). */
static uint32_t utf16_units(const uint8_t *s, uint32_t n) {
  uint32_t units = 0;
  for (uint32_t i = 0; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80)
      units++;
    if (s[i] >= 0xF0)
      units++;
  }
  return units;
}

/* UTF-8 text `s` quoted as JSON.stringify quotes strings (QuickJS's
 * JS_ToQuotedString): the short escapes, \u00xx below 0x20, a lone
 * surrogate as \udxxx, everything else as it is. */
static void put_quoted(vm_t *vm, out_buf *b, const uint8_t *s, uint32_t n) {
  put(vm, b, "\"", 1);
  uint32_t run = 0; /* start of the bytes not written yet */
  for (uint32_t i = 0; i < n; i++) {
    uint8_t c = s[i];
    char esc[8];
    size_t elen = 0;
    uint32_t skip = 0;
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c, elen = 2;
    } else if (c < 0x20) {
      const char *short_esc = c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n"
                            : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
      if (short_esc)
        memcpy(esc, short_esc, 2), elen = 2;
      else
        elen = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
    } else if (c == 0xED && i + 2 < n && s[i + 1] >= 0xA0 && s[i + 1] <= 0xBF) {
      unsigned unit = 0xD000u | ((unsigned)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3Fu);
      elen = (size_t)snprintf(esc, sizeof esc, "\\u%04x", unit);
      skip = 2;
    } else {
      continue;
    }
    put(vm, b, (const char *)s + run, i - run);
    put(vm, b, esc, elen);
    i += skip;
    run = i + 1;
  }
  put(vm, b, (const char *)s + run, n - run);
  put(vm, b, "\"", 1);
}

/* Write string JSValue* `v` quoted. False when its text cannot be read
 * whole here (a rope, or a U+0000 that ends the C string early). */
static bool put_string(vm_t *vm, out_buf *b, uint32_t ctx, uint32_t v) {
  if (hl_vm_load32(vm, v + 4) != HL_JS_TAG_STRING)
    return false;
  /* QuickJS's JSString: a reference count, then its length in UTF-16
   * units (31 bits) and the wide-char flag. */
  uint32_t js_len = hl_vm_load32(vm, hl_vm_load32(vm, v) + 4) & 0x7FFFFFFFu;
  uint32_t s = QTS_GetString(vm, ctx, v);
  if (!s)
    return false;
  uint32_t n = hl_vm_strlen(vm, s);
  const uint8_t *text = vm->mem.data + s;
  bool whole = utf16_units(text, n) == js_len;
  if (whole)
    put_quoted(vm, b, text, n);
  QTS_FreeCString(vm, ctx, s);
  return whole;
}

static void put_number(vm_t *vm, out_buf *b, double d) {
  char num[32];
  int n;
  if (!isfinite(d))
    n = snprintf(num, sizeof num, "null");
  else if (d == 0)
    n = snprintf(num, sizeof num, "0"); /* -0 too, as JSON.stringify */
  else
    n = snprintf(num, sizeof num, "%.17g", d);
  put(vm, b, num, (size_t)n);
}

/* The member `key`: `v` as the prelude's member(key, v) writes it
 * (JSON.stringify of {[key]: v} without its braces, so that a toJSON sees
 * its key as it would), appended. False when it threw; nothing appended
 * (and *none) when JSON.stringify leaves the member out. */
static bool put_delegated(vm_t *vm, out_buf *b, uint32_t ctx, uint32_t member, uint32_t key,
                          uint32_t v, bool *none) {
  hl_vm_store32(vm, vm->scratch, key);
  hl_vm_store32(vm, vm->scratch + 4, v);
  uint32_t r = QTS_Call(vm, ctx, member, vm->undefined_ptr, 2, vm->scratch);
  if (!r)
    return false; /* no memory for the result's handle */
  uint32_t exc = QTS_ResolveException(vm, ctx, r);
  bool ok = !exc;
  *none = false;
  if (exc) {
    QTS_FreeValuePointer(vm, ctx, exc);
  } else if (hl_vm_load32(vm, r + 4) == HL_JS_TAG_UNDEFINED) {
    *none = true;
  } else {
    uint32_t s = QTS_GetString(vm, ctx, r);
    if (s) {
      put(vm, b, (const char *)vm->mem.data + s, hl_vm_strlen(vm, s));
      QTS_FreeCString(vm, ctx, s);
    } else {
      ok = false; /* no memory for the text: as a failed stringify */
    }
  }
  QTS_FreeValuePointer(vm, ctx, r);
  return ok;
}

/* Append member `key`: `v` (JSValue*s, borrowed), after a comma unless it
 * is the first. Returns -1 when JSON.stringify would have thrown. */
static int put_member(vm_t *vm, out_buf *b, uint32_t ctx, uint32_t member, uint32_t key,
                      uint32_t v, bool *first) {
  uint32_t tag = hl_vm_load32(vm, v + 4), payload = hl_vm_load32(vm, v);
  if (tag == HL_JS_TAG_UNDEFINED)
    return 0; /* left out, as JSON.stringify leaves it out */
  size_t mark = b->len;
  if (!*first)
    put(vm, b, ",", 1);
  size_t key_at = b->len;
  bool written = put_string(vm, b, ctx, key);
  if (written) {
    put(vm, b, ":", 1);
    char num[16];
    if (tag == HL_JS_TAG_INT)
      put(vm, b, num, hl_vm_int_text(num, (int32_t)payload));
    else if (tag == HL_JS_TAG_BOOL)
      put(vm, b, payload ? "true" : "false", payload ? 4 : 5);
    else if (tag == HL_JS_TAG_NULL)
      put(vm, b, "null", 4);
    else if (HL_JS_TAG_IS_FLOAT64(tag))
      put_number(vm, b, QTS_GetFloat64(vm, ctx, v));
    else
      written = put_string(vm, b, ctx, v);
  }
  if (!written) {
    /* Objects, arrays, functions, symbols, BigInts, and strings not read
     * whole here: the whole member from JSON.stringify. */
    b->len = key_at;
    bool none;
    if (!put_delegated(vm, b, ctx, member, key, v, &none))
      return -1;
    if (none) {
      b->len = mark;
      b->data[mark] = 0;
      return 0;
    }
  }
  *first = false;
  return 0;
}

/* The JSON text of the members of `obj`, into `b`. -1: an exception (a
 * getter or a toJSON threw, a cycle, a BigInt), as JSON.stringify would
 * have thrown. */
static int write_object(vm_t *vm, out_buf *b, uint32_t ctx, uint32_t obj, uint32_t member) {
  /* The scratch block's second half takes the out-parameters: its first
   * half is for call arguments, and nothing else uses it while a host
   * call runs (op_run_jobs writes its job context there only after a job
   * returns). */
  uint32_t pptrs = vm->scratch + 8, plen = vm->scratch + 12;
  uint32_t exc = QTS_GetOwnPropertyNames(vm, ctx, pptrs, plen, obj, OWN_ENUMERABLE_STRING_KEYS);
  if (exc) {
    QTS_FreeValuePointer(vm, ctx, exc);
    return -1;
  }
  uint32_t keys = hl_vm_load32(vm, pptrs), n = hl_vm_load32(vm, plen);
  if (!keys && n) /* the module's malloc failed */
    return -1;
  int st = 0;
  bool first = true;
  put(vm, b, "{", 1);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t key = hl_vm_load32(vm, keys + 4 * i);
    if (st == 0) {
      /* Keys first, values read one by one afterwards, as JSON.stringify
       * reads them (a getter sees the same order). */
      uint32_t v = QTS_GetProp(vm, ctx, obj, key);
      uint32_t vexc = v ? QTS_ResolveException(vm, ctx, v) : 0;
      if (!v) {
        st = -1; /* no memory for the value's handle */
      } else if (vexc) {
        QTS_FreeValuePointer(vm, ctx, vexc);
        st = -1;
      } else {
        st = put_member(vm, b, ctx, member, key, v, &first);
      }
      if (v)
        QTS_FreeValuePointer(vm, ctx, v);
    }
    QTS_FreeValuePointer(vm, ctx, key);
  }
  if (keys)
    qts_free(vm, keys);
  put(vm, b, "}", 1);
  return st;
}

int hl__vm_args_json(vm_t *vm, uint32_t ctx, uint32_t obj, uint32_t member, char **out,
                     size_t *len) {
  *out = NULL;
  *len = 0;
  /* A getter or toJSON that makes a callback call of its own: that inner
   * call takes JSON.stringify's path (the one buffer is this call's). */
  if (vm->in_args || vm->held)
    return 1;
  vm->in_args = true;
  out_buf b = {0};
  int st = write_object(vm, &b, ctx, obj, member);
  vm->in_args = false;
  vm->held = NULL;
  if (st < 0) {
    free(b.data);
    return -1;
  }
  *out = b.data;
  *len = b.len;
  return 0;
}
