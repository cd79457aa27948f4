# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: Apache-2.0
"""plugins/module_utils/serving_plan.py: 8 x H200 NVSwitch, 8 x PCIe L40S on 2 NUMA nodes, the recorded 2 x H200."""

from __future__ import annotations

import json
import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.llmfleet.baremetal.plugins.module_utils import serving_plan as sp  # noqa: E402
from ansible_collections.llmfleet.baremetal.plugins.module_utils.topology import gpu_groups  # noqa: E402
from ansible_collections.llmfleet.baremetal.plugins.filter import serving as filt  # noqa: E402

FIX = os.path.join(REPO, "tests", "fixtures", "gpu")


def _load(name, what="snapshot.json"):
    with open(os.path.join(FIX, name, what)) as handle:
        return json.load(handle)


H200 = _load("h200x2")
H200_HOST = _load("h200x2", "host.json")
H100 = _load("h100x1")

MODELS = [{"name": "dsv3", "path": "/srv/models/dsv3"},
          {"name": "tiny", "path": "/srv/models/tiny", "file": "tiny.gguf", "manifest": "/srv/models/tiny/SHA256SUMS"}]


def two_socket_host():
    nodes = [{"node": 0, "cpulist": "0-15"}, {"node": 1, "cpulist": "16-31"}]
    return {"hostname": "gpu-a01", "cpu": {"online": "0-31"},
            "numa": {"available": True, "node_count": 2, "nodes": nodes}}


def synthetic(n, name, nvswitch, per_node=4):
    gpus = [{"index": i, "name": name, "uuid": "GPU-%08d" % i, "numa_node": i // per_node,
             "cpu_affinity": "0-15" if i < per_node else "16-31", "nvlink_nvswitch_links": 18 if nvswitch else 0,
             "fabric": {"state": "completed", "status": "SUCCESS", "cluster_uuid": "u", "clique_id": 1}}
            for i in range(n)]
    pairs = [{"gpu_a": a, "gpu_b": b, "nvlink": {"bond_count": 18 if nvswitch else 0, "via_nvswitch": nvswitch}}
             for a in range(n) for b in range(a + 1, n)]
    return {"nvml_available": True, "hostname": "gpu-a01", "gpu_count": n, "gpus": gpus, "pairs": pairs}


H200X8 = synthetic(8, "NVIDIA H200", nvswitch=True)
L40SX8 = synthetic(8, "NVIDIA L40S", nvswitch=False)


def plan(snapshot, specs, host=None, **kw):
    return sp.plan_instances(snapshot, specs, MODELS, host=host, host_name="gpu-a01", **kw)


# --------------------------------------------------------------------------- 8 x H200 NVSwitch

def test_h200x8_tp8_one_instance_on_every_gpu():
    out = plan(H200X8, [{"name": "dsv3", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 8}],
               host=two_socket_host())
    assert len(out) == 1
    inst = out[0]
    assert inst["gpus"] == list(range(8))
    assert inst["env"]["CUDA_VISIBLE_DEVICES"] == ",".join("GPU-%08d" % i for i in range(8))
    assert inst["interconnect"] == "nvswitch"
    assert inst["numa_nodes"] == [0, 1]
    assert inst["systemd"] == {"CPUAffinity": "0-31", "NUMAPolicy": "interleave", "NUMAMask": "0-1"}
    assert inst["argv"][:3] == ["/opt/llmfleet/engines/vllm/bin/vllm", "serve", "/srv/models/dsv3"]
    assert inst["argv"][inst["argv"].index("--tensor-parallel-size") + 1] == "8"
    assert inst["port"] == 8000 and inst["unit"] == "llmfleet-model-dsv3-0.service"


def test_h200x8_two_tp4_one_per_socket():
    out = plan(H200X8, [{"name": "chat", "engine": "sglang", "model": "dsv3", "tensor_parallel_size": 4,
                         "port_base": 30000}], host=two_socket_host())
    assert [i["gpus"] for i in out] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [i["numa_nodes"] for i in out] == [[0], [1]]
    assert [i["systemd"]["CPUAffinity"] for i in out] == ["0-15", "16-31"]
    assert [i["systemd"]["NUMAPolicy"] for i in out] == ["bind", "bind"]
    assert [i["port"] for i in out] == [30000, 30001]
    argv = out[1]["argv"]
    assert argv[:3] == ["/opt/llmfleet/engines/sglang/bin/python", "-m", "sglang.launch_server"]
    assert argv[argv.index("--tp-size") + 1] == "4" and argv[argv.index("--model-path") + 1] == "/srv/models/dsv3"


