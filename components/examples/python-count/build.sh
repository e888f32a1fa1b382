#!/usr/bin/env bash
# Builds the Python example component with componentize-py (from the test
# venv, tests/requirements.txt) into a cache outside the clone, keyed by the
# source, the WIT contract and the componentize-py version; prints the path
# of count_postgres_clusters.wasm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
python="${PYTHON:-$root/tests/.venv/bin/python}"
componentize="$(dirname "$python")/componentize-py"
cache="${CNPG_MCP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cnpg-mcp}"
version="$("$componentize" --version)"
key="$( (cat "$here/app.py" "$root"/wit/*.wit; echo "$version") | sha256sum | cut -c1-16)"
out="$cache/python-components/$key/count_postgres_clusters.wasm"
if [ ! -f "$out" ]; then
  mkdir -p "$(dirname "$out")"
  (cd "$here" && "$componentize" -d "$root/wit" -w tool componentize app -o "$out.tmp" >&2)
  mv "$out.tmp" "$out"
fi
echo "$out"
