#!/usr/bin/env bash
# `npm run destroy`: removes the local stack whichever way it was deployed — by the offline
# applier (`serverpark lab down`, a no-op when it is not deployed) and, when Pulumi's file
# state in .pulumi-state/ holds the stack, by `pulumi destroy`. Exits non-zero when a
# deployment is left behind.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stack="${SERVERPARK_STACK:-local}"
node bin/serverpark.js lab down "$stack"
if ls .pulumi-state/.pulumi/stacks/*/"$stack".json >/dev/null 2>&1; then
  if ! why=$(bash scripts/pulumi-available.sh); then
    echo "destroy: Pulumi's state holds a deployment of stack $stack, but the Pulumi CLI cannot be had here ($why); run \`npm run destroy\` where it can" >&2
    exit 1
  fi
  bash scripts/pulumi-local.sh destroy --yes
fi
