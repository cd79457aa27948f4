"""SSH host keys of a site, pinned once and verified on every connection (docs/operations.md, "SSH host keys").

`ansible.cfg` checks host keys strictly (StrictHostKeyChecking=yes): a host whose key is not known is refused,
never trusted on first use. A site's keys live in ``known_hosts`` beside its inventory:

1. ``llmfleet hostkeys scan -i INV`` asks every host of the inventory for its keys (``ssh-keyscan``) and prints
   each key's SHA256 fingerprint, to be compared out of band with what the host's console (BMC) shows for
   ``ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub``;
2. ``llmfleet hostkeys scan -i INV --pin`` writes them to ``<inventory dir>/known_hosts``; a host that is already
   pinned and now offers another key is refused, never re-pinned silently;
3. ``llmfleet deploy`` refuses an inventory with hosts that are not pinned, and runs Ansible (ssh, and rsync through
   ``synchronize`` with ``verify_host``) with ``UserKnownHostsFile=<that file>`` and strict checking.

Lab inventories (``llmfleet_lab: true`` on every host) keep their own settings: their hosts are containers and VMs
of this machine, rebuilt with new keys on every ``llmfleet lab up``, and each lab inventory says so in
``ansible_ssh_common_args``.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

from llmfleet.errors import LlmfleetError

KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa")


class HostKeyChanged(LlmfleetError):
    """A pinned host offers another key than the one pinned."""


def known_hosts_path(inventory: Path) -> Path:
    """The site's known_hosts: beside an inventory file, or inside an inventory directory."""
    inventory = Path(inventory)
    return (inventory if inventory.is_dir() else inventory.parent) / "known_hosts"


def is_lab(hostvars: dict) -> bool:
    return bool(hostvars) and all(str(hv.get("llmfleet_lab", False)).lower() in ("true", "1", "yes")
                                  for hv in hostvars.values())


def targets(hostvars: dict) -> list[dict]:
    """[{name, address, port, pattern}] of every host: where SSH connects and how known_hosts names it."""
    out = []
    for name, hv in sorted(hostvars.items()):
        address = str(hv.get("ansible_host") or name)
        port = int(hv.get("ansible_port") or hv.get("ansible_ssh_port") or 22)
        out.append({"name": name, "address": address, "port": port, "pattern": host_pattern(address, port)})
    return out


def host_pattern(address: str, port: int = 22) -> str:
    """How ssh looks a host up in known_hosts: the address, or ``[address]:port`` for another port than 22."""
    return address if int(port) == 22 else f"[{address}]:{int(port)}"


