# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: Apache-2.0
"""Unit tests for plugins/module_utils/irq_plan.py on fake /sys and /proc trees
(virtio-net multi-queue as in the lab VM, mlx5 with netdev + RDMA device, a veth)."""

from __future__ import annotations

import json
import os

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.llmfleet.baremetal.plugins.filter import irq as filt
from ansible_collections.llmfleet.baremetal.plugins.module_utils import irq_plan as ip

HOST = {
    "hostname": "node-b",
    "cpu": {"online": "0-7"},
    "numa": {"nodes": [{"node": 0, "cpulist": "0-3", "cpus": [0, 1, 2, 3]},
                       {"node": 1, "cpulist": "4-7", "cpus": [4, 5, 6, 7]}]},
}

VIRTIO_NAMES = {37: "virtio2-config", 38: "virtio2-input.0", 39: "virtio2-output.0", 40: "virtio2-input.1",
                41: "virtio2-output.1", 42: "virtio2-input.2", 43: "virtio2-output.2"}
MLX_NAMES = dict([(100, "mlx5_async0@pci:0000:17:00.0")]
                 + [(101 + q, "mlx5_comp%d@pci:0000:17:00.0" % q) for q in range(6)])
OTHER = {30: "virtio0-config", 31: "virtio0-inflate", 120: "nvme0q0", 121: "nvme0q1"}


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def build_tree(root, virtio_numa="-1", mlx_numa="1", affinity="0-7", names=None, shift=0):
    """Fake sysfs + procfs under root; returns (sysfs, procfs).  shift renumbers every IRQ (a reboot)."""
    sysfs, procfs = os.path.join(root, "sys"), os.path.join(root, "proc")
    names = dict(names or dict(list(VIRTIO_NAMES.items()) + list(MLX_NAMES.items()) + list(OTHER.items())))
    names = dict((irq + shift, n) for irq, n in names.items())
    # CPUs / NUMA for host_probe
    _write(os.path.join(sysfs, "devices/system/cpu/online"), "0-7\n")
    _write(os.path.join(sysfs, "devices/system/node/node0/cpulist"), "0-3\n")
    _write(os.path.join(sysfs, "devices/system/node/node1/cpulist"), "4-7\n")
    # virtio-net eth0: /sys/class/net/eth0/device -> .../0000:00:03.0/virtio2
    vpci = os.path.join(sysfs, "devices/pci0000:00/0000:00:03.0")
    os.makedirs(os.path.join(vpci, "virtio2"), exist_ok=True)
    _write(os.path.join(vpci, "numa_node"), virtio_numa + "\n")
    os.makedirs(os.path.join(vpci, "msi_irqs"), exist_ok=True)
    for irq, n in names.items():
        if n.startswith("virtio2-"):
            _write(os.path.join(vpci, "msi_irqs", str(irq)), "msix\n")
    os.makedirs(os.path.join(sysfs, "class/net/eth0"), exist_ok=True)
    os.symlink(os.path.join(vpci, "virtio2"), os.path.join(sysfs, "class/net/eth0/device"))
    # mlx5 ens1f0np0 + mlx5_0 on 0000:17:00.0
    mpci = os.path.join(sysfs, "devices/pci0000:17/0000:17:00.0")
    _write(os.path.join(mpci, "numa_node"), mlx_numa + "\n")
    os.makedirs(os.path.join(mpci, "msi_irqs"), exist_ok=True)
    for irq, n in names.items():
        if n.startswith("mlx5_"):
            _write(os.path.join(mpci, "msi_irqs", str(irq)), "msix\n")
    for cls, dev in (("net", "ens1f0np0"), ("infiniband", "mlx5_0")):
        os.makedirs(os.path.join(sysfs, "class", cls, dev), exist_ok=True)
        os.symlink(mpci, os.path.join(sysfs, "class", cls, dev, "device"))
    os.makedirs(os.path.join(sysfs, "bus/pci/devices"), exist_ok=True)
    os.symlink(vpci, os.path.join(sysfs, "bus/pci/devices/0000:00:03.0"))
    os.symlink(mpci, os.path.join(sysfs, "bus/pci/devices/0000:17:00.0"))
    # veth: no device link
    os.makedirs(os.path.join(sysfs, "class/net/veth0"), exist_ok=True)
    # /proc/interrupts and /proc/irq/N/smp_affinity_list
    lines = ["           CPU0       CPU1       CPU2       CPU3       CPU4       CPU5       CPU6       CPU7"]
    for irq in sorted(names):
        chip = "PCI-MSIX-0000:17:00.0" if names[irq].startswith("mlx5") else "PCI-MSIX-0000:00:03.0"
        lines.append("%4d: %s %s   %d-edge      %s" % (irq, " ".join(["0"] * 8), chip, irq % 7, names[irq]))
        _write(os.path.join(procfs, "irq", str(irq), "smp_affinity_list"), affinity + "\n")
    lines.append(" NMI:          0          0          0          0          0          0          0          0   Non-maskable")
    _write(os.path.join(procfs, "interrupts"), "\n".join(lines) + "\n")
    return sysfs, procfs


