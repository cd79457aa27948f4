# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filter for the reboot layer (docs: the .yml sidecar, docs/operations.md "Rolling reboots")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils.reboot_plan import (
    RebootPlanError, describe, plan_reboots)


def reboot_plan(pending, serial, apart=None, order=None):
    """Batches of the hosts that need a reboot (module_utils/reboot_plan.plan_reboots), with a line per batch."""
    try:
        plan = plan_reboots(pending, serial, apart or [], order)
    except RebootPlanError as exc:
        raise AnsibleFilterError("reboot plan refused: %s" % exc)
    plan["lines"] = describe(plan)
    return plan


class FilterModule(object):
    def filters(self):
        return {"reboot_plan": reboot_plan}
