# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU group -> NUMA placement (CPUs, memory nodes, systemd settings).

Pure Python, no Ansible imports.  Inputs are the documented schemas
``llmfleet.host_probe/v1`` (host_probe.py) and ``llmfleet.gpu_snapshot/v1``
(nvml_snapshot.py); GPU groups default to the NVLink islands of
``topology.gpu_groups``.  Reference: docs/tuning-numa-irq.md.

Every error is a :class:`PlacementError` whose message names the host and the
variable that holds the bad value, so a role can show it as is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.llmfleet.baremetal.plugins.module_utils.host_probe import (
    format_cpulist, parse_cpulist)
from ansible_collections.llmfleet.baremetal.plugins.module_utils.topology import gpu_groups

__all__ = [
    "SCHEMA_VERSION", "PlacementError", "SMT_MODES", "SPLIT_MODES", "POLICIES", "checked_cpulist", "host_cpus",
    "host_nodes", "numa_summary", "thread_siblings", "reserved_cpus_for", "plan_placement", "placement_document",
    "systemd_numa_settings", "group_name",
]

SCHEMA_VERSION = "llmfleet.placement/v1"
SMT_MODES = ("use", "physical_only")
SPLIT_MODES = ("island", "numa", "gpu")
POLICIES = ("auto", "bind", "interleave", "preferred", "default")


class PlacementError(ValueError):
    """Placement input is malformed or impossible on this host."""


# --------------------------------------------------------------------------- host helpers

def _host_name(host, host_name):
    return host_name or (host or {}).get("hostname") or "unknown host"


def host_nodes(host):
    """``{node: sorted cpus}`` from the probe; a host without NUMA data is one node 0 with all online CPUs."""
    host = host or {}
    nodes = {}
    for n in ((host.get("numa") or {}).get("nodes") or []):
        if not isinstance(n, dict) or not isinstance(n.get("node"), int):
            continue
        cpus = n.get("cpus")
        if not isinstance(cpus, list):
            try:
                cpus = parse_cpulist(n.get("cpulist") or "")
            except ValueError:
                cpus = []
        nodes[n["node"]] = sorted(int(c) for c in cpus)
    if not any(nodes.values()):
        online = (host.get("cpu") or {}).get("online")
        try:
            cpus = parse_cpulist(online) if online else []
        except ValueError:
            cpus = []
        nodes = {0: cpus} if cpus else {}
    return nodes


def host_cpus(host):
    """Every CPU of the host (online list, else the union of the NUMA nodes' CPUs), sorted."""
    out = set()
    for cpus in host_nodes(host).values():
        out.update(cpus)
    online = ((host or {}).get("cpu") or {}).get("online")
    if online:
        try:
            out.update(parse_cpulist(online))
        except ValueError:
            pass
    return sorted(out)


