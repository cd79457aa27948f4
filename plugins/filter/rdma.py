# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filter planning a host's address on an RDMA fabric (docs: fabric_address.yml, docs/rdma.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils.addr_plan import AddrPlanError, plan_fabric
# the fabric ports and NCCL's IB environment are pure functions of the plans and the rdma_facts (module_utils/rdma.py)
from ansible_collections.llmfleet.baremetal.plugins.module_utils.rdma import (
    GpudirectError, fabric_ports, gpudirect_plan, nccl_ib_env, write_bw_verdict)


def fabric_address(fabric, hosts, host, all_fabrics=None, index=None):
    """``fabric | fabric_address(groups['rdma_nodes'], inventory_hostname, rdma_fabrics)`` -> plan dict."""
    if not isinstance(fabric, Mapping):
        raise AnsibleFilterError("fabric_address: host %r: the input must be a fabric dict {name, cidr, ...}, got %s"
                                 % (host, type(fabric).__name__))
    if isinstance(hosts, str) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("fabric_address: fabric %r, host %r: hosts must be a list of inventory names, got %s"
                                 % (fabric.get("name"), host, type(hosts).__name__))
    fabrics = [dict(f) for f in all_fabrics] if all_fabrics else None
    try:
        return plan_fabric(dict(fabric), list(hosts), host, fabrics, index)
    except AddrPlanError as exc:
        raise AnsibleFilterError("fabric_address: %s" % exc)


def fabric_plans(fabrics, groups, host, default_group="rdma_nodes", interfaces=None, index=None):
    """Plan ``host`` on every fabric of ``rdma_fabrics``; each plan also carries the fabric's host-side settings.

    ``groups``: the ``groups`` magic variable; a fabric's hosts are ``groups[fabric.group | default_group]``.
    ``interfaces``: ``{fabric name: netdev}`` overriding the fabric's ``interface`` for this host.
    """
    if fabrics in (None, ""):
        return []
    if not isinstance(fabrics, (list, tuple)):
        raise AnsibleFilterError("fabric_plans: host %r: rdma_fabrics must be a list of fabric dicts, got %s"
                                 % (host, type(fabrics).__name__))
    if not isinstance(groups, Mapping):
        raise AnsibleFilterError("fabric_plans: host %r: the second argument must be the groups variable" % (host,))
    interfaces = interfaces or {}
    out = []
    for fabric in fabrics:
        if not isinstance(fabric, Mapping):
            raise AnsibleFilterError("fabric_plans: host %r: every fabric must be a dict, got %r" % (host, fabric))
        group = fabric.get("group") or default_group
        if group not in groups:
            raise AnsibleFilterError("fabric_plans: fabric %r, host %r: group %r (the fabric's hosts, in inventory order) "
                                     "is not in the inventory" % (fabric.get("name"), host, group))
        plan = fabric_address(fabric, list(groups[group]), host, fabrics, index)
        interface = interfaces.get(plan["fabric"]) or fabric.get("interface") or ""
        if not interface and not fabric.get("mac"):
            raise AnsibleFilterError("fabric_plans: fabric %r, host %r: no netdev - set the fabric's 'interface' (or 'mac'), "
                                     "or rdma_fabric_interfaces[%r] for this host" % (plan["fabric"], host, plan["fabric"]))
        soft_roce = bool(fabric.get("soft_roce", False))
        if soft_roce and plan["mode"] != "roce":
            raise AnsibleFilterError("fabric_plans: fabric %r, host %r: soft_roce needs mode roce" % (plan["fabric"], host))
        if soft_roce and not interface:
            raise AnsibleFilterError("fabric_plans: fabric %r, host %r: soft_roce needs the netdev name ('interface')"
                                     % (plan["fabric"], host))
        plan.update({
            "group": group,
            "interface": interface,
            "netdev": interface,
            "mac": str(fabric.get("mac") or "").lower(),
            "soft_roce": soft_roce,
            "rxe_device": ("rxe_%s" % interface) if soft_roce else None,
            "rate_gbps": float(fabric.get("rate_gbps") or 0),
            "min_write_bw_gbps": (None if fabric.get("min_write_bw_gbps") in (None, "")
                                  else float(fabric["min_write_bw_gbps"])),
        })
        out.append(plan)
    return out


def rdma_gpudirect_plan(gpu, fabric_ports_=None, driver_version_text="", kernel_release="", proc_modules_text="",
                        mode="auto", host=""):
    """How this host's NICs reach GPU memory (module_utils/rdma.py gpudirect_plan)."""
    try:
        return gpudirect_plan(gpu, fabric_ports_, driver_version_text, kernel_release, proc_modules_text, mode, host)
    except GpudirectError as exc:
        raise AnsibleFilterError(str(exc))


def rdma_write_bw_verdict(measured_gbps, plan, rate_gbps=None, fraction=None, peer=""):
    """``gbps | rdma_write_bw_verdict(plan, port_rate, rdma_verify_min_bw_fraction, peer)`` -> the gate's verdict."""
    if not isinstance(plan, Mapping):
        raise AnsibleFilterError("rdma_write_bw_verdict: the plan must be a fabric plan dict, got %s" % type(plan).__name__)
    kwargs = {} if fraction in (None, "") else {"fraction": fraction}
    return write_bw_verdict(measured_gbps, dict(plan), rate_gbps, peer=str(peer or ""), **kwargs)


class FilterModule(object):
    """llmfleet RDMA fabric filters."""

    def filters(self):
        return {"fabric_address": fabric_address, "fabric_plans": fabric_plans, "fabric_ports": fabric_ports,
                "nccl_ib_env": nccl_ib_env, "rdma_gpudirect_plan": rdma_gpudirect_plan,
                "rdma_write_bw_verdict": rdma_write_bw_verdict}
