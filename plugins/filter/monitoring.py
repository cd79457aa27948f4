# -*- coding: utf-8 -*-
# Copyright: (c) 2026, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filters around module_utils/alertmanager (docs: the .yml sidecars, docs/monitoring.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils import alertmanager as am
# Ansible's lazy containers and tagged strings as plain Python values (numbers and booleans kept)
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.plain import plain as _plain


def alertmanager_config(receivers, route=None):
    """``{config, files, warnings}`` of Alertmanager from ``monitoring_alert_receivers`` and
    ``monitoring_alert_route``; refuses bad receivers naming the variable and the receiver. Runs on the
    controller, so the receivers' files are checked there."""
    try:
        return am.plan(_plain(receivers or []), _plain(route or {}), exists=os.path.isfile)
    except am.AlertmanagerPlanError as exc:
        raise AnsibleFilterError("Alertmanager plan refused:\n%s" % exc)


class FilterModule(object):
    def filters(self):
        return {"alertmanager_config": alertmanager_config}
