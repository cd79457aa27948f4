"""Container lab hosts: Debian 12 with systemd as PID 1, one address each on the lab's docker network, reached
over SSH. The base image is built from debootstrap (lab/image/) and tagged with a hash of its recipe.

Two host variables shape a container beyond that:
- ``llmfleet_lab_image_packages`` (list): Debian packages pre-installed in an image derived from the base one,
  built once and tagged with a hash of base image + package list (a Ceph host's packages take minutes to install).
- ``llmfleet_lab_loop_files`` ([{size_gb, mkfs?}]): block devices. Sparse files under
  ``lab/cache/labs/<lab>/loops/`` attached as loop devices on this machine and passed with ``--device``; the
  device paths go to ``lab/cache/labs/<lab>/devices/<host>.json`` (entries with ``mkfs``, formatted, to
  ``<host>-spare.json``), where the inventory reads them (e.g. ``ceph_osd_devices``). ``lab down`` detaches them.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import shutil
import subprocess
import time
from pathlib import Path

from llmfleet import paths
from llmfleet.errors import LlmfleetError
from llmfleet.lab import wait_for_ssh

# The lab VMs' bytecode cache for zip-imported modules (AnsiballZ) goes into the container image too.
ZIPIMPORT_CACHE = [paths.ROOT / "lab" / "vm" / "rootfs" / "usr" / "lib" / "python3" / "dist-packages" / f
                   for f in ("llmfleet_lab_zipimport_cache.py", "llmfleet_lab_zipimport_cache.pth")]
RECIPE = [paths.ROOT / "lab" / "image" / "build-image.sh", paths.ROOT / "lab" / "image" / "packages.txt",
          *ZIPIMPORT_CACHE]
REPO = "llmfleet/debian12-systemd"
CAPS = ["SYS_ADMIN", "NET_ADMIN", "SYS_NICE", "IPC_LOCK", "SYS_PTRACE"]


def image_tag() -> str:
    h = hashlib.sha256()
    for f in RECIPE:
        h.update(f.read_bytes())
    return f"{REPO}:{h.hexdigest()[:12]}"


def docker(*args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, capture_output=capture, text=True)


def ensure_dockerd(log=print, timeout: float = 60) -> None:
    """Use the running docker engine, or start Debian's dockerd if none answers."""
    if not shutil.which("docker"):
        raise LlmfleetError("docker is not installed: run `make deps` (apt-get install docker.io)")
    if docker("info", check=False).returncode == 0:
        return
    dockerd = shutil.which("dockerd")
    if not dockerd:
        raise LlmfleetError("no docker engine answers and dockerd is not installed: run `make deps`")
    log("starting dockerd (no engine was running)")
    logf = open("/var/log/llmfleet-dockerd.log", "ab")  # noqa: SIM115 - handed to the daemon
    subprocess.Popen([dockerd], stdout=logf, stderr=logf, start_new_session=True)
    t0 = time.monotonic()
    while docker("info", check=False).returncode != 0:
        if time.monotonic() - t0 > timeout:
            raise LlmfleetError("dockerd did not start in 60s: see /var/log/llmfleet-dockerd.log")
        time.sleep(1)


def ensure_image(ctx) -> str:
    ensure_dockerd(ctx.log)
    tag = image_tag()
    if docker("image", "inspect", tag, check=False).returncode == 0:
        return tag
    # docker's images are per machine, so is the lock (every checkout's labs share them)
    with _image_lock() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a `lab up` and make test's background warm-up build it once
        if docker("image", "inspect", tag, check=False).returncode == 0:
            return tag
        return _build_image(ctx, tag)


