# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/rdma.py (GID tables, RoCE v2 GID index, readiness) and the rdma_facts module on fake sysfs."""

from __future__ import annotations

import json
import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible.module_utils.testing import patch_module_args  # noqa: E402

from ansible_collections.llmfleet.baremetal.plugins.module_utils import rdma  # noqa: E402
from ansible_collections.llmfleet.baremetal.plugins.modules import rdma_facts  # noqa: E402

V4 = "0000:0000:0000:0000:0000:ffff:"


def _w(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text + "\n")


def _port(ddir, port, state, link_layer, rate, gids):
    pdir = os.path.join(ddir, "ports", str(port))
    _w(os.path.join(pdir, "state"), state)
    _w(os.path.join(pdir, "phys_state"), "5: LinkUp")
    _w(os.path.join(pdir, "link_layer"), link_layer)
    _w(os.path.join(pdir, "rate"), rate)
    for i in range(4):  # real tables are bigger; unused entries are all-zero without type/ndev
        _w(os.path.join(pdir, "gids", str(i)), "0000:0000:0000:0000:0000:0000:0000:0000")
    for i, (gid, gtype, ndev) in enumerate(gids):
        _w(os.path.join(pdir, "gids", str(i)), gid)
        if gtype:
            _w(os.path.join(pdir, "gid_attrs", "types", str(i)), gtype)
        if ndev:
            _w(os.path.join(pdir, "gid_attrs", "ndevs", str(i)), ndev)


def build(root):
    sysfs = os.path.join(str(root), "sys")
    ib = os.path.join(sysfs, "class", "infiniband")
    # Soft-RoCE on a virtio NIC (no device link, parent file), like the lab VMs
    _w(os.path.join(ib, "rxe_enp0s3", "parent"), "enp0s3")
    _w(os.path.join(ib, "rxe_enp0s3", "node_type"), "1: CA")
    _port(os.path.join(ib, "rxe_enp0s3"), 1, "4: ACTIVE", "Ethernet", "2.5 Gb/sec (1X SDR)", [
        ("fe80:0000:0000:0000:5054:00ff:fee3:3fd6", "RoCE v2", "enp0s3"),
        (V4 + "0a4d:0001", "RoCE v2", "enp0s3"),
    ])
    # mlx5 RoCE NIC on NUMA node 1: v1 and v2 GID pairs, the fabric address second
    pci = os.path.join(sysfs, "devices", "pci0000:80", "0000:80:01.0", "0000:81:00.0")
    _w(os.path.join(pci, "numa_node"), "1")
    os.makedirs(os.path.join(pci, "net", "ens2f0np0"))
    os.makedirs(os.path.join(ib, "mlx5_0"), exist_ok=True)
    os.symlink(pci, os.path.join(ib, "mlx5_0", "device"))
    _w(os.path.join(ib, "mlx5_0", "fw_ver"), "28.39.1002")
    _port(os.path.join(ib, "mlx5_0"), 1, "4: ACTIVE", "Ethernet", "400 Gb/sec (4X NDR)", [
        ("fe80:0000:0000:0000:0e42:a1ff:fe00:0001", "IB/RoCE v1", "ens2f0np0"),
        ("fe80:0000:0000:0000:0e42:a1ff:fe00:0001", "RoCE v2", "ens2f0np0"),
        (V4 + "c0a8:0105", "IB/RoCE v1", "ens2f0np0"),
        (V4 + "c0a8:0105", "RoCE v2", "ens2f0np0"),
        (V4 + "0a4e:0007", "IB/RoCE v1", "ens2f0np0"),
        (V4 + "0a4e:0007", "RoCE v2", "ens2f0np0"),
    ])
    # dual-port InfiniBand HCA on NUMA node 0 with ib0/ib1 (dev_port 0/1), port 2 down
    pci2 = os.path.join(sysfs, "devices", "pci0000:00", "0000:00:02.0", "0000:03:00.0")
    _w(os.path.join(pci2, "numa_node"), "0")
    for nd, dp in (("ib0", "0"), ("ib1", "1")):
        os.makedirs(os.path.join(pci2, "net", nd))
        _w(os.path.join(sysfs, "class", "net", nd, "dev_port"), dp)
    os.makedirs(os.path.join(ib, "mlx5_1"), exist_ok=True)
    os.symlink(pci2, os.path.join(ib, "mlx5_1", "device"))
    _port(os.path.join(ib, "mlx5_1"), 1, "4: ACTIVE", "InfiniBand", "200 Gb/sec (4X HDR)", [
        ("fe80:0000:0000:0000:0e42:a103:0000:0001", None, None)])
    _port(os.path.join(ib, "mlx5_1"), 2, "1: DOWN", "InfiniBand", "10 Gb/sec (4X SDR)", [
        ("fe80:0000:0000:0000:0e42:a103:0000:0002", None, None)])
    return sysfs


