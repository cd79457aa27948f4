# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters: GPU group -> NUMA placement, systemd settings, cpulist checks (docs: the .yml sidecars,
docs/tuning-numa-irq.md); the IRQ plan is in irq.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils.placement import (
    PlacementError, checked_cpulist, placement_document, systemd_numa_settings as _systemd_numa_settings)
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.plain import plain as _plain


def numa_placement(host, gpu_snapshot=None, groups=None, reserved_cpus="", os_cpus_per_node=0, irq_cpus_per_node=0,
                   smt="use", split="island", siblings=None, host_name=None):
    """Placement document of a host (module_utils/placement.py placement_document)."""
    if not isinstance(host, Mapping):
        raise AnsibleFilterError("numa_placement takes the llmfleet_host probe (a dict), got %s" % type(host).__name__)
    try:
        return placement_document(_plain(host), _plain(gpu_snapshot) or None, _plain(groups) or None,
                                  _plain(reserved_cpus) or "", int(os_cpus_per_node), int(irq_cpus_per_node),
                                  str(smt), str(split), _plain(siblings) or None, host_name and str(host_name))
    except (PlacementError, TypeError) as exc:
        raise AnsibleFilterError(str(exc))


def systemd_numa_settings(entry, policy="auto"):
    """{'CPUAffinity': ..., 'NUMAPolicy': ..., 'NUMAMask': ...} for a placement entry."""
    try:
        return _systemd_numa_settings(_plain(entry), str(policy))
    except PlacementError as exc:
        raise AnsibleFilterError(str(exc))


def cpulist_problems(value, host, variable, host_name=None):
    """[] when value is a valid cpulist of CPUs this host has, else [message naming the variable and host]."""
    try:
        checked_cpulist(_plain(value), _plain(host), str(variable), host_name and str(host_name))
    except PlacementError as exc:
        return [str(exc)]
    return []


class FilterModule(object):
    """NUMA placement filters."""

    def filters(self):
        return {
            "numa_placement": numa_placement,
            "systemd_numa_settings": systemd_numa_settings,
            "cpulist_problems": cpulist_problems,
        }
