# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/topology.py on the recorded H200x2 / H100x1 snapshots and synthetic ones."""

from __future__ import annotations

import copy
import json
import os
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.llmfleet.baremetal.plugins.module_utils import topology as t  # noqa: E402

FIX = os.path.join(REPO, "tests", "fixtures", "gpu")


def _load(name, what="snapshot.json"):
    with open(os.path.join(FIX, name, what)) as handle:
        return json.load(handle)


H200 = _load("h200x2")
H100 = _load("h100x1")
H200_HOST = _load("h200x2", "host.json")

H200_EXPECT = {
    "gpu_count": 2, "gpu_model": "NVIDIA H200", "min_gpu_memory_mib": 140000, "min_pcie_gen": 5,
    "min_pcie_width": 16, "nvlink": "nvswitch", "ecc": True, "persistence": True, "mig": False,
    "no_pending_remaps": True, "nic_numa_local": True, "min_driver": "580.65.06", "cuda": "13.0",
    "kernel_module_flavor": "open", "fabric_manager": "580.159.04",
}


def host_two_nodes(nic_node=0, rdma_node=None, gpu_cpus=None):
    nodes = [{"node": 0, "cpulist": "0-15", "distance": [10, 21]}, {"node": 1, "cpulist": "16-31", "distance": [21, 10]}]
    h = {"cpu": {"online": "0-31"}, "numa": {"available": True, "node_count": 2, "nodes": nodes},
         "nics": [{"name": "ens1", "physical": True, "numa_node": nic_node},
                  {"name": "veth0", "physical": False, "numa_node": None}],
         "rdma": []}
    if rdma_node is not None:
        h["rdma"] = [{"name": "mlx5_0", "numa_node": rdma_node, "netdevs": ["ens1"]}]
    return h


def checks(violations):
    return sorted((v["check"], v["gpu"]) for v in violations)


def only(result_list, check):
    return [v for v in result_list if v["check"] == check]


# --------------------------------------------------------------------------- passing fixtures

def test_h200x2_passes_its_expectation():
    r = t.evaluate(H200_EXPECT, H200, H200_HOST, "lab-gpu1")
    assert r["violations"] == []
    assert r["passed"] is True
    # VM reports NUMA -1: NIC locality is a warning per GPU, never a violation
    assert checks(r["warnings"]) == [("nic_numa_local", 0), ("nic_numa_local", 1)]
    assert set(r["checks"]) >= {"gpu_count", "gpu_model", "nvlink", "ecc", "stack", "nic_numa_local"}


def test_h100x1_passes_its_expectation():
    e = dict(H200_EXPECT, gpu_count=1, gpu_model=["NVIDIA H100"], min_gpu_memory_mib=80000, nvlink="none")
    del e["fabric_manager"]
    assert t.check_topology(e, H100, {}, "lab-gpu2") == []


def test_lab_inventory_expectations_are_known_keys():
    # the lab's host_vars build preflight_expect from the common group value plus per-host keys
    with open(os.path.join(REPO, "inventories", "lab", "group_vars", "gpu_nodes.yml")) as handle:
        common = yaml.safe_load(handle)["llmfleet_lab_gpu_expect_common"]
    merged = dict(common, gpu_count=2, gpu_model="NVIDIA H200", min_gpu_memory_mib=140000, nvlink="nvswitch",
                  fabric_manager="580.159.04")
    assert t.check_topology(merged, H200, {}, "lab-gpu1") == []


# --------------------------------------------------------------------------- the issue's negative plan

def test_issue_negative_plan_lists_every_violation():
    bad = {"gpu_count": 8, "ecc": False, "cuda": "13.0", "driver": "535.247.01", "min_driver": "535.247.01"}
    r = t.evaluate(bad, H200, H200_HOST, "lab-gpu1")
    assert checks(r["violations"]) == [
        ("ecc", 0), ("ecc", 1), ("gpu_count", None), ("stack.driver", None), ("stack.driver_branch", None)]
    by = dict((v["check"], v) for v in r["violations"])
    assert (by["gpu_count"]["expected"], by["gpu_count"]["found"]) == (8, 2)
    assert by["stack.driver"]["expected"] == ">= 580.65.06" and by["stack.driver"]["found"] == "535.247.01"
    assert "CUDA 13.0 needs driver" in by["stack.driver"]["message"]
    assert all(v["host"] == "lab-gpu1" for v in r["violations"])
    ecc0 = [v for v in r["violations"] if v["check"] == "ecc" and v["gpu"] == 0][0]
    assert ecc0["message"] == ("GPU 0 (00000000:00:06.0): ECC enabled - disable with `nvidia-smi -i 0 -e 0` "
                               "and reboot")
    # installed 580 vs planned 535 is a warning (the driver role would replace it)
    assert only(r["warnings"], "driver")[0]["found"] == "580.159.04"


