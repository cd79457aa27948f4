# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/addr_plan.py and the fabric_address / fabric_plans filters: edge cases of the planner."""

from __future__ import annotations

import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.llmfleet.baremetal.plugins.filter import rdma as f  # noqa: E402
from ansible_collections.llmfleet.baremetal.plugins.module_utils.addr_plan import AddrPlanError, check_overlaps, plan_fabric  # noqa: E402

HOSTS = ["gpu-a01", "gpu-a02", "gpu-a03", "gpu-a04"]


def fab(**kw):
    base = {"name": "fabric0", "cidr": "10.77.0.0/24", "mode": "roce"}
    base.update(kw)
    return base


def test_index_follows_inventory_order():
    got = [plan_fabric(fab(), HOSTS, h)["address"] for h in HOSTS]
    assert got == ["10.77.0.1", "10.77.0.2", "10.77.0.3", "10.77.0.4"]
    p = plan_fabric(fab(), HOSTS, "gpu-a03")
    assert p["prefix"] == 24 and p["cidr"] == "10.77.0.3/24" and p["netmask"] == "255.255.255.0"
    assert p["index"] == 2 and p["mtu"] == 9000 and p["version"] == 4 and p["network"] == "10.77.0.0/24"


def test_first_host_offset():
    assert plan_fabric(fab(first_host_offset=10), HOSTS, "gpu-a01")["address"] == "10.77.0.10"
    assert plan_fabric(fab(first_host_offset=10), HOSTS, "gpu-a04")["address"] == "10.77.0.13"


def test_offset_zero_would_give_the_network_address():
    with pytest.raises(AddrPlanError, match=r"fabric 'fabric0', host 'gpu-a01'.*network address"):
        plan_fabric(fab(first_host_offset=0), HOSTS, "gpu-a01")


def test_exhausted_range_names_fabric_and_host():
    # /29: 6 usable (.1-.6); offset 4 leaves .4 .5 .6 for 4 hosts
    with pytest.raises(AddrPlanError) as exc:
        plan_fabric(fab(cidr="10.77.0.0/29", first_host_offset=4), HOSTS, "gpu-a02")
    msg = str(exc.value)
    assert "fabric 'fabric0', host 'gpu-a02'" in msg and "exhausted" in msg and "3 usable" in msg
    # the last address that fits is still handed out
    assert plan_fabric(fab(cidr="10.77.0.0/29", first_host_offset=3), HOSTS, "gpu-a04")["address"] == "10.77.0.6"


def test_broadcast_is_never_handed_out():
    hosts = ["h%d" % i for i in range(254)]
    assert plan_fabric(fab(), hosts, "h253")["address"] == "10.77.0.254"
    with pytest.raises(AddrPlanError, match="exhausted"):
        plan_fabric(fab(), hosts + ["h254"], "h0")


def test_slash_31_uses_both_addresses():
    hosts = ["a", "b"]
    assert [plan_fabric(fab(cidr="10.77.0.8/31"), hosts, h)["address"] for h in hosts] == ["10.77.0.8", "10.77.0.9"]
    with pytest.raises(AddrPlanError, match=r"host 'c'.*exhausted.*2 usable"):
        plan_fabric(fab(cidr="10.77.0.8/31"), hosts + ["c"], "c")


def test_slash_32_one_host():
    assert plan_fabric(fab(cidr="10.77.0.9/32"), ["a"], "a")["address"] == "10.77.0.9"
    with pytest.raises(AddrPlanError, match=r"host 'b'.*exhausted.*1 usable"):
        plan_fabric(fab(cidr="10.77.0.9/32"), ["a", "b"], "b")


def test_slash_16_large_index():
    hosts = ["h%d" % i for i in range(300)]
    p = plan_fabric(fab(cidr="10.78.0.0/16"), hosts, "h299")
    assert p["address"] == "10.78.1.44" and p["prefix"] == 16  # 300th usable = .0.1 + 299


