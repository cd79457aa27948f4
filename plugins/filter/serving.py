# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters for model serving and monitoring (docs: the .yml sidecars, docs/serving.md, docs/monitoring.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import json
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils.serving_plan import ServingPlanError, plan_instances


def model_server_instances(snapshot, specs, models, host=None, islands=None, placement=None, engines=None,
                           host_name=None, port_base=8000, listen="0.0.0.0", unit_prefix="llmfleet-model",
                           reserved_cpus="", rdma_gid_index=None, numa_binding="auto", cpu_engines_take_gpus=True):
    """The model-server instances of one host (module_utils/serving_plan.plan_instances)."""
    try:
        return plan_instances(snapshot or {}, specs or [], models or [], host=host or None, islands=islands,
                              placement=placement or None, engines=engines or None, host_name=host_name,
                              port_base=int(port_base), listen=listen, unit_prefix=unit_prefix,
                              reserved_cpus=reserved_cpus or "", rdma_gid_index=rdma_gid_index,
                              numa_binding=numa_binding, cpu_engines_take_gpus=bool(cpu_engines_take_gpus))
    except ServingPlanError as exc:
        raise AnsibleFilterError(str(exc))


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


def model_server_targets(host, this_run=None, remote_results=None, previous=None, address=None):
    """The enabled model-server scrape targets of one GPU node, from the best source there is.

    ``this_run``: the node's ``llmfleet_model_servers`` fact when the serving play ran on it in this run;
    ``remote_results``: the monitoring server's slurp results of ``/etc/llmfleet/model-servers.json`` (looked up
    by ``item``); ``previous``: the targets the monitoring server kept from its last run.  A node that cannot be
    read now (down, unreachable) keeps its previous targets, so that ModelServerDown fires for it instead of its
    targets silently vanishing from Prometheus.  Each target gets ``host`` and ``address``.
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
    return [dict(inst, host=host, address=address or host) for inst in source
            if isinstance(inst, Mapping) and inst.get("enabled")]


class FilterModule(object):
    def filters(self):
        return {
            "model_server_instances": model_server_instances,
            "alert_rules_override": alert_rules_override,
            "model_server_targets": model_server_targets,
        }
