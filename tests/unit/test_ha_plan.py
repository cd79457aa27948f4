# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/ha_plan.py, plugins/filter/ha.py and the CIB planner of plugins/modules/pacemaker_cib.py."""

from __future__ import annotations

import copy
import os
import sys
import xml.etree.ElementTree as ET

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.llmfleet.baremetal.plugins.filter.ha import ha_plan_check  # noqa: E402
from ansible_collections.llmfleet.baremetal.plugins.module_utils.ha_plan import check_plan  # noqa: E402
from ansible_collections.llmfleet.baremetal.plugins.modules import pacemaker_cib  # noqa: E402

IPMI = {"ip": "10.30.0.11", "username": "fence", "password": "secret"}


def plan(**over):
    base = {
        "lab": False,
        "nodes": [{"name": "gw-a01", "link_addresses": ["10.20.2.11", "10.20.12.11"], "drbd_address": "10.20.12.11"},
                  {"name": "gw-a02", "link_addresses": ["10.20.2.12", "10.20.12.12"], "drbd_address": "10.20.12.12"}],
        "links": [{"cidr": "10.20.2.0/24"}, {"cidr": "10.20.12.0/24"}],
        "fence_devices": [{"name": "a01", "agent": "fence_ipmilan", "node": "gw-a01", "params": IPMI},
                          {"name": "a02", "agent": "fence_redfish", "node": "gw-a02", "params": IPMI}],
        "drbd": {"version": "8.4", "protocol": "C", "fencing": "resource-only", "quorum": "off", "port": 7789,
                 "backing_device": "/dev/sdb", "replication_cidr": "10.20.12.0/24"},
        "vip": {"address": "10.20.2.100", "cidr": "10.20.2.0/24"},
    }
    base.update(over)
    return base


def test_good_production_plan():
    res = check_plan(plan())
    assert res["violations"] == []
    assert res["stonith_enabled"] is True
    assert res["warnings"] == []


def test_production_without_fence_devices_is_refused_naming_host_and_variable():
    res = check_plan(plan(fence_devices=[]))
    assert len(res["violations"]) == 2
    for host, msg in zip(("gw-a01", "gw-a02"), res["violations"]):
        assert msg.startswith(host + ": no fence device")
        assert "ha_cluster_fence_devices" in msg and "llmfleet_lab" in msg
    assert res["stonith_enabled"] is True


def test_lab_without_fence_devices_disables_stonith_loudly():
    res = check_plan(plan(fence_devices=[], lab=True))
    assert res["violations"] == []
    assert res["stonith_enabled"] is False
    assert "STONITH DISABLED" in res["warnings"][0]


def test_lab_string_true_counts():
    assert check_plan(plan(fence_devices=[], lab="true"))["stonith_enabled"] is False


def test_lab_fence_agent_refused_in_production():
    devs = [{"name": "x", "agent": "fence_llmfleet_ssh", "node": n} for n in ("gw-a01", "gw-a02")]
    res = check_plan(plan(fence_devices=devs))
    assert any("lab-only" in v for v in res["violations"])
    assert check_plan(plan(fence_devices=devs, lab=True))["violations"] == []


def test_unknown_agent_and_unfenced_node():
    devs = [{"name": "x", "agent": "fence_virsh", "node": "gw-a01"}]
    res = check_plan(plan(fence_devices=devs))
    assert any("'fence_virsh' is not allowed" in v for v in res["violations"])
    assert any(v.startswith("gw-a02: no fence device in ha_cluster_fence_devices fences") for v in res["violations"])


def test_fence_device_for_unknown_node():
    devs = plan()["fence_devices"] + [{"name": "z", "agent": "fence_ipmilan", "node": "gw-zz"}]
    assert any("gw-zz, which is not a cluster node" in v for v in check_plan(plan(fence_devices=devs))["violations"])


def test_node_address_outside_link_and_drbd_network():
    p = plan()
    p["nodes"][1]["link_addresses"][1] = "10.20.13.12"
    p["nodes"][1]["drbd_address"] = "10.20.13.12"
    v = check_plan(p)["violations"]
    assert any(x.startswith("gw-a02: ha_cluster_link_addresses[1]=10.20.13.12 is outside link 1") for x in v)
    assert any(x.startswith("gw-a02: drbd_address=10.20.13.12 is outside drbd_replication_cidr") for x in v)


