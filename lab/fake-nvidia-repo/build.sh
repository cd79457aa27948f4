#!/usr/bin/env bash
# Build a tiny, signed, flat apt repository of FAKE NVIDIA packages: the lab stand-in for NVIDIA's CUDA
# repository (developer.download.nvidia.com is unreachable from the lab, and real drivers need real GPUs).
# Same package names and version scheme as NVIDIA's repository; contents are small stand-ins:
#   nvidia-open-580 / cuda-drivers-580 / nvidia-persistenced (metapackages, a persistenced unit),
#   nvidia-fabricmanager-580 (nv-fabricmanager that prints its version, the nvidia-fabricmanager unit),
#   cuda-toolkit-12-8 (an nvcc script printing a realistic `nvcc --version`, lib64/),
#   libcudnn9-cuda-12 / libcudnn9-dev-cuda-12 (libcudnn.so.<ver> and cudnn_version.h with the real defines).
# Several versions of the driver family (580.82.07, 580.95.05, 580.105.08) so pinning/holding is tested against
# a newer candidate. No kernel module: nothing here loads into a kernel.
# Usage: build.sh OUTDIR   -> OUTDIR/{*.deb,Packages,Packages.gz,Release,InRelease,key.asc}
set -euo pipefail
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

deb() {  # deb NAME VERSION DEPENDS DESCRIPTION [srcdir]
  local name=$1 version=$2 depends=$3 desc=$4 src=${5:-}
  local d="$work/pkg-$name-$version"
  mkdir -p "$d/DEBIAN"
  [ -n "$src" ] && cp -a "$src/." "$d/"
  {
    echo "Package: $name"; echo "Version: $version"; echo "Architecture: amd64"
    echo "Maintainer: llmfleet lab <lab@llmfleet.invalid>"; echo "Section: lab"; echo "Priority: optional"
    [ -n "$depends" ] && echo "Depends: $depends"
    echo "Description: FAKE llmfleet lab stand-in - $desc"
  } > "$d/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip -b "$d" "$out/${name}_${version}_amd64.deb" >/dev/null
}

for v in 580.82.07 580.95.05 580.105.08; do
  # nvidia-persistenced: a unit that only sleeps (no GPU to keep alive in the lab).
  p="$work/src-persistenced-$v"; mkdir -p "$p/lib/systemd/system" "$p/usr/bin"
  printf '#!/bin/sh\necho "nvidia-persistenced %s (llmfleet lab fake)"\nexec sleep infinity\n' "$v" > "$p/usr/bin/nvidia-persistenced"
  chmod 755 "$p/usr/bin/nvidia-persistenced"
  printf '[Unit]\nDescription=NVIDIA Persistence Daemon (llmfleet lab fake)\n[Service]\nExecStart=/usr/bin/nvidia-persistenced\n[Install]\nWantedBy=multi-user.target\n' \
    > "$p/lib/systemd/system/nvidia-persistenced.service"
  deb nvidia-persistenced "$v-1" "" "NVIDIA persistence daemon $v" "$p"
  deb nvidia-open-580 "$v-1" "nvidia-persistenced (= $v-1)" "NVIDIA open kernel modules driver $v (metapackage)"
  deb cuda-drivers-580 "$v-1" "nvidia-persistenced (= $v-1)" "NVIDIA proprietary driver $v (metapackage)"
  f="$work/src-fm-$v"; mkdir -p "$f/lib/systemd/system" "$f/usr/bin" "$f/usr/share/nvidia/nvswitch"
  printf '#!/bin/sh\necho "Fabric Manager version is : %s"\n' "$v" > "$f/usr/bin/nv-fabricmanager"
  chmod 755 "$f/usr/bin/nv-fabricmanager"
  echo "# llmfleet lab fake fabricmanager.cfg" > "$f/usr/share/nvidia/nvswitch/fabricmanager.cfg"
  printf '[Unit]\nDescription=NVIDIA fabric manager service (llmfleet lab fake)\n[Service]\nType=oneshot\nExecStart=/usr/bin/nv-fabricmanager\n[Install]\nWantedBy=multi-user.target\n' \
    > "$f/lib/systemd/system/nvidia-fabricmanager.service"
  deb nvidia-fabricmanager-580 "$v-1" "" "NVIDIA Fabric Manager $v" "$f"
done

# CUDA 12.8 Update 1 (nvcc V12.8.93) and a newer 12.8.2 that the pin must not take.
for pair in "12.8.1 12.8.93 Fri_Feb_21_20:23:50_PST_2025 35583870" "12.8.2 12.8.99 Tue_Jun_10_18:00:00_PDT_2025 35999999"; do
  set -- $pair
  c="$work/src-cuda-$1"; mkdir -p "$c/usr/local/cuda-12.8/bin" "$c/usr/local/cuda-12.8/lib64"
  cat > "$c/usr/local/cuda-12.8/bin/nvcc" <<NVCC
