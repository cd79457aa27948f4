# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: Apache-2.0
"""Unit tests for plugins/module_utils/placement.py and the placement filters on realistic topologies."""

from __future__ import annotations

import json
import os

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.llmfleet.baremetal.plugins.filter import placement as filt
from ansible_collections.llmfleet.baremetal.plugins.module_utils.host_probe import format_cpulist, parse_cpulist
from ansible_collections.llmfleet.baremetal.plugins.module_utils.placement import (
    PlacementError, placement_document, plan_placement, reserved_cpus_for, systemd_numa_settings, thread_siblings)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "gpu")


def _load(*parts):
    with open(os.path.join(FIXTURES, *parts)) as handle:
        return json.load(handle)


def mk_host(nodes, threads_per_core=1, name="node-a"):
    """nodes: {node: cpulist}."""
    all_cpus = sorted(set(c for cl in nodes.values() for c in parse_cpulist(cl)))
    return {
        "hostname": name,
        "cpu": {"online": format_cpulist(all_cpus), "logical_cpus": len(all_cpus), "threads_per_core": threads_per_core,
                "cores": len(all_cpus) // threads_per_core, "smt": {"active": threads_per_core > 1}},
        "numa": {"available": True, "node_count": len(nodes),
                 "nodes": [{"node": n, "cpulist": cl, "cpus": parse_cpulist(cl)} for n, cl in sorted(nodes.items())]},
    }


def mk_snapshot(gpu_nodes, links=None, nvswitch=False):
    """gpu_nodes: NUMA node per GPU index; links: [(a, b, bond)] direct NVLink bonds."""
    gpus = [{"index": i, "name": "GPU", "uuid": "GPU-%04d" % i, "numa_node": n, "pci_bus_id": "00000000:%02x:00.0" % (i + 16),
             "nvlink_nvswitch_links": 18 if nvswitch else 0,
             "fabric": {"cluster_uuid": "c", "clique_id": 1} if nvswitch else None}
            for i, n in enumerate(gpu_nodes)]
    pairs = []
    bonds = dict(((a, b), bond) for a, b, bond in (links or []))
    for a in range(len(gpu_nodes)):
        for b in range(a + 1, len(gpu_nodes)):
            if nvswitch:
                nv = {"bond_count": 18, "via_nvswitch": True, "route": "nvswitch"}
            else:
                nv = {"bond_count": bonds.get((a, b), 0), "via_nvswitch": False}
            pairs.append({"gpu_a": a, "gpu_b": b, "nvlink": nv})
    return {"schema": "llmfleet.gpu_snapshot/v1", "nvml_available": True, "gpu_count": len(gpus), "gpus": gpus, "pairs": pairs}


# HGX H200 8-GPU, 2 x 56-core sockets, SMT on: node 0 = 0-55,112-167, node 1 = 56-111,168-223.
HGX_HOST = mk_host({0: "0-55,112-167", 1: "56-111,168-223"}, threads_per_core=2, name="hgx-h200")
HGX_SNAP = mk_snapshot([0, 0, 0, 0, 1, 1, 1, 1], nvswitch=True)
# 8 x L40S PCIe (no NVLink), 4 per socket, 2 x 32 cores SMT on.
L40S_HOST = mk_host({0: "0-31,64-95", 1: "32-63,96-127"}, threads_per_core=2, name="l40s")
L40S_SNAP = mk_snapshot([0, 0, 0, 0, 1, 1, 1, 1])
# AMD EPYC 64 cores, NPS4 (4 NUMA nodes of 16 cores), SMT on; 8 GPUs, NVLink-bridged pairs, 2 per node.
EPYC_HOST = mk_host(dict((n, "%d-%d,%d-%d" % (16 * n, 16 * n + 15, 64 + 16 * n, 64 + 16 * n + 15)) for n in range(4)),
                    threads_per_core=2, name="epyc-nps4")
EPYC_SNAP = mk_snapshot([0, 0, 1, 1, 2, 2, 3, 3], links=[(0, 1, 4), (2, 3, 4), (4, 5, 4), (6, 7, 4)])
# Same box with SMT off.
EPYC_NOSMT_HOST = mk_host(dict((n, "%d-%d" % (16 * n, 16 * n + 15)) for n in range(4)), name="epyc-nps4-nosmt")


def _by_group(entries):
    return dict((e["group"], e) for e in entries)


# ----------------------------------------------------------------- real 2 x H200 fixture (VM: NUMA node -1)

def test_h200x2_fixture_unknown_numa_falls_back_to_all_nodes():
    host, snap = _load("h200x2", "host.json"), _load("h200x2", "snapshot.json")
    out = plan_placement(host, snap)
    assert len(out) == 1
    g = out[0]
    assert g["group"] == "gpu0-1" and g["gpus"] == [0, 1]
    assert g["numa_unknown"] is True and g["numa_nodes"] == [0] and g["gpu_numa_nodes"] == [-1, -1]
    assert g["cpus"] == "0-31" and g["mem_nodes"] == "0" and g["cross_numa"] is False
    assert g["interconnect"] == "nvswitch"
    assert g["gpu_uuids"] == [x["uuid"] for x in snap["gpus"]]
    doc = placement_document(host, snap, os_cpus_per_node=1, host_name="lab-gpu1")
    assert doc["reserved"]["os"] == "0" and doc["groups"][0]["cpus"] == "1-31"
    assert any("NUMA node" in w for w in doc["warnings"])
    assert systemd_numa_settings(doc["groups"][0]) == {"CPUAffinity": "1-31", "NUMAPolicy": "bind", "NUMAMask": "0"}


# ----------------------------------------------------------------- HGX 8 x H200, 2 sockets, SMT on

def test_hgx_default_island_spans_both_sockets():
    out = plan_placement(HGX_HOST, HGX_SNAP)
    assert [e["group"] for e in out] == ["gpu0-7"]
    g = out[0]
    assert g["cross_numa"] and g["numa_nodes"] == [0, 1] and g["mem_nodes"] == "0-1" and g["cpus"] == "0-223"
    assert systemd_numa_settings(g) == {"CPUAffinity": "0-223", "NUMAPolicy": "interleave", "NUMAMask": "0-1"}


def test_hgx_split_per_socket_with_reserved_cores_and_smt():
    doc = placement_document(HGX_HOST, HGX_SNAP, split="numa", os_cpus_per_node=1, irq_cpus_per_node=2)
    g = _by_group(doc["groups"])
    assert sorted(g) == ["gpu0-3", "gpu4-7"]
    # OS core 0 (+ sibling 112), IRQ cores 1-2 (+ 113-114) on node 0; 56 / 168, 57-58 / 169-170 on node 1
    assert doc["reserved"] == {"os": "0,56,112,168", "irq": "1-2,57-58,113-114,169-170",
                               "extra": "", "all": "0-2,56-58,112-114,168-170"}
    assert g["gpu0-3"]["cpus"] == "3-55,115-167" and g["gpu0-3"]["mem_nodes"] == "0"
    assert g["gpu4-7"]["cpus"] == "59-111,171-223" and g["gpu4-7"]["mem_nodes"] == "1"
    assert not g["gpu0-3"]["cross_numa"] and g["gpu0-3"]["interconnect"] == "subset"
    assert g["gpu0-3"]["cpu_count"] == 53 * 2


def test_hgx_physical_only_uses_first_threads():
    out = _by_group(plan_placement(HGX_HOST, HGX_SNAP, groups=[[0, 1, 2, 3], [4, 5, 6, 7]], smt="physical_only"))
    assert out["gpu0-3"]["cpus"] == "0-55" and out["gpu4-7"]["cpus"] == "56-111"
    assert out["gpu0-3"]["smt_source"] == "enumeration"


def test_hgx_explicit_siblings_override_enumeration():
    # siblings numbered consecutively (0,1 / 2,3 ...): physical_only keeps the even CPUs
    host = mk_host({0: "0-7", 1: "8-15"}, threads_per_core=2)
    sib = ["%d,%d" % (c, c + 1) for c in range(0, 16, 2)]
    primary, source = thread_siblings(host, sib)
    assert source == "thread_siblings_list" and primary[5] == 4
    snap = mk_snapshot([0, 1])
    out = plan_placement(host, snap, smt="physical_only", siblings=sib)
    assert [e["cpus"] for e in out] == ["0,2,4,6", "8,10,12,14"]
    res = reserved_cpus_for(host, 1, 0, siblings=sib)
    assert res["os"] == "0-1,8-9"


# ----------------------------------------------------------------- 8 x L40S PCIe, 2 sockets

def test_l40s_one_group_per_gpu_never_cross_socket():
    out = plan_placement(L40S_HOST, L40S_SNAP, reserved_cpus="0,64")
    assert [e["group"] for e in out] == ["gpu%d" % i for i in range(8)]
    for e in out:
        assert not e["cross_numa"] and e["interconnect"] == "pcie" and len(e["numa_nodes"]) == 1
        node = 0 if e["gpus"][0] < 4 else 1
        assert e["numa_nodes"] == [node]
        assert e["cpus"] == ("1-31,65-95" if node == 0 else "32-63,96-127")
        assert systemd_numa_settings(e)["NUMAMask"] == str(node)


def test_l40s_pcie_gpus_may_be_grouped_freely():
    out = plan_placement(L40S_HOST, L40S_SNAP, groups=[[0, 1], [2, 3], [4, 5, 6, 7]])
    assert [e["group"] for e in out] == ["gpu0-1", "gpu2-3", "gpu4-7"]
    assert all(not e["cross_numa"] for e in out)


# ----------------------------------------------------------------- AMD EPYC NPS4, 4 nodes

def test_epyc_nps4_pairs_stay_on_their_node():
    out = plan_placement(EPYC_HOST, EPYC_SNAP, smt="physical_only")
    assert [e["group"] for e in out] == ["gpu0-1", "gpu2-3", "gpu4-5", "gpu6-7"]
    for n, e in enumerate(out):
        assert e["numa_nodes"] == [n] and e["cpus"] == "%d-%d" % (16 * n, 16 * n + 15)
        assert e["interconnect"] == "nvlink"
    s = systemd_numa_settings(out[3], "preferred")
    assert s == {"CPUAffinity": "48-63", "NUMAPolicy": "preferred", "NUMAMask": "3"}


def test_epyc_nps4_smt_off_and_split_gpu():
    doc = placement_document(EPYC_NOSMT_HOST, EPYC_SNAP, split="numa", os_cpus_per_node=1, smt="physical_only")
    assert doc["smt_source"] == "none" and doc["reserved"]["os"] == "0,16,32,48"
    assert [g["cpus"] for g in doc["groups"]] == ["1-15", "17-31", "33-47", "49-63"]
    assert [n["cpus"] for n in doc["nodes"]] == ["1-15", "17-31", "33-47", "49-63"]
    out = plan_placement(EPYC_NOSMT_HOST, EPYC_SNAP, split="gpu")
    assert len(out) == 8 and out[5]["numa_nodes"] == [2]


def test_cross_node_group_of_pcie_gpus_interleaves():
    out = plan_placement(L40S_HOST, L40S_SNAP, groups=[[3, 4]])
    assert out[0]["cross_numa"] and out[0]["mem_nodes"] == "0-1"
    assert systemd_numa_settings(out[0])["NUMAPolicy"] == "interleave"
    assert systemd_numa_settings(out[0], "default") == {"CPUAffinity": "0-127"}


def test_host_without_gpus_has_node_sets_only():
    doc = placement_document(EPYC_NOSMT_HOST, None, os_cpus_per_node=1)
    assert doc["groups"] == [] and len(doc["nodes"]) == 4


# ----------------------------------------------------------------- errors

@pytest.mark.parametrize("bad", ["0-a", "5-3", "1,,x", "0-3:0"])
def test_malformed_reserved_cpulist(bad):
    with pytest.raises(PlacementError, match=r"^l40s: numa_reserved_cpus='.*' is not a valid cpulist"):
        plan_placement(L40S_HOST, L40S_SNAP, reserved_cpus=bad)


def test_reserved_cpu_outside_host():
    with pytest.raises(PlacementError) as err:
        plan_placement(L40S_HOST, L40S_SNAP, reserved_cpus="0,128-130", host_name="gpu-07")
    assert str(err.value) == ("gpu-07: numa_reserved_cpus='0,128-130' names CPU(s) 128-130 that this host does not "
                              "have (its CPUs: 0-127)")


def test_group_spanning_nvlink_islands():
    with pytest.raises(PlacementError, match=r"epyc-nps4: numa_gpu_groups entry \[1, 2\] spans NVLink islands"):
        plan_placement(EPYC_HOST, EPYC_SNAP, groups=[[1, 2]])


def test_unknown_and_duplicate_gpus():
    with pytest.raises(PlacementError, match="names GPU\\(s\\) \\[9\\] that this host does not have"):
        plan_placement(HGX_HOST, HGX_SNAP, groups=[[0, 9]])
    with pytest.raises(PlacementError, match="in more than one group"):
        plan_placement(HGX_HOST, HGX_SNAP, groups=[[0, 1], [1, 2]])


def test_bad_modes_and_reservations():
    with pytest.raises(PlacementError, match="numa_smt='off' must be one of"):
        plan_placement(HGX_HOST, HGX_SNAP, smt="off")
    with pytest.raises(PlacementError, match="leaves no core for GPU work on NUMA node 0"):
        reserved_cpus_for(EPYC_NOSMT_HOST, 8, 8)
    with pytest.raises(PlacementError, match="numa_os_cpus_per_node=-1"):
        reserved_cpus_for(EPYC_NOSMT_HOST, -1)
    with pytest.raises(PlacementError, match="no CPU left"):
        plan_placement(EPYC_NOSMT_HOST, EPYC_SNAP, reserved_cpus="0-15")
    with pytest.raises(PlacementError, match="preferred needs a group on exactly one NUMA node"):
        systemd_numa_settings(plan_placement(HGX_HOST, HGX_SNAP)[0], "preferred")


# ----------------------------------------------------------------- filters

def test_filters_wrap_errors_and_return_documents():
    doc = filt.numa_placement(HGX_HOST, HGX_SNAP, split="numa", os_cpus_per_node=1, host_name="hgx")
    assert doc["schema"] == "llmfleet.placement/v1" and doc["host"] == "hgx" and len(doc["groups"]) == 2
    assert filt.systemd_numa_settings(doc["groups"][1])["NUMAMask"] == "1"
    with pytest.raises(AnsibleFilterError, match="hgx: numa_reserved_cpus='x' is not a valid cpulist"):
        filt.numa_placement(HGX_HOST, HGX_SNAP, reserved_cpus="x", host_name="hgx")
    with pytest.raises(AnsibleFilterError, match="llmfleet_host probe"):
        filt.numa_placement("nope")
    assert filt.cpulist_problems("0-3", HGX_HOST, "numa_reserved_cpus", "hgx") == []
    assert filt.cpulist_problems("", HGX_HOST, "numa_reserved_cpus", "hgx") == []
    msg = filt.cpulist_problems("300", HGX_HOST, "irq_affinity_cpus", "hgx")
    assert msg == ["hgx: irq_affinity_cpus='300' names CPU(s) 300 that this host does not have (its CPUs: 0-223)"]
