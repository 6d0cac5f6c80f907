/* hookline/sandbox.h - placeholder: filled in by the part of the library that owns it. */
#ifndef HOOKLINE_SANDBOX_H
#define HOOKLINE_SANDBOX_H
#include "status.h"
#endif
