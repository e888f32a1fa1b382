#!/usr/bin/env bash
# Usage: go-build.sh MODULE_DIR PACKAGE...
#
# Builds the main PACKAGEs of a wrapper module (a folder with its own go.mod
# and go.sum and no Go source) from the Go module proxy, in one `go build`
# so that packages they share compile once, into a cache outside the clone
# keyed by go.mod + go.sum + the package list + GO_LDFLAGS. Prints the
# folder holding the binaries, each named after its package's last path
# element. A warm machine reuses the cached folder; a fresh one builds it.
#
# GO_LDFLAGS (optional) is passed to the linker, e.g. to stamp a version.
set -euo pipefail
module="$(cd "$1" && pwd)"
shift
cache="${CNPG_MCP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cnpg-mcp}"
key="$({ cat "$module/go.mod" "$module/go.sum"; echo "$*"; echo "${GO_LDFLAGS:-}"; } | sha256sum | cut -c1-16)"
out="$cache/$(basename "$module")/$key"
if [ ! -f "$out/.complete" ]; then
  export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS=-mod=mod
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  started=$(date +%s)
  (cd "$module" && CGO_ENABLED=0 go build -ldflags "${GO_LDFLAGS:-}" -o "$out.tmp/" "$@") >&2
  rm -rf "$out"
  mv "$out.tmp" "$out"
  echo "built $* in $(( $(date +%s) - started )) s" >&2
  touch "$out/.complete"
fi
echo "$out"
