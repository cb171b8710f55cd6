#!/usr/bin/env bash
# The 2m-2s deployment across Linux network namespaces, one broker per "host", so that a host can be
# cut off the network (link down) while its process keeps running: what a real partition looks like,
# which killing a process on one machine cannot show.
#
#   netns-cluster.sh up <async|sync> [DATA]   namespaces, links, then mqnamesrv and the four brokers
#   netns-cluster.sh cut <host>               the host's link down (processes keep running)
#   netns-cluster.sh heal <host>              the host's link up again
#   netns-cluster.sh kill <host> [signal]     signal the host's process (default SIGKILL)
#   netns-cluster.sh start <host>             start the host's process again (after kill)
#   netns-cluster.sh status                   namespaces, links, addresses, processes
#   netns-cluster.sh addr <host>              the host's IP address (for scripts)
#   netns-cluster.sh down                     kill every process, delete the namespaces (idempotent)
# A host is its short name (as) or its namespace's name (orbit-as).
#
# Hosts: ns (NameServer), a (broker-a), as (broker-a-s), b (broker-b), bs (broker-b-s). Each is the
# namespace <prefix>-<host> with one interface eth0 on <subnet>.0/24, linked by a veth pair to a bridge
# in its own namespace <prefix>-sw, so nothing is added to the root namespace. Processes run with
# `ip netns exec`; each broker advertises its namespace's address (brokerIP1) and finds the NameServer
# at the ns host's address. Needs root (ip netns).
#
# Environment:
#   ORBIT_NETNS_PREFIX      namespace name prefix (default orbit): orbit-ns, orbit-a, …, orbit-sw
#   ORBIT_NETNS_SUBNET      first three octets of the private /24 (default 10.211.0)
#   ORBIT_NETNS_EXTRA_CONF  extra broker properties for every broker, space-separated key=value
#   ORBIT_NETNS_BOOT_TIMEOUT_S  how long each process may take to print its boot line (default 60)
# Data (DATA, default /tmp/<prefix>-netns): <broker>/broker.properties, <broker>/store, namesrv/,
# logs/<host>.log, pids/<host>.pid. The data directory of the running set is recorded in
# /tmp/<prefix>-netns.state, so the other commands find it.
set -euo pipefail

PREFIX="${ORBIT_NETNS_PREFIX:-orbit}"
SUBNET="${ORBIT_NETNS_SUBNET:-10.211.0}"
EXTRA_CONF="${ORBIT_NETNS_EXTRA_CONF:-}"
BOOT_TIMEOUT_S="${ORBIT_NETNS_BOOT_TIMEOUT_S:-60}"
STOP_GRACE_S=10
STATE_FILE="/tmp/${PREFIX}-netns.state"
SWITCH_NS="${PREFIX}-sw"
BRIDGE=br0

ROOT="$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/../.." && pwd)"
MQNAMESRV="$ROOT/packages/namesrv/bin/mqnamesrv"
MQBROKER="$ROOT/packages/broker/bin/mqbroker"

HOSTS=(ns a as b bs)
NAMESRV_PORT=9876

die() { echo "netns-cluster: $*" >&2; exit 1; }

host_ns() { echo "${PREFIX}-$1"; }
host_ip() {
  case "$1" in
    ns) echo "${SUBNET}.10" ;; a) echo "${SUBNET}.11" ;; as) echo "${SUBNET}.12" ;;
    b) echo "${SUBNET}.21" ;; bs) echo "${SUBNET}.22" ;; *) die "unknown host '$1' (hosts: ${HOSTS[*]})" ;;
  esac
}
# The broker instance (and conf file stem) of a host.
host_broker() {
  case "$1" in a) echo broker-a ;; as) echo broker-a-s ;; b) echo broker-b ;; bs) echo broker-b-s ;; *) echo "" ;; esac
}
check_host() { host_ip "$1" >/dev/null; }
# A host is named by its short name (as) or its namespace's (orbit-as).
norm_host() { echo "${1#"${PREFIX}"-}"; }
ns_exists() { ip netns list | awk '{print $1}' | grep -qx -- "$1"; }

data_dir() {
  [[ -f "$STATE_FILE" ]] || die "no cluster is up (no $STATE_FILE); run: $0 up <async|sync> [DATA]"
  cat "$STATE_FILE"
}

require_root() {
  [[ "$(id -u)" == 0 ]] || die "needs root (ip netns)"
  ip netns list >/dev/null 2>&1 || die "'ip netns' is not available"
}

# ---- network ----

