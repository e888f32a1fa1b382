#!/usr/bin/env bash
# Builds cnpg-mcp as a static (musl) binary with the built-in components
# embedded, and lays out a folder usable as the Dockerfile's `build` stage:
# <folder>/out/cnpg-mcp and <folder>/etc/ssl/certs/ca-certificates.crt.
# Prints the folder. PROFILE=debug|release (default release).
#
# Needs: rustup targets x86_64-unknown-linux-musl and wasm32-wasip2, and
# musl-gcc (Debian package musl-tools).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${PROFILE:-release}"
# A target folder of its own: the build scripts of a cross build go to its
# host profile folder, which a running `cargo test` may hold locked.
target_dir="${CARGO_TARGET_DIR:-$root/target}/static"
rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1 || true
flag=()
[ "$profile" = release ] && flag=(--release)
(cd "$root" && CARGO_TARGET_DIR="$target_dir" CC_x86_64_unknown_linux_musl=musl-gcc \
  cargo build --locked "${flag[@]}" --target x86_64-unknown-linux-musl -p cnpg-mcp >&2)
context="$target_dir/image-context-$profile"
rm -rf "$context"
mkdir -p "$context/out" "$context/etc/ssl/certs"
cp "$target_dir/x86_64-unknown-linux-musl/$profile/cnpg-mcp" "$context/out/cnpg-mcp"
cp /etc/ssl/certs/ca-certificates.crt "$context/etc/ssl/certs/ca-certificates.crt"
echo "$context"
