#!/usr/bin/env bash
# Profiles a running broker under the benchmark's produce load with clinic (flame, then doctor),
# headless (NO_INSIGHT=1), and leaves the HTML reports in profiles/broker-<mode>-<time>/ (ignored by
# git), with a text summary of the flame graph (flame-summary.txt, from
# benchmarks/broker/profile-summary.ts) and doctor's verdict (doctor-verdict.txt); it prints the folder.
#
#   scripts/profile-broker.sh [seconds] [batch] [senders] [produce|consume]   # defaults: 15 s, batches of 128, 16 senders, produce
#   scripts/profile-broker.sh 15 1 64                             # unbatched sends from 64 senders
#   scripts/profile-broker.sh 15 128 16 consume                   # a PushConsumer draining a backlog instead
#
# For each tool: a NameServer and a fresh single-master ASYNC_FLUSH broker (ports picked by the OS,
# store in a temporary directory, 256 MiB commit-log segments as in the benchmarks) start on
# 127.0.0.1, the broker under clinic; topic BenchmarkTest gets 8 queues; benchmarks/broker/producer.ts
# sends 1 KiB messages for [seconds] (the first 2 s are warm-up), as peers-bench.ts's Orbit producer
# does (sendBatch of [batch] from [senders] concurrent senders; batch 1 = plain send); then the
# broker is stopped with SIGINT so clinic writes its report. With "consume", the store is filled
# first by a broker that is not profiled (the same load, [seconds] × 250k messages, at most 5 M),
# which is then restarted under clinic and drained by benchmarks/broker/consumer.ts (a new group from
# the first offset, 20 listener calls, pulls and listener batches of 32) for [seconds]. Everything
# it started is stopped on exit, Ctrl-C or failure. clinic is fetched by npx on first use and is
# deliberately not a workspace dependency (as in scripts/profile-store.sh).
#
# clinic flame samples one V8 isolate, and the broker has several (main thread, store workers, tsx
# loader threads), each writing its own isolate-*-v8.log to the current directory: the script runs
# the broker in a scratch directory and sets aside every log but the main thread's (the one that
# names broker-controller.ts) before the load starts, so the flame graph is the main thread's.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
seconds="${1:-15}"
batch="${2:-128}"
senders="${3:-16}"
mode="${4:-produce}"
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -ge 3 && "$seconds" -le 600 ]] || { echo "seconds must be 3..600" >&2; exit 2; }
[[ "$batch" =~ ^[0-9]+$ && "$batch" -ge 1 && "$batch" -le 4096 ]] || { echo "batch must be 1..4096" >&2; exit 2; }
[[ "$senders" =~ ^[0-9]+$ && "$senders" -ge 1 && "$senders" -le 1024 ]] || { echo "senders must be 1..1024" >&2; exit 2; }
[[ "$mode" == produce || "$mode" == consume ]] || { echo "mode must be produce or consume" >&2; exit 2; }

out="$root/profiles/broker-$mode-$(date -u +%Y%m%dT%H%M%SZ)"
work="$(mktemp -d "${TMPDIR:-/tmp}/orbit-profile-broker-XXXXXX")"
mkdir -p "$out"
loader="file://$root/node_modules/tsx/dist/loader.mjs"
export NO_INSIGHT=1
CLINIC=(npx --yes clinic@13.0.0)

