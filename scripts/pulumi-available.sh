#!/usr/bin/env bash
# Exits 0 when the Pulumi CLI runs here (printing its version), 1 when it does not (printing
# why). `npx pulumi` (the npm package `pulumi`) downloads the CLI on first use; on a machine
# that reaches only the package registries that download fails within a second. A CLI on the
# PATH is used as it is. SERVERPARK_DEPLOY=pulumi|lab overrides the answer (used by
# scripts/up.sh and scripts/destroy.sh).
set -uo pipefail
case "${SERVERPARK_DEPLOY:-auto}" in
  pulumi) echo "SERVERPARK_DEPLOY=pulumi"; exit 0 ;;
  lab) echo "SERVERPARK_DEPLOY=lab"; exit 1 ;;
  auto) ;;
  *) echo "SERVERPARK_DEPLOY must be pulumi, lab or auto (got \"$SERVERPARK_DEPLOY\")" >&2; exit 2 ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PULUMI_SKIP_UPDATE_CHECK=true
if out=$(timeout "${SP_PULUMI_PROBE_SECONDS:-300}" npx --no-install pulumi version 2>&1); then
  echo "pulumi ${out##*$'\n'}"
  exit 0
fi
# The last line is the reason ("pulumi: fetch failed"), without npx's download chatter.
echo "${out##*$'\n'}"
exit 1
