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

bash tests/setup.sh

echo "== format and lints"
cargo fmt --all -- --check
(cd components && cargo fmt --all -- --check)
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "== build"
cargo build --locked -p cnpg-mcp
echo "== test"
cargo test --locked --workspace