@pytest.fixture
def tree(tmp_path):
    return build_tree(str(tmp_path))


def test_parse_interrupts_and_queue_names():
    text = ("           CPU0       CPU1\n"
            " 26:          0         15  IO-APIC   4-edge      ttyS0\n"
            " 38:          0      22276 PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.0\n"
            " 55:          3          0  PCI-MSI 524288-edge      nvme0q0\n"
            "NMI:          0          0   Non-maskable interrupts\n")
    got = ip.parse_interrupts(text)
    assert got[26]["name"] == "ttyS0" and got[38] == {"name": "virtio2-input.0", "chip": "PCI-MSIX-0000:00:03.0"}
    assert got[55]["name"] == "nvme0q0" and "NMI" not in got
    assert ip.queue_of("virtio2-input.3", "virtio2-") == 3
    assert ip.queue_of("virtio2-output.3", "virtio2-") == 3
    assert ip.queue_of("virtio2-config", "virtio2-") is None
    assert ip.queue_of("mlx5_comp7@pci:0000:17:00.0") == 7
    assert ip.queue_of("mlx5_async0@pci:0000:17:00.0") is None
    assert ip.queue_of("ens1f0-TxRx-5") == 5
    assert ip.queue_of("i40e-0000:3b:00.0:misc") is None


def test_read_irqs_virtio_mlx5_veth(tree):
    sysfs, procfs = tree
    got = ip.read_irqs(procfs, sysfs)
    devs = dict((d["device"], d) for d in got["devices"])
    assert set(devs) == {"eth0", "ens1f0np0"}  # veth0 is virtual, mlx5_0 shares ens1f0np0's PCI function
    assert devs["ens1f0np0"]["aliases"] == ["mlx5_0"] and devs["ens1f0np0"]["numa_node"] == 1
    assert devs["eth0"]["pci"] == "0000:00:03.0" and devs["eth0"]["numa_node"] == -1 and devs["eth0"]["irq_count"] == 7
    virtio = [i for i in got["irqs"] if i["device"] == "eth0"]
    assert [i["irq"] for i in virtio] == list(range(37, 44))
    assert [i["queue"] for i in virtio] == [None, 0, 0, 1, 1, 2, 2]
    assert all(not i["name"].startswith("virtio0") for i in got["irqs"])
    assert ip.read_irqs(procfs, sysfs, devices=["mlx5_0", "nope0"])["missing"] == ["nope0"]
    only = ip.read_irqs(procfs, sysfs, devices=["mlx5_0"])
    assert only["devices"][0]["device"] == "mlx5_0" and len(only["irqs"]) == 7


def test_plan_round_robin_numa_local(tree):
    sysfs, procfs = tree
    irqs = ip.read_irqs(procfs, sysfs)["irqs"]
    plan = ip.plan_irq_affinity(irqs, HOST, reserved="0,4", host_name="node-b")
    # mlx5 (node 1, CPUs 5-7 after reserving 4): comp0..5 -> 5,6,7,5,6,7; async -> whole set
    assert [plan[str(i)] for i in range(100, 107)] == ["5-7", "5", "6", "7", "5", "6", "7"]
    # virtio NUMA -1 -> all CPUs minus reserved: 1-3,5-7; input.q and output.q share a CPU
    assert plan["37"] == "1-3,5-7"
    assert [plan[str(i)] for i in range(38, 44)] == ["1", "1", "2", "2", "3", "3"]


def test_plan_two_devices_same_node_continue_rotation():
    irqs = [{"irq": 10 + q, "device": "a", "numa_node": 0, "queue": q} for q in range(3)]
    irqs += [{"irq": 20 + q, "device": "b", "numa_node": 0, "queue": q} for q in range(3)]
    plan = ip.plan_irq_affinity(irqs, HOST)
    assert [plan[str(i)] for i in (10, 11, 12, 20, 21, 22)] == ["0", "1", "2", "3", "0", "1"]


def test_plan_allowed_cpus_and_fallback():
    irqs = [{"irq": 10 + q, "device": "a", "numa_node": 1, "queue": q} for q in range(4)]
    entries = ip.plan_entries(irqs, HOST, allowed_cpus="2-3,6")
    assert [e["cpus"] for e in entries] == ["6", "6", "6", "6"] and entries[0]["numa_local"]
    entries = ip.plan_entries(irqs, HOST, allowed_cpus="2-3")  # nothing local: use the allowed set
    assert [e["cpus"] for e in entries] == ["2", "3", "2", "3"] and not entries[0]["numa_local"]


