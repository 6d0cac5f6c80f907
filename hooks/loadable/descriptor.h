/*
 * hooks/loadable/descriptor.h - one descriptor source, two forms.
 *
 * Each file here is compiled twice: into libhookline, where it defines the
 * hidden descriptor `hl__plugin_<id>` that hl_plugin_builtin() lists (so
 * that programs linked statically have every plugin by name), and into
 * <id>.so with -DHL_PLUGIN_SHARED_OBJECT, where the same lines export the
 * `hookline_plugin` symbol of a plugin loadable by path. The .so form calls
 * the plugin's public functions in the shared libhookline, exactly as a
 * third party's plugin would.
 */
#ifndef HL_LOADABLE_DESCRIPTOR_H
#define HL_LOADABLE_DESCRIPTOR_H

#include "hookline.h"
#include "hookline/plugin.h"
#include "../plugin_options.h"

#ifdef HL_PLUGIN_SHARED_OBJECT
#define HL_BUILTIN_PLUGIN(id, name, description, init, free) \
  HL_PLUGIN_DEFINE(name, HOOKLINE_VERSION, description, init, free)
#else
#define HL_BUILTIN_PLUGIN(id, name_, description_, init_, free_)         \
  extern const hl_plugin_descriptor hl__plugin_##id;                    \
  const hl_plugin_descriptor hl__plugin_##id = {                        \
      .size = sizeof(hl_plugin_descriptor),                             \
      .abi_version = HL_PLUGIN_ABI_VERSION,                             \
      .name = (name_),                                                  \
      .version = HOOKLINE_VERSION,                                      \
      .description = (description_),                                    \
      .init = (init_),                                                  \
      .free = (free_)}
#endif

#endif
