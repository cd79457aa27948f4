# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pre-flight topology checks: a declarative expectation vs. a GPU snapshot and a host probe.

Pure Python, no Ansible imports.  Inputs are the documented schemas
``llmfleet.gpu_snapshot/v1`` (nvml_snapshot.py) and ``llmfleet.host_probe/v1``
(host_probe.py); driver / CUDA / cuDNN / kernel-module / Fabric Manager
questions are delegated to ``nvidia_compat.evaluate_stack``.

Every violation is a dict ``{host, gpu, check, expected, found, message}``;
``gpu`` is the GPU index, ``"a-b"`` for a GPU pair, or None for host-wide
checks.  Messages say what to do.  Reference: docs/preflight.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.llmfleet.baremetal.plugins.module_utils.nvidia_compat import (
    CompatError, evaluate_stack, gpu_to_cc, parse_version)
from ansible_collections.llmfleet.baremetal.plugins.module_utils.host_probe import (
    format_cpulist, parse_cpulist)
from ansible_collections.llmfleet.baremetal.plugins.module_utils.fabric_checks import (
    acs_names, gpudirect_rdma, p2p_redirect)

__all__ = [
    "TopologyError", "EXPECT_KEYS", "GPU_KEYS", "validate_expect", "expects_gpus", "evaluate", "check_topology",
    "gpu_groups", "numa_local_cpus",
]


class TopologyError(ValueError):
    """The expectation is malformed (unknown key, wrong type or value)."""


_BOOL_STRINGS = {"true": True, "yes": True, "on": True, "1": True,
                 "false": False, "no": False, "off": False, "0": False}
_NVLINK_WORDS = ("none", "nvswitch", "any")

# key -> kind; the order is the order in docs/preflight.md
EXPECT_KEYS = (
    ("gpu_count", "int"),
    ("gpu_model", "strs"),
    ("min_gpu_memory_mib", "int"),
    ("min_pcie_gen", "int"),
    ("min_pcie_width", "int"),
    ("nvlink", "nvlink"),
    ("ecc", "bool"),
    ("persistence", "bool"),
    ("mig", "bool"),
    ("no_pending_remaps", "bool"),
    ("nic_numa_local", "bool"),
    ("min_driver", "version"),
    ("driver", "version"),
    ("cuda", "version"),
    ("cuda_mode", "str"),
    ("cudnn", "version"),
    ("kernel_module_flavor", "str"),
    ("fabric_manager", "version"),
    ("platform", "str"),
    ("acs_disabled", "bool"),
    ("iommu_passthrough", "bool"),
    ("gpudirect_rdma", "bool"),
)
_KINDS = dict(EXPECT_KEYS)

# Keys that only make sense with GPUs present (gpu_count > 0 counts as well).
GPU_KEYS = ("gpu_model", "min_gpu_memory_mib", "min_pcie_gen", "min_pcie_width", "nvlink", "ecc", "persistence",
            "mig", "no_pending_remaps", "nic_numa_local", "min_driver")


# --------------------------------------------------------------------------- validation

def _as_bool(key, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.strip().lower()]
    raise TopologyError("preflight expectation %s must be true or false, got %r" % (key, value))


def _as_int(key, value):
    if isinstance(value, bool):
        raise TopologyError("preflight expectation %s must be an integer, got %r" % (key, value))
    try:
        out = int(str(value).strip()) if isinstance(value, str) else value
    except ValueError:
        out = None
    if not isinstance(out, int) or out < 0:
        raise TopologyError("preflight expectation %s must be an integer >= 0, got %r" % (key, value))
    return out


