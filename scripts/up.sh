#!/usr/bin/env bash
# `npm run up`: set up this machine (scripts/setup.sh runtime), then deploy the local stack
# with the Pulumi CLI when it can be had, or else with serverpark's offline applier
# (`serverpark lab up`, lab/README.md), saying which. SERVERPARK_STACK picks another stack;
# SERVERPARK_DEPLOY=pulumi|lab forces a path. Exits non-zero when any step fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stack="${SERVERPARK_STACK:-local}"
bash scripts/setup.sh runtime
rc=0
why=$(bash scripts/pulumi-available.sh) || rc=$?
if ((rc == 0)); then
  echo "up: deploying stack $stack with the Pulumi CLI ($why)" >&2
  exec bash scripts/pulumi-local.sh up --yes
fi
((rc == 1)) || exit "$rc"
echo "up: the Pulumi CLI cannot be had here ($why), so stack $stack is deployed by serverpark's offline applier (\`serverpark lab up\`: the same program under Pulumi's mocks, its Docker resources applied to this engine; lab/README.md says what differs)." >&2
exec node bin/serverpark.js lab up "$stack"
