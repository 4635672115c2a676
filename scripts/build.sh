#!/usr/bin/env bash
# Builds vase (release preset): build/release/bin/vase
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target vase