def validate_expect(expect):
    """Normalize an expectation dict; raise TopologyError naming any unknown key or bad value."""
    if expect is None:
        return {}
    if not isinstance(expect, dict):
        raise TopologyError("preflight expectation must be a dict, got %s" % type(expect).__name__)
    unknown = sorted(str(k) for k in expect if k not in _KINDS)
    if unknown:
        raise TopologyError("unknown preflight expectation key(s) %s; allowed: %s"
                            % (", ".join(unknown), ", ".join(k for k, dummy in EXPECT_KEYS)))
    out = {}
    for key, value in expect.items():
        if value is None:
            continue  # an explicit null means "no expectation" (lets a host unset a group value)
        kind = _KINDS[key]
        if kind == "int":
            out[key] = _as_int(key, value)
        elif kind == "bool":
            out[key] = _as_bool(key, value)
        elif kind == "strs":
            items = value if isinstance(value, (list, tuple)) else [value]
            if not items or not all(isinstance(i, str) and i.strip() for i in items):
                raise TopologyError("preflight expectation %s must be a GPU name or a list of names, got %r"
                                    % (key, value))
            out[key] = [i.strip() for i in items]
        elif kind == "nvlink":
            if isinstance(value, str) and value.strip().lower() in _NVLINK_WORDS:
                out[key] = value.strip().lower()
            elif isinstance(value, str) and value.strip().isdigit() or isinstance(value, int) \
                    and not isinstance(value, bool):
                n = int(value)
                if n < 1:
                    raise TopologyError("preflight expectation nvlink as a number is the minimum bonded links "
                                        "per GPU pair and must be >= 1 (use 'none' for PCIe only), got %r" % value)
                out[key] = n
            else:
                raise TopologyError("preflight expectation nvlink must be 'none', 'nvswitch', 'any' or the minimum "
                                    "number of bonded links per GPU pair, got %r" % (value,))
        elif kind == "version":
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise TopologyError("preflight expectation %s must be a version string, got %r" % (key, value))
            # floats keep their text (13.0 -> '13.0'); quote versions like '12.10' in YAML
            out[key] = value.strip() if isinstance(value, str) else repr(value) if isinstance(value, float) \
                else str(value)
        else:
            if not isinstance(value, str):
                raise TopologyError("preflight expectation %s must be a string, got %r" % (key, value))
            out[key] = value.strip()
    if out.get("kernel_module_flavor") not in (None, "open", "proprietary"):
        raise TopologyError("preflight expectation kernel_module_flavor must be 'open' or 'proprietary', got %r"
                            % out["kernel_module_flavor"])
    if out.get("cuda_mode") not in (None, "toolkit", "mvc"):
        raise TopologyError("preflight expectation cuda_mode must be 'toolkit' or 'mvc', got %r" % out["cuda_mode"])
    return out


def expects_gpus(expect):
    """True when the (validated) expectation needs GPU data."""
    return bool(expect.get("gpu_count")) or any(k in expect for k in GPU_KEYS if k != "nvlink") or \
        expect.get("nvlink") not in (None, "none")


# --------------------------------------------------------------------------- helpers

def _usable(value):
    return isinstance(value, (int, float, str)) and not isinstance(value, bool) and value != "not_supported"


def _gpu_label(gpu):
    bus = gpu.get("pci_bus_id")
    return "GPU %s (%s)" % (gpu.get("index"), bus) if isinstance(bus, str) else "GPU %s" % gpu.get("index")


def _numa_known(node):
    return isinstance(node, int) and not isinstance(node, bool) and node >= 0


def _gpus(snapshot):
    return [g for g in (snapshot or {}).get("gpus") or [] if isinstance(g, dict)]


class _Collector(object):
    def __init__(self, host_name):
        self.host = host_name
        self.violations = []
        self.warnings = []
        self.checks = []

    def _rec(self, gpu, check, expected, found, message):
        return {"host": self.host, "gpu": gpu, "check": check, "expected": expected, "found": found,
                "message": message}

    def bad(self, gpu, check, expected, found, message):
        self.violations.append(self._rec(gpu, check, expected, found, message))

    def warn(self, gpu, check, expected, found, message):
        self.warnings.append(self._rec(gpu, check, expected, found, message))

    def ran(self, check):
        if check not in self.checks:
            self.checks.append(check)


# --------------------------------------------------------------------------- exported helpers for later roles

