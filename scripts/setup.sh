#!/usr/bin/env bash
# The one set-up path behind `npm run up` and `npm run setup`, in an order that works on a
# new Debian 12 machine (only Node, npm and the docker client there). Every step is
# idempotent, so running either command twice does nothing the second time.
#
#   bash scripts/setup.sh runtime   # what deploying the local datacenter needs:
#                                   #   Docker engine, build packages, ssh2's native crypto,
#                                   #   role bundles, base image
#   bash scripts/setup.sh tests     # runtime + the real protocol clients + the tests' ports
#
# Needs root for the Debian packages (apt-get) and for starting dockerd; each step says
# what it would install when it is not root.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."
what=${1:-}
case "$what" in
  runtime | tests) ;;
  *)
    echo "usage: bash scripts/setup.sh runtime|tests" >&2
    exit 2
    ;;
esac

step() { echo "setup: $1" >&2; }

step "1/5 Docker engine"
bash "$here/setup-docker.sh"
step "2/5 build packages (PostgreSQL 15 for the db image, busybox-static for the base image)"
bash "$here/setup-build-deps.sh"
step "3/5 ssh2's native crypto (SFTP speed; JavaScript ciphers when it cannot be built)"
bash "$here/build-ssh-crypto.sh"
step "4/5 role bundles"
node node_modules/tsx/dist/cli.mjs images/build.ts
step "5/5 local base image"
bash "$here/make-base-image.sh"
if [[ $what == tests ]]; then
  step "tests: real protocol clients"
  bash "$here/setup-clients.sh"
  step "tests: fixed test ports"
  bash "$here/reserve-test-ports.sh"
fi
step "done ($what)"
