# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filter for the backup role (docs: the .yml sidecar, docs/backup.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.llmfleet.baremetal.plugins.module_utils.backup_plan import plan_backup


def backup_plan(host, roles, **kwargs):
    """The backup plan of one host (module_utils/backup_plan.plan_backup); problems are returned, not raised, so
    that the role's plan task can name every one of them."""
    return plan_backup(host, roles, **kwargs)


class FilterModule(object):
    def filters(self):
        return {"backup_plan": backup_plan}