def gpu_groups(snapshot):
    """NVLink islands: connected components of GPUs joined by NVLink (direct or through NVSwitch).

    Returns a list sorted by first GPU: ``{gpus: [...], size, interconnect, min_bond_links}`` where
    interconnect is ``nvswitch`` (every pair reaches through a switch), ``nvlink`` (direct links),
    or ``pcie`` (a GPU with no NVLink peer).
    """
    gpus = sorted(g["index"] for g in _gpus(snapshot) if isinstance(g.get("index"), int))
    parent = dict((i, i) for i in gpus)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    bonds = {}
    switched = {}
    for pair in (snapshot or {}).get("pairs") or []:
        a, b = pair.get("gpu_a"), pair.get("gpu_b")
        if a not in parent or b not in parent:
            continue
        nv = pair.get("nvlink") or {}
        bond = nv.get("bond_count") if isinstance(nv.get("bond_count"), int) else 0
        if bond > 0 or nv.get("via_nvswitch"):
            union(a, b)
            bonds[(a, b)] = bond
            switched[(a, b)] = bool(nv.get("via_nvswitch"))
    # GPUs on NVSwitches of the same fabric clique form one island even where pairs are missing.
    cliques = {}
    for g in _gpus(snapshot):
        if isinstance(g.get("index"), int) and isinstance(g.get("nvlink_nvswitch_links"), int) \
                and g["nvlink_nvswitch_links"] > 0:
            fab = g.get("fabric") if isinstance(g.get("fabric"), dict) else {}
            key = (fab.get("cluster_uuid"), fab.get("clique_id"))
            cliques.setdefault(key, []).append(g["index"])
    for members in cliques.values():
        for other in members[1:]:
            union(members[0], other)

    islands = {}
    for i in gpus:
        islands.setdefault(find(i), []).append(i)
    out = []
    for root in sorted(islands):
        members = islands[root]
        inner = [k for k in bonds if k[0] in members and k[1] in members]
        if len(members) == 1:
            kind = "pcie" if not (root in sum(cliques.values(), [])) else "nvswitch"
        elif inner and all(switched[k] for k in inner) or not inner:
            kind = "nvswitch"
        else:
            kind = "nvlink"
        out.append({
            "gpus": members,
            "size": len(members),
            "interconnect": kind,
            "min_bond_links": min(bonds[k] for k in inner) if inner else None,
        })
    return out


def numa_local_cpus(snapshot, host):
    """Per GPU, the CPUs to pin its workers to: ``[{gpu, pci_bus_id, numa_node, cpulist, source}]``.

    source: ``numa_node`` (the GPU's NUMA node's cpulist from the host probe), ``nvml_cpu_affinity``
    (NVML's ideal affinity, intersected with the host's online CPUs) or ``all_online_cpus``.
    """
    host = host or {}
    nodes = dict((n.get("node"), n) for n in ((host.get("numa") or {}).get("nodes") or []) if isinstance(n, dict))
    online_text = (host.get("cpu") or {}).get("online")
    try:
        online = set(parse_cpulist(online_text)) if online_text else set()
    except ValueError:
        online = set()
    out = []
    for g in _gpus(snapshot):
        if "error" in g and "name" not in g:
            continue
        node = g.get("numa_node")
        entry = {"gpu": g.get("index"), "pci_bus_id": g.get("pci_bus_id"),
                 "numa_node": node if isinstance(node, int) else None, "cpulist": None, "source": None}
        if _numa_known(node) and node in nodes and nodes[node].get("cpulist"):
            entry["cpulist"], entry["source"] = nodes[node]["cpulist"], "numa_node"
        elif isinstance(g.get("cpu_affinity"), str) and g["cpu_affinity"]:
            try:
                cpus = set(parse_cpulist(g["cpu_affinity"]))
            except ValueError:
                cpus = set()
            if online and cpus & online:
                cpus &= online
            if cpus:
                entry["cpulist"], entry["source"] = format_cpulist(cpus), "nvml_cpu_affinity"
        if entry["cpulist"] is None and online:
            entry["cpulist"], entry["source"] = format_cpulist(online), "all_online_cpus"
        out.append(entry)
    return out


# --------------------------------------------------------------------------- checks