def test_address_count_and_garbage():
    p = plan()
    p["nodes"][0]["link_addresses"] = ["nonsense"]
    v = check_plan(p)["violations"]
    assert any("has 1 addresses for 2 links" in x for x in v)
    assert any("'nonsense' is not an IP address" in x for x in v)


def test_bad_and_overlapping_links():
    v = check_plan(plan(links=[{"cidr": "10.20.0.0/16"}, {"cidr": "10.20.12.0/24"}]))["violations"]
    assert any("overlap" in x for x in v)
    v = check_plan(plan(links=[{"cidr": "10.20.2.5/24"}, {"cidr": "10.20.12.0/24"}]))["violations"]
    assert any("not a network in CIDR form" in x for x in v)


def test_single_link_warns():
    p = plan(links=[{"cidr": "10.20.2.0/24"}])
    for n in p["nodes"]:
        n["link_addresses"] = n["link_addresses"][:1]
    res = check_plan(p)
    assert res["violations"] == []
    assert any("one knet link" in w for w in res["warnings"])


def test_duplicate_address():
    p = plan()
    p["nodes"][1]["link_addresses"][0] = "10.20.2.11"
    assert any("also used by gw-a01" in x for x in check_plan(p)["violations"])


@pytest.mark.parametrize("fencing,quorum,version,expect", [
    ("resource-only", "off", "8.4", None),
    ("resource-only", "majority", "9", "never both"),
    ("dont-care", "off", "8.4", "nothing prevents a split brain"),
    ("dont-care", "majority", "8.4", "needs DRBD 9"),
    ("bogus", "off", "8.4", "must be one of"),
])
def test_drbd_fencing_vs_quorum(fencing, quorum, version, expect):
    p = plan()
    p["drbd"].update(fencing=fencing, quorum=quorum, version=version)
    v = check_plan(p)["violations"]
    if expect is None:
        assert v == []
    else:
        assert any(expect in x for x in v), v


def test_drbd_protocol_port_device():
    p = plan()
    p["drbd"].update(protocol="A", port=80, backing_device="", replication_cidr="nope")
    v = " | ".join(check_plan(p)["violations"])
    assert "protocol C" in v and "drbd_port=80" in v and "drbd_backing_device is empty" in v
    assert "drbd_replication_cidr='nope'" in v


def test_vip_checks():
    assert any("outside gateway_vip_cidr" in x for x in check_plan(plan(vip={"address": "10.9.9.9", "cidr": "10.20.2.0/24"}))["violations"])
    assert any("node address of gw-a01" in x for x in check_plan(plan(vip={"address": "10.20.2.11", "cidr": "10.20.2.0/24"}))["violations"])


def test_sections_absent_are_not_checked():
    res = check_plan({"lab": False, "nodes": [], "vip": {"address": "10.1.1.1", "cidr": "10.1.1.0/24"}})
    assert [v for v in res["violations"] if "fence" in v or "link" in v] == []


def test_one_node_refused():
    p = plan()
    p["nodes"] = p["nodes"][:1]
    assert any("needs 2 nodes" in x for x in check_plan(p)["violations"])


def test_filter_accepts_mappings():
    assert ha_plan_check(plan())["violations"] == []
    with pytest.raises(Exception):
        ha_plan_check(["not", "a", "dict"])


LIVE = """<cib epoch="5" num_updates="1" admin_epoch="0"><configuration><crm_config>
<cluster_property_set id="cib-bootstrap-options"><nvpair id="dc" name="dc-version" value="2.1.5"/></cluster_property_set>
</crm_config><nodes/><resources>
<primitive id="llmfleet-gw-vip" class="ocf" provider="heartbeat" type="IPaddr2"><instance_attributes id="ia">
<nvpair id="ip" name="ip" value="10.0.0.1"/></instance_attributes></primitive>
<primitive id="llmfleet-gw-old" class="ocf" provider="heartbeat" type="Dummy"/>
</resources><constraints>
<rsc_location id="drbd-fence-by-handler-gw-llmfleet-gw-drbd-clone" rsc="llmfleet-gw-drbd-clone" node="a" score="-INFINITY"/>
</constraints></configuration><status/></cib>"""


