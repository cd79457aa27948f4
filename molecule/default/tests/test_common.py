"""Real state on every lab host after site.yml (testinfra over the scenario's SSH inventory)."""

import json

import pytest


def test_chrony_running_and_enabled(host):
    svc = host.service("chrony")
    assert svc.is_running
    assert svc.is_enabled
    # chronyd answers on its command socket: the daemon is alive, not just a unit marked active.
    assert host.run("chronyc -n tracking").rc == 0


@pytest.mark.parametrize("name", ["mol-gpu1", "mol-gpu2", "mol-svc1", "mol-st1", "mol-st2", "mol-st3"])
def test_hosts_file_resolves_every_lab_host(host, name):
    addr = host.run(f"getent hosts {name}")
    assert addr.rc == 0, addr.stderr
    assert addr.stdout.split()[0].startswith("172.31.241.")


def test_hostname_is_inventory_name(host):
    assert host.run("hostname").stdout.strip() == host.backend.get_hostname()


def test_base_packages_installed(host):
    for pkg in ("chrony", "jq", "curl", "pciutils", "python3-apt"):
        assert host.package(pkg).is_installed, pkg


def test_timezone_link(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Etc/UTC"


def test_llmfleet_local_facts(host):
    f = host.file("/etc/ansible/facts.d/llmfleet.fact")
    assert f.mode == 0o644
    facts = json.loads(f.content_string)
    assert facts["site"] == "molecule-default"
    assert facts["lab"] is True
    assert host.file("/var/lib/llmfleet/reports").is_directory


def test_sshd_key_only(host):
    cfg = host.run("sshd -T").stdout
    assert "passwordauthentication no" in cfg
    assert "permitrootlogin without-password" in cfg or "permitrootlogin prohibit-password" in cfg
