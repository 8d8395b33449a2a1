#!/usr/bin/env bash
# Installs the real Kubo and IPFS Cluster binaries the interop suite runs against,
# with `go install` into a cache outside the repository (reused when present).
#
# Versions: the newest releases the Go module proxy serves here that build with
# the machine's Go (1.26). Kubo v0.44.0 (what reference/kubo-rpc.md describes as
# 0.44.0-dev) is not served by the proxy reachable from this machine (403), so
# v0.43.0 is the nearest release; IPFS Cluster v1.1.5 is the newest release served.
#
# `go install pkg@version` first asks the proxy for the module's version list
# (/@v/list) to look up deprecations, and the proxy reachable here refuses that
# endpoint (403) although it serves the releases themselves. So each release is
# fetched with `go mod download module@version` and `go install ./cmd/...` runs
# inside that module, with the release's own go.mod and go.sum (what `@version`
# would use too; -mod=readonly so nothing is re-resolved). The checksum database
# behind that proxy has no entry for some of these releases (404 for
# ipfs-cluster v1.1.5), so the two top modules are exempt from it (GONOSUMDB);
# every dependency is still checked against the release's own go.sum.
#
# Prints one line and exits 1 when Go or the module proxy is unavailable.
set -euo pipefail

KUBO_VERSION="${KUBO_VERSION:-v0.43.0}"
CLUSTER_VERSION="${CLUSTER_VERSION:-v1.1.5}"
# IPFS Cluster v1.1.5 does not build with Go 1.26: its datastore (pebble) depends on
# github.com/cockroachdb/swiss, whose runtime hook is compiled only for Go < 1.26
# ("undefined: hashFn"). No later release is served here, so it is built with the Go
# release its go.mod names (1.25), which `go` itself fetches through the module proxy.
CLUSTER_GOTOOLCHAIN="${CLUSTER_GOTOOLCHAIN:-go1.25.5}"
KUBO_GOTOOLCHAIN="${KUBO_GOTOOLCHAIN:-local}"
CACHE="${SUPERCLUSTER_INTEROP_CACHE:-$HOME/.cache/supercluster-interop}"

if ! command -v go >/dev/null 2>&1; then
  echo "interop install: Go is not installed (need the go command on PATH)" >&2
  exit 1
fi

mkdir -p "$CACHE"
bin_for() { echo "$CACHE/$1-$2/bin"; }

install_one() { # name version toolchain package...
  local name="$1" version="$2" toolchain="$3"; shift 3
  local dir; dir="$(bin_for "$name" "$version")"
  local missing=0
  for pkg in "$@"; do [[ -x "$dir/$(basename "$pkg")" ]] || missing=1; done
  if [[ $missing -eq 0 ]]; then
    echo "interop install: $name $version already in $dir"
    return 0
  fi
  mkdir -p "$dir"
  local started=$SECONDS
  local log="$CACHE/$name-$version.log"
  local module="${1%%/cmd/*}"
  local src
  if ! src="$(cd "$CACHE" && GONOSUMDB="github.com/ipfs/kubo,github.com/ipfs-cluster/ipfs-cluster" go mod download -json "$module@$version" 2>"$log" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || [[ -z "$src" ]]; then
    echo "interop install: the Go module proxy is unavailable for $module@$version: $(grep -m1 . "$log" || echo 'no answer')" >&2
    exit 1
  fi
  for pkg in "$@"; do
    echo "interop install: go install $pkg (release $version, from $src)"
    if ! (cd "$src" && GOTOOLCHAIN="$toolchain" GOBIN="$dir" GOFLAGS="-buildvcs=false -mod=readonly" CGO_ENABLED=0 \
        go install "./${pkg#"$module"/}") >>"$log" 2>&1; then
      if grep -qE 'proxy.golang.org|dial tcp|no such host|403 Forbidden|connection refused' "$log"; then
        echo "interop install: the Go module proxy is unavailable while building $pkg@$version: $(grep -m1 -E 'proxy|dial|host|403|refused' "$log")" >&2
      else
        echo "interop install: go install $pkg@$version failed: $(tail -n 1 "$log")" >&2
      fi
      exit 1
    fi
  done
  echo "interop install: $name $version built in $((SECONDS - started)) s"
}

install_one kubo "$KUBO_VERSION" "$KUBO_GOTOOLCHAIN" github.com/ipfs/kubo/cmd/ipfs
install_one ipfs-cluster "$CLUSTER_VERSION" "$CLUSTER_GOTOOLCHAIN" \
  github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-service \
  github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-ctl

# The suite reads this file to find the binaries.
cat >"$CACHE/paths.env" <<ENV
IPFS_BIN=$(bin_for kubo "$KUBO_VERSION")/ipfs
CLUSTER_SERVICE_BIN=$(bin_for ipfs-cluster "$CLUSTER_VERSION")/ipfs-cluster-service
CLUSTER_CTL_BIN=$(bin_for ipfs-cluster "$CLUSTER_VERSION")/ipfs-cluster-ctl
KUBO_VERSION=$KUBO_VERSION
CLUSTER_VERSION=$CLUSTER_VERSION
ENV
echo "interop install: ready ($CACHE/paths.env)"