@pytest.fixture()
def sysfs(tmp_path):
    return build(tmp_path)


def test_parse_gid_and_state():
    assert rdma.parse_gid("0000:0000:0000:0000:0000:0000:0000:0000") is None
    assert rdma.parse_gid(V4 + "0a4d:0001")["ipv4"] == "10.77.0.1"
    g = rdma.parse_gid("fd00:0077:0000:0000:0000:0000:0000:0002")
    assert g["ipv6"] == "fd00:77::2" and not g["link_local"]
    assert rdma.parse_gid("fe80:0000:0000:0000:5054:00ff:fee3:3fd6")["link_local"]
    assert rdma.parse_state("4: ACTIVE") == (4, "ACTIVE")
    assert rdma.parse_state("garbage") == (None, "garbage")


def test_choose_gid_prefers_planned_address():
    gids = [{"index": i, "type": t, "ndev": "e", "ipv4": v4, "ipv6": v6, "link_local": ll} for i, t, v4, v6, ll in (
        (0, "IB/RoCE v1", None, "fe80::1", True), (1, "RoCE v2", None, "fe80::1", True),
        (2, "IB/RoCE v1", "192.168.1.5", None, False), (3, "RoCE v2", "192.168.1.5", None, False),
        (5, "RoCE v2", "10.78.0.7", None, False), (6, "RoCE v2", None, "fd00:78::7", False))]
    assert rdma.choose_roce_v2_gid(gids) == 3
    assert rdma.choose_roce_v2_gid(gids, "e", "10.78.0.7") == 5
    assert rdma.choose_roce_v2_gid(gids, "e", "fd00:78::7") == 6
    assert rdma.choose_roce_v2_gid(gids, "other") is None
    # only link-local v2 GIDs: nothing routable yet
    assert rdma.choose_roce_v2_gid(gids[:2]) is None
    # global IPv6 when there is no IPv4
    assert rdma.choose_roce_v2_gid([gids[1], gids[5]]) == 6


def test_collect(sysfs):
    facts = rdma.collect_rdma(sysfs, addresses={"ens2f0np0": "10.78.0.7"})
    devs = {d["name"]: d for d in facts["devices"]}
    rxe = devs["rxe_enp0s3"]
    assert rxe["kind"] == "software" and rxe["parent"] == "enp0s3" and rxe["netdevs"] == ["enp0s3"]
    port = rxe["ports"][0]
    assert port["active"] and port["rate_gbps"] == 2.5 and port["netdev"] == "enp0s3"
    assert port["roce_v2_gid_index"] == 1 and [g["index"] for g in port["gids"]] == [0, 1]
    mlx = devs["mlx5_0"]
    assert mlx["numa_node"] == 1 and mlx["pci_bus_id"] == "0000:81:00.0" and mlx["kind"] == "hardware"
    assert mlx["ports"][0]["roce_v2_gid_index"] == 5  # the planned address, not the first IPv4 GID (3)
    assert rdma.collect_rdma(sysfs)["by_netdev"]["ens2f0np0"]["roce_v2_gid_index"] == 3
    ib = devs["mlx5_1"]
    assert [(p["port"], p["netdev"], p["state"], p["gid_index"], p["roce_v2_gid_index"]) for p in ib["ports"]] == [
        (1, "ib0", "ACTIVE", 0, None), (2, "ib1", "DOWN", 0, None)]
    assert facts["numa_nodes"] == {"-1": ["rxe_enp0s3"], "1": ["mlx5_0"], "0": ["mlx5_1"]}
    assert facts["by_netdev"]["enp0s3"] == {"device": "rxe_enp0s3", "port": 1, "roce_v2_gid_index": 1,
                                            "state": "ACTIVE", "link_layer": "Ethernet"}


