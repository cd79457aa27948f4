"""Ceph cluster planning, device classification and the health gate (plugins/module_utils/ceph_plan.py)."""

import json

import pytest

from ansible_collections.llmfleet.baremetal.plugins.module_utils.ceph_plan import (
    CephPlanError, device_state, health_report, plan_cluster)

MONS = [{"name": "s1", "addr": "10.20.0.11"}, {"name": "s2", "addr": "10.20.0.12"}, {"name": "s3", "addr": "10.20.0.13"}]
HOSTS = ["s1", "s2", "s3"]
FSID = "0b6a0c1e-8a4f-4a51-9d5c-5b1c2f3e4d5a"


def test_plan_msgr2_and_v1_addresses():
    plan = plan_cluster(MONS, "10.20.0.0/24", "10.30.0.0/24", HOSTS)
    assert plan["mon_host"] == ("[v2:10.20.0.11:3300,v1:10.20.0.11:6789],[v2:10.20.0.12:3300,v1:10.20.0.12:6789],"
                                "[v2:10.20.0.13:3300,v1:10.20.0.13:6789]")
    assert plan["monmap_args"][:3] == ["--addv", "s1", "[v2:10.20.0.11:3300,v1:10.20.0.11:6789]"]
    assert plan["mon_initial_members"] == "s1,s2,s3"
    assert plan["cluster_network"] == "10.30.0.0/24"
    assert plan["warnings"] == []


def test_cluster_network_defaults_to_public():
    assert plan_cluster(MONS, "10.20.0.0/24", "", HOSTS)["cluster_network"] == "10.20.0.0/24"


def test_ipv6_addrvec():
    plan = plan_cluster([{"name": "a", "addr": "fd00::11"}], "fd00::/64", None, ["a"], 1, 1, lab=True)
    assert plan["mons"][0]["addrvec"] == "[v2:[fd00::11]:3300,v1:[fd00::11]:6789]"


@pytest.mark.parametrize("net, needle", [
    ("10.99.0.0/24", "outside ceph_public_network"),
    ("10.20.0.1/24", "host bits set"),
    ("10.20.0.0", "not a CIDR"),
    ("10.20.0.0/33", "not a valid CIDR"),
    ("", "ceph_public_network is empty"),
])
def test_wrong_public_network(net, needle):
    with pytest.raises(CephPlanError) as exc:
        plan_cluster(MONS, net, None, HOSTS)
    assert needle in str(exc.value)


def test_wrong_network_lists_every_monitor():
    with pytest.raises(CephPlanError) as exc:
        plan_cluster(MONS, "10.99.0.0/24", None, HOSTS)
    assert len([p for p in exc.value.problems if "outside" in p]) == 3


def test_overlapping_and_bad_cluster_network():
    with pytest.raises(CephPlanError) as exc:
        plan_cluster(MONS, "10.20.0.0/24", "10.30.0.0/16,10.30.1.0/24", HOSTS)
    assert "overlap" in str(exc.value)


def test_duplicate_monitor_address_and_bad_address():
    mons = MONS[:2] + [{"name": "s3", "addr": "10.20.0.11"}, {"name": "s4", "addr": "nohost"}]
    with pytest.raises(CephPlanError) as exc:
        plan_cluster(mons, "10.20.0.0/24", None, HOSTS)
    msg = str(exc.value)
    assert "share the address 10.20.0.11" in msg and "'nohost' is not an IP address" in msg


def test_too_few_osd_hosts_for_size():
    with pytest.raises(CephPlanError) as exc:
        plan_cluster(MONS, "10.20.0.0/24", None, ["s1", "s2"], 3, 2)
    assert "too few OSD hosts for the pool size: ceph_pool_size=3" in str(exc.value)
    assert "the inventory has 2 (s1, s2)" in str(exc.value)


def test_size_one_refused_outside_lab_and_loud_inside():
    with pytest.raises(CephPlanError) as exc:
        plan_cluster(MONS, "10.20.0.0/24", None, HOSTS, 1, 1, lab=False)
    assert "refused outside a lab" in str(exc.value)
    plan = plan_cluster(MONS, "10.20.0.0/24", None, HOSTS, 1, 1, lab=True)
    assert any(w.startswith("LAB ONLY") for w in plan["warnings"])


