/* hookline/anthropic.h - placeholder: filled in by the part of the library that owns it. */
#ifndef HOOKLINE_ANTHROPIC_H
#define HOOKLINE_ANTHROPIC_H
#include "status.h"
#endif