def test_h200x8_tp4_groups_follow_sockets_when_gpu_numbering_interleaves():
    snap = synthetic(8, "NVIDIA H200", nvswitch=True)
    for g in snap["gpus"]:  # even GPUs on node 0, odd on node 1
        g["numa_node"] = g["index"] % 2
    out = plan(snap, [{"name": "c", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 4}],
               host=two_socket_host())
    assert [i["gpus"] for i in out] == [[0, 2, 4, 6], [1, 3, 5, 7]]
    assert [i["numa_nodes"] for i in out] == [[0], [1]]


def test_vllm_engine_native_numa_binding_when_supported():
    out = plan(H200X8, [{"name": "c", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 4}],
               host=two_socket_host(), engines={"vllm": {"numa_bind": True}})
    assert all("--numa-bind" in i["argv"] for i in out)
    assert all(i["binding"] == "engine" and i["systemd"] == {} for i in out)
    out = plan(H200X8, [{"name": "c", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 4}],
               host=two_socket_host())
    assert not any("--numa-bind" in i["argv"] for i in out)
    assert all(i["binding"] == "systemd" for i in out)


# --------------------------------------------------------------------------- 8 x PCIe L40S, 2 NUMA nodes

def test_l40s_tp1_fill_four_per_node():
    out = plan(L40SX8, [{"name": "small", "engine": "vllm", "model": "dsv3"}], host=two_socket_host())
    assert [i["gpus"] for i in out] == [[i] for i in range(8)]
    assert [i["numa_nodes"] for i in out] == [[0]] * 4 + [[1]] * 4
    assert [i["systemd"]["CPUAffinity"] for i in out] == ["0-15"] * 4 + ["16-31"] * 4
    assert [i["port"] for i in out] == list(range(8000, 8008))
    assert all(i["interconnect"] == "pcie" for i in out)
    assert [i["env"]["CUDA_VISIBLE_DEVICES"] for i in out] == ["GPU-%08d" % i for i in range(8)]


def test_l40s_tp2_never_crosses_a_socket():
    out = plan(L40SX8, [{"name": "m", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 2}],
               host=two_socket_host())
    assert [i["gpus"] for i in out] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert all(len(i["numa_nodes"]) == 1 for i in out)


def test_l40s_tp8_is_refused_as_cross_socket():
    with pytest.raises(sp.ServingPlanError, match=r"tensor_parallel_size=8 would split .* PCIe GPUs 0-3 on NUMA node 0"):
        plan(L40SX8, [{"name": "m", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 8}],
             host=two_socket_host())


# --------------------------------------------------------------------------- the recorded 2 x H200

def test_recorded_h200x2_two_tp1_instances():
    out = plan(H200, [{"name": "lab", "engine": "llama_cpp", "model": "tiny", "port_base": 8101}], host=H200_HOST,
               islands=gpu_groups(H200))
    assert [i["gpus"] for i in out] == [[0], [1]]
    uuids = [g["uuid"] for g in H200["gpus"]]
    assert [i["env"]["CUDA_VISIBLE_DEVICES"] for i in out] == uuids
    assert all(i["interconnect"] == "nvswitch" for i in out)
    # the recorded VM reports NUMA node -1: the group uses every node of the host
    assert all(i["numa_unknown"] for i in out)
    argv = out[0]["argv"]
    assert argv[0] == "/opt/llmfleet/engines/llama_cpp/bin/llama-server"
    assert argv[argv.index("--model") + 1] == "/srv/models/tiny/tiny.gguf"
    assert argv[argv.index("--chat-template") + 1] == "chatml"
    # each instance has its GPU: every layer is offloaded to it
    assert argv[argv.index("--n-gpu-layers") + 1] == "999"
    assert [i["port"] for i in out] == [8101, 8102]
    assert out[0]["health_path"] == "/health" and out[0]["metrics_path"] == "/metrics"


def test_recorded_h200x2_tp2():
    out = plan(H200, [{"name": "m", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 2}], host=H200_HOST)
    assert len(out) == 1 and out[0]["gpus"] == [0, 1]


def test_without_host_probe_uses_nvml_affinity():
    out = plan(H200, [{"name": "m", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 2}])
    assert out[0]["cpus"] == "0-31" and out[0]["binding_source"] == "nvml_cpu_affinity"
    assert out[0]["systemd"] == {"CPUAffinity": "0-31"}


def test_numa_role_placement_is_preferred():
    placement = [{"group": "gpu0-1", "gpus": [0, 1], "cpus": "2-31", "cpu_count": 30, "mem_nodes": "0",
                  "numa_nodes": [0]}]
    out = plan(H200, [{"name": "m", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 2}], host=H200_HOST,
               placement=placement)
    assert out[0]["cpus"] == "2-31" and out[0]["binding_source"] == "placement.json"
    assert out[0]["systemd"]["CPUAffinity"] == "2-31"


def test_rdma_gid_index_env():
    out = plan(H200, [{"name": "m", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 2}],
               host=H200_HOST, rdma_gid_index=3)
    assert out[0]["env"]["NCCL_IB_GID_INDEX"] == "3"


