#!/usr/bin/env bash
# The whole test suite: installs what it needs (tests/setup.sh), builds the
# server and its guest components, then runs every test of the workspace:
# unit tests, integration tests against the real binary, the official MCP
# conformance suite, the Python SDK and the MCP Inspector CLI.
#
# Build output goes to a cache outside the clone (CARGO_TARGET_DIR, default
# ~/.cache/cnpg-mcp/target) so re-runs are fast; nothing depends on it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cnpg-mcp/target}"
# One-shot builds: incremental artifacts only cost disk.
export CARGO_INCREMENTAL=0

bash tests/setup.sh

echo "== format and lints"
cargo fmt --all -- --check
(cd components && cargo fmt --all -- --check)
cargo clippy --locked --workspace --all-targets -- -D warnings
(cd components && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm32-guests-clippy" \
  cargo clippy --locked --release --target wasm32-wasip2 --workspace -- -D warnings)

echo "== build"
cargo build --locked -p cnpg-mcp
echo "== test"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
# --no-fail-fast: one failing test binary must not hide the others' results.
cargo test --locked --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?
# Pure guest-side logic (names, quantities, timestamps, image tags,
# configuration rules, catalogs, certificates), natively.
(cd components && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/guests-native" \
  cargo test --locked -p cnpg-mcp-sdk -p cnpg-configuration -p cnpg-upgrades -p cnpg-certificates 2>&1) \
  | tee -a "$log" || status=$?
# One closing line for the whole run: the sum of every test binary's result.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "summary: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
