#!/usr/bin/env bash
# Build the llama_cpp engine's wheelhouse ONCE on the controller and cache it keyed by version + build flags:
#   ${LLMFLEET_CACHE:-/var/cache/llmfleet}/wheels/llama-cpp-python-<version>-<flags hash>/
# (llama-cpp-python compiled from its sdist with a small, portable CPU-only llama.cpp, plus every wheel its
# [server] extra needs). Lab GPU-node containers get a copy and install it offline into a venv.
# Prints the wheelhouse path on stdout (last line); the build time goes to build-seconds.txt next to it.
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.16}"
PY="${LLMFLEET_PYTHON:-${LLMFLEET_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}/.venv/bin/python}"
CACHE="${LLMFLEET_CACHE:-/var/cache/llmfleet}"
JOBS="${LLMFLEET_BUILD_JOBS:-2}"
# Portable (no -march=native: the wheel runs in any x86-64 container), no BLAS, no OpenMP (no libgomp in the
# lab image), no curl, no tools/tests/examples: only libllama + libggml for the Python binding.
CMAKE_FLAGS="-DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
KEY="$(printf '%s\n%s\n%s\n' "$VERSION" "$CMAKE_FLAGS" "$("$PY" -c 'import sys; print(sys.version_info[:2])')" | sha256sum | cut -c1-12)"
OUT="$CACHE/wheels/llama-cpp-python-$VERSION-$KEY"
if [ -f "$OUT/.complete" ]; then
  echo "wheelhouse cached: $OUT ($(cat "$OUT/build-seconds.txt" 2>/dev/null || echo '?') s when built)" >&2
  echo "$OUT"; exit 0
fi
mkdir -p "$CACHE/wheels"
TMP="$(mktemp -d "$CACHE/wheels/.build-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "building llama-cpp-python $VERSION wheelhouse (CMAKE_ARGS=$CMAKE_FLAGS, $JOBS jobs) into $OUT" >&2
start=$(date +%s)
CMAKE_ARGS="$CMAKE_FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" nice -n 10 \
  "$PY" -m pip wheel --disable-pip-version-check -q -w "$TMP/wheels" "llama-cpp-python[server]==$VERSION" >&2
secs=$(( $(date +%s) - start ))
echo "$secs" > "$TMP/wheels/build-seconds.txt"
(cd "$TMP/wheels" && sha256sum ./*.whl > SHA256SUMS)
printf 'llama-cpp-python==%s\n' "$VERSION" > "$TMP/wheels/requirements.txt"
touch "$TMP/wheels/.complete"
rm -rf "$OUT"; mv "$TMP/wheels" "$OUT"
echo "built in ${secs}s: $OUT" >&2
echo "$OUT"
