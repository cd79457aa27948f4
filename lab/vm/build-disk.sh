#!/bin/bash
# Build the llmfleet lab VM base disk from debootstrap in a chroot (no TCG install).
#
# usage: build-disk.sh OUTDIR [DEB_CACHE_DIR]
#   OUTDIR receives: base.qcow2 (raw ext4 fs, no partition table, as qcow2),
#                    vmlinuz, initrd.img, root-uuid, kernel-version, build.log-ish info
# Needs root. Does not need loop devices (mkfs.ext4 -d).
set -euo pipefail

OUT=${1:?usage: build-disk.sh OUTDIR [DEB_CACHE_DIR]}
DEBCACHE=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
SUITE=${LLMFLEET_VM_SUITE:-bookworm}
SIZE_GB=${LLMFLEET_VM_DISK_GB:-8}
# Fixed fs UUID: the kernel command line uses root=UUID=...; the recipe hash
# decides identity of the image, not the UUID.
ROOT_UUID=${LLMFLEET_VM_ROOT_UUID:-6c6d6666-6c65-4574-9c61-62766d000001}
HOST_SOURCES=${LLMFLEET_VM_HOST_SOURCES:-/etc/apt/sources.list.d/debian.sources}

[ "$(id -u)" = 0 ] || { echo "build-disk.sh must run as root" >&2; exit 1; }

# Mirror: the first URIs: line of the host's deb822 debian.sources (same mirror as the host).
MIRROR=http://deb.debian.org/debian
if [ -r "$HOST_SOURCES" ]; then
  m=$(awk '/^URIs:/{print $2; exit}' "$HOST_SOURCES")
  [ -n "$m" ] && MIRROR=$m
fi

mkdir -p "$OUT"
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
ROOT=$WORK/root
cleanup() {
  for m in dev/pts dev proc sys; do
    mountpoint -q "$ROOT/$m" 2>/dev/null && umount -l "$ROOT/$m" || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

PKGS=$(grep -v '^\s*#' "$HERE/packages.txt" | grep -v '^\s*$' | paste -sd, -)
echo ">>> debootstrap $SUITE from $MIRROR (include: $PKGS)"
t0=$(date +%s)
DB_ARGS=(--variant=minbase --include="$PKGS" --components=main)
if [ -n "$DEBCACHE" ]; then mkdir -p "$DEBCACHE"; DB_ARGS+=(--cache-dir="$(cd "$DEBCACHE" && pwd)"); fi
debootstrap "${DB_ARGS[@]}" "$SUITE" "$ROOT" "$MIRROR"
echo ">>> debootstrap took $(( $(date +%s) - t0 ))s"

# ---- configure the chroot -------------------------------------------------
# overlay files shipped with the recipe
cp -a "$HERE/rootfs/." "$ROOT/"
chmod 0755 "$ROOT/usr/local/sbin/llmfleet-firstboot"

# apt: same sources as the host
rm -f "$ROOT/etc/apt/sources.list"
if [ -r "$HOST_SOURCES" ]; then
  cp "$HOST_SOURCES" "$ROOT/etc/apt/sources.list.d/debian.sources"
else
  printf 'deb %s %s main\n' "$MIRROR" "$SUITE" > "$ROOT/etc/apt/sources.list"
fi

echo "UUID=$ROOT_UUID / ext4 rw,errors=remount-ro,noatime 0 1" > "$ROOT/etc/fstab"
echo "llmfleet-vm" > "$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOT/etc/hosts"
# slirp's DNS forwarder (no resolved in the image)
printf 'nameserver 10.0.2.3\n' > "$ROOT/etc/resolv.conf"
# fresh machine-id per VM (systemd generates it on first boot)
: > "$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
# host keys are generated per VM on first boot by llmfleet-firstboot
rm -f "$ROOT"/etc/ssh/ssh_host_*
mkdir -p "$ROOT/root/.ssh" && chmod 0700 "$ROOT/root/.ssh"

mount -t proc proc "$ROOT/proc"
mount -t sysfs sysfs "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"

chroot "$ROOT" /usr/bin/env LLMFLEET_VM_EXTRA_PACKAGES="${LLMFLEET_VM_EXTRA_PACKAGES:-}" /bin/bash -euc '
  export DEBIAN_FRONTEND=noninteractive LC_ALL=C
  passwd -l root >/dev/null
  systemctl enable systemd-networkd.service llmfleet-firstboot.service ssh.service
  # things that only cost boot time under TCG
  for u in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
           e2scrub_reap.service fstrim.timer systemd-networkd-wait-online.service \
           getty@tty1.service systemd-timesyncd.service; do
    systemctl mask "$u" || true
  done
  systemctl set-default multi-user.target
  if [ -n "${LLMFLEET_VM_EXTRA_PACKAGES:-}" ]; then
    # a derived image (llmfleet_vm_packages): the packages a scenario would otherwise apt-get inside TCG
    # (minutes each under TCG); policy-rc.d keeps their services from starting in the chroot
    printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
    enabled() { systemctl list-unit-files --state=enabled --no-legend | awk "{print \$1}" | sort; }
    before=$(enabled)
    apt-get update -q
    apt-get install -y -q --no-install-recommends $LLMFLEET_VM_EXTRA_PACKAGES
    rm -f /usr/sbin/policy-rc.d
    # installed, never started, not enabled: the roles under test enable what they own
    comm -13 <(echo "$before") <(enabled) | xargs -r systemctl disable
  fi
  update-initramfs -u -k all
  apt-get clean
  # A derived image keeps the package lists its apt-get update just fetched: the apt task of a role with
  # cache_valid_time then skips the update (about 30 s per VM under TCG) while the image is fresh, and refreshes
  # them as on any host once they are older. A base image has only the partial lists of debootstrap: removed.
  [ -n "${LLMFLEET_VM_EXTRA_PACKAGES:-}" ] || rm -rf /var/lib/apt/lists/*
  rm -rf /var/log/*.log /var/cache/debconf/*-old /usr/share/doc/* /usr/share/man/* /usr/share/locale/*
'
for m in dev/pts dev sys proc; do umount -l "$ROOT/$m"; done

KVER=$(ls "$ROOT/lib/modules" | sort -V | tail -1)
for mod in drbd rdma_rxe virtio_blk virtio_net virtio_pci qemu_fw_cfg; do
  if ! grep -q "/$mod.ko" "$ROOT/lib/modules/$KVER/modules.dep"; then
    echo "kernel $KVER lacks module $mod" >&2; exit 1
  fi
done
cp "$ROOT/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
cp "$ROOT/boot/initrd.img-$KVER" "$WORK/initrd.img"
echo "$KVER" > "$WORK/kernel-version"
echo "$ROOT_UUID" > "$WORK/root-uuid"

echo ">>> mkfs.ext4 -d (${SIZE_GB}G sparse)"
truncate -s "${SIZE_GB}G" "$WORK/root.raw"
mkfs.ext4 -q -F -L llmfleet-root -U "$ROOT_UUID" -E lazy_itable_init=1,lazy_journal_init=1 \
  -d "$ROOT" "$WORK/root.raw"
qemu-img convert -O qcow2 "$WORK/root.raw" "$WORK/base.qcow2"
rm -f "$WORK/root.raw"

for f in base.qcow2 vmlinuz initrd.img kernel-version root-uuid; do mv -f "$WORK/$f" "$OUT/$f"; done
echo ">>> done in $(( $(date +%s) - t0 ))s: $OUT (kernel $KVER)"
