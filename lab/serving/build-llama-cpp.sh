#!/usr/bin/env bash
# Build llama.cpp's own server ONCE per recipe and cache it (issue 18): llama-server (the leader / single-node
# engine) and rpc-server (a group's worker), from the llama.cpp tree vendored in the llama-cpp-python sdist on
# PyPI (the only llama.cpp source a site without internet can fetch from its PyPI mirror), with the RPC backend.
#   ${LLMFLEET_CACHE:-/var/cache/llmfleet}/tools/llama.cpp-<version>-<cpu|cuda-ARCHS>-<recipe hash>/
#     bin/llama-server bin/rpc-server  BUILD-INFO.json  SHA256SUMS  build-seconds.txt
# The model_server role copies that directory to /opt/llmfleet/engines/llama_cpp (model_server_llama_cpp_build).
# Static libllama/libggml (BUILD_SHARED_LIBS=OFF): the two binaries need only the system's libc/libstdc++ (and the
# CUDA runtime for a CUDA build), so a build made on one host of a distribution runs on every host of it.
#   LLAMA_CPP_CUDA_ARCHS=90 (or "80;90"): a CUDA build (needs nvcc); empty: CPU only, portable x86-64.
#   LLAMA_CPP_SDIST=/path/to/llama_cpp_python-<v>.tar.gz: use that file instead of `pip download`.
# Prints the build directory on stdout (last line); the build time goes to build-seconds.txt in it.
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.16}"
ROOT="${LLMFLEET_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
PY="${LLMFLEET_PYTHON:-$ROOT/.venv/bin/python}"
CACHE="${LLMFLEET_CACHE:-/var/cache/llmfleet}"
JOBS="${LLMFLEET_BUILD_JOBS:-$(nproc)}"
ARCHS="${LLAMA_CPP_CUDA_ARCHS:-}"
# Portable (no -march=native), no BLAS/OpenMP (no libgomp on the hosts)/curl, only the two programs.
FLAGS="-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF -DGGML_RPC=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON"
if [ -n "$ARCHS" ]; then
  FLAGS="$FLAGS -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=$ARCHS"
  FLAVOR="cuda-${ARCHS//;/_}"
else
  FLAVOR=cpu
fi
KEY="$(printf '%s\n%s\n%s\n' "$VERSION" "$FLAGS" "$(cat "$0")" | sha256sum | cut -c1-12)"
OUT="$CACHE/tools/llama.cpp-$VERSION-$FLAVOR-$KEY"
if [ -f "$OUT/.complete" ]; then
  echo "llama.cpp build cached: $OUT ($(cat "$OUT/build-seconds.txt" 2>/dev/null || echo '?') s when built)" >&2
  echo "$OUT"; exit 0
fi
mkdir -p "$CACHE/tools" "$CACHE/sdists"
exec 8>"$CACHE/tools/.llama.cpp-build.lock"
flock 8
if [ -f "$OUT/.complete" ]; then echo "$OUT"; exit 0; fi
SDIST="${LLAMA_CPP_SDIST:-$CACHE/sdists/llama_cpp_python-$VERSION.tar.gz}"
if [ ! -f "$SDIST" ]; then
  echo "downloading the llama-cpp-python $VERSION sdist (vendors llama.cpp) into $CACHE/sdists" >&2
  "$PY" -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: \
    -d "$CACHE/sdists" "llama-cpp-python==$VERSION" >&2
fi
TMP="$(mktemp -d "$CACHE/tools/.llama.cpp-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
tar -xzf "$SDIST" -C "$TMP"
SRC="$TMP/llama_cpp_python-$VERSION/vendor/llama.cpp"
echo "building llama.cpp (llama-cpp-python $VERSION, $FLAVOR, $JOBS jobs) into $OUT" >&2
start=$(date +%s)
generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
# shellcheck disable=SC2086  # FLAGS is a list of -D options
nice -n 10 cmake -S "$SRC" -B "$TMP/build" "${generator[@]}" $FLAGS >"$TMP/cmake.log" 2>&1 \
  || { tail -n 40 "$TMP/cmake.log" >&2; exit 1; }
nice -n 10 cmake --build "$TMP/build" -j "$JOBS" --target llama-server rpc-server >"$TMP/build.log" 2>&1 \
  || { tail -n 40 "$TMP/build.log" >&2; exit 1; }
secs=$(( $(date +%s) - start ))
mkdir -p "$TMP/out/bin"
install -m 0755 "$TMP/build/bin/llama-server" "$TMP/build/bin/rpc-server" "$TMP/out/bin/"
strip "$TMP/out/bin/llama-server" "$TMP/out/bin/rpc-server" 2>/dev/null || true
echo "$secs" > "$TMP/out/build-seconds.txt"
"$PY" - "$TMP/out/BUILD-INFO.json" "$VERSION" "$FLAVOR" "$FLAGS" "$(sha256sum "$SDIST" | cut -d' ' -f1)" "$secs" <<'PY'
import json, platform, sys
out, version, flavor, flags, sdist_sha, secs = sys.argv[1:]
json.dump({"schema": "llmfleet.llama_cpp_build/v1", "source": "llama-cpp-python==%s sdist (PyPI), vendor/llama.cpp"
           % version, "sdist_sha256": sdist_sha, "flavor": flavor, "cmake_flags": flags.split(),
           "targets": ["llama-server", "rpc-server"], "build_seconds": int(secs), "built_on": platform.platform()},
          open(out, "w"), indent=1, sort_keys=True)
PY
(cd "$TMP/out" && sha256sum bin/llama-server bin/rpc-server > SHA256SUMS)
touch "$TMP/out/.complete"
chmod 755 "$TMP/out"
rm -rf "$OUT"; mv "$TMP/out" "$OUT"
echo "built in ${secs}s: $OUT" >&2
echo "$OUT"