def _check_gpu(c, e, g):
    idx = g.get("index")
    label = _gpu_label(g)

    if "gpu_model" in e:
        c.ran("gpu_model")
        name = g.get("name")
        if not (isinstance(name, str) and any(m.lower() in name.lower() for m in e["gpu_model"])):
            c.bad(idx, "gpu_model", " or ".join(e["gpu_model"]), name,
                  "%s is %r, the inventory expects %s: fix preflight_expect.gpu_model or move the host to the "
                  "group that matches its hardware" % (label, name, " or ".join(repr(m) for m in e["gpu_model"])))

    if "min_gpu_memory_mib" in e:
        c.ran("min_gpu_memory_mib")
        mib = g.get("memory_total_mib")
        if not isinstance(mib, int) or mib < e["min_gpu_memory_mib"]:
            c.bad(idx, "min_gpu_memory_mib", ">= %d MiB" % e["min_gpu_memory_mib"],
                  "%s MiB" % mib if isinstance(mib, int) else mib,
                  "%s has %s MiB of memory, the inventory needs >= %d MiB: a smaller SKU, or memory retired by "
                  "errors (check `nvidia-smi -q -d MEMORY,ROW_REMAPPER -i %s`)"
                  % (label, mib, e["min_gpu_memory_mib"], idx))

    if "min_pcie_gen" in e:
        c.ran("min_pcie_gen")
        gen = g.get("pcie_max_generation")
        if not isinstance(gen, int) or isinstance(gen, bool):
            c.warn(idx, "min_pcie_gen", ">= Gen%d" % e["min_pcie_gen"], gen,
                   "%s: PCIe generation unreadable (%r); not checked" % (label, gen))
        elif gen < e["min_pcie_gen"]:
            c.bad(idx, "min_pcie_gen", ">= Gen%d" % e["min_pcie_gen"], "Gen%d" % gen,
                  "%s links at most at PCIe Gen%d, expected >= Gen%d: check the slot/riser and the BIOS PCIe "
                  "speed setting (`nvidia-smi -q -d PCIE -i %s`)" % (label, gen, e["min_pcie_gen"], idx))

    if "min_pcie_width" in e:
        c.ran("min_pcie_width")
        width = g.get("pcie_current_width")
        if not isinstance(width, int) or isinstance(width, bool):
            width = g.get("pcie_max_width")
        if not isinstance(width, int) or isinstance(width, bool):
            c.warn(idx, "min_pcie_width", ">= x%d" % e["min_pcie_width"], width,
                   "%s: PCIe width unreadable (%r); not checked" % (label, width))
        elif width < e["min_pcie_width"]:
            c.bad(idx, "min_pcie_width", ">= x%d" % e["min_pcie_width"], "x%d" % width,
                  "%s runs a x%d PCIe link, expected >= x%d: reseat the GPU / riser cable and check for a "
                  "degraded link in `lspci -vv` (LnkSta)" % (label, width, e["min_pcie_width"]))

    for key, field, pending, on_cmd, what in (
            ("ecc", "ecc_current", "ecc_pending", "-e", "ECC"),
            ("persistence", "persistence_mode", None, "-pm", "persistence mode"),
            ("mig", "mig_current", "mig_pending", "-mig", "MIG mode")):
        if key not in e:
            continue
        c.ran(key)
        want = "enabled" if e[key] else "disabled"
        have = g.get(field)
        if have == want:
            continue
        if have not in ("enabled", "disabled"):
            if e[key]:
                c.bad(idx, key, want, have, "%s: %s is %r (cannot be %s on this GPU?): check `nvidia-smi -q -i %s`"
                      % (label, what, have, want, idx))
            else:
                c.warn(idx, key, want, have, "%s: %s unreadable (%r); treated as %s" % (label, what, have, want))
            continue
        flag = "1" if e[key] else "0"
        if pending and g.get(pending) == want:
            hint = "already pending: reboot (or reset the GPU) to apply"
        elif key == "ecc":
            hint = "%s with `nvidia-smi -i %s -e %s` and reboot" % ("enable" if e[key] else "disable", idx, flag)
        elif key == "persistence":
            hint = "%s with `nvidia-smi -i %s -pm %s` (or the nvidia-persistenced service)" % (
                "enable" if e[key] else "disable", idx, flag)
        else:
            hint = "%s with `nvidia-smi -i %s -mig %s`, then reset the GPU (`nvidia-smi -r -i %s`) or reboot" % (
                "enable" if e[key] else "disable", idx, flag, idx)
        c.bad(idx, key, want, have, "%s: %s %s - %s" % (label, what, have, hint))

    if e.get("no_pending_remaps"):
        c.ran("no_pending_remaps")
        rr = g.get("remapped_rows")
        if not isinstance(rr, dict):
            c.warn(idx, "no_pending_remaps", "no pending remaps", rr,
                   "%s: row remapping not reported (%r); not checked" % (label, rr))
        elif rr.get("failure"):
            c.bad(idx, "no_pending_remaps", "no remapping failure", "remapping failure",
                  "%s: row remapping FAILED (uncorrectable=%s): the GPU has run out of spare rows - drain the host "
                  "and open an RMA" % (label, rr.get("uncorrectable")))
        elif rr.get("pending"):
            c.bad(idx, "no_pending_remaps", "no pending remaps", "remap pending",
                  "%s: a row remap is pending: reset the GPU (`nvidia-smi -r -i %s`) or reboot before use"
                  % (label, idx))


