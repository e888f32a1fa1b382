#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, from the
# package registries only, and reuses what a warm machine already has:
#   - the wasm32-wasip2 Rust target (guest components)
#   - Node 22 + the MCP conformance suite + MCP Inspector + oidc-provider, the
#     OpenID provider of the authentication tests (tests/package.json)
#   - a Python venv with the official MCP SDK (tests/requirements.txt)
#   - the Kubernetes test bed, built from Go modules and cached outside the
#     clone: kube-apiserver, kube-controller-manager and kube-scheduler
#     (tests/kubernetes), the CloudNativePG operator (tests/cnpg-operator;
#     its module also gives the CRDs), kwok (tests/kwok); etcd comes from
#     the etcd-bin-vendored crate
#   - helm, built from Go modules (tests/helm), for the chart tests
#   - musl-tools, buildah, podman and runc (Debian packages) and the
#     x86_64-unknown-linux-musl target, for the image tests
#   - wrk, for the HTTP benchmark (Debian package), when apt is available
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

echo "== rustup target wasm32-wasip2"
rustup target add wasm32-wasip2

echo "== npm clients (tests/node_modules)"
# `npm ci` cannot be used: an optional dependency of the Inspector's UI
# (never installed on Linux) is absent from the registry, so npm leaves it
# out of the lock file and `npm ci` then refuses the lock file. `npm install`
# with the committed lock file installs exactly the locked tree.
(cd "$here" && npm install --no-audit --no-fund --loglevel=error)
"$here/node_modules/.bin/node" --version
(cd "$here" && node_modules/.bin/node -p '"oidc-provider " + require("oidc-provider/package.json").version')

echo "== python venv (tests/.venv)"
want="$(sha256sum "$here/requirements.txt" | cut -c1-16)"
if [ ! -x "$here/.venv/bin/python" ] || [ "$(cat "$here/.venv/.requirements" 2>/dev/null)" != "$want" ]; then
  rm -rf "$here/.venv"
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" > "$here/.venv/.requirements"
fi
"$here/.venv/bin/python" -c 'import mcp, importlib.metadata as m; print("mcp", m.version("mcp"))'

echo "== test bed: Kubernetes, the CloudNativePG operator, kwok (Go builds from the module proxy, cached outside the clone)"
for part in kubernetes cnpg-operator kwok; do
  started=$(date +%s)
  bash "$here/$part/build.sh"
  echo "$part ready in $(( $(date +%s) - started )) s"
done

echo "== container tools and the static target (image tests)"
rustup target add x86_64-unknown-linux-musl >/dev/null
missing=()
command -v musl-gcc >/dev/null 2>&1 || missing+=(musl-tools)
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
# openssl: a facade unit test reads a SEC1 key as `openssl ecparam` writes it.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages)"
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

echo "== helm (Go build from the module proxy, cached outside the clone)"
started=$(date +%s)
bash "$here/helm/build.sh"
echo "helm ready in $(( $(date +%s) - started )) s"

if ! command -v wrk >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "== wrk (for benchmarks)"
  (apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1; }) \
    || echo "wrk could not be installed; the HTTP benchmark needs it (tests do not)"
fi
