#!/bin/sh
# scripts/setup.d/mcp-everything.sh - install the pinned MCP reference server
# (@modelcontextprotocol/server-everything) that tests/mcp drives over stdio
# and Streamable HTTP.
#
# Installed by npm_pinned.inc: pinned by the integrity values below and by
# the committed package-lock.json, into $HOOKLINE_CACHE/mcp-everything/<version>.

PKG="@modelcontextprotocol/server-everything"
VERSION="2026.8.31"
INTEGRITY="sha512-5U3OZh8Xq0Li4nA26l6uNvV9/1suMDuWSn+NjLZIhzinhMY6N3A4DCrxVecBGPf2PsNFKTEv5krxGPRwzxc7jQ=="

STEP="mcp-everything"
READY="dist/index.js"
WHY="the mcp tests need it"
. "$(dirname "$0")/npm_pinned.inc"
