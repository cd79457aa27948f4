"""The local lab: container hosts (systemd in docker) and VM hosts (qemu/TCG), described by an Ansible inventory.

Every host with `llmfleet_lab_kind` set is a lab host: `container` hosts are run by lab_container, `vm` hosts by
lab_vm. Both are reached over real SSH with a key generated once per lab, like production hosts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from llmfleet import paths
from llmfleet.errors import LlmfleetError


@dataclass
class LabContext:
    lab_name: str
    inventory: Path
    state_dir: Path
    cache_dir: Path = paths.CACHE
    # VM base disks: per machine, so that a fresh clone does not rebuild them (lab_vm.vm_cache)
    vm_cache_dir: Path = paths.MACHINE_CACHE / "vm"
    log: Callable[[str], None] = print
    network: str | None = None
    ssh_key_path: Path = field(init=False)
    ssh_pubkey: str = field(init=False, default="")

    def __post_init__(self):
        self.ssh_key_path = self.state_dir / "ssh" / "id_ed25519"


def load_inventory(inventory: Path) -> dict:
    """hostvars of every host, as ansible-inventory resolves them (group_vars and host_vars included)."""
    if not inventory.exists():
        raise LlmfleetError(f"inventory {inventory} does not exist (try: -i inventories/lab)")
    exe = shutil.which("ansible-inventory") or str(Path(paths.ROOT, ".venv", "bin", "ansible-inventory"))
    try:
        out = subprocess.run(
            [exe, "-i", str(inventory), "--list", "--export"],
            check=True,
            capture_output=True,
            text=True,
            cwd=paths.ROOT,
        ).stdout
    except FileNotFoundError as exc:
        raise LlmfleetError("ansible-inventory not found: run `make venv` and use .venv/bin/llmfleet") from exc
    except subprocess.CalledProcessError as exc:
        raise LlmfleetError(f"inventory {inventory} does not parse: {exc.stderr.strip()[-400:]}") from exc
    data = json.loads(out)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    # --export keeps group vars on the groups: merge them the way Ansible does (all < parent < child < host).
    groups = {k: v for k, v in data.items() if k != "_meta"}
    membership: dict[str, list[str]] = {}

    def walk(group: str, chain: list[str]):
        g = groups.get(group, {})
        for h in g.get("hosts", []):
            membership.setdefault(h, [])
            for name in chain + [group]:
                if name not in membership[h]:
                    membership[h].append(name)
        for child in g.get("children", []):
            walk(child, chain + [group])

    walk("all", [])
    merged = {}
    for host, chain in membership.items():
        hv: dict = {}
        for name in chain:
            hv.update(groups.get(name, {}).get("vars", {}))
        hv.update(hostvars.get(host, {}))
        hv["group_names"] = [g for g in chain if g not in ("all", "ungrouped")]
        merged[host] = hv
    return merged


def lab_hosts(hostvars: dict) -> dict:
    return {h: hv for h, hv in sorted(hostvars.items()) if hv.get("llmfleet_lab_kind")}


def make_context(inventory: Path, name: str | None, log=print) -> LabContext:
    inventory = inventory.resolve()
    lab_name = name or (inventory.stem if inventory.is_file() else inventory.name)
    state = paths.LABS / lab_name
    state.mkdir(parents=True, exist_ok=True)
    return LabContext(lab_name=lab_name, inventory=inventory, state_dir=state, log=log)


def ensure_ssh_key(ctx: LabContext) -> None:
    key = ctx.ssh_key_path
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"llmfleet-lab-{ctx.lab_name}", "-f", str(key)],
            check=True,
        )
    key.chmod(0o600)
    ctx.ssh_pubkey = key.with_suffix(".pub").read_text().strip()


def _backend(kind: str):
    if kind == "container":
        from llmfleet import lab_container

        return lab_container
    if kind == "vm":
        from llmfleet import lab_vm

        return lab_vm
    raise LlmfleetError(f"unknown llmfleet_lab_kind {kind!r} (expected container or vm)")


def _kinds(hosts: dict) -> dict:
    out: dict[str, dict] = {}
    for h, hv in hosts.items():
        out.setdefault(hv["llmfleet_lab_kind"], {})[h] = hv
    return out


def _ensure_image(ctx: LabContext, backend, group: dict) -> float:
    """Build (or find cached) the images one kind's hosts boot from; returns the seconds it took."""
    t0 = time.monotonic()
    if hasattr(backend, "ensure_images"):
        backend.ensure_images(ctx, group)
    else:
        backend.ensure_image(ctx)
    return time.monotonic() - t0


def _lab(inventory: Path, name: str | None, log) -> tuple[LabContext, dict]:
    """The lab's context and its lab hosts; refuses an inventory without any."""
    ctx = make_context(inventory, name, log)
    hosts = lab_hosts(load_inventory(ctx.inventory))
    if not hosts:
        raise LlmfleetError(f"{inventory} has no lab hosts (no host sets llmfleet_lab_kind)")
    return ctx, hosts


def images(inventory: Path, name: str | None = None, log=print) -> list[dict]:
    """`llmfleet lab images`: the lab's images, built ahead of `lab up` (make test warms them in the background);
    starts nothing. One row per kind."""
    ctx, hosts = _lab(inventory, name, log)
    return [{"kind": kind, "hosts": sorted(group), "seconds": round(_ensure_image(ctx, _backend(kind), group), 1)}
            for kind, group in _kinds(hosts).items()]


def up(inventory: Path, name: str | None = None, log=print) -> list[dict]:
    ctx, hosts = _lab(inventory, name, log)
    ensure_ssh_key(ctx)
    results = []
    for kind, group in _kinds(hosts).items():
        backend = _backend(kind)
        log(f"{kind} image ready in {_ensure_image(ctx, backend, group):.1f}s")
        if hasattr(backend, "prepare"):
            backend.prepare(ctx, group)
        # VMs under TCG share 2 cores: start them one after another; containers in parallel.
        workers = 1 if kind == "vm" else max(1, len(group))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results += list(pool.map(lambda item, b=backend: b.up(item[0], item[1], ctx), group.items()))
    (ctx.state_dir / "hosts.json").write_text(json.dumps(results, indent=2))
    return results


def down(inventory: Path, name: str | None = None, log=print) -> None:
    ctx = make_context(inventory, name, log)
    hosts = lab_hosts(load_inventory(ctx.inventory))
    for kind, group in _kinds(hosts).items():
        backend = _backend(kind)
        for h, hv in group.items():
            backend.down(h, hv, ctx)
        if hasattr(backend, "teardown"):
            backend.teardown(ctx, group)


def status(inventory: Path, name: str | None = None, log=print) -> list[dict]:
    ctx = make_context(inventory, name, log)
    hosts = lab_hosts(load_inventory(ctx.inventory))
    return [_backend(hv["llmfleet_lab_kind"]).status(h, hv, ctx) for h, hv in hosts.items()]


def wait_for_ssh(host: str, port: int, key: Path, timeout: float, user: str = "root") -> float:
    """Block until `ssh true` succeeds with the lab key; returns the seconds waited."""
    t0 = time.monotonic()
    cmd = [
        "ssh", "-i", str(key), "-p", str(port),
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", f"{user}@{host}", "true",
    ]
    while True:
        if subprocess.run(cmd, capture_output=True, timeout=30, check=False).returncode == 0:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise LlmfleetError(f"no SSH answer from {user}@{host}:{port} after {timeout:.0f}s")
        time.sleep(1)
