"""Lab host kind ``vm``: Debian 12 QEMU virtual machines reached over real SSH.

A base disk is built once from ``debootstrap`` in a chroot (``lab/vm/build-disk.sh``)
and cached under ``<cache_dir>/vm/<recipe hash>/``; every VM boots a qcow2
overlay on top of it with ``-kernel/-initrd`` (Debian's generic kernel, taken
from the image).  The lab's SSH public key and the VM's hostname are handed to
the guest through qemu ``fw_cfg`` and installed by a oneshot unit on every
boot, so the base image never contains lab secrets.

Public interface (called by ``llmfleet lab up|down|status``)::

    ensure_image(ctx) -> pathlib.Path
    up(name, hv, ctx) -> dict
    down(name, hv, ctx) -> None
    status(name, hv, ctx) -> dict

``ctx`` provides ``lab_name``, ``state_dir``, ``cache_dir``, ``ssh_pubkey``,
``ssh_key_path`` and ``log(msg)``.  ``hv`` is the host's inventory vars.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field

KIND = "vm"

#: Fixed MAC of the management NIC (user-mode net); the image's systemd-networkd
#: config matches on it, so DHCP works whatever the interface is named.
MGMT_MAC = "52:54:00:12:34:56"
#: ext4 UUID of the root filesystem (see build-disk.sh).
DEFAULT_ROOT_UUID = "6c6d6666-6c65-4574-9c61-62766d000001"

DEFAULT_CPUS = 2
DEFAULT_MEMORY_MB = 1536
DEFAULT_BOOT_TIMEOUT_S = 600
DEFAULT_SHUTDOWN_TIMEOUT_S = 60

#: ``norandmaps``: lab VMs only, no ASLR. QEMU 7.2's TCG keys a translated block by its guest-virtual address on
#: x86, so with ASLR every new process (each Ansible module is one) translates python3 and its libraries again at
#: new addresses; without it the translations are reused. Measured on an idle 2-vCPU lab VM (docs/lab-vms.md):
#: 16 Ansible tasks 27.7-30.5 s with ASLR, 23.8-24.3 s without.
KERNEL_ARGS = (
    "rw console=ttyS0,115200 quiet loglevel=3 mitigations=off no_timer_check "
    "random.trust_cpu=on systemd.show_status=auto norandmaps"
)

#: Files of the recipe (relative to the recipe dir) that decide the image hash.
RECIPE_FILES = ("build-disk.sh", "packages.txt")
RECIPE_TREES = ("rootfs",)
HOST_SOURCES = pathlib.Path("/etc/apt/sources.list.d/debian.sources")


# --------------------------------------------------------------------------
# small helpers


def _log(ctx, msg: str) -> None:
    fn = getattr(ctx, "log", None)
    if callable(fn):
        fn(msg)


def recipe_dir() -> pathlib.Path:
    """Directory holding build-disk.sh, packages.txt and rootfs/."""
    env = os.environ.get("LLMFLEET_VM_RECIPE_DIR")
    if env:
        return pathlib.Path(env)
    cand = pathlib.Path(__file__).resolve().parent.parent / "lab" / "vm"
    if (cand / "build-disk.sh").exists():
        return cand
    return pathlib.Path.cwd() / "lab" / "vm"


def recipe_hash(
    rdir: pathlib.Path | None = None, host_sources: pathlib.Path | None = HOST_SOURCES
) -> str:
    """sha256 over the recipe: build script, package list, rootfs overlay files
    and the host's apt sources (they are copied into the image)."""
    rdir = rdir or recipe_dir()
    h = hashlib.sha256()
    paths: list[pathlib.Path] = [rdir / f for f in RECIPE_FILES]
    for tree in RECIPE_TREES:
        t = rdir / tree
        if t.is_dir():
            paths += sorted(p for p in t.rglob("*") if p.is_file())
    for p in paths:
        rel = p.relative_to(rdir).as_posix()
        h.update(b"F\0" + rel.encode() + b"\0")
        h.update(p.read_bytes() if p.exists() else b"<missing>")
        h.update(b"\0")
    if host_sources is not None:
        h.update(b"S\0")
        h.update(host_sources.read_bytes() if host_sources.exists() else b"<none>")
    return h.hexdigest()