# --------------------------------------------------------------------------- errors

def test_tp_not_dividing_the_island():
    with pytest.raises(sp.ServingPlanError, match=r"tensor_parallel_size=3 does not divide NVSwitch island 0-7"):
        plan(H200X8, [{"name": "m", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 3}])


def test_tp_larger_than_gpus():
    with pytest.raises(sp.ServingPlanError, match=r"tensor_parallel_size=4 is more than the 2 GPU\(s\)"):
        plan(H200, [{"name": "m", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 4}])


def test_island_split_is_refused():
    snap = synthetic(8, "NVIDIA A100", nvswitch=False)
    for a, b in ((0, 1), (2, 3), (4, 5), (6, 7)):  # NVLink bridge pairs
        for p in snap["pairs"]:
            if (p["gpu_a"], p["gpu_b"]) == (a, b):
                p["nvlink"] = {"bond_count": 4, "via_nvswitch": False}
    with pytest.raises(sp.ServingPlanError, match=r"would split a tensor-parallel group across NVLink islands"):
        plan(snap, [{"name": "m", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 4}])


def test_count_more_than_fits():
    with pytest.raises(sp.ServingPlanError, match=r"count=3 .* only 2 fit"):
        plan(H200, [{"name": "m", "engine": "vllm", "model": "dsv3", "count": 3}])


def test_second_spec_gets_the_gpus_left():
    out = plan(H200X8, [{"name": "big", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 4, "count": 1},
                        {"name": "small", "engine": "vllm", "model": "dsv3", "port_base": 9000}],
               host=two_socket_host())
    assert [(i["name"], i["gpus"]) for i in out] == [("big-0", [0, 1, 2, 3]), ("small-0", [4]), ("small-1", [5]),
                                                     ("small-2", [6]), ("small-3", [7])]


@pytest.mark.parametrize("spec, match", [
    ({"name": "m", "engine": "tgi", "model": "dsv3"}, "engine='tgi' must be one of"),
    ({"name": "m", "engine": "vllm", "model": "nope"}, "model='nope' is not in model_server_models"),
    ({"name": "m", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 0}, "must be >= 1"),
    ({"name": "M!", "engine": "vllm", "model": "dsv3"}, "name='M!' must match"),
    ({"name": "m", "engine": "vllm", "model": "dsv3", "count": "many"}, "an integer or 'fill'"),
])
def test_bad_specs(spec, match):
    with pytest.raises(sp.ServingPlanError, match=match):
        plan(H200, [spec])


def test_port_collision():
    with pytest.raises(sp.ServingPlanError, match="port 8001 .* already used by a-1"):
        plan(H200X8, [{"name": "a", "engine": "vllm", "model": "dsv3", "count": 2},
                      {"name": "b", "engine": "vllm", "model": "dsv3", "port_base": 8001}])


def test_no_gpus():
    with pytest.raises(sp.ServingPlanError, match="needs GPUs but the host has none"):
        plan({"nvml_available": False, "gpus": []}, [{"name": "m", "engine": "vllm", "model": "dsv3"}])


def test_cpu_engine_without_gpus():
    out = plan({"nvml_available": False, "gpus": []},
               [{"name": "cpu", "engine": "llama_cpp", "model": "tiny", "gpus": False, "count": 2}],
               host=two_socket_host())
    assert [(i["name"], i["gpus"], i["cpus"]) for i in out] == [("cpu-0", [], "0-31"), ("cpu-1", [], "0-31")]
    assert "CUDA_VISIBLE_DEVICES" not in out[0]["env"]
    argv = out[0]["argv"]
    assert argv[argv.index("--n-gpu-layers") + 1] == "0"


# --------------------------------------------------------------------------- the filter

def test_filter_wraps_errors():
    from ansible.errors import AnsibleFilterError
    f = filt.FilterModule().filters()["model_server_instances"]
    out = f(H200, [{"name": "lab", "engine": "llama_cpp", "model": "tiny"}], MODELS, host=H200_HOST)
    assert len(out) == 2
    with pytest.raises(AnsibleFilterError, match="tensor_parallel_size=4"):
        f(H200, [{"name": "m", "engine": "vllm", "model": "dsv3", "tensor_parallel_size": 4}], MODELS)


def test_alert_rule_for_override():
    from ansible_collections.llmfleet.baremetal.plugins.filter import monitoring
    f = monitoring.FilterModule().filters()["alert_rules_override"]
    rules = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "2m"},
                                                {"alert": "B", "expr": "x", "for": "5m"},
                                                {"record": "r", "expr": "y"}]}]}
    out = f(rules, {"A": "30s"})
    assert [r.get("for") for r in out["groups"][0]["rules"]] == ["30s", "5m", None]
    assert rules["groups"][0]["rules"][0]["for"] == "2m"  # input untouched


