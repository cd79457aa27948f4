"""SSH host keys as a site (not a lab) gets them, against the converged default lab's containers.

The same three hosts in an inventory without ``llmfleet_lab``: `llmfleet deploy` refuses it before any connection
while a host is unpinned; with a wrong key pinned, Ansible's SSH refuses the hosts (nothing runs there);
`llmfleet hostkeys scan` prints the fingerprints the hosts' own ``ssh-keygen -lf`` prints (read here through
docker, the out-of-band channel), `--pin` writes them, and Ansible then reaches every host with strict checking.
"""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from llmfleet import hostkeys

ROOT = Path(os.environ.get("LLMFLEET_ROOT", Path(__file__).resolve().parents[3]))
CLI = os.environ.get("LLMFLEET_CLI", "llmfleet")
HOSTS = {"mol-gpu1": "172.31.241.11", "mol-gpu2": "172.31.241.12", "mol-svc1": "172.31.241.21"}
KEY = ROOT / "lab" / "cache" / "labs" / "default" / "ssh" / "id_ed25519"
PUB = "/etc/ssh/ssh_host_ed25519_key.pub"


def env():
    e = dict(os.environ, LLMFLEET_ROOT=str(ROOT), NO_COLOR="1", COLUMNS="200")
    for var in ("ANSIBLE_INVENTORY", "ANSIBLE_CONFIG", "ANSIBLE_SSH_ARGS"):
        e.pop(var, None)  # an operator's environment: the project's ansible.cfg, nothing of Molecule's
    return e


@pytest.fixture()
def site(tmp_path):
    inv = tmp_path / "site"
    inv.mkdir()
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_user": "root", "ansible_ssh_private_key_file": str(KEY)},
        "hosts": {h: {"ansible_host": a} for h, a in HOSTS.items()}}}))
    return inv


def console_fingerprint(host):
    """What the host's console shows: ssh-keygen -lf on the host itself (through docker, not over the network)."""
    out = subprocess.run(["docker", "exec", "default-" + host, "ssh-keygen", "-lf", PUB], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


def ping(inv):
    """An ad-hoc ping with the settings `llmfleet deploy` gives a site (its known_hosts, strict checking), over new
    connections (its own ControlPath directory: a master connection of an earlier run would skip the key check)."""
    e = dict(env(), **hostkeys.ssh_env(inv, {h: {"ansible_host": a} for h, a in HOSTS.items()}))
    e["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    e["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(inv / "cp")
    return subprocess.run([str(ROOT / ".venv" / "bin" / "ansible"), "all", "-i", str(inv), "-m", "ansible.builtin.ping",
                           "-o"], capture_output=True, text=True, env=e, cwd=ROOT, timeout=180, check=False)


def test_unpinned_site_is_refused_before_any_connection(site):
    proc = subprocess.run([CLI, "deploy", "-i", str(site), "--playbook", "playbooks/preflight.yml"],
                          capture_output=True, text=True, env=env(), cwd=ROOT, timeout=300, check=False)
    assert proc.returncode != 0
    text = " ".join((proc.stdout + proc.stderr).split())
    assert "no pinned SSH host key for mol-gpu1, mol-gpu2, mol-svc1 in %s/known_hosts" % site in text, text[-2000:]
    assert "PLAY [" not in proc.stdout


def test_a_wrong_pinned_key_is_refused_by_ssh(site, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "impostor")], check=True)
    ktype, key = hostkeys.parse_keys((tmp_path / "impostor.pub").read_text())[0]
    (site / "known_hosts").write_text("".join("%s %s %s\n" % (a, ktype, key) for a in HOSTS.values()))
    proc = ping(site)
    assert proc.returncode != 0
    assert proc.stdout.count("| UNREACHABLE") == 3, proc.stdout[-2000:]
    assert "Host key verification failed" in proc.stdout or "REMOTE HOST IDENTIFICATION HAS CHANGED" in proc.stdout


def test_scan_prints_the_console_fingerprints_and_pinned_keys_are_verified(site):
    proc = subprocess.run([CLI, "hostkeys", "scan", "-i", str(site)], capture_output=True, text=True, env=env(),
                          cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in HOSTS:
        assert console_fingerprint(host) in proc.stdout, (host, proc.stdout)
    assert "run again with --pin" in " ".join(proc.stdout.split())
    assert not (site / "known_hosts").exists()
    proc = subprocess.run([CLI, "hostkeys", "scan", "-i", str(site), "--pin"], capture_output=True, text=True,
                          env=env(), cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pinned = hostkeys.parse_known_hosts((site / "known_hosts").read_text())
    assert set(HOSTS.values()) <= set(pinned) and set(HOSTS) <= set(pinned)
    proc = ping(site)
    assert proc.returncode == 0 and proc.stdout.count("| SUCCESS") == 3, proc.stdout[-2000:]