def _hash_bytes(*parts: str) -> bytes:
    return hashlib.sha256("\0".join(parts).encode()).digest()


def mcast_endpoint(lab_name: str, net: str) -> tuple[str, int]:
    """Deterministic multicast group/port for one L2 segment of one lab."""
    d = _hash_bytes("llmfleet-mcast", lab_name, net)
    group = f"230.{d[0]}.{d[1]}.{1 + d[2] % 254}"
    port = 20000 + int.from_bytes(d[3:5], "big") % 20000
    return group, port


def tap_name(lab_name: str, vm: str, index: int) -> str:
    """Host tap device of a multi-queue fabric NIC (IFNAMSIZ: at most 15 characters)."""
    return "llt" + hashlib.sha256(f"{lab_name}\0{vm}\0{index}".encode()).hexdigest()[:11]


def bridge_name(lab_name: str, net: str) -> str:
    """Host bridge of one fabric segment: no address on it, so traffic stays between the lab's VMs."""
    return "llb" + hashlib.sha256(f"{lab_name}\0{net}".encode()).hexdigest()[:11]


def nic_mac(name: str, net: str, index: int = 0) -> str:
    """Stable, locally unique MAC for a VM's NIC on ``net`` (qemu's 52:54:00 OUI)."""
    d = _hash_bytes("llmfleet-mac", name, net, str(index))
    mac = "52:54:00:%02x:%02x:%02x" % (d[0], d[1], d[2])
    if mac == MGMT_MAC:
        mac = "52:54:00:%02x:%02x:%02x" % (d[3], d[4], d[5])
    return mac


def numa_split(cpus: int, memory_mb: int, nodes: int) -> list[dict]:
    """Split cpus (contiguous ranges) and memory over ``nodes`` NUMA nodes."""
    if nodes < 1:
        raise ValueError("llmfleet_vm_numa_nodes must be >= 1")
    if cpus < nodes:
        raise ValueError(
            f"llmfleet_vm_cpus ({cpus}) must be >= llmfleet_vm_numa_nodes ({nodes})"
        )
    if memory_mb < nodes * 128:
        raise ValueError(
            f"llmfleet_vm_memory_mb ({memory_mb}) too small for {nodes} NUMA nodes"
        )
    out = []
    cpu0 = 0
    for i in range(nodes):
        nc = cpus // nodes + (1 if i < cpus % nodes else 0)
        mem = memory_mb // nodes + (memory_mb % nodes if i == 0 else 0)
        out.append({"node": i, "cpus": (cpu0, cpu0 + nc - 1), "memory_mb": mem})
        cpu0 += nc
    return out


# --------------------------------------------------------------------------
# settings / paths


@dataclass
class VMSpec:
    name: str
    port: int
    host: str = "127.0.0.1"
    user: str = "root"
    cpus: int = DEFAULT_CPUS
    memory_mb: int = DEFAULT_MEMORY_MB
    numa_nodes: int | None = None
    nics: list[dict] = field(default_factory=list)
    disks: list[dict] = field(default_factory=list)
    accel: str = "tcg"
    boot_timeout_s: int = DEFAULT_BOOT_TIMEOUT_S
    kernel_args_extra: str = ""
    packages: tuple = ()


def _packages(name: str, value) -> tuple:
    """llmfleet_vm_packages: Debian package names baked into a derived base image (installed in the chroot)."""
    if value in (None, ""):
        return ()
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(p, str) and re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", p) for p in value
    ):
        raise ValueError(
            f"{name}: llmfleet_vm_packages must be a list of Debian package names, got {value!r}"
        )
    return tuple(sorted(set(value)))


def image_digest(base_digest: str, packages=()) -> str:
    """Cache key of a base image: the recipe hash, plus the extra packages for a derived image."""
    if not packages:
        return base_digest
    return hashlib.sha256(
        ("%s\0packages\0%s" % (base_digest, " ".join(sorted(packages)))).encode()
    ).hexdigest()


def _as_int(v, what: str) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an integer, got {v!r}") from None


