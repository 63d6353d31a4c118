#!/usr/bin/env bash
# The one command that provisions a fresh machine and runs every check:
#   bash scripts/test.sh        (also: npm test, once node_modules exist)
# Steps: npm ci -> provision real components -> lint -> typecheck/build -> unit -> integration -> e2e.
# Set PROBEGATE_SUITES="unit integration" to run a subset (CI runs all).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" $(($(date +%s) - t0)); }

step "npm ci"
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
export PATH="$PWD/node_modules/.bin:$PATH" # Node 24 from the node package, whatever the machine has
node -e 'const [m]=process.versions.node.split(".");if(+m!==24){console.error("Node 24 required, got "+process.version);process.exit(1)}'

step "provision real components"
bash scripts/testenv/provision.sh

step "lint (biome)"
npm run -s lint

step "typecheck and build"
npm run -s build
tsc -p tsconfig.tests.json

for suite in ${PROBEGATE_SUITES:-unit integration e2e}; do
  step "tests: $suite"
  npm run -s "test:$suite"
done

step "all green"
