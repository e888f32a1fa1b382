#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-scheduler (the
# k8s.io/kubernetes version pinned in go.mod) in one Go build, cached
# outside the clone, and prints the folder holding them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '/^require k8s.io\/kubernetes/ {print $3}' "$here/go.mod")"
export GO_LDFLAGS="-X k8s.io/component-base/version.gitVersion=$version"
exec bash "$here/../go-build.sh" "$here" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler
