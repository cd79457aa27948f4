"""Reach the scenario's containers with the lab key directly (testinfra does not template the inventory's
Jinja key path, and must not depend on a still-open ControlMaster socket)."""

import os

import pytest
import testinfra
import yaml

ROOT = os.environ.get("LLMFLEET_ROOT") or os.environ.get("MOLECULE_PROJECT_DIRECTORY")
SCENARIO = "gpu_stack"


def _addresses():
    with open(os.path.join(ROOT, "molecule", SCENARIO, "inventory.yml")) as f:
        inv = yaml.safe_load(f)
    out = {}

    def walk(group):
        for name, hv in (group.get("hosts") or {}).items():
            if (hv or {}).get("ansible_host"):
                out[name] = hv["ansible_host"]
        for child in (group.get("children") or {}).values():
            walk(child or {})
    walk(inv["all"])
    return out


@pytest.fixture(scope="module")
def host(_testinfra_host):
    name = _testinfra_host.backend.get_hostname()
    return testinfra.get_host(
        "ssh://root@%s" % _addresses()[name],
        ssh_identity_file=os.path.join(ROOT, "lab", "cache", "labs", SCENARIO, "ssh", "id_ed25519"),
        ssh_extra_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")