# --------------------------------------------------------------------------- each violation kind

def gpu_mod(snapshot, **fields):
    s = copy.deepcopy(snapshot)
    for g in s["gpus"]:
        g.update(fields)
    return s


@pytest.mark.parametrize("expect,snap,want", [
    ({"gpu_count": 4}, H200, [("gpu_count", None)]),
    ({"gpu_model": "NVIDIA B200"}, H200, [("gpu_model", 0), ("gpu_model", 1)]),
    ({"gpu_model": ["B200", "h200"]}, H200, []),
    ({"min_gpu_memory_mib": 150000}, H200, [("min_gpu_memory_mib", 0), ("min_gpu_memory_mib", 1)]),
    ({"min_pcie_gen": 5}, gpu_mod(H200, pcie_max_generation=4), [("min_pcie_gen", 0), ("min_pcie_gen", 1)]),
    ({"min_pcie_width": 16}, gpu_mod(H100, pcie_current_width=8), [("min_pcie_width", 0)]),
    ({"ecc": True}, gpu_mod(H100, ecc_current="disabled", ecc_pending="disabled"), [("ecc", 0)]),
    ({"persistence": True}, gpu_mod(H100, persistence_mode="disabled"), [("persistence", 0)]),
    ({"mig": False}, gpu_mod(H100, mig_current="enabled"), [("mig", 0)]),
    ({"mig": True}, H100, [("mig", 0)]),
    ({"no_pending_remaps": True},
     gpu_mod(H100, remapped_rows={"correctable": 0, "uncorrectable": 1, "pending": True, "failure": False}),
     [("no_pending_remaps", 0)]),
    ({"no_pending_remaps": True},
     gpu_mod(H100, remapped_rows={"correctable": 0, "uncorrectable": 9, "pending": False, "failure": True}),
     [("no_pending_remaps", 0)]),
    ({"nvlink": 20}, H200, [("nvlink", "0-1")]),
    ({"nvlink": 18}, H200, []),
    ({"nvlink": "none"}, H200, [("nvlink", "0-1")]),
    ({"nvlink": "any"}, H200, []),
    ({"nvlink": "nvswitch"}, H100, [("nvlink", 0)]),
    ({"min_driver": "590.44.01"}, H200, [("min_driver", None)]),
    ({"cuda": "13.1"}, H200, [("stack.driver", None)]),
    ({"cuda": "12.8", "cudnn": "9.99.0"}, H200, [("stack.cudnn", None)]),
    ({"fabric_manager": "580.95.05"}, H200, [("stack.fabric_manager", None)]),
])
def test_each_violation_kind(expect, snap, want):
    assert checks(t.check_topology(expect, snap, {}, "h")) == want


def test_ecc_pending_says_reboot():
    snap = gpu_mod(H100, ecc_current="disabled", ecc_pending="enabled")
    v = t.check_topology({"ecc": True}, snap, {}, "h")[0]
    assert (v["expected"], v["found"]) == ("enabled", "disabled")
    assert "already pending: reboot" in v["message"]


def test_ecc_off_message_is_actionable():
    snap = gpu_mod(H100, ecc_current="disabled", ecc_pending="disabled", pci_bus_id="00000000:1B:00.0", index=3)
    v = t.check_topology({"ecc": True}, snap, {}, "gpu01")[0]
    assert v == {"host": "gpu01", "gpu": 3, "check": "ecc", "expected": "enabled", "found": "disabled",
                 "message": "GPU 3 (00000000:1B:00.0): ECC disabled - enable with `nvidia-smi -i 3 -e 1` and reboot"}


def test_nvswitch_fabric_not_started_is_a_violation():
    snap = copy.deepcopy(H200)
    snap["gpus"][1]["fabric"]["state"] = "in_progress"
    v = t.check_topology({"nvlink": "nvswitch"}, snap, {}, "h")
    assert checks(v) == [("nvlink", 1)] and "nvidia-fabricmanager" in v[0]["message"]


def test_nvlink_pair_not_bonded_any():
    snap = copy.deepcopy(H200)
    snap["pairs"][0]["nvlink"].update(bond_count=0, via_nvswitch=False, route="none", nvswitch_links=0)
    assert checks(t.check_topology({"nvlink": "any"}, snap, {}, "h")) == [("nvlink", "0-1")]


def test_kernel_module_flavor_against_architecture():
    snap = gpu_mod(H100, name="Tesla V100-SXM2-32GB", compute_capability="7.0", architecture="volta")
    v = t.check_topology({"kernel_module_flavor": "open"}, snap, {}, "h")
    assert checks(v) == [("stack.kernel_module_flavor", None)]


