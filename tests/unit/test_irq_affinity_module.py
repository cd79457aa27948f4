# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: Apache-2.0
"""llmfleet.baremetal.irq_affinity run through main() on a fake /sys + /proc tree."""

from __future__ import annotations

import errno
import json
import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))
sys.path.insert(0, HERE)

from ansible.module_utils.testing import patch_module_args  # noqa: E402

from ansible_collections.llmfleet.baremetal.plugins.module_utils import irq_plan  # noqa: E402
from ansible_collections.llmfleet.baremetal.plugins.modules import irq_affinity  # noqa: E402
from test_irq_plan import build_tree  # noqa: E402


def run(args, capsys, check_mode=False, diff=False):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            irq_affinity.main()
    return exc.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def roots(tmp_path):
    sysfs, procfs = build_tree(str(tmp_path))
    return {"sysfs_root": sysfs, "procfs_root": procfs}


def _aff(roots, irq):
    with open(os.path.join(roots["procfs_root"], "irq", str(irq), "smp_affinity_list")) as handle:
        return handle.read().strip()


def test_planned_is_read_only(roots, capsys):
    rc, out = run(dict(roots, state="planned", reserved_cpus="0"), capsys)
    assert rc == 0 and out["changed"] is False and out["writable"] is True
    assert len(out["plan"]) == 14 and out["before"]["38"] == "0-7"
    assert _aff(roots, 38) == "0-7"
    assert sorted(d["device"] for d in out["devices"]) == ["ens1f0np0", "eth0"]


def test_check_mode_changes_nothing_then_apply_then_idempotent(roots, capsys):
    rc, out = run(dict(roots, reserved_cpus="0"), capsys, check_mode=True, diff=True)
    assert rc == 0 and out["changed"] is True and len(out["changed_irqs"]) == 14
    assert _aff(roots, 38) == "0-7" and "38: 1\n" in out["diff"]["after"]
    rc, out = run(dict(roots, reserved_cpus="0"), capsys)
    assert rc == 0 and out["changed"] is True and out["after"]["38"] == "1" and out["before"]["38"] == "0-7"
    assert _aff(roots, 38) == "1" and _aff(roots, 101) == "4"
    rc, out = run(dict(roots, reserved_cpus="0"), capsys)
    assert rc == 0 and out["changed"] is False and out["changed_irqs"] == []
    rc, out = run(dict(roots, state="verified", plan=out["plan"]), capsys)
    assert rc == 0 and out["violations"] == [] and out["changed"] is False


def test_verify_reports_drift(roots, capsys):
    rc, out = run(dict(roots, state="planned"), capsys)
    rc, out = run(dict(roots, state="verified", plan=out["plan"]), capsys)
    assert rc == 0 and out["changed"] is False
    assert {"irq": 38, "name": "virtio2-input.0", "device": "eth0", "planned": "0", "current": "0-7"} in out["violations"]


def test_dict_plan_and_name_plan(roots, capsys):
    rc, out = run(dict(roots, plan={"38": "2", "39": "2"}), capsys)
    assert rc == 0 and out["changed"] is True and _aff(roots, 38) == "2"
    rc, out = run(dict(roots, plan=[{"name": "virtio2-input.1", "pci": "0000:00:03.0", "cpus": "3"},
                                    {"name": "not-here", "cpus": "1", "device": "x"}]), capsys)
    assert rc == 0 and _aff(roots, 40) == "3" and out["missing"] == ["not-here (x)"]


def test_managed_irq_is_unmanageable_not_a_failure(roots, capsys, monkeypatch):
    real = irq_plan.write_affinity

    def fake(procfs_root, irq, cpus):
        if str(irq) == "101":
            return "kernel-managed IRQ (EIO): its affinity is set by the driver and cannot be changed"
        return real(procfs_root, irq, cpus)

    monkeypatch.setattr(irq_plan, "write_affinity", fake)
    rc, out = run(dict(roots, devices=["ens1f0np0"]), capsys)
    assert rc == 0 and "failed" not in out
    assert [u["irq"] for u in out["unmanageable"]] == [101] and "EIO" in out["unmanageable"][0]["reason"]
    assert 101 not in out["changed_irqs"] and 102 in out["changed_irqs"]


def test_write_affinity_maps_errno(tmp_path, monkeypatch):
    def boom(code):
        def _open(*args, **kwargs):
            raise OSError(code, os.strerror(code))
        return _open

    import builtins
    monkeypatch.setattr(builtins, "open", boom(errno.EIO))
    assert "kernel-managed" in irq_plan.write_affinity(str(tmp_path), 5, "1")
    monkeypatch.setattr(builtins, "open", boom(errno.EROFS))
    assert "read-only" in irq_plan.write_affinity(str(tmp_path), 5, "1")


@pytest.mark.parametrize("args, message", [
    ({"cpus": "0-z"}, "lab-9: irq_affinity_cpus='0-z' is not a valid cpulist"),
    ({"reserved_cpus": "12"}, "lab-9: irq_affinity_reserved_cpus='12' names CPU(s) 12 that this host does not have"),
    ({"cpus": "99", "cpus_var": "my_cpus"}, "lab-9: my_cpus='99' names CPU(s) 99"),
])
def test_bad_cpulists_fail_naming_variable_and_host(roots, capsys, args, message):
    rc, out = run(dict(roots, host_name="lab-9", **args), capsys)
    assert rc == 1 and out["failed"] is True and out["msg"].startswith(message)
