/*
 * hooks/pii_scan.c - find personal data and secrets in text: e-mail
 * addresses, phone numbers, payment card numbers (Luhn), IBANs (mod 97),
 * IP addresses and API-key-like tokens (hl_pii_scan, guards.h).
 *
 * Hand-written matchers rather than regular expressions: the checksums
 * (Luhn, mod 97) need code anyway, POSIX regex has no lookaround for the
 * word boundaries, and a single left-to-right pass keeps the cost linear
 * in the text. At each position the matchers are tried from the most
 * specific (a secret's fixed prefix, a checksum) to the loosest (phone),
 * so that a card number is reported as a card, not as a phone number.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "hookline/guards.h"

const char *hl_pii_kind_name(hl_pii_kind kind)
{
  static const char *const names[HL_PII_KIND_COUNT] = {"email", "phone", "card",
                                                       "iban",  "ip",    "secret"};
  return (unsigned)kind < HL_PII_KIND_COUNT ? names[kind] : "unknown";
}

static bool is_alnum(char c) { return isalnum((unsigned char)c) != 0; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_hex(char c) { return isxdigit((unsigned char)c) != 0; }
static bool is_token(char c) { return is_alnum(c) || c == '_' || c == '-'; }

/* ---- secrets: fixed prefixes followed by a long token ------------- */

static size_t token_run(const char *s, bool (*ok)(char))
{
  size_t n = 0;
  while (s[n] && ok(s[n]))
    n++;
  return n;
}

static bool is_upper_digit(char c) { return (c >= 'A' && c <= 'Z') || is_digit(c); }

static size_t match_secret(const char *s)
{
  static const struct {
    const char *prefix;
    size_t min;     /* token characters after the prefix */
    bool upper;     /* [A-Z0-9] only (AWS) */
    size_t exact;   /* 0, or the exact count */
  } rules[] = {
      {"sk-ant-", 16, false, 0}, {"sk-proj-", 16, false, 0}, {"sk-", 20, false, 0},
      {"ghp_", 20, false, 0},    {"gho_", 20, false, 0},     {"ghs_", 20, false, 0},
      {"github_pat_", 20, false, 0}, {"xoxb-", 10, false, 0}, {"xoxp-", 10, false, 0},
      {"xoxa-", 10, false, 0},   {"AKIA", 16, true, 16},     {"AIza", 35, false, 35},
  };
  for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
    size_t plen = strlen(rules[i].prefix);
    if (strncmp(s, rules[i].prefix, plen) != 0)
      continue;
    size_t n = token_run(s + plen, rules[i].upper ? is_upper_digit : is_token);
    if (n < rules[i].min || (rules[i].exact && n != rules[i].exact))
      continue;
    return plen + n;
  }
  if (strncasecmp(s, "Bearer ", 7) == 0) {
    size_t n = 0;
    while (s[7 + n] && (is_token(s[7 + n]) || s[7 + n] == '.' || s[7 + n] == '~' ||
                        s[7 + n] == '+' || s[7 + n] == '/' || s[7 + n] == '='))
      n++;
    if (n >= 16)
      return 7 + n;
  }
  return 0;
}

/* ---- e-mail ------------------------------------------------------- */

static bool is_local(char c) { return is_alnum(c) || strchr("._%+-", c) != NULL; }

static size_t match_email(const char *s)
{
  size_t local = 0;
  while (s[local] && is_local(s[local]))
    local++;
  if (local == 0 || s[local] != '@' || s[0] == '.')
    return 0;
  size_t i = local + 1, labels = 0, last_label = 0;
  for (;;) {
    size_t start = i;
    while (s[i] && (is_alnum(s[i]) || s[i] == '-'))
      i++;
    if (i == start)
      return 0;
    labels++;
    last_label = i - start;
    if (s[i] == '.' && (is_alnum(s[i + 1]))) {
      i++;
      continue;
    }
    break;
  }
  if (labels < 2 || last_label < 2)
    return 0;
  /* The top-level domain is letters. */
  for (size_t k = i - last_label; k < i; k++)
    if (!isalpha((unsigned char)s[k]))
      return 0;
  return i;
}

/* ---- card numbers: 13-19 digits, groups separated by ' ' or '-' ---- */

static bool luhn_ok(const char *digits, size_t n)
{
  int sum = 0;
  for (size_t i = 0; i < n; i++) {
    int d = digits[n - 1 - i] - '0';
    if (i % 2 == 1) {
      d *= 2;
      if (d > 9)
        d -= 9;
    }
    sum += d;
  }
  return sum % 10 == 0;
}

/* Digits with single ' ' or '-' between them, collected into `out`
 * (at most `max`). Returns the bytes consumed. */
static size_t digit_groups(const char *s, char *out, size_t max, size_t *n_out)
{
  size_t i = 0, n = 0;
  while (is_digit(s[i])) {
    if (n < max)
      out[n] = s[i];
    n++;
    i++;
    if ((s[i] == ' ' || s[i] == '-') && is_digit(s[i + 1]))
      i++;
  }
  *n_out = n;
  return i;
}

static size_t match_card(const char *s)
{
  char digits[32];
  size_t n;
  size_t len = digit_groups(s, digits, sizeof digits, &n);
  if (n < 13 || n > 19 || is_alnum(s[len]))
    return 0;
  return luhn_ok(digits, n) ? len : 0;
}

/* ---- IBAN: CC dd then 11-30 letters/digits, spaces every 4 allowed -- */

