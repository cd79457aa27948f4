#!/usr/bin/env bash
# Debian packages the lab and the tests need, installed only when missing, and a running docker engine.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
check() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || need+=("$1"); }
for p in docker.io debootstrap qemu-system-x86 qemu-utils openssh-client rsync bc make e2fsprogs \
         iproute2 cpio zstd graphviz cmake build-essential ninja-build linux-image-amd64 restic; do
  check "$p"
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd"
  setsid nohup dockerd >/var/log/llmfleet-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start: /var/log/llmfleet-dockerd.log" >&2; tail -20 /var/log/llmfleet-dockerd.log >&2; exit 1; }
fi
echo "deps OK: docker $(docker version -f '{{.Server.Version}}'), $(qemu-system-x86_64 --version | head -1)"