def test_loaded_flavor_differs_is_a_warning():
    r = t.evaluate({"kernel_module_flavor": "proprietary"}, H200, {"nvidia_driver": {"flavor": "open"}}, "h")
    assert r["violations"] == []
    assert only(r["warnings"], "kernel_module_flavor")[0]["found"] == "open"


# --------------------------------------------------------------------------- NIC NUMA locality

def numa_snap(node):
    return gpu_mod(H100, numa_node=node)


def test_nic_on_same_node_passes():
    assert t.check_topology({"nic_numa_local": True}, numa_snap(0), host_two_nodes(nic_node=0), "h") == []


def test_nic_on_other_node_is_a_violation():
    v = t.check_topology({"nic_numa_local": True}, numa_snap(0), host_two_nodes(nic_node=1), "h")
    assert checks(v) == [("nic_numa_local", 0)]
    assert v[0]["found"] == "ens1 (node 1)" and "NUMA node 0" in v[0]["message"]


def test_rdma_device_counts_as_local_nic():
    h = host_two_nodes(nic_node=1, rdma_node=1)
    assert t.check_topology({"nic_numa_local": True}, numa_snap(1), h, "h") == []
    v = t.check_topology({"nic_numa_local": True}, numa_snap(0), h, "h")
    assert v[0]["found"] == "mlx5_0 (node 1)"  # the RDMA device replaces its own netdev


@pytest.mark.parametrize("gpu_node,nic_node", [(-1, 0), (None, 0), (0, -1)])
def test_unknown_numa_is_a_warning_not_a_violation(gpu_node, nic_node):
    r = t.evaluate({"nic_numa_local": True}, numa_snap(gpu_node), host_two_nodes(nic_node=nic_node), "h")
    assert r["violations"] == []
    assert checks(r["warnings"]) == [("nic_numa_local", 0)]


def test_no_physical_nic_is_a_violation():
    h = host_two_nodes()
    h["nics"] = [n for n in h["nics"] if not n["physical"]]
    assert checks(t.check_topology({"nic_numa_local": True}, numa_snap(0), h, "h")) == [("nic_numa_local", 0)]


# --------------------------------------------------------------------------- no GPU / bad expectation

def test_no_gpu_visible_is_one_violation():
    snap = {"schema": "llmfleet.gpu_snapshot/v1", "nvml_available": False, "gpu_count": 0, "gpus": [], "pairs": [],
            "reason": "python module pynvml not importable (x): install the PyPI package nvidia-ml-py"}
    v = t.check_topology({"gpu_count": 8, "ecc": True, "nvlink": "nvswitch"}, snap, {}, "h")
    assert checks(v) == [("gpu_visible", None)]
    assert v[0]["message"].startswith("no GPU visible: python module pynvml not importable")


def test_no_gpu_visible_names_the_gpus_on_pci():
    snap = {"nvml_available": False, "gpus": [], "pairs": [],
            "reason": "libnvidia-ml.so.1 not found: is the NVIDIA driver installed?"}
    host = {"nvidia_pci": [{"pci_bus_id": "0000:1b:00.0", "kind": "gpu", "driver": None},
                           {"pci_bus_id": "0000:05:00.0", "kind": "nvswitch", "driver": None}]}
    v = t.check_topology({"gpu_count": 8}, snap, host, "h")
    assert checks(v) == [("gpu_visible", None)]
    assert v[0]["found"] == "no GPU visible (1 NVIDIA GPU(s) on PCI)"
    assert "the PCI bus shows 1 NVIDIA GPU(s) (0000:1b:00.0), driver bound: None" in v[0]["message"]


def test_gpu_facts_not_gathered_with_gpu_expectation():
    v = t.check_topology({"gpu_model": "H100"}, {}, {}, "h")
    assert v[0]["check"] == "gpu_visible" and "not gathered" in v[0]["message"]


def test_gpu_count_zero_without_gpus_passes():
    assert t.check_topology({"gpu_count": 0}, {}, {}, "svc") == []
    assert t.check_topology({}, {}, {}, "svc") == []


def test_unknown_key_is_reported_naming_it():
    v = t.check_topology({"gpu_count": 2, "ecc_mode": True}, H200, {}, "h")
    assert checks(v) == [("expectation", None)] and "ecc_mode" in v[0]["message"]
    with pytest.raises(t.TopologyError, match="ecc_mode"):
        t.validate_expect({"ecc_mode": True})


@pytest.mark.parametrize("bad", [
    {"nvlink": "lots"}, {"nvlink": 0}, {"ecc": "maybe"}, {"gpu_count": -1}, {"gpu_count": True},
    {"kernel_module_flavor": "closed"}, {"gpu_model": []}, {"cuda": ["13.0"]}, "notadict",
])
def test_bad_values_are_rejected(bad):
    with pytest.raises(t.TopologyError):
        t.validate_expect(bad)


