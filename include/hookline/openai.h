/* hookline/openai.h - placeholder: filled in by the part of the library that owns it. */
#ifndef HOOKLINE_OPENAI_H
#define HOOKLINE_OPENAI_H
#include "status.h"
#endif
