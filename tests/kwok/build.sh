#!/usr/bin/env bash
# Usage: build.sh            builds kwok (the version pinned in go.mod),
#                            cached outside the clone, and prints the folder
#                            holding `kwok`
#        build.sh sources    builds nothing; prints the kwok module's folder
#                            in the module cache (the test bed reads the
#                            stages of kustomize/stage)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "${1:-}" != sources ]; then
  exec bash "$here/../go-build.sh" "$here" sigs.k8s.io/kwok/cmd/kwok
fi
cache="${CNPG_MCP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cnpg-mcp}"
export GOMODCACHE="$cache/go/mod" GOFLAGS=-mod=mod
version="$(awk '$1 == "require" && $2 == "sigs.k8s.io/kwok" {print $3}' "$here/go.mod")"
dir="$(cd "$here" && go mod download -json "sigs.k8s.io/kwok@$version" | awk -F'"' '$2 == "Dir" {print $4}')"
[ -d "$dir" ] || { echo "module sigs.k8s.io/kwok@$version not downloaded" >&2; exit 1; }
echo "$dir"