def _build_image(ctx, tag: str) -> str:
    ctx.log(f"building lab image {tag} (debootstrap, about a minute)")
    t0 = time.monotonic()
    proc = subprocess.run(["bash", str(RECIPE[0]), tag], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LlmfleetError(f"lab image build failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    (ctx.cache_dir / "image-build-seconds.txt").write_text(f"{tag} {time.monotonic() - t0:.1f}\n")
    ctx.log(f"built {tag} in {time.monotonic() - t0:.0f}s")
    return tag


def _image_lock(name: str = ".container-image-build.lock"):
    paths.MACHINE_CACHE.mkdir(parents=True, exist_ok=True)
    return open(paths.MACHINE_CACHE / name, "w")  # noqa: SIM115 - closed by the caller


def package_image_tag(base: str, packages) -> str:
    recipe = f"{base}\n{' '.join(sorted(packages))}"
    return "llmfleet/debian12-systemd-pkgs:" + hashlib.sha256(recipe.encode()).hexdigest()[:12]


def ensure_package_image(ctx, packages) -> str:
    """The base image with PACKAGES installed (apt, no recommends, daemons not started), cached by recipe."""
    base = ensure_image(ctx)
    if not packages:
        return base
    tag = package_image_tag(base, packages)
    if docker("image", "inspect", tag, check=False).returncode == 0:
        return tag
    with _image_lock() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if docker("image", "inspect", tag, check=False).returncode == 0:
            return tag
        ctx.log(f"building {tag}: apt-get install {' '.join(sorted(packages))} (minutes; cached by recipe)")
        t0 = time.monotonic()
        name = f"llmfleet-pkg-build-{tag.rsplit(':', 1)[1]}"
        docker("rm", "-f", name, check=False)
        docker("run", "-d", "--name", name, "--entrypoint", "sleep", base, "infinity")
        try:
            # no systemd runs in the build container: the packages' maintainer scripts start no daemon
            proc = docker("exec", "-e", "DEBIAN_FRONTEND=noninteractive", name, "sh", "-c",
                          "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
                          + " ".join(sorted(packages)) + " && apt-get clean", check=False)
            if proc.returncode != 0:
                raise LlmfleetError(f"building {tag} failed:\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
            docker("commit", "-c", 'ENTRYPOINT ["/sbin/init"]', "-c", "LABEL org.llmfleet.recipe=packages", name, tag)
        finally:
            docker("rm", "-f", name, check=False)
        ctx.log(f"built {tag} in {time.monotonic() - t0:.0f}s")
        return tag


def ensure_images(ctx, hosts: dict) -> None:
    """Every image the hosts start from (`llmfleet lab images`, make test's warm-up)."""
    ensure_image(ctx)
    for packages in {tuple(sorted(hv.get("llmfleet_lab_image_packages") or [])) for hv in hosts.values()} - {()}:
        ensure_package_image(ctx, list(packages))


def _sh(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout.strip()


def attach_loop_devices(ctx, host: str, files: list) -> list:
    """Sparse files attached as loop devices for HOST; writes the inventory's device lists; returns every device."""
    loops, devdir = ctx.state_dir / "loops", ctx.state_dir / "devices"
    loops.mkdir(parents=True, exist_ok=True)
    devdir.mkdir(parents=True, exist_ok=True)
    detach_loop_devices(ctx, host)
    devices, spare = [], []
    for i, spec in enumerate(files):
        img = loops / f"{host}-{i}.img"
        with open(img, "wb") as f:
            f.truncate(int(spec["size_gb"]) << 30)
        if spec.get("mkfs"):
            _sh(f"mkfs.{spec['mkfs']}", "-q", "-F", "-L", "precious-data", str(img))
        with _image_lock(".losetup.lock") as lock:  # `losetup -f` picks a free device: one host at a time
            fcntl.flock(lock, fcntl.LOCK_EX)
            dev = _sh("losetup", "-f", "--show", str(img))
        (spare if spec.get("mkfs") else devices).append(dev)
    (devdir / f"{host}.json").write_text(json.dumps(devices) + "\n")
    (devdir / f"{host}-spare.json").write_text(json.dumps(spare) + "\n")
    if files:
        ctx.log(f"{host}: loop devices {', '.join(devices + spare)}")
    return devices + spare


def detach_loop_devices(ctx, host: str) -> None:
    """Detach HOST's loop devices and delete their files and device lists."""
    loops = ctx.state_dir / "loops"
    imgs = sorted(loops.glob(f"{host}-*.img")) if loops.is_dir() else []
    attached = subprocess.run(["losetup", "-a", "-O", "NAME,BACK-FILE", "-n", "-l"], capture_output=True, text=True,
                              check=False).stdout.splitlines() if imgs else []
    for img in imgs:
        for line in attached:
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[1].strip().replace(" (deleted)", "") == str(img):
                subprocess.run(["losetup", "-d", parts[0]], capture_output=True, check=False)
        img.unlink()
    for f in (ctx.state_dir / "devices").glob(f"{host}*.json") if (ctx.state_dir / "devices").is_dir() else []:
        if f.name in (f"{host}.json", f"{host}-spare.json"):
            f.unlink()


def network_name(ctx) -> str:
    return f"llmfleet-{ctx.lab_name}"


def container_name(ctx, host: str) -> str:
    return f"{ctx.lab_name}-{host}"


def _subnet(hosts: dict) -> str:
    nets = {hv.get("llmfleet_lab_network") for hv in hosts.values()}
    if len(nets) != 1 or None in nets:
        raise LlmfleetError("every container lab host needs the same llmfleet_lab_network (e.g. 172.31.240.0/24)")
    net = ipaddress.ip_network(nets.pop())
    for h, hv in hosts.items():
        if ipaddress.ip_address(hv.get("ansible_host", "0.0.0.0")) not in net:
            raise LlmfleetError(f"{h}: ansible_host {hv.get('ansible_host')} is outside llmfleet_lab_network {net}")
    return str(net)


def prepare(ctx, hosts: dict) -> None:
    subnet = _subnet(hosts)
    name = network_name(ctx)
    if docker("network", "inspect", name, check=False).returncode != 0:
        docker("network", "create", "--subnet", subnet, "--label", f"org.llmfleet.lab={ctx.lab_name}", name)


def _state(ctx, host: str) -> str:
    p = docker("inspect", "-f", "{{.State.Status}}", container_name(ctx, host), check=False)
    return p.stdout.strip() if p.returncode == 0 else "absent"


def run_args(name: str, host: str, hv: dict, network: str, lab: str) -> list:
    """`docker run` arguments (image not included) of a lab host: systemd as PID 1 without --privileged, host
    cgroup namespace, explicit capabilities; `up` adds the loop devices."""
    args = [
        "run", "-d", "--name", name, "--hostname", host,
        "--network", network, "--ip", hv["ansible_host"],
        "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp:exec",
        "--stop-signal", "SIGRTMIN+3",
        "--label", f"org.llmfleet.lab={lab}",
        "--memory", str(hv.get("llmfleet_lab_memory", "2g")),
    ]
    for cap in CAPS:
        args += ["--cap-add", cap]
    return args


def up(host: str, hv: dict, ctx) -> dict:
    name = container_name(ctx, host)
    state = _state(ctx, host)
    t0 = time.monotonic()
    if state == "absent":
        args = run_args(name, host, hv, network_name(ctx), ctx.lab_name)
        for dev in attach_loop_devices(ctx, host, hv.get("llmfleet_lab_loop_files") or []):
            args += ["--device", f"{dev}:{dev}"]
        docker(*args, ensure_package_image(ctx, hv.get("llmfleet_lab_image_packages") or []))
    elif state != "running":
        docker("start", name)
    authorized = ctx.ssh_pubkey + "\n"
    subprocess.run(
        ["docker", "exec", "-i", name, "sh", "-c",
         "install -d -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys"],
        input=authorized, text=True, check=True, capture_output=True,
    )
    waited = wait_for_ssh(hv["ansible_host"], int(hv.get("ansible_port", 22)), ctx.ssh_key_path, timeout=90)
    ctx.log(f"{host}: container {name} at {hv['ansible_host']} answers SSH")
    return {"name": host, "kind": "container", "state": "running", "ssh": f"{hv['ansible_host']}:22",
            "boot_to_ssh_s": round(time.monotonic() - t0, 1) if state != "running" else None,
            "ssh_wait_s": round(waited, 1)}


def down(host: str, hv: dict, ctx) -> None:
    if _state(ctx, host) != "absent":
        docker("rm", "-f", "-v", container_name(ctx, host))
        ctx.log(f"{host}: removed")
    detach_loop_devices(ctx, host)


def teardown(ctx, hosts: dict) -> None:
    if docker("network", "inspect", network_name(ctx), check=False).returncode == 0:
        docker("network", "rm", network_name(ctx), check=False)


def status(host: str, hv: dict, ctx) -> dict:
    return {"name": host, "kind": "container", "state": _state(ctx, host), "ssh": f"{hv.get('ansible_host')}:22"}


def stop(host: str, ctx) -> None:
    """Stop a host without removing it (fault tests)."""
    docker("stop", container_name(ctx, host))


def image_cached() -> bool:
    return docker("image", "inspect", image_tag(), check=False).returncode == 0


__all__ = ["ensure_image", "ensure_images", "ensure_package_image", "prepare", "up", "down", "teardown", "status", "stop", "image_tag", "Path"]
