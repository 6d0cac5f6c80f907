/* hookline/plugins.h - placeholder: filled in by the part of the library that owns it. */
#ifndef HOOKLINE_PLUGINS_H
#define HOOKLINE_PLUGINS_H
#include "status.h"
#endif