def spec_from_hv(name: str, hv: dict) -> VMSpec:
    host = str(hv.get("ansible_host", "127.0.0.1"))
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError(
            f"{name}: lab VMs are reached on loopback only (ansible_host={host!r})"
        )
    if "ansible_port" not in hv:
        raise ValueError(
            f"{name}: ansible_port (host port forwarded to the VM's 22) is required"
        )
    port = _as_int(hv["ansible_port"], "ansible_port")
    if not 1024 <= port <= 65535:
        raise ValueError(f"{name}: ansible_port {port} out of range 1024-65535")
    numa = hv.get("llmfleet_vm_numa_nodes")
    numa = (
        _as_int(numa, "llmfleet_vm_numa_nodes")
        if numa not in (None, "", 0, 1, "1", "0")
        else None
    )
    nics = []
    for i, n in enumerate(hv.get("llmfleet_vm_nics") or []):
        if not isinstance(n, dict) or not n.get("net"):
            raise ValueError(f"{name}: llmfleet_vm_nics[{i}] needs a 'net' name")
        q = _as_int(n.get("queues", 1), "queues")
        if q < 1:
            raise ValueError(f"{name}: llmfleet_vm_nics[{i}].queues must be >= 1")
        node = n.get("numa_node")
        node = None if node in (None, "") else _as_int(node, f"llmfleet_vm_nics[{i}].numa_node")
        nics.append({"net": str(n["net"]), "queues": q, "numa_node": node})
    disks = []
    for i, d in enumerate(hv.get("llmfleet_vm_disks") or []):
        d = d or {}
        if "size_mb" in d:
            size_mb = _as_int(d["size_mb"], "size_mb")
            if size_mb < 64:
                raise ValueError(f"{name}: llmfleet_vm_disks[{i}].size_mb must be >= 64")
        else:
            size_gb = _as_int(d.get("size_gb", 2), "size_gb")
            if size_gb < 1:
                raise ValueError(f"{name}: llmfleet_vm_disks[{i}].size_gb must be >= 1")
            size_mb = size_gb * 1024
        disks.append({"size_mb": size_mb})
    accel = str(
        hv.get("llmfleet_vm_accel") or os.environ.get("LLMFLEET_VM_ACCEL") or "tcg"
    )
    if accel not in ("tcg", "kvm"):
        raise ValueError(f"{name}: llmfleet_vm_accel must be tcg or kvm")
    spec = VMSpec(
        name=name,
        port=port,
        host="127.0.0.1",
        user=str(hv.get("ansible_user", "root")),
        cpus=_as_int(hv.get("llmfleet_vm_cpus", DEFAULT_CPUS), "llmfleet_vm_cpus"),
        memory_mb=_as_int(
            hv.get("llmfleet_vm_memory_mb", DEFAULT_MEMORY_MB), "llmfleet_vm_memory_mb"
        ),
        numa_nodes=numa,
        nics=nics,
        disks=disks,
        accel=accel,
        boot_timeout_s=_as_int(
            hv.get("llmfleet_vm_boot_timeout", DEFAULT_BOOT_TIMEOUT_S),
            "llmfleet_vm_boot_timeout",
        ),
        kernel_args_extra=str(hv.get("llmfleet_vm_kernel_args", "") or ""),
        packages=_packages(name, hv.get("llmfleet_vm_packages")),
    )
    if spec.cpus < 1 or spec.memory_mb < 256:
        raise ValueError(
            f"{name}: need llmfleet_vm_cpus >= 1 and llmfleet_vm_memory_mb >= 256"
        )
    if spec.numa_nodes:
        numa_split(spec.cpus, spec.memory_mb, spec.numa_nodes)  # validate early
    for i, nic in enumerate(spec.nics):
        if nic["numa_node"] is not None and not 0 <= nic["numa_node"] < (spec.numa_nodes or 1):
            raise ValueError(
                f"{name}: llmfleet_vm_nics[{i}].numa_node {nic['numa_node']} needs "
                f"llmfleet_vm_numa_nodes > {nic['numa_node']}"
            )
    return spec


