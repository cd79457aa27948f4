"""Rolling reboots of a site run (issue 21 item 6, playbooks/reboot.yml): batches of llmfleet_reboot_serial hosts in
inventory order, never two hosts of one llmfleet_reboot_apart set (the HA gateway pair, the storage nodes) at once,
and refusals that name the variable."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".collections"))
from ansible_collections.llmfleet.baremetal.plugins.module_utils.reboot_plan import (  # noqa: E402
    RebootPlanError, describe, plan_reboots)
from ansible_collections.llmfleet.baremetal.plugins.filter.reboot import FilterModule, reboot_plan  # noqa: E402

ORDER = ["gpu1", "gpu2", "gpu3", "gw1", "gw2", "st1", "st2", "st3"]
GATEWAYS = ["gw1", "gw2"]
STORAGE = ["st1", "st2", "st3"]


def every(hosts, reason="nvidia_driver: driver 580.95.05 installed"):
    return {h: [reason] for h in hosts}


def test_serial_batches_in_inventory_order():
    plan = plan_reboots(every(["gpu1", "gpu2", "gpu3"]), 2, [], ORDER)
    assert plan["batches"] == [["gpu1", "gpu2"], ["gpu3"]]
    assert plan["sizes"] == [2, 1] and plan["order"] == ["gpu1", "gpu2", "gpu3"]


def test_never_both_gateways_in_one_batch_whatever_the_serial():
    for serial in (2, 3, 8):
        plan = plan_reboots(every(ORDER), serial, [GATEWAYS, STORAGE], ORDER)
        for batch in plan["batches"]:
            assert len(set(batch) & set(GATEWAYS)) <= 1, (serial, plan["batches"])
            assert len(set(batch) & set(STORAGE)) <= 1, (serial, plan["batches"])
            assert len(batch) <= serial
        assert sorted(plan["order"]) == sorted(ORDER)
        assert sum(plan["sizes"]) == len(ORDER)


def test_a_later_host_fills_an_earlier_batch_with_room():
    # serial 8: gw2 and st2/st3 cannot join the first batch; they make the second and third
    plan = plan_reboots(every(ORDER), 8, [GATEWAYS, STORAGE], ORDER)
    assert plan["batches"] == [["gpu1", "gpu2", "gpu3", "gw1", "st1"], ["gw2", "st2"], ["st3"]]


def test_the_lab_pair_with_serial_two_reboots_one_after_the_other():
    # molecule/node_vm: two VMs, serial 2, declared apart -> two batches (shown there with real reboots)
    plan = plan_reboots(every(["rdma1", "rdma2"]), 2, [["rdma1", "rdma2"]], ["rdma1", "rdma2"])
    assert plan["batches"] == [["rdma1"], ["rdma2"]] and plan["sizes"] == [1, 1]


def test_hosts_without_a_reason_are_left_out_and_nothing_to_do_says_so():
    plan = plan_reboots({"gpu1": [], "gpu2": ["sysctl_tuning: vm.swappiness"]}, 4, [], ORDER)
    assert plan["batches"] == [["gpu2"]]
    empty = plan_reboots({"gpu1": []}, 4, [], ORDER)
    assert empty["batches"] == [] and empty["sizes"] == [] and describe(empty) == ["no host needs a reboot"]


def test_hosts_missing_from_the_order_come_last_sorted():
    plan = plan_reboots(every(["x2", "gpu1", "x1"]), 10, [], ["gpu1"])
    assert plan["order"] == ["gpu1", "x1", "x2"]


def test_a_serial_given_on_the_command_line_is_a_string():
    assert plan_reboots(every(["gpu1", "gpu2"]), "2")["batches"] == [["gpu1", "gpu2"]]


def test_describe_names_each_batch_and_its_reasons():
    plan = plan_reboots({"gw1": ["nvidia_driver: a"], "gw2": ["sysctl_tuning: b", "rdma: c"]}, 2, [GATEWAYS], ORDER)
    assert describe(plan) == ["batch 1/2: gw1 (nvidia_driver: a)", "batch 2/2: gw2 (sysctl_tuning: b; rdma: c)"]


@pytest.mark.parametrize("serial", [0, -1, True, "two", "0", 1.5, None])
def test_a_bad_serial_is_refused_naming_the_variable(serial):
    with pytest.raises(RebootPlanError, match="llmfleet_reboot_serial"):
        plan_reboots(every(["gpu1"]), serial)


@pytest.mark.parametrize("apart", ["gw1,gw2", ["gw1"], [[1, 2]], {"a": 1}])
def test_a_bad_apart_is_refused_naming_the_variable(apart):
    with pytest.raises(RebootPlanError, match="llmfleet_reboot_apart"):
        plan_reboots(every(["gpu1"]), 1, apart)


def test_the_filter_wraps_refusals_and_adds_the_lines():
    from ansible.errors import AnsibleFilterError
    out = reboot_plan(every(["gw1", "gw2"]), 2, [GATEWAYS], ORDER)
    assert out["lines"] == ["batch 1/2: gw1 (nvidia_driver: driver 580.95.05 installed)",
                            "batch 2/2: gw2 (nvidia_driver: driver 580.95.05 installed)"]
    with pytest.raises(AnsibleFilterError, match="^reboot_plan: llmfleet_reboot_serial"):
        FilterModule().filters()["reboot_plan"](every(["gw1"]), 0)
