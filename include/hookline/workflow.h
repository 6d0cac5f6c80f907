/* hookline/workflow.h - placeholder: filled in by the part of the library that owns it. */
#ifndef HOOKLINE_WORKFLOW_H
#define HOOKLINE_WORKFLOW_H
#include "status.h"
#endif
