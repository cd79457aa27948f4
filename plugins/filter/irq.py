# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filter of the irq_affinity role: the IRQ affinity plan (docs: irq_plan.yml, docs/tuning-numa-irq.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils.irq_plan import IrqPlanError, plan_irq_affinity
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.plain import plain as _plain


def irq_plan(irqs, host, allowed_cpus=None, reserved="", host_name=None, allowed_var="irq_affinity_cpus",
             reserved_var="irq_affinity_reserved_cpus"):
    """{irq: cpulist} from an IRQ list (module_utils/irq_plan.py plan_irq_affinity)."""
    try:
        return plan_irq_affinity(_plain(irqs), _plain(host), _plain(allowed_cpus) or None, _plain(reserved) or "",
                                 host_name and str(host_name), str(allowed_var), str(reserved_var))
    except IrqPlanError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """IRQ affinity filters."""

    def filters(self):
        return {"irq_plan": irq_plan}