#!/bin/sh
# llmfleet lab fake nvcc (compiles nothing)
if [ "\$1" = "--version" ] || [ "\$1" = "-V" ]; then
cat <<'TXT'
nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2025 NVIDIA Corporation
Built on $3
Cuda compilation tools, release 12.8, V$2
Build cuda_12.8.r12.8/compiler.$4_0
TXT
exit 0
fi
echo "fake nvcc: only --version" >&2; exit 1
NVCC
  chmod 755 "$c/usr/local/cuda-12.8/bin/nvcc"
  echo "llmfleet lab fake CUDA runtime $1" > "$c/usr/local/cuda-12.8/lib64/README.llmfleet-fake"
  deb cuda-toolkit-12-8 "$1-1" "" "CUDA Toolkit $1" "$c"
done

# cuDNN 9.10.2 (build 21) and 9.10.1 for CUDA 12: the header carries the real version defines.
for pair in "9 10 2 21" "9 10 1 6"; do
  set -- $pair
  ver="$1.$2.$3"
  l="$work/src-cudnn-$ver"; mkdir -p "$l/usr/lib/x86_64-linux-gnu"
  if command -v gcc >/dev/null 2>&1; then
    echo "int cudnnGetVersion(void) { return $1 * 10000 + $2 * 100 + $3; }" > "$work/cudnn.c"
    gcc -shared -fPIC -Wl,-soname,libcudnn.so.$1 -o "$l/usr/lib/x86_64-linux-gnu/libcudnn.so.$ver" "$work/cudnn.c"
  else
    echo "llmfleet lab fake libcudnn $ver (no gcc at build time)" > "$l/usr/lib/x86_64-linux-gnu/libcudnn.so.$ver"
  fi
  ln -s "libcudnn.so.$ver" "$l/usr/lib/x86_64-linux-gnu/libcudnn.so.$1"
  mkdir -p "$l/DEBIAN" && echo "activate-noawait ldconfig" > "$l/DEBIAN/triggers"
  deb libcudnn9-cuda-12 "$ver.$4-1" "" "cuDNN $ver runtime for CUDA 12" "$l"
  h="$work/src-cudnn-dev-$ver"; mkdir -p "$h/usr/include"
  printf '/* llmfleet lab fake: the version defines of cudnn_version.h */\n#ifndef CUDNN_VERSION_H_\n#define CUDNN_VERSION_H_\n\n#define CUDNN_MAJOR %s\n#define CUDNN_MINOR %s\n#define CUDNN_PATCHLEVEL %s\n\n#define CUDNN_VERSION (CUDNN_MAJOR * 10000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)\n\n#endif\n' \
    "$1" "$2" "$3" > "$h/usr/include/cudnn_version.h"
  deb libcudnn9-dev-cuda-12 "$ver.$4-1" "libcudnn9-cuda-12 (= $ver.$4-1)" "cuDNN $ver headers for CUDA 12" "$h"
done

# Packages + Release (flat repository, like NVIDIA's: "deb URL /").
python3 - "$out" <<'PY'
import gzip, hashlib, os, subprocess, sys, time
out = sys.argv[1]
stanzas = []
for deb in sorted(f for f in os.listdir(out) if f.endswith(".deb")):
    path = os.path.join(out, deb)
    control = subprocess.run(["dpkg-deb", "-f", path], check=True, capture_output=True, text=True).stdout.strip()
    data = open(path, "rb").read()
    stanzas.append("%s\nFilename: ./%s\nSize: %d\nMD5sum: %s\nSHA256: %s\n" % (
        control, deb, len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()))
packages = "\n".join(stanzas).encode()
open(os.path.join(out, "Packages"), "wb").write(packages)
with gzip.GzipFile(os.path.join(out, "Packages.gz"), "wb", mtime=0) as g:
    g.write(packages)
lines = ["Origin: llmfleet-lab-fake-nvidia", "Label: llmfleet lab stand-in for NVIDIA's CUDA repository",
         "Architectures: amd64", "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()), "SHA256:"]
for name in ("Packages", "Packages.gz"):
    data = open(os.path.join(out, name), "rb").read()
    lines.append(" %s %d %s" % (hashlib.sha256(data).hexdigest(), len(data), name))
open(os.path.join(out, "Release"), "w").write("\n".join(lines) + "\n")
PY

# Sign it with a throw-away key made for this build (the key travels with the repo as key.asc).
export GNUPGHOME="$work/gnupg"; mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "llmfleet lab fake NVIDIA repo <lab@llmfleet.invalid>" ed25519 sign 1d 2>/dev/null
gpg --batch --quiet --yes --armor --export > "$out/key.asc"
gpg --batch --quiet --yes --clearsign -o "$out/InRelease" "$out/Release"
echo "fake NVIDIA repository: $(ls "$out"/*.deb | wc -l) packages in $out"
