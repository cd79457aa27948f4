# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filter around module_utils/ha_plan (docs: the .yml sidecar, docs/ha.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils.ha_plan import check_plan
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.plain import plain as _plain


def ha_plan_check(plan):
    """Violations, warnings and the STONITH decision for an HA gateway plan."""
    if not isinstance(plan, Mapping):
        raise AnsibleFilterError("ha_plan_check takes a dict, got %s" % type(plan).__name__)
    return check_plan(_plain(plan))


class FilterModule(object):
    def filters(self):
        return {"ha_plan_check": ha_plan_check}
