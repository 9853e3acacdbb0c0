#!/usr/bin/env bash
# The whole pipeline at one scale through the command line (synth, ingest, measure, report, status), each
# stage timed by GNU time (wall, user + system CPU, peak RSS of the command's process) with the load average
# before it; at scale 0.2 and above each stage runs under /work/heavy.lock (held per stage, not across the
# series) when that file exists. Usage: benchmarks/pipeline.sh SCALE WORKDIR   (from the repository root; PLACEWISE overrides the CLI)
set -uo pipefail
scale=${1:?scale}; work=${2:?work folder}
cli=${PLACEWISE:-.venv/bin/placewise}
mkdir -p "$work"
export PLACEWISE_PSEUDONYMISATION_KEY=${PLACEWISE_PSEUDONYMISATION_KEY:-pipeline-benchmark-key-2026}
lock() { if [ -e /work/heavy.lock ] && [ "$(echo "$scale >= 0.2" | bc)" = 1 ]; then flock /work/heavy.lock "$@"; else "$@"; fi; }
stage() {
  local name=$1; shift
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
  local rc=0
  lock /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.out" 2>&1 || rc=$?
  local wall user sys rss
  wall=$(grep 'Elapsed (wall' "$work/$name.time" | awk '{print $NF}')
  user=$(grep 'User time' "$work/$name.time" | awk '{print $NF}')
  sys=$(grep 'System time' "$work/$name.time" | awk '{print $NF}')
  rss=$(grep 'Maximum resident' "$work/$name.time" | awk '{print $NF}')
  printf '| %s | %s | %.1f s | %.2f GB | %s | exit %s |\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" \
    "$(echo "$rss / 1048576" | bc -l)" "$load" "$rc" | tee -a "$work/pipeline.md"
}
echo "| stage | wall | CPU (user + sys) | peak RSS | load average before (1, 5, 15 min) | outcome |" > "$work/pipeline.md"
echo "|---|---|---|---|---|---|" >> "$work/pipeline.md"
stage synth "$cli" synth --scale "$scale" --seed 1 --out "$work/delivery"
stage ingest "$cli" ingest "$work/delivery" --db "$work/wh.duckdb"
stage measure "$cli" measure --db "$work/wh.duckdb"
stage report "$cli" report --db "$work/wh.duckdb" --out "$work/report"
stage status "$cli" status --db "$work/wh.duckdb"