def checked_cpulist(value, host, variable, host_name=None, allow_empty=True):
    """Parse a cpulist from a variable and check every CPU exists on the host.

    Raises PlacementError naming the variable and the host.  Accepts a cpulist string, an int or a list of ints.
    """
    name = _host_name(host, host_name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_empty:
            return []
        raise PlacementError("%s: %s is empty; it must be a cpulist such as '0-3,8'" % (name, variable))
    try:
        if isinstance(value, bool):
            raise ValueError("boolean")
        if isinstance(value, int):
            cpus = [value]
        elif isinstance(value, (list, tuple)):
            cpus = sorted(set(int(c) for c in value))
        else:
            cpus = parse_cpulist(str(value))
        if any(c < 0 for c in cpus):
            raise ValueError("negative CPU")
    except (TypeError, ValueError) as exc:
        raise PlacementError("%s: %s=%r is not a valid cpulist (%s); use the Linux form '0-3,8,10-11'"
                             % (name, variable, value, exc))
    known = set(host_cpus(host))
    if known:
        outside = [c for c in cpus if c not in known]
        if outside:
            raise PlacementError("%s: %s=%r names CPU(s) %s that this host does not have (its CPUs: %s)"
                                 % (name, variable, value, format_cpulist(outside), format_cpulist(known)))
    return cpus


def thread_siblings(host, siblings=None):
    """``{cpu: primary thread}`` from thread_siblings_list strings, else from the x86 enumeration rule.

    ``siblings`` is a list of thread_siblings_list strings (one per core, duplicates allowed), as read from
    /sys/devices/system/cpu/cpu*/topology/thread_siblings_list.  Without them, SMT on x86 numbers the
    first thread of every core first: CPU c and c + cores are siblings (source ``enumeration``).
    Returns ``(mapping, source)``.
    """
    cpus = host_cpus(host)
    primary = dict((c, c) for c in cpus)
    if siblings:
        for text in siblings:
            try:
                group = parse_cpulist(text)
            except ValueError:
                continue
            if group:
                for c in group:
                    primary[c] = group[0]
        return primary, "thread_siblings_list"
    cpu = (host or {}).get("cpu") or {}
    tpc = cpu.get("threads_per_core")
    smt_active = (cpu.get("smt") or {}).get("active")
    if isinstance(tpc, int) and tpc > 1 and smt_active is not False and cpus:
        cores = len(cpus) // tpc
        if cores and len(cpus) == cores * tpc and cpus == list(range(len(cpus))):
            for c in cpus:
                primary[c] = c % cores
            return primary, "enumeration"
    return primary, "none"


def _whole_cores(cpus, primary):
    """cpus plus their SMT siblings."""
    wanted = set(primary.get(c, c) for c in cpus)
    return sorted(c for c, p in primary.items() if p in wanted)


def reserved_cpus_for(host, os_cpus_per_node=1, irq_cpus_per_node=0, siblings=None, host_name=None):
    """Cores to keep away from GPU workers, per NUMA node: the first ``os_cpus_per_node`` cores for the OS,
    the next ``irq_cpus_per_node`` cores for device IRQs (whole cores: SMT siblings included).

    Returns ``{'os': cpulist, 'irq': cpulist, 'all': cpulist}``.
    """
    name = _host_name(host, host_name)
    for var, value in (("numa_os_cpus_per_node", os_cpus_per_node), ("numa_irq_cpus_per_node", irq_cpus_per_node)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PlacementError("%s: %s=%r must be an integer >= 0" % (name, var, value))
    primary = thread_siblings(host, siblings)[0]
    os_set, irq_set = set(), set()
    for node, cpus in sorted(host_nodes(host).items()):
        cores = sorted(set(primary.get(c, c) for c in cpus))
        if os_cpus_per_node + irq_cpus_per_node >= len(cores) and (os_cpus_per_node or irq_cpus_per_node):
            raise PlacementError("%s: reserving %d OS + %d IRQ core(s) per node leaves no core for GPU work on "
                                 "NUMA node %d (%d core(s)); lower numa_os_cpus_per_node / numa_irq_cpus_per_node"
                                 % (name, os_cpus_per_node, irq_cpus_per_node, node, len(cores)))
        os_set.update(_whole_cores(cores[:os_cpus_per_node], primary))
        irq_set.update(_whole_cores(cores[os_cpus_per_node:os_cpus_per_node + irq_cpus_per_node], primary))
    return {"os": format_cpulist(os_set), "irq": format_cpulist(irq_set), "all": format_cpulist(os_set | irq_set)}


# --------------------------------------------------------------------------- groups

def group_name(gpus):
    """``[0, 1, 2, 3]`` -> ``gpu0-3``; ``[0, 2]`` -> ``gpu0_2`` (safe as a file name)."""
    return "gpu" + format_cpulist(gpus).replace(",", "_")


def _gpus(snapshot):
    return [g for g in (snapshot or {}).get("gpus") or []
            if isinstance(g, dict) and isinstance(g.get("index"), int) and not ("error" in g and "name" not in g)]


def _resolve_groups(snapshot, groups, split, name, numa_of):
    known = dict((g["index"], g) for g in _gpus(snapshot))
    islands = [list(i["gpus"]) for i in gpu_groups(snapshot)] if snapshot else []
    island_of = {}
    for n, members in enumerate(islands):
        for i in members:
            island_of[i] = n
    if groups:
        if not isinstance(groups, (list, tuple)):
            raise PlacementError("%s: numa_gpu_groups must be a list of lists of GPU indexes, got %r" % (name, groups))
        out, seen = [], set()
        for grp in groups:
            if isinstance(grp, int) and not isinstance(grp, bool):
                grp = [grp]
            if not isinstance(grp, (list, tuple)) or not grp:
                raise PlacementError("%s: numa_gpu_groups entry %r must be a non-empty list of GPU indexes"
                                     % (name, grp))
            try:
                members = sorted(set(int(i) for i in grp))
            except (TypeError, ValueError):
                raise PlacementError("%s: numa_gpu_groups entry %r holds a non-integer GPU index" % (name, grp))
            if known:
                unknown = [i for i in members if i not in known]
                if unknown:
                    raise PlacementError("%s: numa_gpu_groups entry %r names GPU(s) %s that this host does not have "
                                         "(GPUs: %s)" % (name, list(grp), unknown, sorted(known)))
            dup = [i for i in members if i in seen]
            if dup:
                raise PlacementError("%s: numa_gpu_groups puts GPU(s) %s in more than one group" % (name, dup))
            seen.update(members)
            touched = sorted(set(island_of[i] for i in members if i in island_of))
            if len(touched) > 1 and any(len(islands[t]) > 1 for t in touched):
                raise PlacementError("%s: numa_gpu_groups entry %r spans NVLink islands %s: GPUs of one tensor-"
                                     "parallel group must share an NVLink domain (or all be PCIe-only)"
                                     % (name, list(grp), " and ".join(str(islands[t]) for t in touched)))
            out.append(members)
        return out
    if split == "gpu":
        return [[i] for i in sorted(known)]
    if split == "numa":
        out = []
        for members in islands:
            by_node = {}
            for i in members:
                by_node.setdefault(numa_of(i), []).append(i)
            out.extend(sorted(by_node.values(), key=lambda m: m[0]))
        return sorted(out, key=lambda m: m[0])
    return islands


def _gpu_node(gpu, nodes):
    node = gpu.get("numa_node") if gpu else None
    if isinstance(node, int) and not isinstance(node, bool) and node >= 0 and node in nodes:
        return node
    return None


def plan_placement(host, gpu_snapshot=None, groups=None, reserved_cpus="", smt="use", split="island",
                   siblings=None, host_name=None):
    """Placement of every GPU group on this host.

    Returns a list (sorted by first GPU) of ``{group, gpus, gpu_uuids, numa_nodes, cpus, cpu_count, mem_nodes,
    cross_numa, numa_unknown, interconnect}``:

    * ``numa_nodes``: the NUMA nodes of the group's GPUs; a GPU whose node is unknown (-1 in VMs) makes the
      group fall back to all nodes, flagged ``numa_unknown``.
    * ``cpus``: cpulist of those nodes' CPUs minus ``reserved_cpus`` (and minus second SMT threads with
      ``smt='physical_only'``).
    * ``mem_nodes``: nodes whose memory the group should use (the same nodes).
    * ``cross_numa``: the group spans more than one node.
    """
    name = _host_name(host, host_name)
    if smt not in SMT_MODES:
        raise PlacementError("%s: numa_smt=%r must be one of %s" % (name, smt, ", ".join(SMT_MODES)))
    if split not in SPLIT_MODES:
        raise PlacementError("%s: numa_group_split=%r must be one of %s" % (name, split, ", ".join(SPLIT_MODES)))
    nodes = host_nodes(host)
    if not nodes:
        raise PlacementError("%s: the host probe shows no CPU at all (neither NUMA nodes nor cpu.online); "
                             "run llmfleet.baremetal.host_facts first" % name)
    reserved = set(checked_cpulist(reserved_cpus, host, "numa_reserved_cpus", host_name))
    primary, smt_source = thread_siblings(host, siblings)
    by_index = dict((g["index"], g) for g in _gpus(gpu_snapshot))
    resolved = _resolve_groups(gpu_snapshot, groups, split, name, lambda i: _gpu_node(by_index.get(i), nodes))
    islands = dict((tuple(i["gpus"]), i) for i in gpu_groups(gpu_snapshot)) if gpu_snapshot else {}

    out = []
    for members in resolved:
        gnodes = [_gpu_node(by_index.get(i), nodes) for i in members]
        unknown = any(n is None for n in gnodes)
        use_nodes = sorted(nodes) if unknown else sorted(set(gnodes))
        cpus = set()
        for n in use_nodes:
            cpus.update(nodes[n])
        cpus -= reserved
        if smt == "physical_only":
            cpus = set(c for c in cpus if primary.get(c, c) == c)
        if not cpus:
            raise PlacementError("%s: GPU group %s has no CPU left on NUMA node(s) %s after removing "
                                 "numa_reserved_cpus / OS / IRQ cores (%s)"
                                 % (name, members, use_nodes, format_cpulist(reserved) or "none"))
        island = islands.get(tuple(members))
        if island:
            interconnect = island["interconnect"]
        elif len(members) == 1:
            interconnect = "single"
        else:
            interconnect = "subset"
        out.append({
            "group": group_name(members),
            "gpus": members,
            "gpu_uuids": [(by_index.get(i) or {}).get("uuid") for i in members],
            "gpu_numa_nodes": [n if n is not None else -1 for n in gnodes],
            "numa_nodes": use_nodes,
            "cpus": format_cpulist(cpus),
            "cpu_count": len(cpus),
            "mem_nodes": format_cpulist(use_nodes),
            "cross_numa": len(use_nodes) > 1,
            "numa_unknown": unknown,
            "interconnect": interconnect,
            "smt": smt,
            "smt_source": smt_source,
        })
    return sorted(out, key=lambda e: e["gpus"][0])


def placement_document(host, gpu_snapshot=None, groups=None, reserved_cpus="", os_cpus_per_node=0,
                       irq_cpus_per_node=0, smt="use", split="island", siblings=None, host_name=None):
    """The whole placement of a host (written to /etc/llmfleet/placement.json by the numa role).

    ``{schema, host, smt, split, reserved: {os, irq, extra, all}, nodes: [{node, cpus, mem_nodes, cpu_count}],
    groups: [plan_placement entries], warnings: [...]}``.  ``nodes`` is the per-node CPU set left for
    workloads that are not bound to a GPU group.
    """
    name = _host_name(host, host_name)
    extra = checked_cpulist(reserved_cpus, host, "numa_reserved_cpus", host_name)
    res = reserved_cpus_for(host, os_cpus_per_node, irq_cpus_per_node, siblings, host_name)
    all_reserved = set(extra) | set(parse_cpulist(res["all"]))
    groups_out = plan_placement(host, gpu_snapshot, groups, format_cpulist(all_reserved), smt, split, siblings,
                                host_name)
    primary, smt_source = thread_siblings(host, siblings)
    nodes_out = []
    for node, cpus in sorted(host_nodes(host).items()):
        left = set(cpus) - all_reserved
        if smt == "physical_only":
            left = set(c for c in left if primary.get(c, c) == c)
        nodes_out.append({"node": node, "cpus": format_cpulist(left), "cpu_count": len(left),
                          "mem_nodes": str(node)})
    warnings = []
    for g in groups_out:
        if g["numa_unknown"]:
            warnings.append("%s: GPU(s) %s report no NUMA node (-1, typical in VMs): group %s uses all NUMA nodes "
                            "%s" % (name, g["gpus"], g["group"], g["mem_nodes"]))
        elif g["cross_numa"]:
            warnings.append("%s: group %s spans NUMA nodes %s: CPU and memory traffic crosses the socket "
                            "interconnect (memory policy interleave)" % (name, g["group"], g["mem_nodes"]))
    tpc = ((host or {}).get("cpu") or {}).get("threads_per_core")
    if smt == "physical_only" and smt_source == "none" and isinstance(tpc, int) and tpc > 1:
        warnings.append("%s: numa_smt=physical_only but the SMT siblings are unknown: all threads kept" % name)
    return {
        "schema": SCHEMA_VERSION,
        "host": name,
        "numa": numa_summary(host),
        "smt": smt,
        "smt_source": smt_source,
        "split": "groups" if groups else split,
        "reserved": {"os": res["os"], "irq": res["irq"], "extra": format_cpulist(extra),
                     "all": format_cpulist(all_reserved)},
        "nodes": nodes_out,
        "groups": groups_out,
        "warnings": warnings,
    }


def numa_summary(host):
    """Stable NUMA facts of the probe (no memory counters): ``{available, node_count, nodes, smt_active,
    threads_per_core}``."""
    host = host or {}
    numa = host.get("numa") or {}
    cpu = host.get("cpu") or {}
    nodes = []
    for node, cpus in sorted(host_nodes(host).items()):
        src = [n for n in (numa.get("nodes") or []) if isinstance(n, dict) and n.get("node") == node]
        src = src[0] if src else {}
        # no memory counters: MemTotal moves with memory ballooning / hotplug and would make the files churn
        nodes.append({"node": node, "cpulist": format_cpulist(cpus), "cpu_count": len(cpus), "distance": src.get("distance")})
    return {"available": bool(numa.get("available")), "node_count": len(nodes), "nodes": nodes,
            "smt_active": (cpu.get("smt") or {}).get("active"), "threads_per_core": cpu.get("threads_per_core")}


def systemd_numa_settings(entry, policy="auto"):
    """systemd [Service] settings that confine a unit to a placement entry (or a ``nodes`` entry).

    ``auto``: ``bind`` for a group on one node, ``interleave`` across several.  ``default`` leaves memory
    policy alone (CPUAffinity only).
    """
    if not isinstance(entry, dict) or not entry.get("cpus"):
        raise PlacementError("systemd_numa_settings needs a placement entry with cpus, got %r" % (entry,))
    if policy not in POLICIES:
        raise PlacementError("numa_memory_policy=%r must be one of %s" % (policy, ", ".join(POLICIES)))
    mem = entry.get("mem_nodes")
    mem_nodes = parse_cpulist(mem) if isinstance(mem, str) else sorted(mem or [])
    if policy == "auto":
        policy = "bind" if len(mem_nodes) <= 1 else "interleave"
    if policy == "preferred" and len(mem_nodes) != 1:
        raise PlacementError("numa_memory_policy=preferred needs a group on exactly one NUMA node; group %s uses %s"
                             % (entry.get("group"), format_cpulist(mem_nodes)))
    out = {"CPUAffinity": parse_and_format(entry["cpus"])}
    if policy != "default" and mem_nodes:
        out["NUMAPolicy"] = policy
        out["NUMAMask"] = format_cpulist(mem_nodes)
    return out


def parse_and_format(cpulist):
    """Normalise a cpulist (``'3,0-2'`` -> ``'0-3'``)."""
    try:
        return format_cpulist(parse_cpulist(cpulist))
    except ValueError as exc:
        raise PlacementError("not a valid cpulist %r: %s" % (cpulist, exc))