def test_not_ready(sysfs):
    facts = rdma.collect_rdma(sysfs)
    ok = [{"fabric": "f0", "netdev": "enp0s3", "address": "10.77.0.1", "mode": "roce"},
          {"fabric": "ib", "netdev": "ib0", "address": "10.90.0.1", "mode": "ipoib", "rate_gbps": 200}]
    assert rdma.not_ready(facts, ok) == []
    bad = rdma.not_ready(facts, [
        {"fabric": "f0", "netdev": "enp0s3", "address": "10.77.0.9", "mode": "roce"},
        {"fabric": "ib", "netdev": "ib1", "address": "10.91.0.1", "mode": "ipoib"},
        {"fabric": "f1", "netdev": "ens9", "address": "10.79.0.1", "mode": "roce"},
        {"fabric": "f0", "netdev": "enp0s3", "mode": "roce", "rate_gbps": 100}])
    assert "no RoCE v2 GID carries the fabric address 10.77.0.9" in bad[0]
    assert "fabric ib: ib1 (mlx5_1 port 2) is DOWN, not ACTIVE" in bad[1]
    assert bad[2].startswith("fabric f1: ens9 has no RDMA device")
    assert "below the expected 100" in bad[3]


def test_no_rdma(tmp_path):
    facts = rdma.collect_rdma(str(tmp_path))
    assert facts["devices"] == [] and facts["by_netdev"] == {} and facts["errors"] == []


def test_module(sysfs, capsys):
    args = {"sysfs_root": sysfs, "expect": [{"fabric": "f0", "netdev": "enp0s3", "address": "10.77.0.1/24", "mode": "roce",
                                             "interface": "enp0s3", "extra": 1}], "_ansible_check_mode": True}
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            rdma_facts.main()
    out = json.loads(capsys.readouterr().out)
    assert out["changed"] is False and out["devices"] == 3 and out["not_ready"] == []
    assert out["ansible_facts"]["llmfleet_rdma"]["schema"] == "llmfleet.rdma_facts/v1"


def test_module_wait_times_out(sysfs, capsys):
    args = {"sysfs_root": sysfs, "wait_timeout": 1, "expect": [{"fabric": "f0", "netdev": "nope", "mode": "roce"}]}
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            rdma_facts.main()
    out = json.loads(capsys.readouterr().out)
    assert out["not_ready"] and out["waited_s"] >= 1


def test_write_bw_gate_threshold_from_the_fabric_or_the_link_rate():
    from ansible_collections.llmfleet.baremetal.plugins.module_utils.rdma import write_bw_verdict

    lab = {"fabric": "fabric0", "min_write_bw_gbps": 0.01}
    ok = write_bw_verdict(0.06, lab, None, peer="rdma2")
    assert ok == {"threshold_gbps": 0.01, "basis": "min_write_bw_gbps of fabric fabric0", "passed": True, "problem": ""}
    rail = {"fabric": "rail3", "min_write_bw_gbps": None}
    good = write_bw_verdict(372.5, rail, 400, peer="gpu-a02")
    assert good["passed"] and good["threshold_gbps"] == 320.0
    assert good["basis"] == "0.8 x the 400 Gb/s link rate (rdma_verify_min_bw_fraction)"
    slow = write_bw_verdict(181.0, rail, 400, peer="gpu-a02")
    assert not slow["passed"]
    assert slow["problem"] == ("fabric rail3: ib_write_bw with gpu-a02 181 Gb/s is below 320 Gb/s (0.8 x the 400 Gb/s "
                               "link rate (rdma_verify_min_bw_fraction)): a slow rail - check the cable or optics, the "
                               "switch port's speed, PFC/ECN and the MTU")
    # nothing measured is a failure once there is a threshold
    assert "reported no bandwidth" in write_bw_verdict(None, rail, 400, peer="gpu-a02")["problem"]
    # unknown link rate, or report only: not gated, and said
    unknown = write_bw_verdict(1.0, rail, None)
    assert unknown["passed"] and unknown["threshold_gbps"] is None and "link rate is unknown" in unknown["basis"]
    off = write_bw_verdict(1.0, rail, 400, fraction=0)
    assert off["passed"] and "report only" in off["basis"]


def test_write_bw_filter_and_fabric_plans_carry_the_threshold():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.llmfleet.baremetal.plugins.filter.rdma import fabric_plans, rdma_write_bw_verdict

    fabrics = [{"name": "fabric0", "cidr": "10.77.0.0/24", "interface": "enp0s3", "soft_roce": True,
                "min_write_bw_gbps": "0.01"},
               {"name": "rail1", "cidr": "10.78.0.0/24", "interface": "ens1"}]
    plans = fabric_plans(fabrics, {"rdma_nodes": ["a", "b"]}, "a")
    assert [p["min_write_bw_gbps"] for p in plans] == [0.01, None]
    assert rdma_write_bw_verdict(0.005, plans[0], None, None, "b")["passed"] is False
    assert rdma_write_bw_verdict(95.0, plans[1], 100, 0.9, "b")["threshold_gbps"] == 90.0
    with pytest.raises(AnsibleFilterError):
        rdma_write_bw_verdict(1.0, "rail1")