def test_min_size_bounds_and_warnings():
    with pytest.raises(CephPlanError):
        plan_cluster(MONS, "10.20.0.0/24", None, HOSTS, 3, 4)
    with pytest.raises(CephPlanError):
        plan_cluster(MONS, "10.20.0.0/24", None, HOSTS, 3, 0)
    assert any("min_size=1" in w for w in plan_cluster(MONS, "10.20.0.0/24", None, HOSTS, 3, 1)["warnings"])
    assert any("even count" in w for w in plan_cluster(MONS[:2], "10.20.0.0/24", None, HOSTS)["warnings"])


def test_no_monitors():
    with pytest.raises(CephPlanError) as exc:
        plan_cluster([], "10.20.0.0/24", None, HOSTS)
    assert "no monitor hosts" in str(exc.value)


LABEL = json.dumps({"/dev/sdb": {"osd_uuid": "u1", "ceph_fsid": FSID, "description": "main"}})


def test_device_states():
    assert device_state("/dev/sdb", FSID)["state"] == "empty"
    ours = device_state("/dev/sdb", FSID, "TYPE=ceph_bluestore\n", LABEL)
    assert ours["state"] == "ours" and ours["osd_uuid"] == "u1"
    other = device_state("/dev/sdb", "another-fsid", "TYPE=ceph_bluestore\n", LABEL)
    assert other["state"] == "foreign" and "another cluster" in other["why"]
    ext4 = device_state("/dev/sdb", FSID, "DEVNAME=/dev/sdb\nLABEL=precious\nTYPE=ext4\n")
    assert ext4["state"] == "foreign" and ext4["why"] == "holds ext4 (label precious)"
    assert "gpt partition table" in device_state("/dev/sdb", FSID, "PTTYPE=gpt\n")["why"]
    assert device_state("/dev/sdb", FSID, "", "", has_partitions=True)["state"] == "foreign"
    assert device_state("/dev/sdb", FSID, "", "", nonzero_head=True)["state"] == "foreign"
    assert device_state("/dev/sdb", FSID, "TYPE=LVM2_member\n")["state"] == "foreign"


def _status(health="HEALTH_OK", checks=None, states=None, osds=(3, 3, 3)):
    states = states or {"active+clean": 57}
    return {"health": {"status": health, "checks": {c: {"summary": {"message": m}} for c, m in (checks or {}).items()}},
            "pgmap": {"num_pgs": sum(states.values()),
                      "pgs_by_state": [{"state_name": s, "count": n} for s, n in states.items()]},
            "osdmap": {"osdmap": {"num_osds": osds[0], "num_up_osds": osds[1], "num_in_osds": osds[2]}}}


def test_health_ok():
    rep = health_report(json.dumps(_status()))
    assert rep["ok"] and rep["all_active_clean"] and rep["pgs_total"] == 57 and rep["osds"]["up"] == 3


def test_health_warn_blocks_unless_allowed():
    st = _status("HEALTH_WARN", {"POOL_NO_REDUNDANCY": "3 pool(s) have no replicas configured"})
    assert not health_report(st)["ok"]
    rep = health_report(st, ["POOL_NO_REDUNDANCY"])
    assert rep["ok"] and rep["allowed"] == ["POOL_NO_REDUNDANCY"]


def test_health_err_never_ok_and_degraded_pgs_block():
    assert not health_report(_status("HEALTH_ERR", {"X": "y"}), ["X"])["ok"]
    st = _status("HEALTH_WARN", {"OSD_DOWN": "1 osds down", "PG_DEGRADED": "Degraded data redundancy"},
                 {"active+clean": 20, "active+undersized+degraded": 37}, osds=(3, 2, 3))
    rep = health_report(st, ["OSD_DOWN", "PG_DEGRADED"])
    assert not rep["ok"] and not rep["all_active_clean"] and rep["blocking"] == []
