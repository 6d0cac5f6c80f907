/*
 * term_guard.c - what reaches the terminal is text, never a command.
 *
 * The chatbot prints what others wrote: a model's answer, a tool's
 * arguments and result, an MCP server's tool list and log lines, error
 * messages that quote a server. A terminal obeys control characters in
 * any of them: ESC ] 0 sets the window title, ESC ] 52 writes the
 * clipboard, ESC [ 2 J clears the screen, ESC [ 8 m hides text, CR and BS
 * overwrite what was printed (a tool line that says something else than
 * what ran), a C1 CSI (U+009B) does what ESC [ does. So when stdout or
 * stderr is a terminal, the chatbot writes through a filter that passes
 * printable text, newlines and tabs and the chatbot's own few sequences
 * (the styles of ui.c and its spinner's line erase), and shows every other
 * control character the way less(1) does: C0 in caret notation (^[),
 * C1 as <U+009B>, bytes that are not UTF-8 as <9B>.
 *
 * Only the terminal is guarded: piped or redirected output keeps the
 * bytes as they came (an answer saved to a file is the answer). libedit
 * draws the prompt and the line being edited with sequences of its own
 * and gets the unfiltered stream (term_guard_raw_stdout()).
 *
 * The filter is a small state machine per stream, because stdio hands a
 * sequence over in pieces when its buffer fills: a byte that may begin an
 * allowed sequence (ESC, CR) or a UTF-8 character is held until the bytes
 * after it decide. The stream's own lock (stdio's) serialises writers.
 */
/* fopencookie() needs _GNU_SOURCE, which the build sets */
#include "term_guard.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The sequences the chatbot itself writes (ui.c, repl.c's messages). */
static const char *const allowed[] = {
  "\033[0m", "\033[1m", "\033[2m", "\033[31m", "\033[36m", /* styles */
  "\r\033[K",                                               /* the spinner's line erase */
  "\r\n",                                                   /* a CRLF line end */
};

typedef struct guard {
  int fd;
  unsigned char held[8]; /* a sequence or UTF-8 character not yet decided */
  size_t nheld;
  char out[512];         /* what goes to fd, written when full or at the end */
  size_t nout;
  bool failed;
} guard;

static void flush_out(guard *g) {
  size_t off = 0;
  while (off < g->nout && !g->failed) {
    ssize_t w = write(g->fd, g->out + off, g->nout - off);
    if (w > 0) off += (size_t)w;
    else if (w < 0 && errno == EINTR) continue;
    else g->failed = true;
  }
  g->nout = 0;
}

static void put(guard *g, const void *p, size_t n) {
  const char *s = p;
  while (n) {
    if (g->nout == sizeof g->out) flush_out(g);
    size_t k = sizeof g->out - g->nout;
    if (k > n) k = n;
    memcpy(g->out + g->nout, s, k);
    g->nout += k;
    s += k;
    n -= k;
  }
}

/* A control character or a byte that is no UTF-8, made visible. */
static void put_shown(guard *g, unsigned cp, bool stray_byte) {
  char buf[16];
  int n;
  if (stray_byte) n = snprintf(buf, sizeof buf, "<%02X>", cp);
  else if (cp < 0x20) n = snprintf(buf, sizeof buf, "^%c", (char)(cp + '@'));
  else if (cp == 0x7f) n = snprintf(buf, sizeof buf, "^?");
  else n = snprintf(buf, sizeof buf, "<U+%04X>", cp);
  put(g, buf, (size_t)n);
}

/* 2: `s` is an allowed sequence; 1: it may become one; 0: neither. */
static int allowed_match(const unsigned char *s, size_t n) {
  int best = 0;
  for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
    size_t len = strlen(allowed[i]);
    if (n > len || memcmp(s, allowed[i], n) != 0) continue;
    if (n == len) return 2;
    best = 1;
  }
  return best;
}

