# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filters around module_utils/gateway_keys and gateway_plan (docs: the .yml sidecars, docs/gateway.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils import gateway_keys as gk
from ansible_collections.llmfleet.baremetal.plugins.module_utils import gateway_plan as gp
# Ansible's lazy containers and tagged strings as plain Python values (numbers and booleans kept)
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.plain import plain as _plain


def gateway_key_store(keys, served_models=None, min_length=gk.MIN_LENGTH, file_keys=None):
    """The hashed key store of ``gateway_api_keys``; refuses weak, empty or duplicate keys naming the key's name.
    ``file_keys``: ``{path: key}`` of the entries' ``key_file`` (read on the controller)."""
    try:
        return gk.plan_keys(_plain(keys), min_length=int(min_length),
                            served_models=None if served_models is None else _plain(served_models),
                            file_keys=_plain(file_keys or {}))
    except gk.GatewayKeyError as exc:
        raise AnsibleFilterError(str(exc))


def gateway_routes(targets, engine_keys=None, static_backends=None):
    """The gateway's routing table ``{model: {engine_key, backends}}`` (module_utils/gateway_plan.plan_routes)."""
    try:
        return gp.plan_routes(_plain(targets), _plain(engine_keys or {}), _plain(static_backends or []))
    except gp.GatewayPlanError as exc:
        raise AnsibleFilterError("gateway plan refused: %s" % exc)


def gateway_with_engine_keys(routes, engine_keys):
    """The routes with each model's engine key (what the 0600 gateway.json holds)."""
    out = _plain(routes or {})
    keys = _plain(engine_keys or {})
    for model, route in out.items():
        route["engine_key"] = keys.get(model, "")
    return out


def gateway_served_models(targets, static_backends=None):
    """The model names the fleet serves."""
    return gp.served_models(_plain(targets), _plain(static_backends or []))


def model_server_allow(hosts, hostvars, extra=None):
    """The addresses a model server accepts HTTP from (gateways and monitoring servers, plus ``extra``)."""
    try:
        return gp.allow_addresses(_plain(hosts), dict((h, _plain(hostvars[h])) for h in hosts or [] if h in hostvars),
                                  _plain(extra or []))
    except gp.GatewayPlanError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {
            "gateway_key_store": gateway_key_store,
            "gateway_routes": gateway_routes,
            "gateway_served_models": gateway_served_models,
            "gateway_with_engine_keys": gateway_with_engine_keys,
            "model_server_allow": model_server_allow,
        }
