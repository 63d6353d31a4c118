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

mkdir -p results
failed_suites=()
for suite in ${PROBEGATE_SUITES:-unit integration e2e}; do
  step "tests: $suite"
  npx vitest run --project "$suite" --reporter=default --reporter=json \
    --outputFile.json="results/vitest-$suite.json" || failed_suites+=("$suite")
done

step "summary"
# One closing line for every suite together; a suite that ran no test counts as failed.
node -e '
  const fs = require("node:fs");
  let passed = 0, failed = 0, empty = [];
  for (const suite of process.argv.slice(1)) {
    const file = `results/vitest-${suite}.json`;
    if (!fs.existsSync(file)) { empty.push(suite); continue; }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    console.log(`${suite}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped (${r.numTotalTestSuites} files)`);
    if (r.numTotalTests === 0) empty.push(suite);
    passed += r.numPassedTests; failed += r.numFailedTests;
  }
  if (empty.length) { console.log(`suites that ran no test: ${empty.join(", ")}`); failed += empty.length; }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
' ${PROBEGATE_SUITES:-unit integration e2e}
if ((${#failed_suites[@]})); then
  echo "failed suites: ${failed_suites[*]}" >&2
  exit 1
fi
step "all green"
