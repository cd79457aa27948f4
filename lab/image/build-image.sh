#!/usr/bin/env bash
# Build the lab's base image: Debian 12 with systemd as PID 1 and sshd, from debootstrap, imported into docker.
# Usage: build-image.sh TAG   (containers are run with --stop-signal SIGRTMIN+3 by llmfleet lab)
# The caller (llmfleet lab) names the tag after a hash of this file and packages.txt, so a changed recipe
# gives a new image and an unchanged one is never rebuilt.
set -euo pipefail
tag=${1:?usage: build-image.sh TAG}
here=$(cd "$(dirname "$0")" && pwd)
mirror=${LLMFLEET_DEBIAN_MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d /var/tmp/llmfleet-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
pkgs=$(grep -v '^#' "$here/packages.txt" | xargs | tr ' ' ',')
echo "debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -40 "$work/debootstrap.log"; exit 1; }
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
rm -f "$root/etc/apt/sources.list"
# systemd in a container: nothing that needs real hardware or a console.
for unit in getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
            systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
            systemd-remount-fs.service apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service \
            systemd-firstboot.service systemd-journald-audit.socket; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# Host keys are generated per container at first boot, never shared through the image.
rm -f "$root"/etc/ssh/ssh_host_*
mkdir -p "$root/etc/systemd/system/ssh.service.d"
cat >"$root/etc/systemd/system/ssh.service.d/10-hostkeys.conf" <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT
sed -i 's/^#\?PermitRootLogin.*/PermitRootLogin prohibit-password/; s/^#\?PasswordAuthentication.*/PasswordAuthentication no/' \
  "$root/etc/ssh/sshd_config"
mkdir -p "$root/root/.ssh" && chmod 700 "$root/root/.ssh"
# Bytecode cache for the modules Ansible sends as zips (shared with the lab VMs; docs/lab-vms.md); the caller
# hashes these two files into the tag too.
install -m 0644 "$here/../vm/rootfs/usr/lib/python3/dist-packages/llmfleet_lab_zipimport_cache.py" \
  "$here/../vm/rootfs/usr/lib/python3/dist-packages/llmfleet_lab_zipimport_cache.pth" \
  "$root/usr/lib/python3/dist-packages/"
echo 'en_US.UTF-8 UTF-8' >"$root/etc/locale.gen"
: >"$root/etc/machine-id"
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
# apt (and Ansible's cache_valid_time) must see the package lists as stale, not fresh.
mkdir -p "$root/var/lib/apt/lists/partial"
touch -d @0 "$root/var/lib/apt/lists"
tar -C "$root" -c . | docker import \
  --change 'ENTRYPOINT ["/sbin/init"]' \
  --change 'ENV container=docker' \
  --change 'LABEL org.llmfleet.recipe=base' - "$tag" >/dev/null
echo "built $tag"
