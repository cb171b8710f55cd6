#!/usr/bin/env bash
# Profiles the storage engine's append hot path with clinic (flame and doctor), headless.
# Reports land in profiles/store-<date>/ (ignored by git). clinic is fetched by npx on first use and
# is deliberately not a workspace dependency (154 MB; never needed to build, run or test Orbit).
# Usage: scripts/profile-store.sh [seconds] [ASYNC_FLUSH|SYNC_FLUSH]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-5}"
mode="${2:-ASYNC_FLUSH}"
out="profiles/store-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
driver=(node --import tsx benchmarks/store/append-profile-driver.ts "$seconds" "$mode")
export NO_INSIGHT=1
for tool in flame doctor; do
  echo "== clinic $tool ($mode, ${seconds}s)"
  npx --yes clinic@13.0.0 "$tool" --dest "$out" -- "${driver[@]}"
done
echo "reports:"
ls -1 "$out"/*.html