def test_host_bits_set():
    with pytest.raises(AddrPlanError, match=r"fabric 'fabric0', host 'gpu-a01'.*host bits set.*10.77.0.0/24"):
        plan_fabric(fab(cidr="10.77.0.5/24"), HOSTS, "gpu-a01")


def test_invalid_cidr():
    for bad in ("10.77.0.0", "10.777.0.0/24", "nonsense/8", ""):
        with pytest.raises(AddrPlanError, match="fabric 'fabric0', host 'gpu-a01'"):
            plan_fabric(fab(cidr=bad), HOSTS, "gpu-a01")


def test_host_not_in_list():
    with pytest.raises(AddrPlanError, match=r"fabric 'fabric0', host 'stranger': the host is not in"):
        plan_fabric(fab(), HOSTS, "stranger")


def test_explicit_index():
    assert plan_fabric(fab(), HOSTS, "stranger", index=9)["address"] == "10.77.0.10"


def test_overlapping_fabrics():
    fabrics = [fab(), fab(name="fabric1", cidr="10.77.0.128/25")]
    with pytest.raises(AddrPlanError, match=r"fabric 'fabric1', host 'gpu-a01'.*overlaps fabric 'fabric0'"):
        plan_fabric(fabrics[0], HOSTS, "gpu-a01", fabrics)
    # adjacent ranges do not overlap; v4 and v6 never do
    ok = [fab(), fab(name="fabric1", cidr="10.77.1.0/24"), fab(name="fabric6", cidr="fd00:77::/64")]
    check_overlaps(ok)
    assert plan_fabric(ok[1], HOSTS, "gpu-a02", ok)["address"] == "10.77.1.2"


def test_duplicate_fabric_name():
    with pytest.raises(AddrPlanError, match="used twice"):
        check_overlaps([fab(), fab(cidr="10.99.0.0/24")], "h")


def test_ipv6():
    p = plan_fabric(fab(cidr="fd00:77::/64"), HOSTS, "gpu-a02")
    assert p["address"] == "fd00:77::2" and p["prefix"] == 64 and p["version"] == 6
    assert p["cidr"] == "fd00:77::2/64"
    with pytest.raises(AddrPlanError, match="subnet-router anycast"):
        plan_fabric(fab(cidr="fd00:77::/64", first_host_offset=0), HOSTS, "gpu-a01")


def test_ipv6_127_and_128():
    assert [plan_fabric(fab(cidr="fd00:77::/127"), ["a", "b"], h)["address"] for h in "ab"] == ["fd00:77::", "fd00:77::1"]
    assert plan_fabric(fab(cidr="fd00:77::5/128"), ["a"], "a")["address"] == "fd00:77::5"
    with pytest.raises(AddrPlanError, match="exhausted"):
        plan_fabric(fab(cidr="fd00:77::/126"), ["a", "b", "c", "d"], "d")  # ::0 is anycast: 3 usable


def test_ipv6_mtu_minimum():
    with pytest.raises(AddrPlanError, match=r"mtu 1000 is outside 1280"):
        plan_fabric(fab(cidr="fd00:77::/64", mtu=1000), HOSTS, "gpu-a01")


def test_gateway_is_skipped():
    fabric = fab(cidr="10.77.0.0/29", gateway="10.77.0.2")
    got = [plan_fabric(fabric, HOSTS, h)["address"] for h in HOSTS]
    assert got == ["10.77.0.1", "10.77.0.3", "10.77.0.4", "10.77.0.5"]
    assert plan_fabric(fabric, HOSTS, "gpu-a01")["gateway"] == "10.77.0.2"
    with pytest.raises(AddrPlanError, match=r"exhausted.*gateway 10.77.0.2 excluded"):
        plan_fabric(fabric, HOSTS + ["e", "f"], "f")


def test_gateway_outside_cidr():
    with pytest.raises(AddrPlanError, match=r"gateway 10.78.0.1 is outside"):
        plan_fabric(fab(gateway="10.78.0.1"), HOSTS, "gpu-a01")