# issue 21 item 8: bad input that was accepted silently fails at plan time, naming the variable and the host
@pytest.mark.parametrize("spec, needle", [
    ({"name": "m", "engine": "vllm", "model": "dsv3", "gpus": False},
     r"gpu-a01: model_server_instances\[m\]\.gpus=false: engine vllm needs GPUs"),
    ({"name": "m", "engine": "sglang", "model": "dsv3", "gpus": False}, r"engine sglang needs GPUs"),
    ({"name": "m", "engine": "llama_cpp", "model": "tiny", "gpus": False, "count": 2, "port_base": 65535},
     r"gpu-a01: model_server_instances\[m\] puts instance m-1 on port 65536 \(port_base 65535 \+ 1\)"),
    ({"name": "m", "engine": "vllm", "model": "dsv3", "count": 1, "port_base": 9100},
     r"gpu-a01: port 9100 of model_server_instances\[m\] is the node exporter \(monitoring_node_exporter_port\)"),
    ({"name": "m", "engine": "llama_cpp", "model": "tiny", "gpus": False, "port_base": 22}, r"port 22 .* sshd"),
])
def test_bad_instance_input_is_refused_at_plan_time(spec, needle):
    with pytest.raises(sp.ServingPlanError, match=needle):
        plan(H200, [spec])


def test_a_cpu_engine_may_run_without_gpus():
    out = plan(H200, [{"name": "m", "engine": "llama_cpp", "model": "tiny", "gpus": False, "port_base": 9101}])
    assert [i["port"] for i in out if i["name"].startswith("m-")] == [9101]


def test_synced_models_are_served_from_the_sync_root_once_ready():
    models = [{"name": "tiny", "path": "/srv/models/tiny", "src": "/cache/tiny"},
              {"name": "ds", "version": "v2", "file": "ds.gguf"},
              {"name": "qw", "version": 3, "path": "/nvme/qw/"}]
    out = sp.resolve_models(models, "/var/lib/llmfleet/models/")
    assert out[0] == dict(models[0], manifest="/srv/models/tiny/SHA256SUMS")
    assert out[1] == {"name": "ds", "version": "v2", "file": "ds.gguf", "path": "/var/lib/llmfleet/models/ds/v2",
                      "manifest": "/var/lib/llmfleet/models/ds/v2/MANIFEST.sha256",
                      "ready_marker": "/var/lib/llmfleet/models/ds/v2/.ready"}
    assert out[2]["path"] == "/nvme/qw" and out[2]["ready_marker"] == "/nvme/qw/.ready" and out[2]["version"] == "3"


@pytest.mark.parametrize("entry, needle", [
    ({"name": "ds", "version": "v2", "src": "/cache/ds"}, "version v2 comes from the model store"),
    ({"name": "ds", "version": "../v2"}, "must be plain path components"),
    ({"name": ".ds", "version": "v2"}, "must be plain path components"),
], ids=["src-and-version", "version-escapes", "hidden-name"])
def test_synced_model_entries_are_refused_naming_the_entry(entry, needle):
    with pytest.raises(sp.ServingPlanError) as exc:
        sp.resolve_models([{"name": "ok", "path": "/m"}, entry])
    assert str(exc.value).startswith("model_server_models[1] (%s): " % entry["name"]) and needle in str(exc.value)


def test_a_secret_in_env_is_refused_naming_spec_and_variable():
    from ansible_collections.llmfleet.baremetal.plugins.module_utils import spec_values
    env = {"HF_TOKEN": "x", "NCCL_DEBUG": "INFO", "OPENAI_API_KEY": "y", "VLLM_WORKER_MULTIPROC_METHOD": "spawn"}
    assert spec_values.secret_env_names(env) == ["HF_TOKEN", "OPENAI_API_KEY"]
    with pytest.raises(sp.ServingPlanError) as exc:
        sp._plain_env({"HF_TOKEN": "hf_abc", "A": 1}, "model_server_instances[ds].env", "gpu1")
    assert str(exc.value).startswith("gpu1: model_server_instances[ds].env.HF_TOKEN looks like a secret")
    assert "model_server_secret_env" in str(exc.value) and "hf_abc" not in str(exc.value)
    assert sp._plain_env({"A": 1}, "x", "h") == {"A": "1"}


def test_memory_max_is_a_systemd_size_or_refused():
    assert sp._memory("640M", "x.memory_max", "h") == "640M" and sp._memory(None, "x", "h") is None
    with pytest.raises(sp.ServingPlanError) as exc:
        sp._memory("lots", "model_server_instances[lab].memory_max", "gpu1")
    assert str(exc.value) == "gpu1: model_server_instances[lab].memory_max='lots' is not a size like 48G or 640M"
