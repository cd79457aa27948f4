# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filters for the ceph role (docs: the .yml sidecars, docs/ceph.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils.ceph_plan import CephPlanError, plan_cluster


def _hv(hosts):
    out = []
    for hv in hosts or []:
        if not isinstance(hv, Mapping):
            raise AnsibleFilterError("ceph_plan takes host variables (groups[g] | map('extract', hostvars)), got %r"
                                     % type(hv).__name__)
        out.append(hv)
    return out


def ceph_plan(mon_hostvars, osd_hostvars=None, public_network="", cluster_network="", pool_size=3, pool_min_size=2,
              lab=False):
    """The cluster plan (module_utils/ceph_plan.plan_cluster) from the monitors' and OSD hosts' variables."""
    mons = [{"name": hv.get("inventory_hostname"), "addr": hv.get("ceph_mon_address") or hv.get("ansible_host")}
            for hv in _hv(mon_hostvars)]
    osd_hosts, osd_count = [], 0
    for hv in _hv(osd_hostvars):
        devices = list(hv.get("ceph_osd_devices") or [])
        if devices:
            osd_hosts.append(hv.get("inventory_hostname"))
            osd_count += len(devices)
    try:
        plan = plan_cluster(mons, public_network, cluster_network, osd_hosts, pool_size, pool_min_size, bool(lab))
    except CephPlanError as exc:
        raise AnsibleFilterError("Ceph plan refused:\n  - " + "\n  - ".join(exc.problems))
    plan["osd_count"] = osd_count
    return plan


class FilterModule(object):
    def filters(self):
        return {"ceph_plan": ceph_plan}
