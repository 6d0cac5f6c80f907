/*
 * lib/core/json_word.h - the word test with which the JSON parser
 * (json.c) and printer (json_print.c) pass over the plain bytes of a
 * string eight at a time instead of one by one (issue 12).
 */
#ifndef HL_CORE_JSON_WORD_H
#define HL_CORE_JSON_WORD_H

#include <stddef.h>
#include <stdint.h>

#define HL__WORD_ONES 0x0101010101010101ull
#define HL__WORD_HIGHS 0x8080808080808080ull

/* The high bit of each byte of `w` (eight bytes memcpy'd from a string)
 * that is below 0x20, '"' or '\\' (the classic has-zero-byte tests); a
 * byte of 0x80 or above is never flagged. No such byte is missed, and the
 * lowest flagged byte (the first in memory on a little-endian machine) is
 * always a true one: a subtraction's borrow, the only source of false
 * flags, only reaches bytes above a byte that matched. */
static inline uint64_t hl__word_escapes(uint64_t w) {
  uint64_t ctl = (w - HL__WORD_ONES * 0x20) & ~w;
  uint64_t q = w ^ (HL__WORD_ONES * '"'), bs = w ^ (HL__WORD_ONES * '\\');
  q = (q - HL__WORD_ONES) & ~q;
  bs = (bs - HL__WORD_ONES) & ~bs;
  return (ctl | q | bs) & HL__WORD_HIGHS;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* hl__word_first() exists: elsewhere callers look byte by byte. */
#define HL__WORD_FIRST 1
/* The offset of the first flagged byte in memory of a non-zero mask. */
static inline size_t hl__word_first(uint64_t mask) { return (size_t)__builtin_ctzll(mask) >> 3; }
#endif

#endif
