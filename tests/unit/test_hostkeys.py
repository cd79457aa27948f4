"""SSH host keys: fingerprints as OpenSSH prints them, pinning that never re-pins a changed key, deploy refusing a
site with unpinned hosts, and the project's ssh settings strict outside the lab."""

import configparser
import subprocess
from pathlib import Path

import pytest
import yaml

from llmfleet import hostkeys
from llmfleet.errors import LlmfleetError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def keypair(tmp_path_factory):
    d = tmp_path_factory.mktemp("hk")
    keys = []
    for i in range(2):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / ("k%d" % i))], check=True)
        pub = (d / ("k%d.pub" % i)).read_text()
        ssh_fp = subprocess.run(["ssh-keygen", "-lf", str(d / ("k%d.pub" % i))], check=True, capture_output=True,
                                text=True).stdout.split()[1]
        keys.append((hostkeys.parse_keys(pub)[0], ssh_fp))
    return keys


def test_fingerprint_is_what_ssh_keygen_prints(keypair):
    for (ktype, key), ssh_fp in keypair:
        assert ktype == "ssh-ed25519" and hostkeys.fingerprint(key) == ssh_fp


def test_keyscan_output_and_patterns():
    text = "# 10.0.0.1:22 SSH-2.0-OpenSSH_9.2\n10.0.0.1 ssh-ed25519 AAAAC3Nza\n10.0.0.1 ssh-rsa AAAAB3Nza\n"
    assert hostkeys.parse_keys(text) == [("ssh-ed25519", "AAAAC3Nza"), ("ssh-rsa", "AAAAB3Nza")]
    assert hostkeys.host_pattern("10.0.0.1") == "10.0.0.1"
    assert hostkeys.host_pattern("10.0.0.1", 2222) == "[10.0.0.1]:2222"
    hv = {"gpu1": {"ansible_host": "10.0.0.1"}, "gpu2": {"ansible_host": "10.0.0.2", "ansible_port": 2222}}
    assert [t["pattern"] for t in hostkeys.targets(hv)] == ["10.0.0.1", "[10.0.0.2]:2222"]


def test_pin_adds_new_keys_and_refuses_a_changed_one(keypair):
    (t0, k0), _fp0 = keypair[0]
    (_t1, k1), fp1 = keypair[1]
    text = hostkeys.merge("", {"10.0.0.1": [(t0, k0)]}, {"10.0.0.1": "gpu1"})
    assert text == "10.0.0.1,gpu1 ssh-ed25519 %s\n" % k0
    assert hostkeys.merge(text, {"10.0.0.1": [(t0, k0)]}, {"10.0.0.1": "gpu1"}) == text  # same key: unchanged
    with pytest.raises(hostkeys.HostKeyChanged) as exc:
        hostkeys.merge(text, {"10.0.0.1": [(t0, k1)]}, {"10.0.0.1": "gpu1"})
    msg = str(exc.value)
    assert msg.startswith("gpu1 (10.0.0.1): its ssh-ed25519 host key changed: pinned %s, now offered %s"
                          % (hostkeys.fingerprint(k0), fp1)) and "do not deploy" in msg


def test_scan_pins_what_the_hosts_offer_and_reports_changes(tmp_path, keypair, monkeypatch):
    (t0, k0), _fp0 = keypair[0]
    (_t1, k1), _fp1 = keypair[1]
    inv = tmp_path / "hosts.yml"
    inv.write_text("all: {}\n")
    offered = {"10.0.0.1": [(t0, k0)], "10.0.0.2": [(t0, k1)], "10.0.0.3": []}
    monkeypatch.setattr(hostkeys, "keyscan", lambda address, port=22, timeout=5: offered[address])
    hv = {"gpu1": {"ansible_host": "10.0.0.1"}, "gpu2": {"ansible_host": "10.0.0.2"}, "gpu3": {"ansible_host": "10.0.0.3"}}
    res = hostkeys.scan(inv, hv)
    assert [r["status"] for r in res["rows"]] == ["new", "new"] and res["unreachable"] == ["gpu3"]
    assert not (tmp_path / "known_hosts").exists()
    res = hostkeys.scan(inv, hv, pin=True)
    assert res["pinned"] == 2 and (tmp_path / "known_hosts").read_text().count("\n") == 2
    offered["10.0.0.2"] = [(t0, k0)]
    res = hostkeys.scan(inv, hv)
    assert [r["status"] for r in res["rows"]] == ["pinned", "CHANGED"]
    before = (tmp_path / "known_hosts").read_text()
    with pytest.raises(hostkeys.HostKeyChanged):
        hostkeys.scan(inv, hv, pin=True)
    assert (tmp_path / "known_hosts").read_text() == before


def test_deploy_env_refuses_unpinned_site_hosts_and_leaves_labs_alone(tmp_path, keypair):
    (t0, k0), _fp0 = keypair[0]
    inv = tmp_path / "site"
    inv.mkdir()
    hv = {"gpu1": {"ansible_host": "10.0.0.1"}, "gpu2": {"ansible_host": "10.0.0.2"}}
    with pytest.raises(LlmfleetError) as exc:
        hostkeys.ssh_env(inv, hv)
    assert "no pinned SSH host key for gpu1, gpu2 in %s/known_hosts" % inv in str(exc.value)
    (inv / "known_hosts").write_text("10.0.0.1,gpu1 %s %s\n10.0.0.2 %s %s\n" % (t0, k0, t0, k0))
    env = hostkeys.ssh_env(inv, hv)
    assert env["ANSIBLE_SSH_COMMON_ARGS"] == "-o UserKnownHostsFile=%s/known_hosts -o StrictHostKeyChecking=yes" % inv
    lab = {h: dict(v, llmfleet_lab=True) for h, v in hv.items()}
    assert hostkeys.ssh_env(tmp_path / "nowhere.yml", lab) == {}


def test_project_ssh_settings_verify_host_keys():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "ansible.cfg")
    assert cfg.getboolean("defaults", "host_key_checking")
    ssh_args = cfg.get("ssh_connection", "ssh_args")
    assert "StrictHostKeyChecking=no" not in ssh_args and "UserKnownHostsFile=/dev/null" not in ssh_args
    assert cfg.get("ssh_connection", "control_path_dir").startswith("~/")  # per user (Ansible makes it 0700)
    molecule = yaml.safe_load((ROOT / ".config" / "molecule" / "config.yml").read_text())
    assert "StrictHostKeyChecking" not in molecule["provisioner"]["env"]["ANSIBLE_SSH_ARGS"]
    for f in ROOT.glob("roles/*/tasks/*.yml"):
        for task in yaml.safe_load(f.read_text()) or []:
            sync = (task or {}).get("ansible.posix.synchronize")
            if sync is not None:
                assert sync.get("verify_host") is True and sync.get("use_ssh_args") is True, "%s: %s" % (f, task["name"])