def _check_nvlink(c, e, snapshot, gpus):
    mode = e["nvlink"]
    c.ran("nvlink")
    pairs = [p for p in (snapshot.get("pairs") or []) if isinstance(p, dict)]
    if mode == "nvswitch":
        for g in gpus:
            idx = g.get("index")
            links = g.get("nvlink_nvswitch_links")
            if not isinstance(links, int) or links < 1:
                c.bad(idx, "nvlink", "NVLink to NVSwitch", "%s NVSwitch links" % (links,),
                      "%s has no active NVLink to an NVSwitch: check `nvidia-smi nvlink -s -i %s`, the "
                      "nvidia-fabricmanager service and the baseboard" % (_gpu_label(g), idx))
                continue
            fab = g.get("fabric") if isinstance(g.get("fabric"), dict) else {}
            state = fab.get("state")
            bad_status = state == "completed" and fab.get("status") not in (None, "SUCCESS")
            if state in ("not_started", "in_progress") or bad_status:
                c.bad(idx, "nvlink", "fabric registration completed/SUCCESS",
                      "%s/%s" % (state, fab.get("status")),
                      "%s: NVSwitch fabric registration is %s (status %s): CUDA will not start - start "
                      "nvidia-fabricmanager (same version as the driver) and check "
                      "`nvidia-smi -q -i %s | grep -A3 Fabric`" % (_gpu_label(g), state, fab.get("status"), idx))
    for p in pairs:
        nv = p.get("nvlink") or {}
        pid = "%s-%s" % (p.get("gpu_a"), p.get("gpu_b"))
        bond = nv.get("bond_count") if isinstance(nv.get("bond_count"), int) else 0
        route = nv.get("route") or ("none" if not bond else "?")
        if mode == "none":
            if bond:
                c.bad(pid, "nvlink", "no NVLink (PCIe only)", "NV%d (%s)" % (bond, route),
                      "GPUs %s are NVLink-bonded (NV%d) but the inventory says nvlink: none - set "
                      "preflight_expect.nvlink to 'nvswitch' or %d" % (pid, bond, bond))
        elif mode == "nvswitch":
            if not nv.get("via_nvswitch"):
                c.bad(pid, "nvlink", "via NVSwitch", "NV%d (%s)" % (bond, route),
                      "GPUs %s do not reach each other through an NVSwitch: check `nvidia-smi topo -m` and "
                      "nvidia-fabricmanager" % pid)
        elif mode == "any":
            if not bond:
                c.bad(pid, "nvlink", "NVLink (any)", "PCIe only",
                      "GPUs %s have no NVLink between them: check `nvidia-smi topo -m` / `nvidia-smi nvlink -s` "
                      "(bridges, NVSwitch, fabric manager)" % pid)
        elif bond < mode:
            c.bad(pid, "nvlink", ">= NV%d" % mode, "NV%d (%s)" % (bond, route),
                  "GPUs %s are bonded by %d NVLink(s), the inventory expects >= %d: inactive links - check "
                  "`nvidia-smi nvlink -s` for down links and reseat bridges / check the baseboard" % (pid, bond, mode))


def _nic_candidates(host):
    out = []
    seen = set()
    for dev in (host.get("rdma") or []):
        if isinstance(dev, dict):
            out.append({"name": dev.get("name"), "numa_node": dev.get("numa_node"), "kind": "rdma"})
            for nd in dev.get("netdevs") or []:
                seen.add(nd)
    for nic in (host.get("nics") or []):
        if isinstance(nic, dict) and nic.get("physical") and nic.get("name") not in seen:
            out.append({"name": nic.get("name"), "numa_node": nic.get("numa_node"), "kind": "nic"})
    return out


