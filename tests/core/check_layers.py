#!/usr/bin/env python3
"""check_layers.py - the library's layers depend only downwards.

The layers of lib/, bottom up (DESIGN.md: "data flows one way"):

    core/  ->  net/  ->  providers/ sandbox/ mcp/  ->  agent/  ->  store/ plugin/

A folder may use its own layer and the layers below it, never one above.
net/ is the HTTP transport (event loops, connection pool, requests, SSE)
that the providers, MCP and the agent's asynchronous runs share: it has a
level of its own so that it cannot come to depend on a provider's wire
format or on MCP (net/ -> providers/ or mcp/ fails; a link between folders
of one level would only be counted).

Two checks, both over what was actually built:

  * symbols: the symbol tables (readelf) of every object compiled from
    lib/<layer>/ (the library's own objects and the static libraries linked
    whole into it, found through compile_commands.json): no object may
    reference an internal symbol (hidden: hl__*, not exported) that only an
    object of a higher layer defines. A header could declare it anywhere;
    the objects show where it lives;
  * includes: no file of lib/<layer>/ may #include "<higher layer>/...".

The top, which the order above lets use everything below it, has rules
of its own:

  * agents/ and hooks/ are built on the public API only (DESIGN.md: "If a
    plugin needs a private header, the API is missing something"): none
    of their files may include a header of lib/, by a path the library's
    include directory would resolve ("agent/agent_internal.h") or a
    relative one ("../lib/agent/agent_internal.h"), and none of their
    objects linked into the library may reference an internal symbol of
    lib/ (a prototype written by hand);
  * lib/store/ and lib/plugin/ build on the agent layer through its
    public API and the seams it declares for them, not through its
    internals: they may include no agent/*_internal.h header, except the
    pairs of TOP_ALLOWED, each with its reason. An entry no longer used
    fails too, so that the list stays as short as the need.

The public API (HL_API, exported) is exempt: a provider or a backend that
uses hl_context_emit_delta() or hl_tool_invoke() depends on the agent layer
only as a plugin of hooks/ does, through include/hookline/. Such links, and
those between folders of one level (providers, sandbox, mcp; store,
plugin), are counted, not failed.

Usage: check_layers.py SOURCE_ROOT BUILD_ROOT. Exit 0 when the rule holds,
1 with one line per violation when it does not, 2 when the build cannot be
read (no compile_commands.json, readelf missing, an object not built).
"""
import json
import os
import re
import subprocess
import sys

RANK = {"core": 0, "net": 1, "providers": 2, "sandbox": 2, "mcp": 2, "agent": 3, "store": 4,
        "plugin": 4}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)
ANY_INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]', re.M)

# Folders outside lib/ that may use the public API (include/) only.
PUBLIC_ONLY = ("agents", "hooks")
# Folders of lib/ above agent/ that may not include its *_internal.h headers.
ABOVE_AGENT = ("store", "plugin")
AGENT_INTERNAL = re.compile(r"^agent/[^/]+_internal\.h$")
TOP_OBJECT = re.compile(r"(agents|hooks)/libhookline_[a-z_]+\.a\.p/")
# (file, header): why this file of ABOVE_AGENT needs that agent internal.
TOP_ALLOWED = {
    ("lib/store/session_store.c", "agent/session_internal.h"):
        "a stored session is an hl_session with a sink: the store fills in the"
        " sink (hl__session_set_sink) and replays its log into the session"
        " (hl__session_swap_contents, hl__session_run_state_change), the seam"
        " session_internal.h declares for it",
}


def layer_of(path, roots):
    """The layer folder a source path lies in, or None outside lib/."""
    for root in roots:
        rel = os.path.relpath(path, os.path.join(root, "lib"))
        if not rel.startswith(".."):
            top = rel.split(os.sep)[0]
            return top if top in RANK else None
    return None


def library_objects(src, build):
    """({object path: layer} for every object built from lib/<layer>/,
    {object path: "agents" or "hooks"} for the objects of the top that are
    linked into the library)."""
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    roots = [os.path.realpath(src), os.path.realpath(build)]
    objects, top = {}, {}
    for e in entries:
        source = os.path.realpath(os.path.join(e["directory"], e["file"]))
        layer = layer_of(source, roots)
        out = e["output"]
        path = os.path.join(e["directory"], out)
        # Tests and benches compile their own programs; only the library's
        # objects (its own target and the static libraries of lib/) count,
        # and the static libraries of agents/ and hooks/ linked into it (the
        # loadable .so plugins link against the shared library, where an
        # internal symbol cannot even be reached).
        linked = TOP_OBJECT.match(out)
        if linked:
            top[path] = linked.group(1)
        elif layer and not re.match(r"(tests|bench|examples|hooks|agents)/", out):
            objects[path] = layer
    return objects, top


def symbols(obj):
    """(defined, undefined) global symbols of one object: defined maps a
    name to True when it is exported (default visibility, the public API)."""
    out = subprocess.run(["readelf", "-sW", obj], check=True, capture_output=True,
                         text=True).stdout
    defined, undefined = {}, set()
    for line in out.splitlines():
        # Num: Value Size Type Bind Vis Ndx Name
        parts = line.split()
        if len(parts) < 8 or not parts[0].endswith(":") or parts[4] not in ("GLOBAL", "WEAK"):
            continue
        name = parts[7]
        if parts[6] == "UND":
            undefined.add(name)
        else:
            defined[name] = parts[5] == "DEFAULT"
    return defined, undefined