@dataclass
class VMPaths:
    state_dir: pathlib.Path
    name: str

    def _p(self, suffix: str) -> pathlib.Path:
        return self.state_dir / f"{self.name}{suffix}"

    @property
    def overlay(self):
        return self._p(".root.qcow2")

    @property
    def pidfile(self):
        return self._p(".pid")

    @property
    def serial_log(self):
        return self._p(".serial.log")

    @property
    def authorized_keys(self):
        return self._p(".authorized_keys")

    @property
    def meta(self):
        return self._p(".vm.json")

    @property
    def qmp(self) -> pathlib.Path:
        p = self._p(".qmp")
        if len(str(p)) < 100:  # AF_UNIX path limit is 108
            return p
        h = hashlib.sha256(str(p).encode()).hexdigest()[:16]
        return pathlib.Path("/tmp") / f"llmfleet-vm-{h}.qmp"

    def disk(self, i: int):
        return self._p(f".data{i}.qcow2")

    def all_files(self):
        files = [
            self.overlay,
            self.pidfile,
            self.serial_log,
            self.authorized_keys,
            self.meta,
            self.qmp,
        ]
        files += sorted(self.state_dir.glob(f"{self.name}.data*.qcow2"))
        return files


@dataclass
class Image:
    base: pathlib.Path
    kernel: pathlib.Path
    initrd: pathlib.Path
    root_uuid: str = DEFAULT_ROOT_UUID

    @classmethod
    def from_base(cls, base: pathlib.Path) -> "Image":
        d = base.parent
        uuid = DEFAULT_ROOT_UUID
        with contextlib.suppress(OSError):
            uuid = (d / "root-uuid").read_text().strip() or uuid
        return cls(
            base=base, kernel=d / "vmlinuz", initrd=d / "initrd.img", root_uuid=uuid
        )


# --------------------------------------------------------------------------
# qemu command line (pure)


def qemu_binary() -> str:
    return os.environ.get("LLMFLEET_QEMU", "qemu-system-x86_64")


def build_qemu_cmd(
    spec: VMSpec, paths: VMPaths, image: Image, lab_name: str, qemu: str | None = None
) -> list[str]:
    """The full qemu command line for ``spec`` (no side effects)."""
    cmd = [
        qemu or qemu_binary(),
        "-name",
        f"guest={spec.name},process=llmfleet-{spec.name}",
        "-machine",
        "q35",
        "-accel",
        "kvm" if spec.accel == "kvm" else "tcg",
        "-cpu",
        "max",
        "-nodefaults",
        "-display",
        "none",
        "-vga",
        "none",
        "-m",
        f"{spec.memory_mb}M",
    ]
    if spec.numa_nodes:
        nodes = numa_split(spec.cpus, spec.memory_mb, spec.numa_nodes)
        if spec.cpus % spec.numa_nodes == 0:
            cmd += [
                "-smp",
                f"{spec.cpus},sockets={spec.numa_nodes},cores={spec.cpus // spec.numa_nodes},threads=1",
            ]
        else:
            cmd += ["-smp", str(spec.cpus)]
        for n in nodes:
            lo, hi = n["cpus"]
            cpus = str(lo) if lo == hi else f"{lo}-{hi}"
            cmd += [
                "-object",
                f"memory-backend-ram,id=mem{n['node']},size={n['memory_mb']}M",
                "-numa",
                f"node,nodeid={n['node']},cpus={cpus},memdev=mem{n['node']}",
            ]
    else:
        cmd += ["-smp", str(spec.cpus)]
    cmd += [
        "-kernel",
        str(image.kernel),
        "-initrd",
        str(image.initrd),
        "-append",
        f"root=UUID={image.root_uuid} {KERNEL_ARGS} {spec.kernel_args_extra}".strip(),
        # root disk: per-VM overlay on the cached base
        "-drive",
        f"file={paths.overlay},if=none,id=root,format=qcow2,cache=unsafe,discard=unmap",
        "-device",
        "virtio-blk-pci,drive=root,serial=llmfleet-root",
        # management NIC: user-mode net, SSH forwarded on loopback only
        "-netdev",
        f"user,id=mgmt,hostname={spec.name},hostfwd=tcp:127.0.0.1:{spec.port}-:22",
        "-device",
        f"virtio-net-pci,netdev=mgmt,mac={MGMT_MAC}",
    ]
    numa_tail: list[str] = []
    for i, nic in enumerate(spec.nics):
        if nic["queues"] > 1:
            # Multi-queue needs a tap backend (qemu's socket backend has one queue pair): one tap per NIC on a
            # host bridge per segment, created by up() with no address (see prepare_taps).
            cmd += ["-netdev", f"tap,id=nic{i},ifname={tap_name(lab_name, spec.name, i)},script=no,downscript=no,"
                               f"queues={nic['queues']},vhost=off"]
        else:
            group, port = mcast_endpoint(lab_name, nic["net"])
            cmd += ["-netdev", f"socket,id=nic{i},mcast={group}:{port},localaddr=127.0.0.1"]
        dev = f"virtio-net-pci,netdev=nic{i},mac={nic_mac(spec.name, nic['net'], i)}"
        if nic["queues"] > 1:
            dev += f",mq=on,vectors={2 * nic['queues'] + 2}"
        if nic["numa_node"] is not None and spec.numa_nodes:
            # An expander root bus with a NUMA node: the guest sees the NIC's numa_node as on a real 2-socket host.
            # Last on the command line: qemu puts later bus-less devices on the newest bus, which must not be a pxb.
            numa_tail += ["-device", f"pxb-pcie,id=pxb{i},bus_nr={0x80 + 0x10 * i},numa_node={nic['numa_node']},bus=pcie.0",
                          "-device", f"pcie-root-port,id=rp{i},bus=pxb{i},chassis={10 + i},slot=0",
                          "-device", dev + f",bus=rp{i}"]
            continue
        cmd += ["-device", dev]
    for i, _d in enumerate(spec.disks):
        cmd += [
            "-drive",
            f"file={paths.disk(i)},if=none,id=data{i},format=qcow2,cache=unsafe,discard=unmap",
            "-device",
            f"virtio-blk-pci,drive=data{i},serial=llmfleet-data{i}",
        ]
    cmd += [
        "-device",
        "virtio-rng-pci",
        "-fw_cfg",
        f"name=opt/llmfleet/authorized_keys,file={paths.authorized_keys}",
        "-fw_cfg",
        f"name=opt/llmfleet/hostname,string={spec.name}",
        "-serial",
        f"file:{paths.serial_log}",
        "-qmp",
        f"unix:{paths.qmp},server=on,wait=off",
        "-pidfile",
        str(paths.pidfile),
        "-daemonize",
    ]
    return cmd + numa_tail