def desired(ip="10.0.0.1"):
    return ET.fromstring("""<configuration><resources>
<primitive id="llmfleet-gw-vip" type="IPaddr2" class="ocf" provider="heartbeat">
  <instance_attributes id="ia"><nvpair name="ip" id="ip" value="%s"/></instance_attributes>
</primitive></resources></configuration>""" % ip)


def test_cib_plan_unchanged_ignores_attribute_order_and_foreign_objects():
    root = ET.fromstring(LIVE)
    root.find("configuration/resources").remove(root.find("configuration/resources/primitive[@id='llmfleet-gw-old']"))
    new, before, after, changed = pacemaker_cib.plan(root, desired(), "llmfleet-gw-")
    assert changed == []
    assert before == after


def test_cib_plan_changes_removes_stale_and_keeps_fence_constraint():
    new, before, after, changed = pacemaker_cib.plan(ET.fromstring(LIVE), desired("10.0.0.2"), "llmfleet-gw-")
    assert changed == ["llmfleet-gw-old", "llmfleet-gw-vip"]
    ids = [e.get("id") for e in new.find("configuration/resources")]
    assert ids == ["llmfleet-gw-vip"]
    assert new.find("configuration/constraints/rsc_location").get("id").startswith("drbd-fence-by-handler")
    assert new.find("configuration/crm_config/cluster_property_set").get("id") == "cib-bootstrap-options"


def test_cib_plan_creates_missing_section():
    live = ET.fromstring("<cib><configuration><crm_config/><resources/></configuration></cib>")
    want = ET.fromstring('<configuration><rsc_defaults><meta_attributes id="llmfleet-cluster-d"/></rsc_defaults></configuration>')
    new, before, after, changed = pacemaker_cib.plan(live, copy.deepcopy(want), "llmfleet-cluster-")
    assert changed == ["llmfleet-cluster-d"]
    assert new.find("configuration/rsc_defaults/meta_attributes") is not None


def test_cib_plan_requires_ids():
    with pytest.raises(ValueError):
        pacemaker_cib.plan(ET.fromstring(LIVE), ET.fromstring("<configuration><resources><primitive/></resources></configuration>"), "")


def test_drbd_fencing_against_stonith_and_the_lab():
    # the ha_cluster role passes drbd_fencing: resource-and-stonith needs STONITH; production refuses resource-only
    assert check_plan(plan(drbd_fencing="resource-and-stonith"))["violations"] == []
    no_stonith = check_plan(plan(fence_devices=[], lab=True, drbd_fencing="resource-and-stonith"))["violations"]
    assert no_stonith == ["cluster: drbd_fencing=resource-and-stonith needs STONITH (a Primary that loses its peer "
                          "freezes until the peer is fenced) and ha_cluster_fence_devices is empty: add fence devices, "
                          "or set drbd_fencing=resource-only in this lab"]
    assert check_plan(plan(fence_devices=[], lab=True, drbd_fencing="resource-only"))["violations"] == []
    prod = check_plan(plan(drbd_fencing="resource-only"))["violations"]
    assert len(prod) == 1 and prod[0].startswith("cluster: drbd_fencing=resource-only: a Primary that loses its peer")


def test_fence_race_delays():
    assert check_plan(plan(priority_fencing_delay_s=15, fence_delay_max_s=5))["violations"] == []
    short = check_plan(plan(priority_fencing_delay_s=6, fence_delay_max_s=5))["violations"]
    assert short == ["cluster: ha_cluster_priority_fencing_delay_s=6 is less than twice ha_cluster_fence_delay_max_s=5: "
                     "the random delay could still let the gateway's node be fenced first"]
    assert "whole seconds >= 0" in check_plan(plan(priority_fencing_delay_s=-1, fence_delay_max_s=0))["violations"][0]
    assert "whole seconds >= 0" in check_plan(plan(priority_fencing_delay_s="x", fence_delay_max_s=0))["violations"][0]
    none = check_plan(plan(priority_fencing_delay_s=0, fence_delay_max_s=0))
    assert none["violations"] == [] and "may fence each other at once" in none["warnings"][0]
    # only the pacemaker delay, or only the random one: accepted
    assert check_plan(plan(priority_fencing_delay_s=0, fence_delay_max_s=5))["violations"] == []
