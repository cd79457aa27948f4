# -*- coding: utf-8 -*-
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: Apache-2.0
"""plugins/module_utils/nccl_transport.py: the transport NCCL chose between a group's nodes, from its INFO log
(tests/fixtures/nccl/, written in the format of the public logs its README cites), and the deploy's verdict."""

from __future__ import annotations

import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.llmfleet.baremetal.plugins.module_utils import nccl_transport as nt  # noqa: E402

FIXTURES = os.path.join(REPO, "tests", "fixtures", "nccl")


def load(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as fh:
        return nt.parse(fh.read())


def test_roce_group_uses_rdma_with_gdr():
    f = load("rdma_roce.log")
    assert f["transport"] == "rdma"
    assert f["nccl_version"] == "2.21.5"
    assert f["network"] == "IB"
    assert f["ib_devices"] == [{"name": "mlx5_0", "port": 1, "link_layer": "RoCE"},
                               {"name": "mlx5_1", "port": 1, "link_layer": "RoCE"}]
    assert f["channels"] == {"NET/IB": 16}
    assert f["gdr_channels"] == 8
    assert f["intra_node_channels"] == 14
    assert f["oob"] == "enp3s0:10.40.0.12"
    status, msg = nt.verdict(f, planned_rdma=True, group="dsv3", host="gpu-a01")
    assert status == "ok"
    assert "mlx5_0:1/RoCE" in msg and "GPUDirect RDMA on 8 channel(s)" in msg


def test_socket_fallback_fails_a_group_planned_for_rdma():
    f = load("socket_fallback.log")
    assert f["transport"] == "socket"
    assert f["ib_none"] is True
    assert f["channels"] == {"NET/Socket": 16}
    assert {"name": "enp3s0", "address": "10.40.0.11"} in f["socket_interfaces"]
    status, msg = nt.verdict(f, planned_rdma=True, group="dsv3", host="gpu-a01")
    assert status == "fail"
    assert "RDMA was planned but NCCL uses TCP sockets" in msg
    assert "NET/IB found no device" in msg and "NCCL_IB_HCA" in msg and "gpu-a01" in msg


def test_socket_fallback_only_warns_when_configured():
    status = nt.verdict(load("socket_fallback.log"), planned_rdma=True, on_socket="warn")[0]
    assert status == "warn"


def test_allow_tcp_group_on_sockets_warns_that_it_is_slow():
    status, msg = nt.verdict(load("socket_fallback.log"), planned_rdma=False, group="tiny")
    assert status == "warn" and "as planned (allow_tcp)" in msg


def test_net_plugin_counts_as_rdma_before_channels_are_built():
    f = load("ib_plugin.log")
    assert f["network"] == "IBext" and f["channels"] == {}
    assert f["transport"] == "rdma"
    assert [d["name"] for d in f["ib_devices"]] == ["mlx5_bond_0", "mlx5_bond_1"]


def test_one_node_stays_intra_node():
    f = load("intra_node.log")
    assert f["transport"] == "intra-node"
    assert f["intra_node_channels"] == 17
    assert nt.verdict(f, planned_rdma=True)[0] == "ok"


def test_a_log_without_info_lines_fails_and_says_why():
    f = load("warn_only.log")
    assert f["transport"] == "unknown"
    status, msg = nt.verdict(f, planned_rdma=True, group="dsv3")
    assert status == "fail" and "NCCL_DEBUG=INFO" in msg


def test_mixed_channels_are_a_fallback():
    text = ("h:1:2 [0] NCCL INFO Channel 00/0 : 7[7] -> 8[0] [send] via NET/IB/0\n"
            "h:1:2 [0] NCCL INFO Channel 01/0 : 7[7] -> 8[0] [send] via NET/Socket/1\n")
    f = nt.parse(text)
    assert f["channels"] == {"NET/IB": 1, "NET/Socket": 1}
    assert f["transport"] == "socket"
    status, msg = nt.verdict(f, planned_rdma=True)
    assert status == "fail" and "some channels fell back to sockets" in msg


def test_older_bus_id_ranks_and_channel_lines_without_direction():
    # older NCCL printed the bus id in the brackets and no [send]/[receive]
    f = nt.parse("n1:20:289 [0] NCCL INFO Channel 00/0 : 0[1b000] -> 4[1b000] via NET/IB/0/GDRDMA\n")
    assert f["channels"] == {"NET/IB": 1} and f["gdr_channels"] == 1


def test_bad_on_socket_value_is_refused():
    with pytest.raises(ValueError):
        nt.verdict(load("rdma_roce.log"), planned_rdma=True, on_socket="ignore")
