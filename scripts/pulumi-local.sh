#!/usr/bin/env bash
# Runs a Pulumi command on the local stack with a file state backend in .pulumi-state/ and
# the documented default passphrase (local stack only: it guards nothing but this machine's
# simulation; set PULUMI_CONFIG_PASSPHRASE yourself for anything else).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
stack="${SERVERPARK_STACK:-local}"
mkdir -p .pulumi-state
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$root/.pulumi-state}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-serverpark-local}"
export PULUMI_SKIP_UPDATE_CHECK=true
# `npm test` type-checks the project; ts-node only needs to transpile the program.
export PULUMI_NODEJS_TRANSPILE_ONLY="${PULUMI_NODEJS_TRANSPILE_ONLY:-true}"
npx pulumi stack select "$stack" --create --non-interactive >/dev/null
exec npx pulumi "$@" --stack "$stack"
