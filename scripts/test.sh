#!/usr/bin/env bash
# Install everything the tests need, then run them. CI (.ci/run) calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers from Debian: Prometheus + promtool, Alertmanager, node_exporter (bench baseline),
# PostgreSQL (the notifier's shared store; tests/notifier/pgcluster.py runs initdb + pg_ctl).
need=()
for bin in prometheus promtool prometheus-alertmanager prometheus-node-exporter openssl; do
  command -v "$bin" >/dev/null 2>&1 || need+=("$bin")
done
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # tests/notifier/test_ui_browser.py
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    chromium \
    prometheus prometheus-alertmanager prometheus-node-exporter openssl postgresql >/dev/null
fi

python3 -m pip install -q -e '.[test]'
# Prometheus Operator CRD validators for tests/deploy, from the npm registry (cached).
if command -v npm >/dev/null 2>&1; then
  npm install --silent --no-audit --no-fund --prefix .pytest_cache/d/npm-prometheus-operator \
    @kubernetes-models/prometheus-operator@6.0.0
fi
ruff check .
./scripts/lint_imports.sh   # the layer contracts of pyproject.toml
python3 -m pytest -q "$@"
