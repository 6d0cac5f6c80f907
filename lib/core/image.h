/*
 * core/image.h - image parts' URLs: which ones a message may hold, and a
 * data: URL split into media type and base64 for the wire formats that
 * send them apart (Anthropic, Gemini). Internal; pure functions,
 * thread-safe.
 */
#ifndef HL_CORE_IMAGE_H
#define HL_CORE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include "hookline/status.h"

/* HL_OK when `url` is http(s) or a base64 data: URL with a media type;
 * HL_ERR_INVALID with a message naming what is wrong otherwise. */
hl_status hl__image_check_url(const char *url);

/* For "data:TYPE;base64,DATA": *type (not NUL-terminated, *type_len
 * bytes) and *data (NUL-terminated, the rest of the URL). False for any
 * other URL. */
bool hl__image_data_url(const char *url, const char **type, size_t *type_len, const char **data);

/* A media type is "type/subtype" of token characters. */
bool hl__image_media_type_ok(const char *s, size_t len);

/* Every character is of the base64 alphabet (padding '=' only at the end). */
bool hl__image_base64_ok(const char *s);

#endif