create_network() {
  ip netns add "$SWITCH_NS"
  ip -n "$SWITCH_NS" link add "$BRIDGE" type bridge
  ip -n "$SWITCH_NS" link set "$BRIDGE" up
  ip -n "$SWITCH_NS" link set lo up
  for h in "${HOSTS[@]}"; do
    local ns; ns="$(host_ns "$h")"
    ip netns add "$ns"
    # The veth pair is created inside the switch namespace with its peer moved straight into the host's.
    ip -n "$SWITCH_NS" link add "v-$h" type veth peer name eth0 netns "$ns"
    ip -n "$SWITCH_NS" link set "v-$h" master "$BRIDGE"
    ip -n "$SWITCH_NS" link set "v-$h" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(host_ip "$h")/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

# ---- processes ----

pid_file() { echo "$1/pids/$2.pid"; }

# The host's pid, if that process is alive and is ours (its command line names our data directory).
live_pid() {
  local data="$1" host="$2" file pid
  file="$(pid_file "$data" "$host")"
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file")"
  [[ -n "$pid" && -d "/proc/$pid" ]] || return 1
  grep -q "^State:[[:space:]]*Z" "/proc/$pid/status" 2>/dev/null && return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$data" || return 1
  echo "$pid"
}

wait_for_line() {
  local log="$1" from="$2" pattern="$3" pid="$4" what="$5" deadline=$((SECONDS + BOOT_TIMEOUT_S))
  while :; do
    if tail -c +"$((from + 1))" "$log" 2>/dev/null | grep -q -- "$pattern"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "netns-cluster: $what exited before it booted; last lines of $log:" >&2
      tail -n 20 "$log" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "netns-cluster: $what did not boot within ${BOOT_TIMEOUT_S} s; last lines of $log:" >&2
      tail -n 20 "$log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
}

# Starts a host's process in its namespace and waits for its boot line.
start_host() {
  local data="$1" host="$2" ns log from pid broker
  ns="$(host_ns "$host")"
  log="$data/logs/$host.log"
  from="$(stat -c %s "$log" 2>/dev/null || echo 0)"
  if live_pid "$data" "$host" >/dev/null; then die "$host already runs (pid $(live_pid "$data" "$host"))"; fi
  # nohup, ip netns exec and the bin scripts all exec, so $! is the server's own pid.
  if [[ "$host" == ns ]]; then
    nohup ip netns exec "$ns" "$MQNAMESRV" -c "$data/namesrv/namesrv.properties" >>"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$(pid_file "$data" "$host")"
    wait_for_line "$log" "$from" "boot success" "$pid" "namesrv on $ns"
  else
    broker="$(host_broker "$host")"
    nohup ip netns exec "$ns" "$MQBROKER" -n "$(host_ip ns):$NAMESRV_PORT" -c "$data/$broker/broker.properties" >>"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$(pid_file "$data" "$host")"
    wait_for_line "$log" "$from" "boot success" "$pid" "$broker on $ns"
  fi
  echo "  $host  $(host_ip "$host")  pid $pid  up"
}

# SIGTERM, then SIGKILL after STOP_GRACE_S.
stop_pid() {
  local pid="$1" deadline=$((SECONDS + STOP_GRACE_S))
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
}

write_confs() {
  local data="$1" mode="$2" conf_dir="$ROOT/conf/2m-2s-$mode" h broker file out
  mkdir -p "$data/namesrv" "$data/logs" "$data/pids"
  printf '# NameServer on %s (written by netns-cluster.sh)\nlistenPort=%s\nkvConfigPath=%s\n' \
    "$(host_ns ns)" "$NAMESRV_PORT" "$data/namesrv/kvConfig.json" >"$data/namesrv/namesrv.properties"
  for h in a as b bs; do
    broker="$(host_broker "$h")"
    file="$conf_dir/$broker.properties"
    out="$data/$broker/broker.properties"
    mkdir -p "$data/$broker"
    local overrides=("brokerIP1=$(host_ip "$h")" "namesrvAddr=$(host_ip ns):$NAMESRV_PORT" "storePathRootDir=$data/$broker/store")
    local kv
    for kv in $EXTRA_CONF; do overrides+=("$kv"); done
    # The conf set's file without the keys overridden here, then the overrides.
    local drop="" o
    for o in "${overrides[@]}"; do drop+="${drop:+|}${o%%=*}"; done
    {
      echo "# $broker on $(host_ns "$h"): conf/2m-2s-$mode/$broker.properties plus host overrides (written by netns-cluster.sh)"
      grep -Ev "^[[:space:]]*($drop)[[:space:]]*[=:]" "$file"
      printf '%s\n' "${overrides[@]}"
    } >"$out"
  done
}

# ---- commands ----

cmd_up() {
  local mode="${1:-}" data="${2:-/tmp/${PREFIX}-netns}"
  [[ "$mode" == async || "$mode" == sync ]] || die "usage: $0 up <async|sync> [DATA]"
  require_root
  local h
  for h in "${HOSTS[@]}" sw; do
    ns_exists "${PREFIX}-$h" && die "namespace ${PREFIX}-$h exists already; run: $0 down"
  done
  mkdir -p "$data"
  data="$(cd "$data" && pwd)"
  echo "$data" >"$STATE_FILE"
  create_network
  write_confs "$data" "$mode"
  echo "2m-2s-$mode across namespaces ${PREFIX}-{ns,a,as,b,bs} on ${SUBNET}.0/24 (switch ${SWITCH_NS}), data $data"
  start_host "$data" ns
  # Masters before slaves: a slave learns its master's HA address from the NameServer.
  start_host "$data" a & local pa=$!
  start_host "$data" b & local pb=$!
  wait "$pa" && wait "$pb" || die "a master did not boot (see $data/logs; clean up with: $0 down)"
  start_host "$data" as & local pas=$!
  start_host "$data" bs & local pbs=$!
  wait "$pas" && wait "$pbs" || die "a slave did not boot (see $data/logs; clean up with: $0 down)"
  echo "NameServer: $(host_ip ns):$NAMESRV_PORT (reach it from a namespace: ip netns exec $(host_ns ns) <command>)"
}

cmd_cut() {
  local host; host="$(norm_host "${1:-}")"; check_host "$host"; require_root
  ip -n "$SWITCH_NS" link set "v-$host" down
  echo "$host ($(host_ip "$host")) cut off"
}

cmd_heal() {
  local host; host="$(norm_host "${1:-}")"; check_host "$host"; require_root
  ip -n "$SWITCH_NS" link set "v-$host" up
  echo "$host ($(host_ip "$host")) connected again"
}

cmd_kill() {
  local host signal="${2:-KILL}" data pid
  host="$(norm_host "${1:-}")"
  check_host "$host"
  data="$(data_dir)"
  pid="$(live_pid "$data" "$host")" || die "$host runs no process"
  kill -s "${signal#SIG}" "$pid"
  echo "$host pid $pid: sent SIG${signal#SIG}"
}

cmd_start() {
  local host; host="$(norm_host "${1:-}")"; check_host "$host"
  start_host "$(data_dir)" "$host"
}

cmd_status() {
  local data="" h ns state pid link
  [[ -f "$STATE_FILE" ]] && data="$(cat "$STATE_FILE")"
  echo "prefix $PREFIX, subnet ${SUBNET}.0/24, data ${data:-none}"
  for h in "${HOSTS[@]}"; do
    ns="$(host_ns "$h")"
    if ! ns_exists "$ns"; then echo "  $h  $ns  no namespace"; continue; fi
    link="$(ip -n "$SWITCH_NS" -o link show "v-$h" 2>/dev/null | grep -q 'state UP\|,UP' && echo linked || echo cut)"
    pid="$( [[ -n "$data" ]] && live_pid "$data" "$h" || true)"
    state="${pid:+pid $pid running}"
    echo "  $h  $ns  $(host_ip "$h")  $link  ${state:-no process}  $(host_broker "$h")"
  done
}

cmd_down() {
  local data="" h ns pid pids
  [[ -f "$STATE_FILE" ]] && data="$(cat "$STATE_FILE")"
  if [[ -n "$data" ]]; then
    pids=()
    for h in a as b bs ns; do
      pid="$(live_pid "$data" "$h" || true)"
      [[ -n "$pid" ]] && pids+=("$pid")
    done
    for pid in "${pids[@]}"; do stop_pid "$pid" & done
    wait
  fi
  # Anything else still inside our namespaces (only processes of ours can be there).
  for h in "${HOSTS[@]}" sw; do
    ns="${PREFIX}-$h"
    ns_exists "$ns" || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -f "$STATE_FILE"
  echo "down (namespaces ${PREFIX}-* removed${data:+; data kept in $data})"
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    up) cmd_up "$@" ;;
    cut) cmd_cut "$@" ;;
    heal) cmd_heal "$@" ;;
    kill) cmd_kill "$@" ;;
    start) cmd_start "$@" ;;
    status) cmd_status ;;
    addr) host_ip "$(norm_host "${1:-}")" ;;
    down) cmd_down ;;
    *) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; [[ -z "$cmd" || "$cmd" == -h || "$cmd" == --help ]] || exit 2 ;;
  esac
}

main "$@"
