#!/usr/bin/env bash
# npm run test:interop: install (or reuse) the real Kubo and IPFS Cluster, build the hub,
# then run the interop suite inside a private network namespace whose only interface is
# loopback, so nothing it starts can reach beyond 127.0.0.1 even if a setting were missed.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/interop/install.sh
npm run --silent build
suite=(npx vitest run -c vitest.interop.config.ts "$@")
if unshare --net true 2>/dev/null; then
  exec unshare --net bash -c 'ip link set lo up && exec "$@"' bash "${suite[@]}"
fi
echo "interop: cannot create a network namespace here (unshare --net); running on the host's loopback" >&2
exec "${suite[@]}"
