#!/usr/bin/env bash
# Drives the MCP Inspector CLI against a cnpg-mcp server: lists the tools and
# calls get_session_info (who the server thinks you are).
#
#   scripts/test-inspector.sh --transport http --url https://mcp.example.com/mcp --token "$TOKEN"
#   scripts/test-inspector.sh --transport http --url http://127.0.0.1:3000/mcp --token-file ./token
#   scripts/test-inspector.sh --transport stdio [--binary path/to/cnpg-mcp]
#
# Over http without --token, the token comes from `cnpg-mcp token --url URL`:
# your `cnpg-mcp login` sign-in (or a client secret in the environment);
# without either, the Inspector is run with no Authorization header.
#
# The Inspector comes from tests/node_modules (tests/setup.sh installs it);
# MCP_INSPECTOR overrides its path. Exit status: the Inspector's (0 = both
# steps worked).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
transport=http
url=http://127.0.0.1:3000/mcp
token=""
binary="${CNPG_MCP_BIN:-cnpg-mcp}"
while [ $# -gt 0 ]; do
  case "$1" in
    --transport) transport="$2"; shift 2 ;;
    --url) url="$2"; shift 2 ;;
    --token) token="$2"; shift 2 ;;
    --token-file) token="$(tr -d '[:space:]' < "$2")"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ "$transport" = http ] && [ -z "$token" ] && command -v "$binary" >/dev/null 2>&1; then
  # The cached sign-in (refreshed if needed), else no token at all.
  if ! token="$("$binary" token --url "$url" 2>"${TMPDIR:-/tmp}/cnpg-mcp-token.$$")"; then
    token=""
    echo "(no token: $(tail -n 1 "${TMPDIR:-/tmp}/cnpg-mcp-token.$$"))" >&2
  fi
  rm -f "${TMPDIR:-/tmp}/cnpg-mcp-token.$$"
fi
inspector="${MCP_INSPECTOR:-$root/tests/node_modules/.bin/mcp-inspector}"
[ -x "$inspector" ] || { echo "MCP Inspector not found at $inspector (run tests/setup.sh)" >&2; exit 2; }
# Node 22 from tests/node_modules first (the Inspector needs it).
[ -d "$root/tests/node_modules/.bin" ] && export PATH="$root/tests/node_modules/.bin:$PATH"

# The Inspector's own options come first; for stdio the server command
# follows `--` (its arguments would otherwise be taken as the Inspector's).
run() {
  case "$transport" in
    http)
      if [ -n "$token" ]; then
        "$inspector" --cli "$url" --transport http --header "Authorization: Bearer $token" "$@"
      else
        "$inspector" --cli "$url" --transport http "$@"
      fi
      ;;
    stdio) "$inspector" --cli "$@" -- "$binary" serve --transport stdio ;;
    *) echo "--transport must be http or stdio" >&2; exit 2 ;;
  esac
}

echo "== tools/list"
run --method tools/list
echo "== tools/call get_session_info"
run --method tools/call --tool-name get_session_info
