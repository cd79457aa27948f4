# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filters that turn every host's pre-flight result into one table (docs: the .yml sidecars,
docs/preflight.md); the logic is module_utils/preflight_report.py and fabric_checks.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible_collections.llmfleet.baremetal.plugins.module_utils.fabric_checks import hca_firmware_mismatch
from ansible_collections.llmfleet.baremetal.plugins.module_utils.preflight_report import (
    PreflightReportError, preflight_table, preflight_violations)
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.filter_errors import named_filters


def hca_firmware_by_host(hostvars, hosts):
    """{board: {fw_ver: [host/device]}} where the RDMA devices of ``hosts`` (their llmfleet_host facts) of one board
    run different firmware (module_utils/fabric_checks.hca_firmware_mismatch)."""
    devices = {}
    for host in hosts or []:
        facts = (hostvars.get(host) or {}).get("ansible_facts") or {}
        devices[host] = [{"device": d.get("name"), "fw_ver": d.get("fw_ver"), "board_id": d.get("board_id")}
                         for d in ((facts.get("llmfleet_host") or {}).get("rdma") or [])
                         if isinstance(d, Mapping) and d.get("name", "").startswith(("mlx", "bnxt", "irdma"))]
    return hca_firmware_mismatch(devices)


class FilterModule(object):
    """Pre-flight report filters."""

    def filters(self):
        return named_filters({
            "preflight_table": preflight_table,
            "preflight_violations": preflight_violations,
            "hca_firmware_mismatch": hca_firmware_by_host,
        }, PreflightReportError)
