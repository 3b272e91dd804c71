#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the exporter on the real NVML for 30 s, promtool's lint,
# and its values beside nvidia-smi's. Prints everything; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-19477}
out=${OUT:-/tmp/inferwatch-gpu-check}
mkdir -p "$out"
python3 -m pip install -q -e . >/dev/null
nvidia-smi --query-gpu=index,uuid,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,power.limit,clocks.sm,clocks.mem --format=csv,noheader,nounits | tee "$out/nvidia-smi.csv"
python3 -m inferwatch.cli exporter --web.listen-address "127.0.0.1:$port" --no-collector.host \
  --log.level debug >"$out/exporter.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 30
curl -sf "http://127.0.0.1:$port/metrics" >"$out/metrics.txt"
nvidia-smi --query-gpu=index,uuid,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,power.limit,clocks.sm,clocks.mem --format=csv,noheader,nounits | tee "$out/nvidia-smi-after.csv"
echo "--- promtool check metrics"
if command -v promtool >/dev/null; then promtool check metrics <"$out/metrics.txt" && echo "promtool: clean"; else echo "promtool: not installed"; fi
echo "--- exporter's view"
grep -E '^inferwatch_(gpu_(up|info|utilization_ratio|memory_used_bytes|memory_total_bytes|temperature_celsius|power_usage_watts|power_limit_watts|clock_hertz)|collector_up|nvml_errors_total|build_info)' "$out/metrics.txt"
echo "--- collector log (errors and unsupported fields)"
grep -Ei 'level=(warn|error)|not_supported|no_permission' "$out/exporter.log" | head -40 || true
echo "files in $out"
