#!/usr/bin/env bash
# The demo: a live failover on this machine, with nothing to configure.
#   bash scripts/demo.sh
# It provisions what it needs (like the tests), builds, then runs e2e/src/demo.ts: two emulated VMs
# in network namespaces, each with a web server, a Consul client agent and a probegate agent, an
# emulated Azure load balancer probing them, and a client. It shows who is active, stops the
# primary's web server, shows the switch, and cleans everything up.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "the demo needs root (network namespaces, firewalls)" >&2; exit 1; }
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/testenv/provision.sh
npm run -s build
exec tsx --conditions=probegate-source e2e/src/demo.ts "$@"
