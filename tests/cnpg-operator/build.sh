#!/usr/bin/env bash
# Usage: build.sh            builds the CloudNativePG operator (cmd/manager,
#                            the version pinned in go.mod), cached outside
#                            the clone, and prints the folder holding `manager`
#        build.sh sources    builds nothing; prints the operator module's
#                            folder in the module cache (the test bed reads
#                            its config/crd/bases and config/webhook), then
#                            the VolumeSnapshot CRDs' folder
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "${1:-}" != sources ]; then
  exec bash "$here/../go-build.sh" "$here" github.com/cloudnative-pg/cloudnative-pg/cmd/manager
fi
cache="${CNPG_MCP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cnpg-mcp}"
export GOMODCACHE="$cache/go/mod" GOFLAGS=-mod=mod
operator="$(awk '$1 == "require" && $2 == "github.com/cloudnative-pg/cloudnative-pg" {print $3}' "$here/go.mod")"
# The VolumeSnapshot CRDs of external-snapshotter v8.2.0 (the operator's
# own go.mod asks for a newer client library; the CRDs are pinned here).
snapshotter=v8.2.0
for module in "github.com/cloudnative-pg/cloudnative-pg@$operator" \
              "github.com/kubernetes-csi/external-snapshotter/client/v8@$snapshotter"; do
  dir="$(cd "$here" && go mod download -json "$module" | awk -F'"' '$2 == "Dir" {print $4}')"
  [ -d "$dir" ] || { echo "module $module not downloaded" >&2; exit 1; }
  echo "$dir"
done | sed '2s|$|/config/crd|'
