#!/usr/bin/env bash
# Builds the helm CLI (the version pinned in go.mod) from the Go module proxy
# into a cache outside the clone, keyed by go.mod + go.sum, and prints the
# binary's path. A warm machine reuses the cached binary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CNPG_MCP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cnpg-mcp}"
key="$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)"
out="$cache/helm/$key/helm"
if [ ! -x "$out" ]; then
  mkdir -p "$(dirname "$out")"
  export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS=-mod=mod
  (cd "$here" && CGO_ENABLED=0 go build -o "$out.tmp" helm.sh/helm/v3/cmd/helm)
  mv "$out.tmp" "$out"
fi
echo "$out"