def _distance(host, a, b):
    for n in ((host.get("numa") or {}).get("nodes") or []):
        if n.get("node") == a and isinstance(n.get("distance"), list) and 0 <= b < len(n["distance"]):
            return n["distance"][b]
    return 10 if a == b else 20


def _check_nic_numa(c, host, gpus):
    c.ran("nic_numa_local")
    cands = _nic_candidates(host)
    for g in gpus:
        idx = g.get("index")
        label = _gpu_label(g)
        node = g.get("numa_node")
        if not _numa_known(node):
            c.warn(idx, "nic_numa_local", "NIC on the GPU's NUMA node", "GPU NUMA node %s (unknown)" % (node,),
                   "%s: NUMA node unknown (%s: no NUMA affinity reported, typical in VMs) - NIC locality not "
                   "checked" % (label, node))
            continue
        if not cands:
            c.bad(idx, "nic_numa_local", "NIC on NUMA node %d" % node, "no physical NIC or RDMA device",
                  "%s is on NUMA node %d but the host shows no physical NIC or RDMA device (/sys/class/net, "
                  "/sys/class/infiniband): check the NIC driver / firmware" % (label, node))
            continue
        known = [n for n in cands if _numa_known(n["numa_node"])]
        if not known:
            c.warn(idx, "nic_numa_local", "NIC on NUMA node %d" % node, "NIC NUMA nodes unknown",
                   "%s: no NIC reports a NUMA node (%s) - locality not checked"
                   % (label, ", ".join("%s=%s" % (n["name"], n["numa_node"]) for n in cands)))
            continue
        local = [n for n in known if n["numa_node"] == node]
        if local:
            continue
        best = min(_distance(host, node, n["numa_node"]) for n in known)
        nearest = [n for n in known if _distance(host, node, n["numa_node"]) == best]
        found = ", ".join("%s (node %d)" % (n["name"], n["numa_node"]) for n in nearest)
        c.bad(idx, "nic_numa_local", "NIC on NUMA node %d" % node, found,
              "%s is on NUMA node %d but its nearest NIC %s is not: GPUDirect RDMA traffic would cross the "
              "socket interconnect - move the NIC or GPU to the same socket, or drop nic_numa_local for this "
              "host" % (label, node, found))


def _check_stack(c, e, snapshot, host, gpus, visible):
    keys = ("driver", "min_driver", "cuda", "cudnn", "kernel_module_flavor", "fabric_manager", "platform")
    if not any(k in e for k in keys):
        return
    installed = snapshot.get("driver_version") if visible and _usable(snapshot.get("driver_version")) else None
    planned = e.get("driver")
    driver = planned or installed
    if planned and installed and planned != installed:
        c.warn(None, "driver", planned, installed,
               "installed driver %s differs from the planned %s: the checks below use the planned driver (the "
               "driver role replaces the installed one)" % (installed, planned))
    if "min_driver" in e:
        c.ran("min_driver")
        if driver is None:
            c.bad(None, "min_driver", ">= %s" % e["min_driver"], None,
                  "no driver installed or planned: set preflight_expect.driver or install the NVIDIA driver")
        else:
            try:
                if parse_version(driver) < parse_version(e["min_driver"]):
                    c.bad(None, "min_driver", ">= %s" % e["min_driver"], driver,
                          "%s driver %s is older than the required %s: install a %s+ driver"
                          % ("planned" if planned else "installed", driver, e["min_driver"],
                             e["min_driver"].split(".")[0]))
            except CompatError as exc:
                c.bad(None, "min_driver", ">= %s" % e["min_driver"], driver, str(exc))

    nvdrv = (host or {}).get("nvidia_driver") or {}
    if e.get("kernel_module_flavor") and nvdrv.get("flavor") and nvdrv["flavor"] != e["kernel_module_flavor"]:
        c.warn(None, "kernel_module_flavor", e["kernel_module_flavor"], nvdrv["flavor"],
               "loaded NVIDIA kernel modules are %s, the plan says %s: the driver role switches flavor"
               % (nvdrv["flavor"], e["kernel_module_flavor"]))

    plan = {}
    if driver is not None:
        plan["driver"] = driver
    for k in ("cuda", "cuda_mode", "cudnn", "kernel_module_flavor", "platform"):
        if k in e:
            plan[k] = e[k]
    if "fabric_manager" in e or "platform" in e:
        plan["nvswitch"] = any(isinstance(g.get("nvlink_nvswitch_links"), int) and g["nvlink_nvswitch_links"] > 0
                               for g in gpus)
        if "fabric_manager" in e:
            plan["fabric_manager"] = e["fabric_manager"]
    archs = []
    for g in gpus:
        name, cc = g.get("name"), g.get("compute_capability")
        item = None
        if isinstance(name, str):
            try:
                gpu_to_cc(name)
                item = name
            except CompatError:
                item = None
        if item is None and _usable(cc):
            item = cc
        if item is not None and item not in archs:
            archs.append(item)
    if archs:
        plan["archs"] = archs
    if set(plan) <= {"driver", "archs"} and "driver" not in e:
        return  # nothing planned beyond what is installed
    c.ran("stack")
    try:
        found = evaluate_stack(plan)
    except CompatError as exc:
        c.bad(None, "expectation", "a valid stack plan", plan, "preflight expectation: %s" % exc)
        return
    for v in found:
        c.bad(None, "stack.%s" % v["component"], v.get("expected"), v.get("found"), v.get("message"))