# --------------------------------------------------------------------------
# image


def vm_cache(ctx) -> pathlib.Path:
    """Where base disks live: ``ctx.vm_cache_dir`` (the machine-wide cache, shared by every checkout on this
    machine), else ``<cache_dir>/vm``."""
    explicit = getattr(ctx, "vm_cache_dir", None)
    return pathlib.Path(explicit) if explicit else pathlib.Path(ctx.cache_dir) / "vm"


# A base disk of an older recipe is removed only when no lab of this checkout uses it and it is older than this:
# the cache is shared, and another checkout's VMs may still boot from it.
PRUNE_AFTER_S = 7 * 86400


def _image_dir(ctx, digest: str) -> pathlib.Path:
    return vm_cache(ctx) / digest[:16]


def _image_complete(d: pathlib.Path) -> bool:
    return all(
        (d / f).exists()
        for f in ("base.qcow2", "vmlinuz", "initrd.img", "recipe.sha256")
    )


def _prune_images(ctx, keep: pathlib.Path, recipe: str = "") -> None:
    """Remove base images of older recipes that no VM overlay (of any lab) still uses (images of the current
    recipe, derived ones with other packages included, stay)."""
    vmcache = vm_cache(ctx)
    used = set()
    for meta in (pathlib.Path(ctx.cache_dir) / "labs").glob("*/*.vm.json"):
        with contextlib.suppress(OSError, ValueError):
            used.add(str(pathlib.Path(json.loads(meta.read_text())["base"]).parent))
    for d in vmcache.iterdir():
        if d == keep or d.name.startswith(".") or not (d / "recipe.sha256").exists():
            continue
        with contextlib.suppress(OSError):
            if recipe and (d / "base-recipe.sha256").read_text().strip() == recipe:
                continue
        with contextlib.suppress(OSError):
            if time.time() - (d / "recipe.sha256").stat().st_mtime < PRUNE_AFTER_S:
                continue
        if str(d) not in used:
            _log(ctx, f"vm: removing unused old base image {d}")
            shutil.rmtree(d, ignore_errors=True)
            with contextlib.suppress(OSError):
                (vmcache / f"build-{d.name}.log").unlink()


