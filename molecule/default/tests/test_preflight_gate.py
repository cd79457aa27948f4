"""A site whose expectations the hardware violates stops in pre-flight, lists every violation, changes nothing."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("LLMFLEET_ROOT", Path(__file__).resolve().parents[3]))
BAD = ROOT / "molecule" / "default" / "inventory_bad.yml"


@pytest.fixture(scope="module")
def bad_run():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", LLMFLEET_ROOT=str(ROOT))
    env.pop("ANSIBLE_INVENTORY", None)
    env.pop("ANSIBLE_FORCE_COLOR", None)  # molecule forces colour outside `make`; the recap is parsed below
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(BAD), str(ROOT / "site.yml")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False,
    )
    return proc


def _mtime(host, path):
    return host.run(f"stat -c %Y {path}").stdout.strip()


def test_bad_site_fails_in_preflight_with_every_violation(bad_run):
    out = bad_run.stdout
    assert bad_run.returncode != 0, out[-3000:]
    assert "PRE-FLIGHT:" in out
    # Every violation of every GPU host, in one table, not the first one only.
    for host in ("mol-gpu1", "mol-gpu2"):
        assert re.search(rf"\| {host} \[replay\] \| -\s+\| gpu_count\s+\| 8", out), out[-3000:]
        assert re.search(rf"\| {host} \[replay\] \| \d\s+\| ecc ", out)
        assert re.search(rf"\| {host} \[replay\] \| -\s+\| stack.driver\s+\| >= 580", out)


def test_bad_site_changed_nothing(bad_run):
    recap = re.findall(r"^(mol-\S+)\s+: ok=\d+\s+changed=(\d+)", bad_run.stdout, re.M)
    assert {h for h, _c in recap} == {"mol-gpu1", "mol-gpu2", "mol-svc1"}
    assert all(c == "0" for _h, c in recap), recap
    # No play after pre-flight ran: the common role never started.
    assert "Install base packages" not in bad_run.stdout


def test_failed_preflight_left_host_report_untouched(host, bad_run):
    # The passing converge wrote preflight.json; the failing run must not have rewritten it.
    report = "/var/lib/llmfleet/reports/preflight.json"
    assert host.file(report).exists
    before = _mtime(host, report)
    assert before and int(before) > 0
    assert '"passed": true' in host.file(report).content_string