def fingerprint(key_b64: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob (what ``ssh-keygen -lf`` prints)."""
    digest = hashlib.sha256(base64.b64decode(key_b64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def parse_keys(text: str) -> list[tuple[str, str]]:
    """(key type, base64 blob) of every key line of ``ssh-keyscan`` output or a ``.pub`` file."""
    keys = []
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("#") or len(parts) < 2:
            continue
        for i, part in enumerate(parts[:-1]):
            if part in KEY_TYPES:
                keys.append((part, parts[i + 1]))
                break
    return sorted(set(keys))


def parse_known_hosts(text: str) -> dict[str, set[tuple[str, str]]]:
    """{host pattern: {(type, key)}} of a known_hosts file (plain patterns; hashed and marker lines are skipped)."""
    out: dict[str, set[tuple[str, str]]] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith(("#", "|", "@")) or len(parts) < 3 or parts[1] not in KEY_TYPES:
            continue
        for pattern in parts[0].split(","):
            out.setdefault(pattern, set()).add((parts[1], parts[2]))
    return out


def missing(hostvars: dict, known_hosts_text: str) -> list[str]:
    """Hosts of the inventory that have no key pinned under the name ssh looks them up by."""
    known = parse_known_hosts(known_hosts_text)
    return [t["name"] for t in targets(hostvars) if not known.get(t["pattern"])]


def merge(known_hosts_text: str, scanned: dict[str, list[tuple[str, str]]], names: dict[str, str]) -> str:
    """known_hosts text with the scanned keys added ({pattern: [(type, key)]}; names: {pattern: inventory name}).

    A key type already pinned for a host with another key raises HostKeyChanged naming the host and both
    fingerprints; keys already pinned are kept as they are."""
    known = parse_known_hosts(known_hosts_text)
    lines = [ln for ln in known_hosts_text.splitlines() if ln.strip()]
    for pattern, keys in sorted(scanned.items()):
        pinned = dict(known.get(pattern, set()))
        for ktype, key in keys:
            if ktype in pinned and pinned[ktype] != key:
                raise HostKeyChanged(
                    f"{names.get(pattern, pattern)} ({pattern}): its {ktype} host key changed: pinned "
                    f"{fingerprint(pinned[ktype])}, now offered {fingerprint(key)}. If the host was reinstalled, "
                    f"check the new fingerprint on its console, remove the old line (ssh-keygen -R '{pattern}' -f "
                    f"known_hosts) and pin again; otherwise something answers in its place: do not deploy.")
            if ktype not in pinned:
                alias = names.get(pattern)
                lines.append(f"{pattern}{',' + alias if alias and alias != pattern else ''} {ktype} {key}")
    return "\n".join(lines) + "\n" if lines else ""


def keyscan(address: str, port: int = 22, timeout: int = 5) -> list[tuple[str, str]]:
    """The host keys a host offers (``ssh-keyscan``); an empty list when it does not answer."""
    try:
        proc = subprocess.run(["ssh-keyscan", "-T", str(timeout), "-p", str(port), address],
                              capture_output=True, text=True, timeout=timeout * 4 + 10, check=False)
    except FileNotFoundError as exc:
        raise LlmfleetError("ssh-keyscan not found: install openssh-client") from exc
    except subprocess.TimeoutExpired:
        return []
    return parse_keys(proc.stdout)


def ssh_env(inventory: Path, hostvars: dict) -> dict:
    """The environment `llmfleet deploy` gives Ansible for an inventory: nothing for a lab; for a site, its
    known_hosts with strict checking (refused before any connection when a host is not pinned)."""
    if is_lab(hostvars):
        return {}
    path = known_hosts_path(inventory)
    text = path.read_text() if path.exists() else ""
    absent = missing(hostvars, text)
    if absent:
        raise LlmfleetError(
            f"no pinned SSH host key for {', '.join(absent)} in {path}: run `llmfleet hostkeys scan -i {inventory}`, "
            f"compare the fingerprints with the hosts' consoles, then `llmfleet hostkeys scan -i {inventory} --pin`")
    return {"ANSIBLE_SSH_COMMON_ARGS": f"-o UserKnownHostsFile={path} -o StrictHostKeyChecking=yes",
            "ANSIBLE_HOST_KEY_CHECKING": "True"}


def scan(inventory: Path, hostvars: dict, pin: bool = False, limit: set | None = None) -> dict:
    """Scan every host (or those in ``limit``); with ``pin`` merge the keys into the site's known_hosts.

    Returns {"rows": [{name, pattern, type, fingerprint, status}], "unreachable": [names], "path": str, "pinned": n}.
    status: "pinned" (already in the file, same key), "new" (not in the file yet) or "written" (pinned now)."""
    path = known_hosts_path(inventory)
    text = path.read_text() if path.exists() else ""
    known = parse_known_hosts(text)
    rows, unreachable, scanned, names = [], [], {}, {}
    for t in targets(hostvars):
        if limit and t["name"] not in limit:
            continue
        keys = keyscan(t["address"], t["port"])
        if not keys:
            unreachable.append(t["name"])
            continue
        scanned[t["pattern"]] = keys
        names[t["pattern"]] = t["name"]
        for ktype, key in keys:
            pinned = dict(known.get(t["pattern"], set())).get(ktype)
            status = "pinned" if pinned == key else ("CHANGED" if pinned else "new")
            rows.append({"name": t["name"], "pattern": t["pattern"], "type": ktype, "fingerprint": fingerprint(key),
                         "status": status})
    written = 0
    if pin and scanned:
        new_text = merge(text, scanned, names)  # raises HostKeyChanged before anything is written
        written = sum(1 for r in rows if r["status"] == "new")
        if new_text != text:
            path.write_text(new_text)
            path.chmod(0o644)
        for r in rows:
            if r["status"] == "new":
                r["status"] = "written"
    return {"rows": rows, "unreachable": unreachable, "path": str(path), "pinned": written}