namesrv_pid=""
clinic_pid=""
clinic_node_pid=""
broker_pid=""
cleanup() {
  local code=$?
  for pid in $broker_pid $clinic_node_pid $clinic_pid $namesrv_pid; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 1
  for pid in $broker_pid $clinic_node_pid $clinic_pid $namesrv_pid; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for FILE REGEX SECONDS PID: until FILE has a line matching REGEX; fails when PID exits or time is up.
wait_for() {
  local file="$1" regex="$2" limit="$3" pid="$4" i=0
  while ! grep -qE "$regex" "$file" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "process $pid exited before printing /$regex/:" >&2
      tail -n 20 "$file" >&2 || true
      return 1
    fi
    if (( i >= limit * 10 )); then
      echo "no /$regex/ in $file after ${limit} s:" >&2
      tail -n 20 "$file" >&2 || true
      return 1
    fi
    sleep 0.1
    i=$((i + 1))
  done
}

# descendants PID: every process below PID, parents before children.
descendants() {
  local child
  for child in $(pgrep -P "$1" || true); do
    echo "$child"
    descendants "$child"
  done
}

# wait_exit PID SECONDS: until PID has exited (clinic writes its report after the broker stops).
wait_exit() {
  local pid="$1" limit="$2" i=0
  while kill -0 "$pid" 2>/dev/null; do
    if (( i >= limit * 10 )); then
      echo "process $pid still running after ${limit} s" >&2
      return 1
    fi
    sleep 0.1
    i=$((i + 1))
  done
}

# produce_load DIR SECONDS [QUANTITY]: producer.ts against the NameServer; with QUANTITY, until that many are sent.
produce_load() {
  local dir="$1" secs="$2" quantity="${3:-0}" limit=$(( $2 + 120 ))
  (( quantity > 0 )) && limit=600
  timeout "$limit" node --import "$loader" benchmarks/broker/producer.ts -n "$namesrv_addr" -t BenchmarkTest \
    -s 1024 -w "$senders" -b "$batch" --seconds "$secs" --warmup "$(( secs > 2 ? 2 : 0 ))" -q "$quantity" --no-results > "$dir/producer.log" 2>&1 \
    || { tail -n 20 "$dir/producer.log" >&2; return 1; }
  grep '^\[Complete\]' "$dir/producer.log" | sed 's/^/   /'
}

echo "== NameServer"
printf 'listenPort=0\nbindAddress=127.0.0.1\nkvConfigPath=%s/kvConfig.json\n' "$work" > "$work/namesrv.properties"
packages/namesrv/bin/mqnamesrv -c "$work/namesrv.properties" > "$work/namesrv.log" 2>&1 &
namesrv_pid=$!
wait_for "$work/namesrv.log" 'boot success' 60 "$namesrv_pid"
namesrv_addr="$(grep -oE 'listening on [0-9.]+:[0-9]+' "$work/namesrv.log" | head -n1 | awk '{print $3}' | sed 's/^0\.0\.0\.0/127.0.0.1/')"
echo "   $namesrv_addr (pid $namesrv_pid)"

for tool in flame doctor; do
  dir="$work/$tool"
  mkdir -p "$dir/other-isolates"
  props="$dir/broker.properties"
  printf '%s\n' \
    "brokerClusterName=ProfileCluster" "brokerName=broker-profile-$tool" "brokerId=0" "brokerRole=ASYNC_MASTER" \
    "flushDiskType=ASYNC_FLUSH" "listenPort=0" "listenHost=127.0.0.1" "brokerIP1=127.0.0.1" \
    "storePathRootDir=$dir/store" "mappedFileSizeCommitLog=268435456" "autoCreateTopicEnable=true" > "$props"

  if [[ "$mode" == consume ]]; then
    fill=$(( seconds * 250000 ))
    (( fill > 5000000 )) && fill=5000000
    echo "== filling a store with $fill messages (broker not profiled)"
    packages/broker/bin/mqbroker -n "$namesrv_addr" -c "$props" > "$dir/fill-broker.log" 2>&1 &
    broker_pid=$!
    wait_for "$dir/fill-broker.log" 'boot success' 120 "$broker_pid"
    fill_addr="$(sed -nE 's/.*\[broker-profile-[a-z]+, ([0-9.]+:[0-9]+)\] boot success.*/\1/p' "$dir/fill-broker.log" | head -n1)"
    node --import "$loader" benchmarks/broker/create-topic.ts -n "$namesrv_addr" -t BenchmarkTest -q 8 -b "$fill_addr" > "$dir/create-topic.log" 2>&1 \
      || { cat "$dir/create-topic.log" >&2; exit 1; }
    produce_load "$dir" 0 "$fill"
    kill -TERM "$broker_pid"
    wait_exit "$broker_pid" 60
    broker_pid=""
  fi

  if [[ "$mode" == produce ]]; then
    echo "== clinic $tool: broker under load for ${seconds}s (sendBatch of $batch, $senders senders, 1 KiB)"
  else
    echo "== clinic $tool: broker serving a consumer for ${seconds}s (20 listener calls, batches of 32, 1 KiB)"
  fi
  (cd "$dir" && exec "${CLINIC[@]}" "$tool" --dest "$out" -- \
    node --import "$loader" "$root/packages/broker/src/main.ts" -n "$namesrv_addr" -c "$props") > "$dir/clinic.log" 2>&1 &
  clinic_pid=$!
  wait_for "$dir/clinic.log" 'boot success' 180 "$clinic_pid"
  broker_addr="$(sed -nE 's/.*\[broker-profile-[a-z]+, ([0-9.]+:[0-9]+)\] boot success.*/\1/p' "$dir/clinic.log" | head -n1)"
  # npx → clinic → (0x / doctor) → node broker: the broker is the deepest descendant running main.ts,
  # clinic the process that runs clinic's own script.
  broker_pid=""
  clinic_node_pid=""
  for p in $(descendants "$clinic_pid"); do
    cmd="$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null || true)"
    if [[ "$cmd" == *"broker/src/main.ts"* && "$cmd" != *"clinic "* && "$cmd" != *"/clinic/bin"* && "$cmd" != *"npm exec"* ]]; then broker_pid="$p"; fi
    if [[ -z "$clinic_node_pid" && "$cmd" == *"clinic"*" $tool "* && "$cmd" != *"npm exec"* ]]; then clinic_node_pid="$p"; fi
  done
  [[ -n "$broker_pid" ]] || { echo "could not find the broker process under clinic (pid $clinic_pid)" >&2; exit 1; }
  echo "   broker $broker_addr (pid $broker_pid; clinic pid ${clinic_node_pid:-?})"

  if [[ "$tool" == flame ]]; then
    sleep 1 # the store's workers have started by boot success; let their loader threads log their first lines
    kept=0
    for f in "$dir"/isolate-*-v8.log; do
      [[ -e "$f" ]] || continue
      if grep -q 'broker-controller.ts' "$f"; then kept=$((kept + 1)); else mv "$f" "$dir/other-isolates/"; fi
    done
    echo "   kept $kept main-thread isolate log(s), set $(ls "$dir/other-isolates" | wc -l) aside"
  fi

  node --import "$loader" benchmarks/broker/create-topic.ts -n "$namesrv_addr" -t BenchmarkTest -q 8 -b "$broker_addr" > "$dir/create-topic.log" 2>&1 \
    || { cat "$dir/create-topic.log" >&2; exit 1; }
  if [[ "$mode" == produce ]]; then
    produce_load "$dir" "$seconds"
  else
    timeout $((seconds + 120)) node --import "$loader" benchmarks/broker/consumer.ts -n "$namesrv_addr" -t BenchmarkTest \
      -g profile_consumer -p --from first -w 20 --pull-batch 32 --consume-batch 32 --seconds "$seconds" --warmup 2 \
      --idle-stop 2 --timeout $((seconds + 60)) --no-results > "$dir/consumer.log" 2>&1 \
      || { tail -n 20 "$dir/consumer.log" >&2; exit 1; }
    grep '^\[Complete\]' "$dir/consumer.log" | sed 's/^/   /'
  fi

  echo "   stopping the broker; clinic is writing the report"
  kill -INT "$broker_pid" 2>/dev/null || true
  [[ -n "$clinic_node_pid" ]] && kill -INT "$clinic_node_pid" 2>/dev/null || true
  wait_exit "$clinic_pid" 600 || { tail -n 20 "$dir/clinic.log" >&2; exit 1; }
  broker_pid=""
  clinic_node_pid=""
  clinic_pid=""
  grep -E 'html|Analysing|Generated' "$dir/clinic.log" | sed 's/^/   /' || true
  rm -rf "$dir/store"
done

# Doctor's verdict, as its report states it: "performance" marks what limited the process (for CPU
# that means too little use: waiting on I/O or other threads), issueCategory its overall diagnosis.
doctor_html="$(ls "$out"/*.clinic-doctor.html 2>/dev/null | head -n1 || true)"
if [[ -n "$doctor_html" ]]; then
  { grep -oE '"issues":\{"delay":"[a-z]+","cpu":"[a-z]+","memory":\{[^}]*\}' "$doctor_html" | head -n1
    grep -oE '"issueCategory":"[a-z-]+"' "$doctor_html" | head -n1; } > "$out/doctor-verdict.txt" || true
  echo "doctor: $(tr '\n' ' ' < "$out/doctor-verdict.txt")"
fi

flame_dir="$(ls -d "$out"/*.clinic-flame 2>/dev/null | head -n1 || true)"
if [[ -n "$flame_dir" ]]; then
  node --import "$loader" benchmarks/broker/profile-summary.ts "$flame_dir" --top 25 > "$out/flame-summary.txt" 2>&1 || true
fi
printf 'mode=%s seconds=%s batch=%s senders=%s\n' "$mode" "$seconds" "$batch" "$senders" > "$out/load.txt"
for tool in flame doctor; do
  log="$work/$tool/producer.log"
  [[ "$mode" == consume ]] && log="$work/$tool/consumer.log"
  grep '^\[Complete\]' "$log" 2>/dev/null | sed "s/^/$tool: /" >> "$out/load.txt" || true
done

echo "reports in ${out#"$root"/}:"
ls -1 "$out"/*.html "$out"/flame-summary.txt "$out"/doctor-verdict.txt 2>/dev/null
