"""Container lab hosts: Debian 12 with systemd as PID 1, one address each on the lab's docker network, reached
over SSH. The base image is built from debootstrap (lab/image/) and tagged with a hash of its recipe."""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
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
    paths.MACHINE_CACHE.mkdir(parents=True, exist_ok=True)
    with open(paths.MACHINE_CACHE / ".container-image-build.lock", "w") as lock:
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
    cgroup namespace, explicit capabilities. Scenario-local launchers (molecule/ceph/lab_devices.py) add theirs."""
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
        docker(*run_args(name, host, hv, network_name(ctx), ctx.lab_name), image_tag())
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


__all__ = ["ensure_image", "prepare", "up", "down", "teardown", "status", "stop", "image_tag", "Path"]