# --------------------------------------------------------------------------- entry points

def evaluate(expect, gpu_snapshot, host, host_name):
    """Run every check the expectation asks for.

    Returns ``{passed, violations, warnings, checks, gpu_groups, numa_local_cpus, expect}``.
    A malformed expectation is returned as one violation with check ``expectation`` (never raised),
    so a pre-flight table can show it next to the other hosts' results.
    """
    c = _Collector(host_name)
    snapshot = gpu_snapshot if isinstance(gpu_snapshot, dict) else {}
    host = host if isinstance(host, dict) else {}
    try:
        e = validate_expect(expect)
    except TopologyError as exc:
        c.bad(None, "expectation", "valid preflight_expect", expect, str(exc))
        return _result(c, {}, snapshot, host)

    if snapshot.get("source") == "replay":
        rep = snapshot.get("replay_of") or {}
        c.warn(None, "replay", "live NVML data", "replay",
               "GPU data is a REPLAY of %s (recorded on %s at %s), not this host's hardware"
               % (rep.get("file") or "a recorded snapshot", rep.get("hostname"), rep.get("timestamp")))

    gpus = _gpus(snapshot)
    visible = bool(snapshot.get("nvml_available"))
    if expects_gpus(e) and not visible:
        c.ran("gpu_visible")
        reason = snapshot.get("reason") or ("GPU facts were not gathered on this host" if not snapshot
                                            else "NVML unavailable")
        pci = [d for d in (host.get("nvidia_pci") or []) if isinstance(d, dict) and d.get("kind") == "gpu"]
        found = "no GPU visible"
        if pci:
            found += " (%d NVIDIA GPU(s) on PCI)" % len(pci)
            reason += "; the PCI bus shows %d NVIDIA GPU(s) (%s), driver bound: %s" % (
                len(pci), ", ".join(d.get("pci_bus_id") or "?" for d in pci[:8]) + (", ..." if len(pci) > 8 else ""),
                ", ".join(sorted(set(str(d.get("driver")) for d in pci))))
        c.bad(None, "gpu_visible", "%s GPU(s)" % e.get("gpu_count", ">= 1"), found, "no GPU visible: %s" % reason)
    elif visible:
        if "gpu_count" in e:
            c.ran("gpu_count")
            count = snapshot.get("gpu_count") if isinstance(snapshot.get("gpu_count"), int) else len(gpus)
            if count != e["gpu_count"]:
                c.bad(None, "gpu_count", e["gpu_count"], count,
                      "NVML sees %d GPU(s), the inventory expects %d: check `nvidia-smi -L`, `lspci -d 10de:` and "
                      "dmesg for Xid / fallen-off-the-bus errors, or fix preflight_expect.gpu_count"
                      % (count, e["gpu_count"]))
        for g in gpus:
            if "error" in g and "name" not in g:
                c.bad(g.get("index"), "gpu_handle", "GPU usable", g.get("error"),
                      "GPU %s could not be opened by NVML (%s): check `nvidia-smi -i %s` and dmesg for Xid errors"
                      % (g.get("index"), g.get("error"), g.get("index")))
        healthy = [g for g in gpus if not ("error" in g and "name" not in g)]
        for g in healthy:
            _check_gpu(c, e, g)
        if "nvlink" in e:
            _check_nvlink(c, e, snapshot, healthy)
        if e.get("nic_numa_local"):
            _check_nic_numa(c, host, healthy)
    elif e.get("gpu_count") == 0 and "gpu_count" in e:
        c.ran("gpu_count")
    _check_stack(c, e, snapshot, host, [g for g in gpus if "name" in g], visible)
    _check_fabric(c, e, host)
    return _result(c, e, snapshot, host)


