# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/host_probe.py over fake /sys and /proc trees built in tmp_path."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODULE_PATH = os.path.join(REPO, "plugins", "module_utils", "host_probe.py")
H200_HOST = os.path.join(REPO, "tests", "fixtures", "gpu", "h200x2", "host.json")


def _load():
    # by file path, the way the llmfleet CLI loads it: proves it is self-contained
    spec = importlib.util.spec_from_file_location("host_probe_under_test", MODULE_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


hp = _load()


def _w(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text + "\n")


def build_tree(root, smt=True, smt_active_file=True, iommu=True, cmdline_extra="", nvidia="open"):
    """2 sockets x 2 cores (x2 threads with SMT), 2 NUMA nodes, a NIC on each node, a virtual veth,
    an RDMA device (mlx5_0, NUMA node 1) with its netdev, IOMMU groups."""
    sysfs = os.path.join(str(root), "sys")
    procfs = os.path.join(str(root), "proc")
    threads = 2 if smt else 1
    ncpu = 4 * threads
    cpu = os.path.join(sysfs, "devices", "system", "cpu")
    _w(os.path.join(cpu, "online"), "0-%d" % (ncpu - 1))
    _w(os.path.join(cpu, "present"), "0-%d" % (ncpu - 1))
    if smt_active_file:
        _w(os.path.join(cpu, "smt", "active"), "1" if smt else "0")
        _w(os.path.join(cpu, "smt", "control"), "on" if smt else "off")
    # Linux numbering: cpus 0-3 are the first threads of cores 0..3, 4-7 their siblings
    for c in range(ncpu):
        core = c % 4
        pkg = core // 2
        sib = "%d,%d" % (core, core + 4) if smt else str(core)
        topo = os.path.join(cpu, "cpu%d" % c, "topology")
        _w(os.path.join(topo, "physical_package_id"), str(pkg))
        _w(os.path.join(topo, "core_id"), str(core % 2))
        _w(os.path.join(topo, "thread_siblings_list"), sib)
    node = os.path.join(sysfs, "devices", "system", "node")
    _w(os.path.join(node, "online"), "0-1")
    for n in (0, 1):
        cpus = [n * 2, n * 2 + 1] + ([n * 2 + 4, n * 2 + 5] if smt else [])
        _w(os.path.join(node, "node%d" % n, "cpulist"), hp.format_cpulist(cpus))
        _w(os.path.join(node, "node%d" % n, "meminfo"),
           "Node %d MemTotal:       65536000 kB\nNode %d MemFree:        60000000 kB\nNode %d MemUsed: 1 kB" % (n, n, n))
        _w(os.path.join(node, "node%d" % n, "distance"), "10 21" if n == 0 else "21 10")
    # PCI devices: NIC 0 on node 0 behind a root port, NIC 1 + RDMA on node 1
    pci0 = os.path.join(sysfs, "devices", "pci0000:00", "0000:00:01.0", "0000:01:00.0")
    pci1 = os.path.join(sysfs, "devices", "pci0000:80", "0000:80:01.0", "0000:81:00.0")
    for dev, numa in ((pci0, 0), (pci1, 1)):
        _w(os.path.join(dev, "numa_node"), str(numa))
        os.makedirs(os.path.join(sysfs, "bus", "pci", "drivers", "mlx5_core"), exist_ok=True)
        os.symlink(os.path.join(sysfs, "bus", "pci", "drivers", "mlx5_core"), os.path.join(dev, "driver"))
    net = os.path.join(sysfs, "class", "net")
    for name, dev, speed, ltype in (("ens1f0", pci0, "100000", "1"), ("ens2f0", pci1, "400000", "1")):
        d = os.path.join(net, name)
        _w(os.path.join(d, "type"), ltype)
        _w(os.path.join(d, "mtu"), "9000")
        _w(os.path.join(d, "speed"), speed)
        _w(os.path.join(d, "operstate"), "up")
        _w(os.path.join(d, "address"), "aa:bb:cc:dd:ee:%02d" % len(name))
        os.symlink(dev, os.path.join(d, "device"))
    os.makedirs(os.path.join(pci1, "net", "ens2f0"))
    for name in ("lo", "veth0"):
        d = os.path.join(net, name)
        _w(os.path.join(d, "type"), "772" if name == "lo" else "1")
        _w(os.path.join(d, "mtu"), "1500")
        _w(os.path.join(d, "speed"), "10000")
    ib = os.path.join(sysfs, "class", "infiniband", "mlx5_0")
    os.makedirs(ib)
    os.symlink(pci1, os.path.join(ib, "device"))
    _w(os.path.join(ib, "node_type"), "1: CA")
    _w(os.path.join(ib, "fw_ver"), "28.39.1002")
    port = os.path.join(ib, "ports", "1")
    _w(os.path.join(port, "state"), "4: ACTIVE")
    _w(os.path.join(port, "phys_state"), "5: LinkUp")
    _w(os.path.join(port, "link_layer"), "InfiniBand")
    _w(os.path.join(port, "rate"), "400 Gb/sec (4X NDR)")
    for g in range(3):
        _w(os.path.join(port, "gids", str(g)), "fe80:0000:0000:0000:0000:0000:0000:000%d" % g)
    os.makedirs(os.path.join(sysfs, "class", "iommu", "dmar0") if iommu else os.path.join(sysfs, "class", "iommu"))
    for g in range(4 if iommu else 0):
        os.makedirs(os.path.join(sysfs, "kernel", "iommu_groups", str(g)))
    # NVIDIA functions on the PCI bus: 2 GPUs (one without a driver), an NVSwitch, a GPU audio function
    pcidevs = os.path.join(sysfs, "bus", "pci", "devices")
    for addr, klass, numa, drv in (("0000:1b:00.0", "0x030200", 0, "nvidia"), ("0000:9a:00.0", "0x030200", 1, None),
                                   ("0000:05:00.0", "0x068000", 0, None), ("0000:1b:00.1", "0x040300", 0, None)):
        d = os.path.join(pcidevs, addr)
        _w(os.path.join(d, "vendor"), "0x10de")
        _w(os.path.join(d, "device"), "0x2330")
        _w(os.path.join(d, "class"), klass)
        _w(os.path.join(d, "numa_node"), str(numa))
        _w(os.path.join(d, "current_link_speed"), "32.0 GT/s PCIe")
        _w(os.path.join(d, "current_link_width"), "16")
        _w(os.path.join(d, "max_link_speed"), "32.0 GT/s PCIe")
        _w(os.path.join(d, "max_link_width"), "16")
        if drv:
            os.makedirs(os.path.join(sysfs, "bus", "pci", "drivers", drv), exist_ok=True)
            os.symlink(os.path.join(sysfs, "bus", "pci", "drivers", drv), os.path.join(d, "driver"))
    if nvidia:
        _w(os.path.join(procfs, "driver", "nvidia", "version"),
           "NVRM version: NVIDIA UNIX %sx86_64 Kernel Module  580.95.05  Tue Sep 30 2025\nGCC version: gcc 12"
           % ("Open Kernel Module for " if nvidia == "open" else ""))
    cpuinfo = []
    for c in range(ncpu):
        core = c % 4
        cpuinfo.append("processor\t: %d\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
                       "physical id\t: %d\ncore id\t\t: %d\n" % (c, core // 2, core % 2))
    _w(os.path.join(procfs, "cpuinfo"), "\n".join(cpuinfo))
    _w(os.path.join(procfs, "meminfo"), "MemTotal:       131072000 kB\nMemAvailable:   120000000 kB\n"
       "HugePages_Total:       0\nHugePages_Free:        0\nHugepagesize:       2048 kB")
    _w(os.path.join(procfs, "cmdline"), "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet " + cmdline_extra)
    _w(os.path.join(procfs, "sys", "kernel", "osrelease"), "6.1.0-28-amd64")
    _w(os.path.join(procfs, "sys", "kernel", "version"), "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1")
    return sysfs, procfs


# --------------------------------------------------------------------------- cpulists

@pytest.mark.parametrize("text,cpus", [
    ("0-3,8", [0, 1, 2, 3, 8]),
    ("0", [0]),
    ("", []),
    ("0-1,4-5", [0, 1, 4, 5]),
    (" 2,0-1 \n", [0, 1, 2]),
    ("0-10:4", [0, 4, 8]),
])
def test_parse_cpulist(text, cpus):
    assert hp.parse_cpulist(text) == cpus


@pytest.mark.parametrize("cpus,text", [
    ([0, 1, 2, 3, 8], "0-3,8"),
    ([], ""),
    ([5], "5"),
    ([3, 1, 2, 2, 7], "1-3,7"),
])
def test_format_cpulist(cpus, text):
    assert hp.format_cpulist(cpus) == text
    assert hp.parse_cpulist(hp.format_cpulist(cpus)) == sorted(set(cpus))


@pytest.mark.parametrize("bad", ["a-b", "3-1", "1,x"])
def test_parse_cpulist_rejects_garbage(bad):
    with pytest.raises(ValueError):
        hp.parse_cpulist(bad)


def test_parse_cmdline_stops_at_double_dash():
    got = hp.parse_cmdline("ro quiet intel_iommu=on iommu=pt -- --init-arg=1")
    assert got == {"ro": True, "quiet": True, "intel_iommu": "on", "iommu": "pt"}


# --------------------------------------------------------------------------- fake trees

def test_two_numa_nodes_smt_on(tmp_path):
    sysfs, procfs = build_tree(tmp_path, smt=True)
    h = hp.collect_host(sysfs, procfs)
    assert h["schema"] == "llmfleet.host_probe/v1"
    assert h["kernel"]["release"] == "6.1.0-28-amd64"
    cpu = h["cpu"]
    assert cpu["model"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert (cpu["sockets"], cpu["cores"], cpu["logical_cpus"], cpu["threads_per_core"]) == (2, 4, 8, 2)
    assert cpu["smt"] == {"active": True, "control": "on", "source": "smt/active"}
    numa = h["numa"]
    assert numa["available"] and numa["node_count"] == 2
    assert [n["cpulist"] for n in numa["nodes"]] == ["0-1,4-5", "2-3,6-7"]
    assert numa["nodes"][1]["memory_total_kib"] == 65536000
    assert numa["nodes"][0]["distance"] == [10, 21]
    assert h["memory"]["total_kib"] == 131072000
    assert h["missing"] == [] and h["errors"] == []


def test_smt_off_from_thread_siblings_when_smt_file_missing(tmp_path):
    sysfs, procfs = build_tree(tmp_path, smt=False, smt_active_file=False)
    cpu = hp.collect_host(sysfs, procfs)["cpu"]
    assert cpu["smt"]["active"] is False
    assert cpu["smt"]["source"] == "thread_siblings_list"
    assert (cpu["cores"], cpu["logical_cpus"], cpu["threads_per_core"]) == (4, 4, 1)


def test_smt_on_from_thread_siblings(tmp_path):
    sysfs, procfs = build_tree(tmp_path, smt=True, smt_active_file=False)
    assert hp.collect_host(sysfs, procfs)["cpu"]["smt"] == {
        "active": True, "control": None, "source": "thread_siblings_list"}


def test_nics_physical_virtual_numa_and_rdma_link(tmp_path):
    sysfs, procfs = build_tree(tmp_path)
    nics = dict((n["name"], n) for n in hp.collect_host(sysfs, procfs)["nics"])
    assert "lo" not in nics
    assert set(nics) == {"ens1f0", "ens2f0", "veth0"}
    e0, e1, veth = nics["ens1f0"], nics["ens2f0"], nics["veth0"]
    assert e0["physical"] and e0["numa_node"] == 0 and e0["pci_bus_id"] == "0000:01:00.0"
    assert e0["pci_path"] == ["0000:00:01.0", "0000:01:00.0"]
    assert (e0["link_layer"], e0["speed_mbps"], e0["mtu"], e0["driver"]) == ("ethernet", 100000, 9000, "mlx5_core")
    assert e1["numa_node"] == 1 and e1["pci_bus_id"] == "0000:81:00.0" and e1["rdma_device"] == "mlx5_0"
    assert not veth["physical"] and veth["kind"] == "virtual" and veth["numa_node"] is None
    assert veth["speed_mbps"] is None and veth["pci_bus_id"] is None


def test_rdma_device_ports(tmp_path):
    sysfs, procfs = build_tree(tmp_path)
    rdma = hp.collect_host(sysfs, procfs)["rdma"]
    assert len(rdma) == 1
    dev = rdma[0]
    assert (dev["name"], dev["pci_bus_id"], dev["numa_node"], dev["netdevs"]) == (
        "mlx5_0", "0000:81:00.0", 1, ["ens2f0"])
    assert dev["fw_ver"] == "28.39.1002"
    assert dev["ports"] == [{"port": 1, "state": "4: ACTIVE", "phys_state": "5: LinkUp", "link_layer": "InfiniBand",
                             "rate": "400 Gb/sec (4X NDR)", "rate_gbps": 400.0, "gid_count": 3}]


def test_iommu_and_nvidia_driver(tmp_path):
    sysfs, procfs = build_tree(tmp_path, cmdline_extra="intel_iommu=on iommu=pt", nvidia="open")
    h = hp.collect_host(sysfs, procfs)
    assert h["iommu"] == {"enabled": True, "mode": "passthrough", "devices": ["dmar0"], "group_count": 4,
                          "cmdline": {"intel_iommu": "on", "iommu": "pt"}}
    assert h["nvidia_driver"] == {"loaded": True, "version": "580.95.05", "flavor": "open"}
    assert "intel_iommu=on" in h["boot_cmdline"]


def test_iommu_off_and_proprietary(tmp_path):
    sysfs, procfs = build_tree(tmp_path, iommu=False, cmdline_extra="intel_iommu=off", nvidia="proprietary")
    h = hp.collect_host(sysfs, procfs)
    assert h["iommu"]["enabled"] is False and h["iommu"]["mode"] == "off"
    assert h["nvidia_driver"]["flavor"] == "proprietary"


def test_nvidia_pci_devices_without_driver(tmp_path):
    sysfs, procfs = build_tree(tmp_path)
    got = hp.collect_host(sysfs, procfs)["nvidia_pci"]
    assert [(d["pci_bus_id"], d["kind"], d["numa_node"], d["driver"]) for d in got] == [
        ("0000:05:00.0", "nvswitch", 0, None), ("0000:1b:00.0", "gpu", 0, "nvidia"), ("0000:9a:00.0", "gpu", 1, None)]
    assert got[1]["current_link_width"] == 16 and got[1]["max_link_speed"] == "32.0 GT/s PCIe"


def test_empty_tree_never_crashes_and_records_missing(tmp_path):
    h = hp.collect_host(str(tmp_path / "sys"), str(tmp_path / "proc"))
    assert h["numa"] == {"available": False, "node_count": 0, "online": None, "nodes": []}
    assert h["nics"] == [] and h["rdma"] == []
    assert h["iommu"]["enabled"] is None
    assert h["nvidia_driver"] == {"loaded": False, "version": None, "flavor": None}
    assert h["nvidia_pci"] == []
    missing = h["missing"]
    for rel in ("sys/class/net", "sys/class/infiniband", "sys/devices/system/node", "sys/class/iommu",
                "proc/cmdline", "proc/cpuinfo"):
        assert str(tmp_path / rel) in missing, rel
    json.dumps(h)  # serialisable


def test_unreadable_value_is_an_error_not_a_crash(tmp_path):
    sysfs, procfs = build_tree(tmp_path)
    _w(os.path.join(sysfs, "devices", "system", "node", "node1", "cpulist"), "garbage")
    h = hp.collect_host(sysfs, procfs)
    assert h["numa"]["nodes"][1]["cpus"] == []
    assert any("cpulist" in e["path"] for e in h["errors"])


def test_live_probe_of_this_machine():
    h = hp.collect_host()
    assert h["cpu"]["logical_cpus"] >= 1
    assert isinstance(h["missing"], list)


def test_script_writes_json(tmp_path):
    out = tmp_path / "host.json"
    sysfs, procfs = build_tree(tmp_path)
    subprocess.run([sys.executable, MODULE_PATH, "-o", str(out), "--sysfs-root", sysfs, "--procfs-root", procfs],
                   check=True, capture_output=True)
    data = json.loads(out.read_text())
    assert data["numa"]["node_count"] == 2


def test_recorded_h200x2_host_fixture():
    with open(H200_HOST) as handle:
        h = json.load(handle)
    assert h["schema"] == hp.SCHEMA_VERSION
    assert h["cpu"]["logical_cpus"] == 32 and h["numa"]["node_count"] == 1
    assert h["nvidia_driver"] == {"loaded": True, "version": "580.159.04", "flavor": "open"}
    assert [n["name"] for n in h["nics"] if n["physical"]] == ["eth0"]
