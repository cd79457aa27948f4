# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filter for the rolling reboot layer (docs: the .yml sidecar, docs/operations.md "Rolling reboots")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.llmfleet.baremetal.plugins.module_utils.reboot_plan import (
    RebootPlanError, describe, plan_reboots)
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.filter_errors import named_filters
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.plain import plain


def reboot_plan(pending, serial, apart=None, order=None):
    """Batches of the hosts that need a reboot (module_utils/reboot_plan.plan_reboots), with a line per batch."""
    plan = plan_reboots(plain(pending), plain(serial), plain(apart or []), None if order is None else plain(order))
    plan["lines"] = describe(plan)
    return plan


class FilterModule(object):
    def filters(self):
        return named_filters({"reboot_plan": reboot_plan}, RebootPlanError)