def ensure_image(ctx, packages=()) -> pathlib.Path:
    """Return the cached base disk (qcow2), building it if its recipe changed.

    ``packages`` (a host's ``llmfleet_vm_packages``) selects a derived image: the same recipe with those
    packages installed in the chroot at build time (fast), instead of by apt inside a TCG guest (slow)."""
    rdir = recipe_dir()
    recipe = recipe_hash(rdir)
    digest = image_digest(recipe, packages)
    d = _image_dir(ctx, digest)
    if _image_complete(d):
        return d / "base.qcow2"
    vmcache = vm_cache(ctx)
    vmcache.mkdir(parents=True, exist_ok=True)
    with open(vmcache / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent `lab up`s build once
        if _image_complete(d):
            return d / "base.qcow2"
        if os.geteuid() != 0:
            raise RuntimeError(
                "building the lab VM image needs root (debootstrap, chroot)"
            )
        for tool in ("debootstrap", "mkfs.ext4", "qemu-img"):
            if not shutil.which(tool) and not any(
                os.access(f"{p}/{tool}", os.X_OK) for p in ("/usr/sbin", "/sbin")
            ):
                raise RuntimeError(
                    f"{tool} not found: apt-get install debootstrap e2fsprogs qemu-utils"
                )
        tmp = vmcache / f".build-{digest[:16]}"
        shutil.rmtree(tmp, ignore_errors=True)
        logf = vmcache / f"build-{digest[:16]}.log"
        _log(
            ctx,
            f"vm: building base image {digest[:16]}"
            + (f" with {' '.join(packages)}" if packages else "")
            + f" (debootstrap, a few minutes); log: {logf}",
        )
        t0 = time.monotonic()
        env = dict(
            os.environ,
            PATH=os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin",
            LLMFLEET_VM_EXTRA_PACKAGES=" ".join(packages),
        )
        with open(logf, "w") as lf:
            rc = subprocess.call(
                ["bash", str(rdir / "build-disk.sh"), str(tmp), str(vmcache / "debs")],
                stdout=lf,
                stderr=subprocess.STDOUT,
                env=env,
            )
        if rc != 0:
            tail = logf.read_text(errors="replace")[-3000:]
            shutil.rmtree(tmp, ignore_errors=True)
            raise RuntimeError(f"vm image build failed (rc={rc}), see {logf}:\n{tail}")
        (tmp / "recipe.sha256").write_text(digest + "\n")
        (tmp / "base-recipe.sha256").write_text(recipe + "\n")
        (tmp / "packages").write_text(" ".join(packages) + "\n")
        build_s = time.monotonic() - t0
        (tmp / "build-seconds").write_text(f"{build_s:.1f}\n")
        if d.exists():
            shutil.rmtree(d)
        os.rename(tmp, d)
        _log(ctx, f"vm: base image built in {build_s:.0f}s: {d}")
        _prune_images(ctx, keep=d, recipe=recipe)
    return d / "base.qcow2"


def ensure_images(ctx, group: dict) -> list[pathlib.Path]:
    """The base images a group of VM hosts needs: one per distinct ``llmfleet_vm_packages`` set."""
    sets = sorted({spec_from_hv(h, hv).packages for h, hv in group.items()})
    return [ensure_image(ctx, packages) for packages in sets]


# --------------------------------------------------------------------------
# process / state helpers


def _read_pid(paths: VMPaths) -> int | None:
    try:
        pid = int(paths.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    # it is our qemu only if it was started with this pidfile
    if str(paths.pidfile).encode() not in cmdline:
        return None
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # zombie?
    with contextlib.suppress(OSError):
        st = pathlib.Path(f"/proc/{pid}/stat").read_text()
        if st.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _port_free(port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _ssh_base(spec: VMSpec, ctx) -> list[str]:
    return [
        "ssh",
        "-p",
        str(spec.port),
        "-i",
        str(ctx.ssh_key_path),
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=10",
        f"{spec.user}@127.0.0.1",
    ]


def _ssh_ok(spec: VMSpec, ctx) -> bool:
    try:
        r = subprocess.run(
            _ssh_base(spec, ctx) + ["true"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=40,
        )
        return r.returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _serial_tail(paths: VMPaths, n: int = 3000) -> str:
    with contextlib.suppress(OSError):
        return paths.serial_log.read_text(errors="replace")[-n:]
    return ""


def _wait_ssh(spec: VMSpec, paths: VMPaths, ctx, pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not _alive(pid):
            raise RuntimeError(
                f"vm {spec.name}: qemu exited during boot; serial log tail:\n{_serial_tail(paths)}"
            )
        if _ssh_ok(spec, ctx):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"vm {spec.name}: no SSH on 127.0.0.1:{spec.port} after {timeout:.0f}s; "
                f"serial log {paths.serial_log} tail:\n{_serial_tail(paths)}"
            )
        time.sleep(2)


def _result(
    spec: VMSpec, state: str, boot_s: float | None = None, with_boot: bool = False
) -> dict:
    r = {
        "name": spec.name,
        "kind": KIND,
        "state": state,
        "ssh": f"127.0.0.1:{spec.port}",
    }
    if with_boot:
        r["boot_to_ssh_s"] = boot_s
    return r


def _qmp(path: pathlib.Path, *commands: str, timeout: float = 5.0) -> bool:
    """Send QMP commands; True if the socket accepted them."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            f = s.makefile("rwb")
            f.readline()  # greeting
            for c in ("qmp_capabilities",) + commands:
                f.write(json.dumps({"execute": c}).encode() + b"\n")
                f.flush()
                while True:
                    line = f.readline()
                    if not line:
                        return False
                    msg = json.loads(line)
                    if "return" in msg or "error" in msg:
                        break
            return True
    except (OSError, ValueError):
        return False


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.5)
    return not _alive(pid)


# --------------------------------------------------------------------------
# public interface


def status(name: str, hv: dict, ctx) -> dict:
    spec = spec_from_hv(name, hv)
    paths = VMPaths(pathlib.Path(ctx.state_dir), name)
    pid = _read_pid(paths)
    return _result(spec, "running" if pid and _alive(pid) else "stopped")


def up(name: str, hv: dict, ctx) -> dict:
    spec = spec_from_hv(name, hv)
    state_dir = pathlib.Path(ctx.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    paths = VMPaths(state_dir, name)

    pid = _read_pid(paths)
    if pid and _alive(pid):
        _log(
            ctx,
            f"vm {name}: already running (pid {pid}), checking SSH on 127.0.0.1:{spec.port}",
        )
        _wait_ssh(spec, paths, ctx, pid, spec.boot_timeout_s)
        return _result(spec, "running", None, with_boot=True)

    base = ensure_image(ctx, spec.packages)
    image = Image.from_base(base)
    if not _port_free(spec.port):
        raise RuntimeError(f"vm {name}: 127.0.0.1:{spec.port} is already in use")

    # overlay: reuse one left by a crashed/stopped VM only if it sits on the current base
    meta = {}
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads(paths.meta.read_text())
    if paths.overlay.exists() and meta.get("base") != str(base):
        paths.overlay.unlink()
    if not paths.overlay.exists():
        subprocess.run(
            [
                "qemu-img",
                "create",
                "-q",
                "-f",
                "qcow2",
                "-F",
                "qcow2",
                "-b",
                str(base),
                str(paths.overlay),
            ],
            check=True,
        )
    for i, d in enumerate(spec.disks):
        if not paths.disk(i).exists():
            subprocess.run(
                [
                    "qemu-img",
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    str(paths.disk(i)),
                    f"{d['size_mb']}M",
                ],
                check=True,
            )
    pub = ctx.ssh_pubkey if isinstance(ctx.ssh_pubkey, str) else str(ctx.ssh_pubkey)
    paths.authorized_keys.write_text(pub.strip() + "\n")
    with contextlib.suppress(FileNotFoundError):
        paths.qmp.unlink()
    paths.pidfile.unlink(missing_ok=True)
    paths.serial_log.unlink(missing_ok=True)

    prepare_taps(spec, ctx.lab_name)
    cmd = build_qemu_cmd(spec, paths, image, ctx.lab_name)
    _log(
        ctx,
        f"vm {name}: starting qemu ({spec.accel}, {spec.cpus} cpu, {spec.memory_mb} MiB"
        f"{', %d NUMA nodes' % spec.numa_nodes if spec.numa_nodes else ''}), ssh 127.0.0.1:{spec.port}",
    )
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(
            f"vm {name}: qemu failed to start (rc={r.returncode}): {r.stderr.strip()}"
        )
    pid = _read_pid(paths)
    if not pid:
        raise RuntimeError(
            f"vm {name}: qemu started but wrote no pidfile {paths.pidfile}"
        )
    paths.meta.write_text(
        json.dumps(
            {
                "name": name,
                "lab": ctx.lab_name,
                "port": spec.port,
                "base": str(base),
                "pid": pid,
                "started_at": time.time(),
                "cmd": cmd,
            },
            indent=1,
        )
        + "\n"
    )
    _wait_ssh(spec, paths, ctx, pid, spec.boot_timeout_s)
    boot_s = round(time.monotonic() - t0, 1)
    _log(ctx, f"vm {name}: SSH up after {boot_s:.1f}s")
    with contextlib.suppress(OSError, ValueError):
        m = json.loads(paths.meta.read_text())
        m["boot_to_ssh_s"] = boot_s
        paths.meta.write_text(json.dumps(m, indent=1) + "\n")
    return _result(spec, "running", boot_s, with_boot=True)


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def prepare_taps(spec: VMSpec, lab_name: str) -> None:
    """Create the host bridge of each multi-queue NIC's segment and the NIC's multi-queue tap on it."""
    for i, nic in enumerate(spec.nics):
        if nic["queues"] <= 1:
            continue
        br, tap = bridge_name(lab_name, nic["net"]), tap_name(lab_name, spec.name, i)
        if _ip("link", "show", br).returncode != 0:
            r = _ip("link", "add", br, "type", "bridge")
            if r.returncode != 0:
                raise RuntimeError(f"vm {spec.name}: cannot create bridge {br} for net {nic['net']}: {r.stderr.strip()}")
        _ip("link", "set", br, "up")
        if _ip("link", "show", tap).returncode != 0:
            r = _ip("tuntap", "add", "dev", tap, "mode", "tap", "multi_queue")
            if r.returncode != 0:
                raise RuntimeError(f"vm {spec.name}: cannot create tap {tap}: {r.stderr.strip()}")
        _ip("link", "set", tap, "master", br)
        _ip("link", "set", tap, "up")


def remove_taps(spec: VMSpec, lab_name: str) -> None:
    for i, nic in enumerate(spec.nics):
        if nic["queues"] <= 1:
            continue
        _ip("link", "del", tap_name(lab_name, spec.name, i))
        br = bridge_name(lab_name, nic["net"])
        if _ip("link", "show", br).returncode == 0 and not _ip("link", "show", "master", br).stdout.strip():
            _ip("link", "del", br)


def down(name: str, hv: dict, ctx) -> None:
    state_dir = pathlib.Path(ctx.state_dir)
    paths = VMPaths(state_dir, name)
    timeout = DEFAULT_SHUTDOWN_TIMEOUT_S
    with contextlib.suppress(Exception):
        timeout = int(hv.get("llmfleet_vm_shutdown_timeout", timeout))
    pid = _read_pid(paths)
    if pid and _alive(pid):
        clean = False
        if timeout <= 0:
            _log(ctx, f"vm {name}: stopping qemu at once (pid {pid}, llmfleet_vm_shutdown_timeout: {timeout})")
        else:
            _log(ctx, f"vm {name}: powering off (pid {pid})")
            if _qmp(paths.qmp, "system_powerdown"):  # ACPI power button -> systemd poweroff
                clean = _wait_exit(pid, timeout)
            if not clean:
                _log(ctx, f"vm {name}: no clean poweroff within {timeout}s, killing qemu")
        if not clean:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait_exit(pid, 10):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_exit(pid, 10)
    for f in paths.all_files():
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
    with contextlib.suppress(ValueError):
        remove_taps(spec_from_hv(name, hv), ctx.lab_name)