@pytest.mark.parametrize("mode,ipoib_mode,default,too_big", [
    ("roce", None, 9000, 9217),
    ("ipoib", "datagram", 4092, 4093),
    ("ipoib", "connected", 65520, 65521),
])
def test_mtu_defaults_and_limits(mode, ipoib_mode, default, too_big):
    kw = {"mode": mode}
    if ipoib_mode:
        kw["ipoib_mode"] = ipoib_mode
    assert plan_fabric(fab(**kw), HOSTS, "gpu-a01")["mtu"] == default
    with pytest.raises(AddrPlanError, match=r"fabric 'fabric0', host 'gpu-a01': mtu %d is outside" % too_big):
        plan_fabric(fab(mtu=too_big, **kw), HOSTS, "gpu-a01")


def test_ipoib_2044():
    p = plan_fabric(fab(mode="ipoib", mtu=2044), HOSTS, "gpu-a01")
    assert p["mtu"] == 2044 and p["ipoib_mode"] == "datagram"


def test_bad_mode():
    with pytest.raises(AddrPlanError, match="mode 'ethernet'"):
        plan_fabric(fab(mode="ethernet"), HOSTS, "gpu-a01")


# --------------------------------------------------------------------------- filters

def test_filter_wraps_errors():
    with pytest.raises(AnsibleFilterError, match=r"fabric_address: fabric 'fabric0', host 'gpu-a04'.*exhausted"):
        f.fabric_address(fab(cidr="10.77.0.0/30"), HOSTS, "gpu-a04")
    with pytest.raises(AnsibleFilterError, match="hosts must be a list"):
        f.fabric_address(fab(), "gpu-a01", "gpu-a01")


def test_fabric_plans():
    groups = {"rdma_nodes": HOSTS, "storage": ["st1", "gpu-a02"]}
    fabrics = [fab(interface="ens1f0", soft_roce=True), fab(name="stor", cidr="10.88.0.0/24", group="storage", interface="ens2")]
    plans = f.fabric_plans(fabrics, groups, "gpu-a02", interfaces={"stor": "ens9"})
    assert [(p["fabric"], p["address"], p["interface"]) for p in plans] == [("fabric0", "10.77.0.2", "ens1f0"),
                                                                            ("stor", "10.88.0.2", "ens9")]
    assert plans[0]["rxe_device"] == "rxe_ens1f0" and plans[0]["netdev"] == "ens1f0" and plans[1]["rxe_device"] is None
    assert f.fabric_plans([], groups, "gpu-a02") == []


def test_fabric_plans_errors():
    groups = {"rdma_nodes": HOSTS}
    with pytest.raises(AnsibleFilterError, match=r"fabric 'fabric0', host 'gpu-a01'.*no netdev"):
        f.fabric_plans([fab()], groups, "gpu-a01")
    with pytest.raises(AnsibleFilterError, match=r"fabric 'fabric0', host 'gpu-a01': group 'nope'"):
        f.fabric_plans([fab(interface="x", group="nope")], groups, "gpu-a01")
    with pytest.raises(AnsibleFilterError, match="soft_roce needs mode roce"):
        f.fabric_plans([fab(interface="ib0", mode="ipoib", soft_roce=True)], groups, "gpu-a01")


def test_fabric_ports_and_nccl_env():
    plans = f.fabric_plans([fab(interface="enp0s3")], {"rdma_nodes": HOSTS}, "gpu-a01")
    facts = {"by_netdev": {"enp0s3": {"device": "rxe_enp0s3", "port": 1, "roce_v2_gid_index": 1, "state": "ACTIVE"}}}
    ports = f.fabric_ports(plans, facts)
    assert ports == [{"fabric": "fabric0", "interface": "enp0s3", "address": "10.77.0.1", "cidr": "10.77.0.1/24",
                      "mode": "roce", "device": "rxe_enp0s3", "port": 1, "state": "ACTIVE", "gid_index": 1}]
    assert f.nccl_ib_env(ports) == {"NCCL_IB_HCA": "rxe_enp0s3:1", "NCCL_IB_GID_INDEX": "1"}
    missing = f.fabric_ports(plans, {"by_netdev": {}})
    assert missing[0]["device"] is None and f.nccl_ib_env(missing) == {}
