#!/usr/bin/env bash
# Check the layer contracts of pyproject.toml with import-linter, on a regular install of the
# package: an editable install maps exporter/ and the other parts into `inferwatch` through an
# import hook that import-linter's module scan does not follow.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="$(mktemp -d)"
trap 'rm -rf "$target"' EXIT
python3 -m pip install -q --no-deps --no-build-isolation --target "$target" "$root" 2>&1 \
  | { grep -v -E '^WARNING|Location' || true; }
cd "$target"
PYTHONPATH="$target" lint-imports --no-cache "$root/pyproject.toml"
