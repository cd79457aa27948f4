# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's routing table and its network allow-lists, planned on the controller (issue 19, docs/gateway.md).

Pure Python, no Ansible imports.

* :func:`plan_routes` turns the fleet's model servers (what the model_server role deployed on each GPU node:
  instances and group leaders, ``model_server_targets``) and ``gateway_backends`` (backends outside the inventory)
  into the gateway's table ``{model: {engine_key, backends: [{name, address, port, health_path}]}}``, keyed by
  the name clients send (the served model name). A backend that answers no HTTP (a group worker) is left out.
* :func:`allow_addresses` lists the addresses a model server accepts HTTP from (the gateways and the monitoring
  servers), refusing a host whose address is a name: systemd's ``IPAddressAllow=`` takes addresses only.
* :data:`ENGINE_AUTH`: how each engine gets the key the gateway injects, without argv, unit file or a
  world-readable file (llama.cpp ``--api-key-file`` naming a 0440 root:service-user file; vLLM ``VLLM_API_KEY``
  from a 0600 environment file; SGLang only has ``--api-key`` in argv: none, the network allow-list alone
  protects it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

# engine -> how the engine key reaches it (source: each engine's --help / docs, tests/fixtures/engines/*.tsv)
ENGINE_AUTH = {
    "llama_cpp": "file",        # llama-server --api-key-file FNAME (llama.cpp common/arg.cpp)
    "vllm": "environment",      # VLLM_API_KEY (vllm/entrypoints/openai/cli_args.py: --api-key, env fallback)
    "sglang": "none",           # --api-key only: a key in argv is readable in /proc by every local user
}


class GatewayPlanError(ValueError):
    """The gateway's routes or allow-lists cannot be built; the message names the host and the variable."""


def _is_ip(value):
    try:
        ipaddress.ip_network(str(value), strict=False)
        return True
    except ValueError:
        return False


def plan_routes(targets, engine_keys=None, static_backends=None):
    """``{model: {engine_key, backends: [...]}}`` from the fleet's ``targets`` (``[{host, name, address, port,
    served_model_name, health_path, enabled, drained}]``) and ``static_backends`` (``[{model, name, address, port,
    health_path}]``); ``engine_keys``: ``{model: key}`` (a model without one gets ``""``: no key injected)."""
    routes = {}
    seen = {}
    rows = []
    for t in targets or []:
        if not t.get("enabled", True) or t.get("health_path") is None:
            continue
        rows.append({"model": t.get("served_model_name") or t.get("model"),
                     "name": "%s/%s" % (t.get("host"), t.get("name")), "address": t.get("address"),
                     "port": t.get("port"), "health_path": t.get("health_path") or "/health",
                     "where": "%s (model_server on %s)" % (t.get("name"), t.get("host"))})
    for i, b in enumerate(static_backends or []):
        if not isinstance(b, dict):
            raise GatewayPlanError("gateway_backends[%d] must be a mapping {model, name, address, port}" % i)
        missing = [f for f in ("model", "address", "port") if not b.get(f)]
        if missing:
            raise GatewayPlanError("gateway_backends[%d] (%s) lacks %s" % (i, b.get("name", "?"), ", ".join(missing)))
        rows.append({"model": b["model"], "name": b.get("name") or "%s:%s" % (b["address"], b["port"]),
                     "address": b["address"], "port": b["port"], "health_path": b.get("health_path") or "/health",
                     "where": "gateway_backends[%d]" % i})
    for row in rows:
        if not row["model"]:
            raise GatewayPlanError("%s serves no model name" % row["where"])
        if not _is_ip(row["address"]):
            raise GatewayPlanError("%s: address %r is not an IP address (set llmfleet_serving_address or "
                                   "llmfleet_serving_cidr)" % (row["where"], row["address"]))
        try:
            port = int(row["port"])
        except (TypeError, ValueError):
            port = 0
        if not 0 < port < 65536:
            raise GatewayPlanError("%s: port %r is not a TCP port" % (row["where"], row["port"]))
        endpoint = (str(row["address"]), port)
        if endpoint in seen:
            raise GatewayPlanError("%s and %s are both %s:%d" % (seen[endpoint], row["where"], endpoint[0], port))
        seen[endpoint] = row["where"]
        route = routes.setdefault(row["model"], {"engine_key": (engine_keys or {}).get(row["model"], ""),
                                                 "backends": []})
        route["backends"].append({"name": row["name"], "address": endpoint[0], "port": port,
                                  "health_path": row["health_path"]})
    # a model whose every instance is drained for a failed burn-in stays a route with no backend: its requests get
    # 503 (no healthy backend, the GatewayNoHealthyBackend alert), not 404 - the model exists, its nodes are down
    for t in targets or []:
        if not t.get("enabled", True) and t.get("drained") and t.get("health_path") is not None:
            model = t.get("served_model_name") or t.get("model")
            if model:
                routes.setdefault(model, {"engine_key": (engine_keys or {}).get(model, ""), "backends": []})
    for route in routes.values():
        route["backends"].sort(key=lambda b: b["name"])
    return routes


def allow_addresses(hosts, hostvars, extra=None):
    """The sorted addresses of ``hosts`` (``llmfleet_serving_address``, else ``ansible_host``, plus a gateway's
    ``gateway_vip``) and ``extra``; a host without an IP address is refused by name."""
    out = set()
    for h in hosts or []:
        hv = hostvars.get(h) or {}
        addr = hv.get("llmfleet_serving_address") or hv.get("ansible_host") or h
        if not _is_ip(addr):
            raise GatewayPlanError("%s: model servers allow-list its address, and %r is not an IP address (set "
                                   "llmfleet_serving_address for %s)" % (h, addr, h))
        out.add(str(addr))
        if hv.get("gateway_vip") and _is_ip(hv["gateway_vip"]):
            out.add(str(hv["gateway_vip"]))
    for i, addr in enumerate(extra or []):
        if not _is_ip(addr):
            raise GatewayPlanError("model_server_http_allow_extra[%d]: %r is not an address or network" % (i, addr))
        out.add(str(addr))
    return sorted(out)


def served_models(targets, static_backends=None):
    """The model names the fleet serves (what a key may be allowed), including those whose instances are drained for
    a failed burn-in (``drained``): a key keeps its models while a node is repaired; the routes leave them out."""
    names = set(t.get("served_model_name") or t.get("model") for t in targets or []
                if (t.get("enabled", True) or t.get("drained")) and t.get("health_path") is not None)
    names.update(b.get("model") for b in static_backends or [] if isinstance(b, dict) and b.get("model"))
    return sorted(n for n in names if n)
