"""Negative tests: playbooks under tests/integration/negative/ must fail, naming the key or variable and the host.

Run once (no testinfra `host` fixture) against the scenario's inventory with ansible-playbook."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
NEGATIVE = REPO / "tests" / "integration" / "negative"
INVENTORY = Path(__file__).resolve().parents[1] / "inventory.yml"
HOST = "tun-gpu1"

CASES = {
    "sysctl_unknown_key.yml": ["sysctl net.ipv4.tcp_bogus does not exist on this kernel",
                               "remove it from sysctl_tuning_overrides"],
    "sysctl_bad_type.yml": ["sysctl net.ipv4.tcp_rmem='4096 big' has the wrong type",
                            "3 integers separated by spaces"],
    "sysctl_bad_profile.yml": ["sysctl_tuning_profile", "hpc_magic"],
}
EXTRA = {}
if (REPO / "roles" / "irq_affinity").is_dir():
    EXTRA["irq_bad_cpulist.yml"] = ["irq_affinity_cpus", "0-"]
if (REPO / "roles" / "numa").is_dir():
    EXTRA["numa_cpu_outside_host.yml"] = ["numa_reserved_cpus", "999"]
CASES.update(EXTRA)


def run_negative(playbook):
    env = dict(os.environ, LLMFLEET_ROOT=str(REPO), ANSIBLE_NOCOLOR="1", NO_COLOR="1",
               ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"),
               ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    return subprocess.run(
        ["ansible-playbook", "-i", str(INVENTORY), str(NEGATIVE / playbook), "-e", "negative_host=" + HOST],
        cwd=str(REPO), env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("playbook", sorted(CASES))
def test_negative_playbook_fails_clearly(playbook):
    proc = run_negative(playbook)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, "%s did not fail:\n%s" % (playbook, out[-3000:])
    fatal = [line for line in out.splitlines() if line.startswith("fatal: [%s]" % HOST)]
    assert fatal, "%s: no 'fatal: [%s]' line:\n%s" % (playbook, HOST, out[-3000:])
    text = "\n".join(fatal)
    for needle in CASES[playbook]:
        assert needle in text, "%s: %r not in the failure of %s:\n%s" % (playbook, needle, HOST, text[-3000:])
