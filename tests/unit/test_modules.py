# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpu_facts, host_facts and topology_check run through main() the way Ansible runs them (check mode)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))
sys.path.insert(0, HERE)

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402

from ansible_collections.llmfleet.baremetal.plugins.modules import gpu_facts, host_facts, topology_check  # noqa: E402
from test_host_probe import build_tree  # noqa: E402

MODULES = {"gpu_facts": gpu_facts, "host_facts": host_facts, "topology_check": topology_check}
FIX = os.path.join(REPO, "tests", "fixtures", "gpu")


def _fixture(name):
    with open(os.path.join(FIX, name, "snapshot.json")) as handle:
        return json.load(handle)


def run_module(mod, args, capsys, check_mode=True):
    args = dict(args, _ansible_check_mode=check_mode)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            mod.main()
    out = json.loads(capsys.readouterr().out)
    return exc.value.code, out


# --------------------------------------------------------------------------- gpu_facts

def test_gpu_facts_without_pynvml(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    rc, out = run_module(gpu_facts, {}, capsys)
    assert rc == 0 and out["changed"] is False
    assert out["source"] == "nvml" and out["replay_of"] is None
    assert out["nvml_available"] is False and "pynvml not importable" in out["reason"]
    fact = out["ansible_facts"]["llmfleet_gpu"]
    assert fact["schema"] == "llmfleet.gpu_snapshot/v1" and fact["gpu_count"] == 0 and fact["source"] == "nvml"


def test_gpu_facts_with_fake_nvml(monkeypatch, capsys):
    import fake_nvml  # tests/unit/fake_nvml.py
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml.FakeNVML([fake_nvml.default_gpu(0)]))
    rc, out = run_module(gpu_facts, {}, capsys)
    assert rc == 0 and out["nvml_available"] is True and out["gpu_count"] == 1


def test_gpu_facts_replay(capsys):
    snap = _fixture("h200x2")
    rc, out = run_module(gpu_facts, {"replay": snap, "replay_label": "tests/fixtures/gpu/h200x2/snapshot.json"}, capsys)
    assert rc == 0 and out["changed"] is False
    assert out["source"] == "replay"
    assert out["replay_of"] == {"file": "tests/fixtures/gpu/h200x2/snapshot.json", "hostname": "vm",
                                "timestamp": snap["timestamp"]}
    fact = out["ansible_facts"]["llmfleet_gpu"]
    assert fact["source"] == "replay" and fact["replay_of"] == out["replay_of"]
    assert fact["gpus"] == snap["gpus"] and fact["gpu_count"] == 2


def test_gpu_facts_replay_rejects_other_json(capsys):
    rc, out = run_module(gpu_facts, {"replay": {"schema": "other"}, "replay_label": "x.json"}, capsys)
    assert rc == 1 and out["failed"] and "x.json" in out["msg"]


# --------------------------------------------------------------------------- host_facts

def test_host_facts_fake_tree(tmp_path, capsys):
    sysfs, procfs = build_tree(tmp_path)
    rc, out = run_module(host_facts, {"sysfs_root": sysfs, "procfs_root": procfs}, capsys)
    assert rc == 0 and out["changed"] is False
    host = out["ansible_facts"]["llmfleet_host"]
    assert host["schema"] == "llmfleet.host_probe/v1" and host["numa"]["node_count"] == 2
    assert out["missing"] == []


def test_host_facts_live(capsys):
    rc, out = run_module(host_facts, {}, capsys, check_mode=False)
    assert rc == 0 and out["ansible_facts"]["llmfleet_host"]["cpu"]["logical_cpus"] >= 1


# --------------------------------------------------------------------------- topology_check

def test_topology_check_never_fails(capsys):
    snap = _fixture("h200x2")
    rc, out = run_module(topology_check, {
        "expect": {"gpu_count": 8, "ecc": False, "cuda": "13.0", "driver": "535.247.01"},
        "gpu": snap, "host": {}, "host_name": "lab-gpu1"}, capsys)
    assert rc == 0 and out["changed"] is False and "failed" not in out
    assert out["passed"] is False
    assert sorted(v["check"] for v in out["violations"]) == [
        "ecc", "ecc", "gpu_count", "stack.driver", "stack.driver_branch"]
    assert [w["check"] for w in out["check_warnings"]] == ["driver"]
    assert out["gpu_groups"] == [{"gpus": [0, 1], "size": 2, "interconnect": "nvswitch", "min_bond_links": 18}]
    assert len(out["numa_local_cpus"]) == 2


def test_topology_check_unknown_key_is_a_violation(capsys):
    rc, out = run_module(topology_check, {"expect": {"gpus": 8}, "host_name": "h"}, capsys)
    assert rc == 0 and out["passed"] is False
    assert out["violations"][0]["check"] == "expectation" and "gpus" in out["violations"][0]["message"]


def test_topology_check_pass(capsys):
    rc, out = run_module(topology_check, {"expect": {"gpu_count": 1, "nvlink": "none"}, "gpu": _fixture("h100x1")},
                         capsys)
    assert out["passed"] is True and out["violations"] == [] and out["checks"] == ["gpu_count", "nvlink"]


# --------------------------------------------------------------------------- documentation

@pytest.mark.parametrize("name", sorted(MODULES))
def test_documentation_is_yaml_and_matches_argument_spec(name, monkeypatch):
    mod = MODULES[name]
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert doc["module"] == name
    assert doc["attributes"]["check_mode"]["support"] == "full"
    yaml.safe_load(mod.EXAMPLES)
    ret = yaml.safe_load(mod.RETURN)
    assert isinstance(ret, dict) and ret

    seen = {}

    class Capture(Exception):
        pass

    def fake_init(self, argument_spec, supports_check_mode=False, **kwargs):
        seen.update(spec=argument_spec, check=supports_check_mode)
        raise Capture()

    monkeypatch.setattr(basic.AnsibleModule, "__init__", fake_init)
    with pytest.raises(Capture):
        mod.main()
    assert seen["check"] is True
    assert set(seen["spec"]) == set(doc.get("options") or {})
    for opt, spec in seen["spec"].items():
        assert doc["options"][opt]["type"] == spec["type"], opt
        assert doc["options"][opt].get("default") == spec.get("default"), opt


@pytest.mark.parametrize("name", sorted(MODULES))
def test_ansible_doc_renders(name):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    res = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "-t", "module", "--json",
                          "llmfleet.baremetal.%s" % name], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)["llmfleet.baremetal.%s" % name]
    assert data["doc"]["short_description"] and data["return"]
