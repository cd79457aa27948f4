# -*- coding: utf-8 -*-
# Copyright: (c) 2026, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filters of the monitoring layer: Alertmanager from the inventory (module_utils/alertmanager), the alert
rules' ``for:`` overrides, the model-server scrape targets (docs: the .yml sidecars, docs/monitoring.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import json
import os
from collections.abc import Mapping

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


def alert_rules_override(rules, overrides=None):
    """A Prometheus rule file with the ``for:`` of the named alerts replaced (``{alert: duration}``)."""
    if not isinstance(rules, Mapping) or not isinstance(rules.get("groups"), list):
        raise AnsibleFilterError("alert_rules_override takes a Prometheus rule file (a dict with groups), got %r"
                                 % type(rules).__name__)
    overrides = dict(overrides or {})
    out = copy.deepcopy(dict(rules))
    for group in out["groups"]:
        for rule in group.get("rules") or []:
            if isinstance(rule, dict) and rule.get("alert") in overrides:
                rule["for"] = str(overrides[rule["alert"]])
    return out


def model_server_targets(host, this_run=None, remote_results=None, previous=None, address=None, drained=False):
    """The enabled model-server scrape targets of one GPU node, from the best source there is.

    ``this_run``: the node's ``llmfleet_model_servers`` fact when the serving play ran on it in this run;
    ``remote_results``: the monitoring server's slurp results of ``/etc/llmfleet/model-servers.json`` (looked up
    by ``item``); ``previous``: the targets the monitoring server kept from its last run.  A node that cannot be
    read now (down, unreachable) keeps its previous targets, so that ModelServerDown fires for it instead of its
    targets silently vanishing from Prometheus.  Each target gets ``host`` and ``address``.  ``drained``: also the
    instances stopped for a failed burn-in (the gateway keeps their models known, routes nothing to them).
    """
    if this_run is not None:
        source = this_run
    else:
        read = [r for r in (remote_results or []) if isinstance(r, Mapping) and r.get("item") == host
                and r.get("content") and not r.get("unreachable")]
        if read:
            try:
                source = json.loads(base64.b64decode(read[0]["content"]).decode("utf-8")).get("instances") or []
            except (ValueError, TypeError, AttributeError) as exc:
                raise AnsibleFilterError("%s: /etc/llmfleet/model-servers.json is not valid JSON: %s" % (host, exc))
        else:
            return [dict(t) for t in (previous or []) if isinstance(t, Mapping) and t.get("host") == host]
    if not isinstance(source, (list, tuple)):
        raise AnsibleFilterError("%s: model servers must be a list, got %s" % (host, type(source).__name__))
    # a group's workers answer no HTTP (their leader's probe covers the group): no scrape target of their own
    # an instance bound to one address is reached there; a wildcard one on the node's inventory address
    wildcard = ("0.0.0.0", "::", "127.0.0.1")
    return [dict(inst, host=host,
                 address=inst["listen"] if str(inst.get("listen") or "0.0.0.0") not in wildcard else (address or host))
            for inst in source
            if isinstance(inst, Mapping) and (inst.get("enabled") or (drained and inst.get("drained")))
            and inst.get("health_path", "/") is not None]


class FilterModule(object):
    def filters(self):
        return {
            "alertmanager_config": alertmanager_config,
            "alert_rules_override": alert_rules_override,
            "model_server_targets": model_server_targets,
        }