static size_t match_iban(const char *s)
{
  if (!(isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) && is_digit(s[2]) &&
        is_digit(s[3])))
    return 0;
  char chars[40];
  size_t n = 0, i = 0;
  while (n < sizeof chars) {
    char c = s[i];
    if (is_digit(c) || isupper((unsigned char)c)) {
      chars[n++] = c;
      i++;
    } else if (c == ' ' && n % 4 == 0 && (is_digit(s[i + 1]) || isupper((unsigned char)s[i + 1]))) {
      i++;
    } else {
      break;
    }
  }
  if (n < 15 || n > 34 || is_alnum(s[i]))
    return 0;
  /* ISO 7064 mod 97-10: the first four characters moved to the end,
   * letters as 10..35, the number mod 97 must be 1. */
  unsigned rem = 0;
  for (size_t k = 0; k < n; k++) {
    char c = chars[(k + 4) % n];
    if (is_digit(c)) {
      rem = (rem * 10 + (unsigned)(c - '0')) % 97;
    } else {
      unsigned v = (unsigned)(c - 'A' + 10);
      rem = (rem * 100 + v) % 97;
    }
  }
  return rem == 1 ? i : 0;
}

/* ---- IP addresses ------------------------------------------------- */

static size_t match_ipv4(const char *s)
{
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (s[i] != '.')
        return 0;
      i++;
    }
    size_t start = i;
    unsigned v = 0;
    while (is_digit(s[i]) && i - start < 4)
      v = v * 10 + (unsigned)(s[i++] - '0');
    if (i == start || i - start > 3 || v > 255)
      return 0;
  }
  if (is_digit(s[i]) || (s[i] == '.' && is_digit(s[i + 1])))
    return 0;
  return i;
}

static size_t match_ipv6(const char *s)
{
  size_t n = 0, colons = 0, decimal = 0;
  while (s[n] && (is_hex(s[n]) || s[n] == ':' || s[n] == '.') && n < 45) {
    colons += s[n] == ':';
    decimal += is_digit(s[n]);
    n++;
  }
  /* "ab::cd" is a valid address but far more often C++ or a Ruby
   * constant: an address to redact has a digit. */
  if (colons < 2 || !decimal)
    return 0;
  /* Trailing punctuation of the sentence is not part of the address. */
  while (n > 0 && (s[n - 1] == '.' || (s[n - 1] == ':' && !(n >= 2 && s[n - 2] == ':'))))
    n--;
  if (is_alnum(s[n]))
    return 0;
  char buf[64];
  memcpy(buf, s, n);
  buf[n] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET6, buf, addr) == 1 ? n : 0;
}

/* ---- phone numbers ------------------------------------------------ */

static size_t match_phone(const char *s)
{
  size_t i = 0, digits = 0, groups = 0;
  bool plus = false;
  if (s[0] == '+') {
    plus = true;
    i = 1;
  }
  while (s[i]) {
    if (s[i] == '(' && !digits) {   /* an area code in parentheses */
      i++;
      continue;
    }
    if (!is_digit(s[i]))
      break;
    size_t start = i;
    while (is_digit(s[i]))
      i++;
    digits += i - start;
    groups++;
    if (s[i] == ')')
      i++;
    if ((s[i] == ' ' || s[i] == '-' || s[i] == '.') && (is_digit(s[i + 1]) || s[i + 1] == '('))
      i++;
    else if (s[i] == ' ' && s[i + 1] == '(')
      i++;
    else
      break;
  }
  if (is_alnum(s[i]) || digits > 15)
    return 0;
  /* "+" and 8 or more digits; otherwise grouped (a bare run of digits is
   * more often an order number than a phone number). */
  if (plus ? digits >= 8 : (digits >= 9 && groups >= 2))
    return i;
  return 0;
}

/* ------------------------------------------------------------------ */

size_t hl_pii_scan(const char *text, hl_pii_span *spans, size_t max)
{
  size_t found = 0;
  if (!text)
    return 0;
  for (size_t i = 0; text[i];) {
    const char *s = text + i;
    char prev = i ? text[i - 1] : ' ';
    size_t len = 0;
    hl_pii_kind kind = HL_PII_SECRET;
    /* A match starts at a word boundary: not inside a longer word or number. */
    bool boundary = !is_alnum(prev) && prev != '_';
    if (boundary) {
      if ((len = match_secret(s)))
        kind = HL_PII_SECRET;
      else if (!is_local(prev) && (len = match_email(s)))
        kind = HL_PII_EMAIL;
      else if ((len = match_iban(s)))
        kind = HL_PII_IBAN;
      else if (prev != '.' && prev != ':' && (len = match_ipv6(s)))
        kind = HL_PII_IP;
      else if (prev != '.' && (len = match_ipv4(s)))
        kind = HL_PII_IP;
      else if ((len = match_card(s)))
        kind = HL_PII_CARD;
      else if ((len = match_phone(s)))
        kind = HL_PII_PHONE;
    }
    if (len) {
      if (found < max)
        spans[found] = (hl_pii_span){.start = i, .len = len, .kind = kind};
      found++;
      i += len;
    } else if (boundary && is_digit(s[0])) {
      /* A number that is none of the above (a card failing Luhn) must
       * not have its tail matched as something else (a phone number). */
      char ignore[1];
      size_t n;
      i += digit_groups(s, ignore, 0, &n);
    } else if (boundary && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) &&
               is_digit(s[2]) && is_digit(s[3])) {
      /* The same for an IBAN failing its checksum. */
      while (text[i] && (is_alnum(text[i]) || (text[i] == ' ' && is_alnum(text[i + 1]) &&
                                               !islower((unsigned char)text[i + 1]))))
        i++;
    } else {
      i++;
    }
  }
  return found;
}
