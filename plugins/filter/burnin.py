# -*- coding: utf-8 -*-
# Copyright: llmfleet
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters of the burn-in gate (docs: the burnin_*.yml sidecars, docs/burnin.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.llmfleet.baremetal.plugins.module_utils.burnin import (
    BurninError, drain_reason, drained_plan, evaluate_registered, metrics, row_text)
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.filter_errors import named_filters

_FILTERS = {
    "burnin_evaluate": evaluate_registered,
    "burnin_metrics": metrics,
    "burnin_row": row_text,
    "burnin_drain_reason": drain_reason,
    "burnin_drained_plan": drained_plan,
}


class FilterModule(object):
    """Burn-in verdict filters."""

    def filters(self):
        return named_filters(_FILTERS, BurninError)