def _check_fabric(c, e, host):
    """PCIe ACS on the bridges above GPUs and RDMA devices, the IOMMU mode, GPUDirect RDMA (issue 22 item 2)."""
    fabric = host.get("fabric") or {}
    if e.get("acs_disabled"):
        c.ran("acs_disabled")
        for b in fabric.get("bridges") or []:
            if b.get("acs_ctl") is None:
                if b.get("config_bytes") is not None and b["config_bytes"] <= 256:
                    c.warn(None, "acs_disabled", "ACS read", "config space not readable past 256 bytes",
                           "bridge %s: its ACS state could not be read (probe not run as root?)" % b["pci_bus_id"])
                continue
            bad = p2p_redirect(acs_names(b.get("acs_cap"), b.get("acs_ctl")))
            if bad:
                c.bad(None, "acs_disabled", "no ACS redirect", "%s: %s" % (b["pci_bus_id"], "+".join(bad)),
                      "PCIe bridge %s above %s redirects peer-to-peer traffic (ACS %s on): GPU-to-GPU and GPUDirect "
                      "RDMA go through the root complex. Turn ACS off for these bridges (BIOS setting, or "
                      "`setpci -s %s ECAP_ACS+0x6.w=0000` at boot) or expect low NCCL bandwidth"
                      % (b["pci_bus_id"], ", ".join(b.get("below") or []), "+".join(bad), b["pci_bus_id"]))
    if e.get("iommu_passthrough"):
        c.ran("iommu_passthrough")
        mode = (host.get("iommu") or {}).get("mode")
        if mode == "translated":
            c.bad(None, "iommu_passthrough", "off or passthrough", mode,
                  "the IOMMU translates every DMA: peer-to-peer between GPUs and NICs fails or slows down. Boot with "
                  "iommu=pt (intel_iommu=on iommu=pt / amd_iommu=on iommu=pt) or switch the IOMMU off")
    if e.get("gpudirect_rdma"):
        c.ran("gpudirect_rdma")
        drv = host.get("nvidia_driver") or {}
        gd = gpudirect_rdma(fabric.get("modules") or [], "Open Kernel Module" if drv.get("flavor") == "open" else "",
                            (host.get("kernel") or {}).get("release"))
        if not gd["available"]:
            c.bad(None, "gpudirect_rdma", "nvidia_peermem loaded or DMA-BUF", "neither",
                  "GPUDirect RDMA is not available: NCCL copies every message through host memory. Load "
                  "nvidia_peermem (modprobe nvidia_peermem; the rdma role does on hosts with GPUs and a fabric) or "
                  "run NVIDIA's open kernel modules on a kernel >= 5.12 (DMA-BUF)")


def _result(c, e, snapshot, host):
    return {
        "passed": not c.violations,
        "violations": c.violations,
        "warnings": c.warnings,
        "checks": c.checks,
        "gpu_groups": gpu_groups(snapshot),
        "numa_local_cpus": numa_local_cpus(snapshot, host),
        "expect": e,
    }


def check_topology(expect, gpu_snapshot, host, host_name):
    """Violations only (see :func:`evaluate`)."""
    return evaluate(expect, gpu_snapshot, host, host_name)["violations"]
