#!/usr/bin/env bash
# The original hand-made failover, re-created for comparison (issue 8 baseline): every 10 s ask
# Consul DNS which instances of the service are healthy, then add or remove an iptables DROP rule
# for the probe source and the VIP on lo with plain commands. Runs inside one VM's namespace.
# Usage: seed-baseline.sh ME PRIMARY_ADDR SECONDARY_ADDR PROBE_SOURCE PORT VIP [INTERVAL_S]
set -u
me=$1 primary=$2 secondary=$3 source=$4 port=$5 vip=$6 interval=${7:-10}
state=unknown
while true; do
  answers=$(dig @127.0.0.1 -p 8600 +short +time=1 +tries=1 web.service.consul A)
  p=0; s=0
  grep -qx "$primary" <<<"$answers" && p=1
  grep -qx "$secondary" <<<"$answers" && s=1
  if [ $p = 1 ]; then active=$primary; elif [ $s = 1 ]; then active=$secondary; else active=none; fi
  if [ "$active" = "$me" ]; then want=open; else want=closed; fi
  if [ "$want" != "$state" ]; then
    if [ "$want" = open ]; then
      iptables -w -D INPUT -s "$source" -p tcp --dport "$port" -j DROP 2>/dev/null
      ip addr add "$vip/32" dev lo 2>/dev/null
    else
      iptables -w -A INPUT -s "$source" -p tcp --dport "$port" -j DROP
      ip addr del "$vip/32" dev lo 2>/dev/null
    fi
    state=$want
    echo "{\"t\":$(date +%s%3N),\"gate\":\"$state\"}"
  fi
  sleep "$interval"
done