@pytest.mark.parametrize("value", ["1-x", "3-1", "a", "0-3:0"])
def test_malformed_cpulist_names_variable_and_host(value):
    with pytest.raises(ip.IrqPlanError, match=r"^gpu-03: irq_affinity_cpus='.*' is not a valid cpulist"):
        ip.plan_irq_affinity([], HOST, allowed_cpus=value, host_name="gpu-03")


def test_cpu_outside_host_names_variable_and_host():
    with pytest.raises(ip.IrqPlanError) as err:
        ip.plan_irq_affinity([], HOST, reserved="6-9", host_name="gpu-03")
    assert str(err.value) == ("gpu-03: irq_affinity_reserved_cpus='6-9' names CPU(s) 8-9 that this host does not have "
                              "(its CPUs: 0-7)")
    with pytest.raises(AnsibleFilterError, match="gpu-03: irq_affinity_cpus='64' names CPU"):
        filt.irq_plan([], HOST, allowed_cpus="64", host_name="gpu-03")


def test_no_cpu_left_is_an_error():
    irqs = [{"irq": 10, "device": "a", "numa_node": 1, "queue": 0}]
    with pytest.raises(ip.IrqPlanError, match="device a \\(NUMA node 1\\) has no CPU left"):
        ip.plan_irq_affinity(irqs, HOST, reserved="4-7")


def test_filter_plan_matches_module_utils(tree):
    sysfs, procfs = tree
    irqs = ip.read_irqs(procfs, sysfs)["irqs"]
    assert filt.irq_plan(irqs, HOST, reserved="0") == ip.plan_irq_affinity(irqs, HOST, reserved="0")


def test_apply_is_idempotent_and_check_mode_writes_nothing(tree):
    sysfs, procfs = tree
    entries = ip.plan_entries(ip.read_irqs(procfs, sysfs)["irqs"], HOST, reserved="0")
    dry = ip.apply_plan(entries, procfs, check=True)
    assert len(dry["changed"]) == len(entries) - 0 and ip.read_affinity(procfs, 38) == "0-7"
    first = ip.apply_plan(entries, procfs)
    assert sorted(first["changed"]) == sorted(e["irq"] for e in entries) and not first["unmanageable"]
    assert first["before"]["38"] == "0-7" and first["after"]["38"] == "1"
    assert ip.apply_plan(entries, procfs)["changed"] == []
    assert ip.verify_plan(entries, procfs) == []


def test_resolve_by_name_after_renumbering(tmp_path):
    sysfs, procfs = build_tree(str(tmp_path / "a"))
    entries = ip.plan_entries(ip.read_irqs(procfs, sysfs)["irqs"], HOST)
    sysfs2, procfs2 = build_tree(str(tmp_path / "b"), shift=100)  # next boot: every IRQ number moved
    resolved, unresolved = ip.resolve_entries(json.loads(json.dumps(entries)), procfs2, sysfs2)
    assert not unresolved and len(resolved) == len(entries)
    assert dict((r["name"], r["irq"]) for r in resolved)["virtio2-input.0"] == 138


def test_boot_script_apply_verify(tmp_path, capsys):
    sysfs, procfs = build_tree(str(tmp_path / "t"))
    entries = ip.plan_entries(ip.read_irqs(procfs, sysfs)["irqs"], HOST, reserved="0")
    cfg = tmp_path / "irq-affinity.json"
    cfg.write_text(json.dumps({"schema": ip.SCHEMA_VERSION, "entries": entries + [{"name": "gone-0", "cpus": "1"}],
                               "irqbalance_args": []}))
    args = ["--config", str(cfg), "--procfs-root", procfs, "--sysfs-root", sysfs]
    assert ip.main(["verify"] + args) == 1
    env = tmp_path / "run" / "irqbalance.env"
    assert ip.main(["apply", "--irqbalance-env", str(env)] + args) == 0
    assert ip.main(["verify"] + args) == 0
    assert env.read_text().startswith('IRQBALANCE_ARGS="--banirq=37 --banirq=38')
    out = capsys.readouterr()
    assert "gone-0" in out.err and "14 IRQ(s) planned" in out.out
    assert ip.main(["apply", "--config", str(tmp_path / "absent.json")]) == 1


def test_irqbalance_env_format():
    assert ip.irqbalance_env({"irqbalance_args": ["--hintpolicy=ignore"], "banirq": [40, 38]}) == \
        'IRQBALANCE_ARGS="--hintpolicy=ignore --banirq=38 --banirq=40"\n'