/* How many bytes the UTF-8 character led by `b` has, 0 if `b` leads none. */
static size_t utf8_len(unsigned char b) {
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/* Whether the `n` held bytes (n == utf8_len(s[0])) are one valid character;
 * its code point in *cp. */
static bool utf8_decode(const unsigned char *s, size_t n, unsigned *cp) {
  unsigned c = s[0] & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) return false;
    c = c << 6 | (s[i] & 0x3f);
  }
  static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false;
  *cp = c;
  return true;
}

static void feed(guard *g, unsigned char b);

/* The held bytes are not what they seemed to begin: show the first, feed
 * the rest again (one of them may begin something of its own). */
static void release_held(guard *g) {
  unsigned char rest[sizeof g->held];
  size_t n = g->nheld;
  memcpy(rest, g->held, n);
  g->nheld = 0;
  if (rest[0] >= 0x80) put_shown(g, rest[0], true);
  else put_shown(g, rest[0], false);
  for (size_t i = 1; i < n; i++) feed(g, rest[i]);
}

static void feed(guard *g, unsigned char b) {
  if (g->nheld) {
    g->held[g->nheld++] = b;
    if (g->held[0] < 0x80) { /* ESC or CR: one of the allowed sequences? */
      int m = allowed_match(g->held, g->nheld);
      if (m == 2) {
        put(g, g->held, g->nheld);
        g->nheld = 0;
      } else if (m == 0) {
        release_held(g);
      }
      return;
    }
    if ((b & 0xc0) != 0x80) { /* a character cut short */
      release_held(g);
      return;
    }
    size_t want = utf8_len(g->held[0]);
    if (g->nheld < want) return;
    unsigned cp;
    if (!utf8_decode(g->held, want, &cp)) {
      release_held(g);
      return;
    }
    if (cp < 0xa0) put_shown(g, cp, false); /* C1: U+0080 - U+009F */
    else put(g, g->held, want);
    g->nheld = 0;
    return;
  }
  if (b == '\n' || b == '\t' || (b >= 0x20 && b < 0x7f)) {
    put(g, &b, 1);
  } else if (b == 0x1b || b == '\r') {
    g->held[g->nheld++] = b;
  } else if (b >= 0x80 && utf8_len(b)) {
    g->held[g->nheld++] = b;
  } else {
    put_shown(g, b, b >= 0x80);
  }
}

static ssize_t guard_write(void *cookie, const char *buf, size_t size) {
  guard *g = cookie;
  for (size_t i = 0; i < size; i++) feed(g, (unsigned char)buf[i]);
  flush_out(g);
  if (g->failed) {
    errno = EIO;
    return -1;
  }
  return (ssize_t)size;
}

static int guard_close(void *cookie) {
  guard *g = cookie;
  while (g->nheld) release_held(g); /* a sequence never finished is shown */
  flush_out(g);
  return 0;
}

/* One guard per stream, static: the streams live as long as the process. */
static guard guards[2];
static FILE *raw_stdout;

/* A guarded stream writing to `fd`, or NULL. */
static FILE *guard_stream(guard *g, int fd, int mode) {
  g->fd = fd;
  cookie_io_functions_t io = {.write = guard_write, .close = guard_close};
  FILE *f = fopencookie(g, "w", io);
  if (f) setvbuf(f, NULL, mode, BUFSIZ);
  return f;
}

void term_guard_install(void) {
  raw_stdout = stdout;
  /* glibc's stdout and stderr are variables a program may set (the GNU C
   * Library manual, "Standard Streams"); every printf of the chatbot then
   * goes through the filter without a change at its call. */
  fflush(stdout);
  if (isatty(STDOUT_FILENO)) {
    FILE *f = guard_stream(&guards[0], STDOUT_FILENO, _IOLBF);
    if (f) stdout = f;
  }
  if (isatty(STDERR_FILENO)) {
    FILE *f = guard_stream(&guards[1], STDERR_FILENO, _IONBF);
    if (f) stderr = f;
  }
}

FILE *term_guard_raw_stdout(void) { return raw_stdout ? raw_stdout : stdout; }
