#!/usr/bin/env bash
# Controller-side build steps of the serving lab (run by molecule/default prepare; `make demo` can call it too):
#   1. llama.cpp's llama-server + rpc-server (build-llama-cpp.sh, CPU, cached by recipe),
#   2. the tiny GGUF model + SHA256SUMS manifest (make_tiny_model.py), cached by recipe hash.
# Both live under ${LLMFLEET_CACHE:-/var/cache/llmfleet} and survive clones of the repository on this machine.
# Prints two lines: "llama_cpp_build=<dir>" and "model=<dir>"; writes both to lab/cache/serving/artifacts.json.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${LLMFLEET_ROOT:-$(cd "$HERE/../.." && pwd)}"
PY="${LLMFLEET_PYTHON:-$ROOT/.venv/bin/python}"
CACHE="${LLMFLEET_CACHE:-/var/cache/llmfleet}"
GGUF_VERSION="${GGUF_VERSION:-0.17.1}"
# one build at a time per machine (make test warms this in the background while the scenarios also ask for it)
mkdir -p "$CACHE"
exec 9>"$CACHE/.serving-prepare.lock"
flock 9

build="$(LLMFLEET_ROOT="$ROOT" LLAMA_CPP_CUDA_ARCHS="" bash "$HERE/build-llama-cpp.sh" | tail -n 1)"

# The gguf writer lives in its own small venv (the controller's .venv stays exactly requirements.lock).
tools="$CACHE/tools/gguf-$GGUF_VERSION"
if [ ! -x "$tools/bin/python" ] || ! "$tools/bin/python" -c 'import gguf' 2>/dev/null; then
  echo "installing gguf==$GGUF_VERSION into $tools" >&2
  rm -rf "$tools"
  "$PY" -m venv "$tools"
  "$tools/bin/python" -m pip install -q --disable-pip-version-check "gguf==$GGUF_VERSION" >&2
fi
recipe="$(cat "$HERE/make_tiny_model.py"; echo "gguf=$GGUF_VERSION")"
key="$(printf '%s' "$recipe" | sha256sum | cut -c1-12)"
model="$CACHE/models/tiny-llama-$key"
if [ ! -f "$model/.complete" ]; then
  tmp="$(mktemp -d "$CACHE/.model-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  "$tools/bin/python" "$HERE/make_tiny_model.py" "$tmp" >&2
  touch "$tmp/.complete"
  mkdir -p "$CACHE/models"
  rm -rf "$model"; mv "$tmp" "$model"; chmod 755 "$model"
  echo "tiny model generated: $model" >&2
fi
# Where the lab inventories find them (lab/cache is per checkout and git-ignored).
mkdir -p "$ROOT/lab/cache/serving"
printf '{"llama_cpp_build": "%s", "model": "%s", "llama_cpp_build_seconds": %s}\n' "$build" "$model" \
  "$(cat "$build/build-seconds.txt" 2>/dev/null || echo null)" > "$ROOT/lab/cache/serving/artifacts.json"
echo "llama_cpp_build=$build"
echo "model=$model"
