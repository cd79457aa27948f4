# -*- coding: utf-8 -*-
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: Apache-2.0
"""plugins/module_utils/gateway_plan.py and the gateway role's templates: the routes from what the model_server
role deployed (group workers left out, names refused), the model servers' allow-list, and the nginx
configuration as the role writes it (only the OpenAI paths, SSE unbuffered, retries, metrics allow-list)."""

from __future__ import annotations

import os
import sys

import jinja2
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.llmfleet.baremetal.plugins.module_utils import gateway_plan as gp  # noqa: E402

TARGETS = [
    {"host": "gpu-a01", "name": "chat-0", "address": "10.20.0.11", "port": 8000, "served_model_name": "dsv3",
     "health_path": "/health", "enabled": True},
    {"host": "gpu-a02", "name": "chat-0", "address": "10.20.0.12", "port": 8000, "served_model_name": "dsv3",
     "health_path": "/health", "enabled": True},
    {"host": "gpu-a03", "name": "big-leader", "address": "10.20.0.13", "port": 8000, "served_model_name": "r1",
     "health_path": "/health", "enabled": True},
    {"host": "gpu-a04", "name": "big-worker1", "address": "10.20.0.14", "port": None, "served_model_name": "r1",
     "health_path": None, "enabled": True},
    {"host": "gpu-a05", "name": "off-0", "address": "10.20.0.15", "port": 8000, "served_model_name": "old",
     "health_path": "/health", "enabled": False},
]


def test_routes_by_served_name_without_workers_or_disabled():
    routes = gp.plan_routes(TARGETS, {"dsv3": "k1"}, [{"model": "ext", "address": "10.9.0.1", "port": 9000}])
    assert sorted(routes) == ["dsv3", "ext", "r1"]
    assert [b["name"] for b in routes["dsv3"]["backends"]] == ["gpu-a01/chat-0", "gpu-a02/chat-0"]
    assert routes["dsv3"]["engine_key"] == "k1" and routes["r1"]["engine_key"] == ""
    assert routes["r1"]["backends"] == [{"name": "gpu-a03/big-leader", "address": "10.20.0.13", "port": 8000,
                                         "health_path": "/health"}]
    assert routes["ext"]["backends"][0]["health_path"] == "/health"
    assert gp.served_models(TARGETS, [{"model": "ext"}]) == ["dsv3", "ext", "r1"]


def test_a_drained_model_keeps_its_keys_and_loses_its_routes():
    drained = dict(TARGETS[-1], served_model_name="split", drained="gpu-a05: burn-in failed")
    assert gp.plan_routes(TARGETS + [drained])["split"]["backends"] == []  # 503 no healthy backend, not 404
    assert "split" in gp.served_models(TARGETS + [drained]) and "old" not in gp.served_models(TARGETS + [drained])


@pytest.mark.parametrize("bad, why", [
    (dict(TARGETS[0], address="gpu-a01.example"), "chat-0 (model_server on gpu-a01): address 'gpu-a01.example' is not"),
    (dict(TARGETS[0], port=70000), "port 70000 is not a TCP port"),
])
def test_bad_backends_are_refused_naming_instance_and_host(bad, why):
    with pytest.raises(gp.GatewayPlanError) as exc:
        gp.plan_routes([bad])
    assert why in str(exc.value)


def test_one_endpoint_twice_is_refused():
    with pytest.raises(gp.GatewayPlanError) as exc:
        gp.plan_routes(TARGETS[:1], static_backends=[{"model": "x", "address": "10.20.0.11", "port": 8000}])
    assert "gateway_backends[0] are both 10.20.0.11:8000" in str(exc.value)


def test_allow_list_takes_addresses_and_refuses_names():
    hv = {"gw1": {"ansible_host": "10.20.1.5", "gateway_vip": "10.20.1.100"},
          "mon1": {"ansible_host": "10.20.1.9", "llmfleet_serving_address": "10.20.0.9"}}
    assert gp.allow_addresses(["gw1", "mon1"], hv, ["10.30.0.0/24"]) == ["10.20.0.9", "10.20.1.100", "10.20.1.5",
                                                                         "10.30.0.0/24"]
    with pytest.raises(gp.GatewayPlanError) as exc:
        gp.allow_addresses(["gw2"], {"gw2": {"ansible_host": "gw2.example"}})
    assert "gw2: model servers allow-list its address" in str(exc.value) and "llmfleet_serving_address" in str(exc.value)


def test_engine_auth_table_names_a_way_for_every_engine():
    assert gp.ENGINE_AUTH == {"llama_cpp": "file", "vllm": "environment", "sglang": "none"}


def render_nginx(**over):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(REPO, "roles", "gateway", "templates")),
                             trim_blocks=True, keep_trailing_newline=True)
    ctx = dict(ansible_managed="Ansible managed", __gateway_ha=False, gateway_worker_processes="auto",
               gateway_stream_idle_timeout_s=600, gateway_worker_connections=4096,
               __gateway_lua_dir="/usr/local/share/llmfleet-gateway/lua", gateway_shared_dict_size="16m",
               __gateway_conf_file="/etc/llmfleet-gateway/gateway.json", gateway_upstream_keepalive=64,
               __gateway_listen_addresses=["10.20.1.5", "127.0.0.1"], gateway_listen_port=443,
               gateway_server_name="gw.example", __gateway_tls_dir="/etc/llmfleet-gateway/tls",
               gateway_max_body_bytes="8m", __gateway_metrics_allow=["10.20.1.9"], gateway_upstream_connect_timeout_s=3)
    ctx.update(over)
    return env.get_template("nginx.conf.j2").render(**ctx)


def test_nginx_configuration():
    conf = render_nginx()
    assert "listen 10.20.1.5:443 ssl;" in conf and "listen 127.0.0.1:443 ssl;" in conf
    assert "listen 443" not in conf  # never every address
    assert "proxy_buffering off;" in conf and "proxy_ignore_client_abort off;" in conf
    assert "proxy_next_upstream error timeout http_502 http_503 non_idempotent;" in conf
    assert "allow 10.20.1.9;" in conf and "deny all;" in conf
    assert "proxy_set_header Authorization $llmfleet_engine_auth;" in conf and 'proxy_set_header X-Api-Key "";' in conf
    assert "client_max_body_size 8m;" in conf and "error_page 413 @e413;" in conf
    assert "worker_shutdown_timeout 600s;" in conf