def test_values_are_normalized():
    e = t.validate_expect({"ecc": "yes", "gpu_count": "8", "nvlink": "18", "cuda": 13.0, "gpu_model": "H100",
                           "mig": None})
    assert e == {"ecc": True, "gpu_count": 8, "nvlink": 18, "cuda": "13.0", "gpu_model": ["H100"]}


def test_replay_source_is_a_warning():
    snap = dict(H200, source="replay", replay_of={"file": "tests/fixtures/gpu/h200x2/snapshot.json",
                                                  "hostname": "vm", "timestamp": "T"})
    w = only(t.evaluate({}, snap, {}, "h")["warnings"], "replay")
    assert "REPLAY of tests/fixtures/gpu/h200x2/snapshot.json" in w[0]["message"]


# --------------------------------------------------------------------------- gpu_groups / numa_local_cpus

def synthetic(n, nvswitch=False, direct=None):
    """n GPUs; all pairs through NVSwitch (NV18), or direct bonds given as {(a, b): links}, else PCIe only."""
    gpus = [{"index": i, "name": "NVIDIA H100 80GB HBM3", "numa_node": i // 4, "cpu_affinity": "0-15" if i < 4 else
             "16-31", "nvlink_nvswitch_links": 18 if nvswitch else 0,
             "fabric": {"state": "completed", "status": "SUCCESS", "cluster_uuid": "u", "clique_id": 1}}
            for i in range(n)]
    pairs = []
    for a in range(n):
        for b in range(a + 1, n):
            bond = 18 if nvswitch else (direct or {}).get((a, b), 0)
            pairs.append({"gpu_a": a, "gpu_b": b, "nvlink": {
                "bond_count": bond, "via_nvswitch": nvswitch, "direct_links": 0 if nvswitch else bond,
                "route": "nvswitch" if nvswitch else ("direct" if bond else "none")}})
    return {"nvml_available": True, "gpu_count": n, "gpus": gpus, "pairs": pairs}


def test_gpu_groups_h200x2_one_island():
    assert t.gpu_groups(H200) == [{"gpus": [0, 1], "size": 2, "interconnect": "nvswitch", "min_bond_links": 18}]


def test_gpu_groups_h100x1():
    assert t.gpu_groups(H100) == [{"gpus": [0], "size": 1, "interconnect": "pcie", "min_bond_links": None}]


def test_gpu_groups_8_gpu_nvswitch_is_one_island():
    assert t.gpu_groups(synthetic(8, nvswitch=True)) == [
        {"gpus": list(range(8)), "size": 8, "interconnect": "nvswitch", "min_bond_links": 18}]


def test_gpu_groups_nvswitch_without_pairs_uses_fabric_clique():
    snap = synthetic(8, nvswitch=True)
    snap["pairs"] = []
    assert t.gpu_groups(snap)[0]["gpus"] == list(range(8))


def test_gpu_groups_8_gpu_pcie_only_is_8_islands():
    groups = t.gpu_groups(synthetic(8))
    assert [g["gpus"] for g in groups] == [[i] for i in range(8)]
    assert set(g["interconnect"] for g in groups) == {"pcie"}


def test_gpu_groups_direct_nvlink_bridges():
    # NVLink bridges pair GPUs 0-1, 2-3 (NV4) and 4-5 (NV2); 6 and 7 are alone
    groups = t.gpu_groups(synthetic(8, direct={(0, 1): 4, (2, 3): 4, (4, 5): 2}))
    assert [(g["gpus"], g["interconnect"], g["min_bond_links"]) for g in groups] == [
        ([0, 1], "nvlink", 4), ([2, 3], "nvlink", 4), ([4, 5], "nvlink", 2), ([6], "pcie", None), ([7], "pcie", None)]


def test_numa_local_cpus_from_numa_nodes():
    h = host_two_nodes()
    got = t.numa_local_cpus(synthetic(8), h)
    assert [(c["gpu"], c["cpulist"], c["source"]) for c in got] == [
        (i, "0-15" if i < 4 else "16-31", "numa_node") for i in range(8)]


def test_numa_local_cpus_falls_back_to_affinity_within_online_cpus():
    got = t.numa_local_cpus(H200, {"cpu": {"online": "0-1"}})
    assert [(c["gpu"], c["numa_node"], c["cpulist"], c["source"]) for c in got] == [
        (0, -1, "0-1", "nvml_cpu_affinity"), (1, -1, "0-1", "nvml_cpu_affinity")]
    got = t.numa_local_cpus(H200, H200_HOST)
    assert got[0]["cpulist"] == "0-31"