def check_symbols(objects):
    where = {}  # symbol -> set of layers defining it
    public = set()
    uses = []
    for obj, layer in sorted(objects.items()):
        defined, undefined = symbols(obj)
        for name, exported in defined.items():
            where.setdefault(name, set()).add(layer)
            if exported:
                public.add(name)
        uses.append((obj, layer, undefined))
    up, api, side = [], {}, []
    for obj, layer, undefined in uses:
        for name in sorted(undefined):
            owners = where.get(name)
            if not owners or layer in owners:
                continue
            low = min(owners, key=RANK.get)
            link = f"{os.path.basename(obj)} ({layer}/) uses {name} from {'/, '.join(sorted(owners))}/"
            if RANK[low] > RANK[layer] and name in public:
                api.setdefault(f"{layer}/ -> {low}/", set()).add(name)
            elif RANK[low] > RANK[layer]:
                up.append(link)
            elif RANK[low] == RANK[layer]:
                side.append(link)
    hidden = {name: owners for name, owners in where.items() if name not in public}
    return up, api, side, hidden


def check_top_symbols(top, hidden):
    """The objects of agents/ and hooks/ reference no internal (hidden)
    symbol of lib/: what the include rule misses when a prototype is
    written by hand."""
    uses, own = [], set()
    for obj, folder in sorted(top.items()):
        defined, undefined = symbols(obj)
        own |= set(defined)
        uses.append((obj, folder, undefined))
    bad = []
    for obj, folder, undefined in uses:
        for name in sorted((undefined & set(hidden)) - own):
            bad.append(f"{os.path.basename(obj)} ({folder}/) uses {name}, internal to"
                       f" {'/, '.join(sorted(hidden[name]))}/ ({folder}/ uses the public API only)")
    return bad


def sources(folder):
    """The C sources and headers under `folder`, sorted."""
    for dirpath, dirs, files in os.walk(folder):
        dirs.sort()
        for fn in sorted(files):
            if fn.endswith((".c", ".h", ".c.in")):
                yield os.path.join(dirpath, fn)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def check_includes(src):
    up, side = [], []
    lib = os.path.join(src, "lib")
    for layer in sorted(RANK):
        for path in sources(os.path.join(lib, layer)):
            for target in INCLUDE.findall(read(path)):
                if target not in RANK or target == layer:
                    continue
                link = f"{os.path.relpath(path, src)} includes {target}/"
                if RANK[target] > RANK[layer]:
                    up.append(link)
                elif RANK[target] == RANK[layer]:
                    side.append(link)
    return up, side


def lib_header(src, path, quote, target):
    """The header of lib/ (relative to lib/, e.g. "agent/run_internal.h")
    that `#include <target>` or `"target"` in `path` reaches, or None."""
    lib = os.path.join(os.path.realpath(src), "lib")
    candidates = [os.path.join(lib, target)]
    if quote == '"':  # quoted: the including file's folder is searched first
        candidates.insert(0, os.path.join(os.path.dirname(path), target))
    for c in candidates:
        real = os.path.realpath(c)
        if os.path.isfile(real):
            rel = os.path.relpath(real, lib)
            return None if rel.startswith("..") else rel.replace(os.sep, "/")
    return None


def check_top(src):
    """Includes of the top (see the module's doc): (violations, used
    allow-list entries)."""
    bad, used = [], set()
    for top in PUBLIC_ONLY:
        for path in sources(os.path.join(src, top)):
            for quote, target in ANY_INCLUDE.findall(read(path)):
                header = lib_header(src, path, quote, target)
                if header:
                    bad.append(f"{os.path.relpath(path, src)} includes lib/{header}"
                               f" ({top}/ uses the public API only)")
    for layer in ABOVE_AGENT:
        for path in sources(os.path.join(src, "lib", layer)):
            rel = os.path.relpath(path, src)
            for quote, target in ANY_INCLUDE.findall(read(path)):
                header = lib_header(src, path, quote, target)
                if not header or not AGENT_INTERNAL.match(header):
                    continue
                if (rel, header) in TOP_ALLOWED:
                    used.add((rel, header))
                else:
                    bad.append(f"{rel} includes lib/{header} (an internal of agent/ that"
                               " store/ and plugin/ do not use; TOP_ALLOWED lists the exceptions)")
    for rel, header in sorted(set(TOP_ALLOWED) - used):
        bad.append(f"TOP_ALLOWED lists {rel} including {header}, which it no longer does:"
                   " drop the entry")
    return bad, used


def main():
    if len(sys.argv) != 3:
        print("usage: check_layers.py SOURCE_ROOT BUILD_ROOT", file=sys.stderr)
        return 2
    src, build = sys.argv[1], sys.argv[2]
    try:
        objects, top = library_objects(src, build)
        if not objects or not {"core", "agent"} <= set(objects.values()):
            print("check_layers: no library objects of core/ and agent/ in compile_commands.json",
                  file=sys.stderr)
            return 2
        sym_up, api, sym_side, hidden = check_symbols(objects)
        top_sym = check_top_symbols(top, hidden)
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f"check_layers: cannot read the build: {e}", file=sys.stderr)
        return 2
    inc_up, inc_side = check_includes(src)
    top_bad, top_used = check_top(src)
    top_bad = top_sym + top_bad
    for link in sym_side + inc_side:
        print("same level:", link)
    for pair, names in sorted(api.items()):
        print(f"public API, upwards: {pair} {len(names)} functions ({', '.join(sorted(names))})")
    for rel, header in sorted(top_used):
        print(f"allowed: {rel} includes {header}: {TOP_ALLOWED[(rel, header)]}")
    for link in sym_up + inc_up:
        print("UPWARD:", link)
    for link in top_bad:
        print("TOP:", link)
    print(f"check_layers: {len(objects)} + {len(top)} objects, {len(sym_up) + len(inc_up)}"
          f" upward links, {len(top_bad)} private uses at the top")
    return 1 if sym_up or inc_up or top_bad else 0


if __name__ == "__main__":
    sys.exit(main())
