# -*- coding: utf-8 -*-
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: Apache-2.0
"""plugins/module_utils/serving_groups.py: DeepSeek-V3 across 2 x (8 x H100), BF16 on H200 nodes, refusals, and
every emitted flag checked against the pinned engine version's CLI (tests/fixtures/engines/*-flags.tsv)."""

from __future__ import annotations

import json
import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.llmfleet.baremetal.plugins.module_utils import serving_groups as sg  # noqa: E402

ENGINES = os.path.join(REPO, "tests", "fixtures", "engines")
H100_MIB = 81559   # NVIDIA H100 80GB HBM3 as NVML reports it (memory_total_mib)
H200_MIB = 143771  # tests/fixtures/gpu/h200x2/snapshot.json, recorded on a real H200

# DeepSeek-V3 / R1 (671B): FP8 checkpoint ~700 GB (652 GiB), BF16 ~1.3 TB (1211 GiB)
MODELS = [{"name": "dsv3-fp8", "path": "/srv/models/dsv3-fp8", "served_name": "deepseek-v3", "size_gib": 652},
          {"name": "dsv3-bf16", "path": "/srv/models/dsv3-bf16", "size_gib": 1211},
          {"name": "tiny", "path": "/srv/models/tiny", "file": "tiny.gguf", "size_gib": 0.1}]
NCCL_ENV = {"NCCL_IB_HCA": "=mlx5_0,mlx5_1", "NCCL_IB_GID_INDEX": "3"}


def board(name, mib, n=8, nvswitch=True):
    gpus = [{"index": i, "name": name, "uuid": "GPU-%s-%d" % (name[-4:], i), "memory_total_mib": mib} for i in range(n)]
    pairs = [{"gpu_a": a, "gpu_b": b, "nvlink": {"bond_count": 18 if nvswitch else 0, "via_nvswitch": nvswitch}}
             for a in range(n) for b in range(a + 1, n)]
    return {"schema": "llmfleet.gpu_snapshot/v1", "nvml_available": True, "gpus": gpus, "pairs": pairs}


def fleet(count, name="NVIDIA H100 80GB HBM3", mib=H100_MIB, rdma=True, prefix="gpu-a"):
    return dict(("%s%02d" % (prefix, i + 1),
                 {"gpu": board(name, mib), "serving_address": "10.30.0.%d" % (i + 11), "serving_interface": "bond0",
                  "nccl_env": dict(NCCL_ENV) if rdma else {}}) for i in range(count))


def spec(**kw):
    out = {"name": "dsv3", "engine": "vllm", "model": "dsv3-fp8", "nodes": 2}
    out.update(kw)
    out.setdefault("hosts", None)
    return out


def plan(specs, hosts):
    for s in specs:
        if s.get("hosts") is None:
            s["hosts"] = sorted(hosts)
    return sg.plan_groups(specs, hosts, MODELS)


def flags(fname):
    out = set()
    with open(os.path.join(ENGINES, fname)) as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                out.add(line.split("\t")[0])
    return out


def emitted(argv):
    return [a for a in argv if a.startswith("--")]


def test_vllm_deepseek_fp8_on_two_h100_nodes_tp8_pp2():
    out = plan([spec()], fleet(2))
    (grp,) = out["groups"]
    assert (grp["tensor_parallel_size"], grp["pipeline_parallel_size"], grp["nodes"]) == (8, 2, 2)
    assert grp["leader"] == "gpu-a01" and grp["members"] == ["gpu-a01", "gpu-a02"]
    assert grp["rendezvous"] == "10.30.0.11:29500" and grp["fabric"] == "rdma"
    leader, worker = grp["ranks"]
    assert leader["argv"][:3] == ["/opt/llmfleet/engines/vllm/bin/vllm", "serve", "/srv/models/dsv3-fp8"]
    for a, b in (("--tensor-parallel-size", "8"), ("--pipeline-parallel-size", "2"), ("--nnodes", "2"),
                 ("--master-addr", "10.30.0.11"), ("--master-port", "29500"), ("--host", "10.30.0.11")):
        assert leader["argv"][leader["argv"].index(a) + 1] == b
    assert leader["argv"][leader["argv"].index("--node-rank") + 1] == "0" and "--headless" not in leader["argv"]
    assert worker["argv"][worker["argv"].index("--node-rank") + 1] == "1" and "--headless" in worker["argv"]
    assert "--port" not in worker["argv"]  # a headless worker has no API server
    assert worker["env"]["NCCL_IB_HCA"] == "=mlx5_0,mlx5_1" and worker["env"]["NCCL_IB_GID_INDEX"] == "3"
    assert worker["env"]["NCCL_SOCKET_IFNAME"] == "=bond0" and worker["env"]["GLOO_SOCKET_IFNAME"] == "bond0"
    assert worker["env"]["CUDA_VISIBLE_DEVICES"].count("GPU-") == 8
    assert grp["fit"]["gpus"] == 16 and grp["fit"]["needed_gib"] == pytest.approx(717.2)
    assert out["warnings"] == []


def test_sglang_deepseek_fp8_tp16_across_two_h100_nodes():
    out = plan([spec(engine="sglang", expert_parallel=True)], fleet(2))
    (grp,) = out["groups"]
    assert (grp["tensor_parallel_size"], grp["pipeline_parallel_size"]) == (16, 1)
    for member in grp["ranks"]:
        argv = member["argv"]
        assert argv[argv.index("--tp-size") + 1] == "16" and argv[argv.index("--ep-size") + 1] == "16"
        assert argv[argv.index("--dist-init-addr") + 1] == "10.30.0.11:29500"
        assert argv[argv.index("--node-rank") + 1] == str(member["rank"])
        assert argv[argv.index("--served-model-name") + 1] == "deepseek-v3"


def test_deepseek_bf16_on_two_h200_nodes_and_two_replicas_on_four():
    hosts = fleet(4, "NVIDIA H200", H200_MIB, prefix="gpu-h")
    out = plan([spec(model="dsv3-bf16", replicas=2)], hosts)
    assert [(g["name"], g["members"], g["leader"]) for g in out["groups"]] == [
        ("dsv3-0", ["gpu-h01", "gpu-h02"], "gpu-h01"), ("dsv3-1", ["gpu-h03", "gpu-h04"], "gpu-h03")]
    assert [g["rendezvous"] for g in out["groups"]] == ["10.30.0.11:29500", "10.30.0.13:29500"]
    assert sorted(out["by_host"]) == ["gpu-h01", "gpu-h02", "gpu-h03", "gpu-h04"]
    # BF16 on two H100 nodes does not fit (1211 GiB + 10 % > 16 x 79.6 GiB x 0.9)
    with pytest.raises(sg.GroupPlanError, match=r"dsv3-bf16 .* does not fit 2 node\(s\) gpu-a01, gpu-a02"):
        plan([spec(model="dsv3-bf16")], fleet(2))


def test_deepseek_fp8_on_one_h100_node_is_refused_and_fits_one_h200_node():
    with pytest.raises(sg.GroupPlanError) as err:
        plan([spec(nodes=1)], fleet(1))
    assert "model_server_groups[dsv3]" in str(err.value) and "637 GiB of GPU memory" in str(err.value)
    out = plan([spec(nodes=1)], fleet(1, "NVIDIA H200", H200_MIB))
    (grp,) = out["groups"]
    assert grp["rendezvous"] is None and "--nnodes" not in grp["ranks"][0]["argv"] and grp["fabric"] == "none"


def test_mismatched_nodes_are_refused_naming_each_shape():
    hosts = fleet(1)
    hosts.update(fleet(1, "NVIDIA H200", H200_MIB, prefix="gpu-h"))
    with pytest.raises(sg.GroupPlanError, match=r"its nodes differ: gpu-a01: 8x NVIDIA H100 80GB HBM3 81559 MiB "
                                                r"\(nvswitch\); gpu-h01: 8x NVIDIA H200 143771 MiB"):
        plan([spec()], hosts)


def test_too_few_nodes_and_a_host_in_two_groups_are_refused():
    with pytest.raises(sg.GroupPlanError, match=r"needs 4 node\(s\) \(nodes=2 x replicas=2\) but only 3"):
        plan([spec(replicas=2)], fleet(3))
    hosts = fleet(3)
    with pytest.raises(sg.GroupPlanError, match=r"only 1 of its hosts are free: gpu-a03; taken: gpu-a01 \(in dsv3\)"):
        plan([spec(), spec(name="second", hosts=["gpu-a01", "gpu-a03"])], hosts)


def test_sizes_that_do_not_use_every_gpu_are_refused():
    with pytest.raises(sg.GroupPlanError, match="tensor_parallel_size=4 x pipeline_parallel_size=2 = 8 GPUs"):
        plan([spec(tensor_parallel_size=4)], fleet(2))
    with pytest.raises(sg.GroupPlanError, match="more than one node's 8 GPUs"):
        plan([spec(tensor_parallel_size=16, pipeline_parallel_size=1)], fleet(2))


def test_no_rdma_fabric_is_refused_unless_allow_tcp():
    with pytest.raises(sg.GroupPlanError, match=r"gpu-a01, gpu-a02 have none .*allow_tcp: true"):
        plan([spec()], fleet(2, rdma=False))
    out = plan([spec(allow_tcp=True)], fleet(2, rdma=False))
    assert out["groups"][0]["fabric"] == "tcp" and "TCP sockets" in out["warnings"][0]
    assert out["groups"][0]["ranks"][1]["env"]["NCCL_IB_DISABLE"] == "1"


def test_llama_cpp_rpc_group_on_the_recorded_h200():
    with open(os.path.join(REPO, "tests", "fixtures", "gpu", "h200x2", "snapshot.json")) as handle:
        snap = json.load(handle)
    hosts = dict(("lab-gpu%d" % i, {"gpu": snap, "serving_address": "172.31.241.1%d" % i, "nccl_env": {}})
                 for i in (1, 2))
    out = plan([spec(name="split", engine="llama_cpp", model="tiny", allow_tcp=True, port=8201)], hosts)
    leader, worker = out["groups"][0]["ranks"]
    assert leader["argv"][leader["argv"].index("--rpc") + 1] == "172.31.241.12:50052"
    assert worker["argv"] == ["/opt/llmfleet/engines/llama_cpp/bin/rpc-server", "--host", "172.31.241.12",
                              "--port", "50052"]
    assert leader["env"]["CUDA_VISIBLE_DEVICES"] == ",".join(g["uuid"] for g in snap["gpus"])
    assert worker["port"] == 50052 and leader["port"] == 8201
    assert not [k for k in leader["env"] if k.startswith(("NCCL_", "GLOO_"))]  # no NCCL in llama.cpp's RPC


def test_spec_errors_name_the_spec():
    hosts = fleet(2)
    for bad, pattern in ((spec(engine="trt"), r"model_server_groups\[dsv3\]\.engine='trt'"),
                         (spec(model="nope"), r"model_server_groups\[dsv3\]\.model='nope'"),
                         (spec(nodes=0), r"model_server_groups\[dsv3\]\.nodes must be an integer >= 1"),
                         (spec(hosts=["gpu-z9"]), r"gpu-z9 has no pre-flight GPU facts")):
        with pytest.raises(sg.GroupPlanError, match=pattern):
            sg.plan_groups([bad if bad.get("hosts") else dict(bad, hosts=sorted(hosts))], hosts, MODELS)


@pytest.mark.parametrize("engine,table", [("vllm", "vllm-0.33.0-flags.tsv"), ("sglang", "sglang-0.5.23-flags.tsv"),
                                          ("llama_cpp", "llama_cpp-0.3.16-flags.tsv")])
def test_every_emitted_flag_exists_in_the_pinned_engine_cli(engine, table):
    known = flags(table)
    model = "tiny" if engine == "llama_cpp" else "dsv3-fp8"
    out = plan([spec(engine=engine, model=model, expert_parallel=engine != "llama_cpp")], fleet(2))
    for member in out["groups"][0]["ranks"]:
        prefix = "rpc-server " if member["argv"][0].endswith("/rpc-server") else ""
        missing = [f for f in emitted(member["argv"]) if prefix + f not in known]
        assert not missing, "%s %s: flags not in %s: %s" % (engine, member["role"], table, missing)


H200_RUN = os.path.join(REPO, "tests", "fixtures", "gpu", "h200-llama-cpp-rpc")


def _fixture(name):
    with open(os.path.join(H200_RUN, name)) as handle:
        return json.load(handle) if name.endswith(".json") else handle.read()


def test_the_h200_run_used_exactly_what_the_planner_renders_from_its_live_snapshot():
    ran = _fixture("plan-single.json")
    leader = ran["groups"][0]["ranks"][0]
    engines = {"llama_cpp": {"argv": [leader["argv"][0]], "worker_argv": [leader["argv"][0][:-len("llama-server")]
                                                                          + "rpc-server"]}}
    model_dir = leader["argv"][leader["argv"].index("--model") + 1].rsplit("/", 1)[0]
    models = [{"name": "tiny", "path": model_dir, "file": "tiny-llama.gguf", "size_gib": 0.001}]
    nvls = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
    now = sg.plan_groups([{"name": "tiny-gpu", "engine": "llama_cpp", "model": "tiny", "hosts": ["h200-dev"],
                           "port": 8201, "env": nvls}],
                         {"h200-dev": {"gpu": _fixture("snapshot.json"), "serving_address": "127.0.0.1"}},
                         models, engines=engines)
    mine = now["by_host"]["h200-dev"][0]
    assert mine["argv"] == leader["argv"] and mine["env"] == leader["env"]
    assert mine["env"]["CUDA_VISIBLE_DEVICES"] == _fixture("snapshot.json")["gpus"][0]["uuid"]


def test_the_h200_run_offloaded_split_over_rpc_and_recovered_after_a_worker_kill():
    single, rpc = _fixture("run-single.log"), _fixture("run-rpc.log")
    assert "offloaded 3/3 layers to GPU" in single and "CUDA0 model buffer size" in single
    assert "RPC[127.0.0.1:50052] model buffer size" in rpc and "CUDA0 model buffer size" in rpc
    assert '"chat": [\n  200,' in single and '"chat": [\n  200,' in rpc
    assert "rpc-server" in rpc.split('"nvidia_smi"')[1].split("\n")[0]  # the worker held GPU memory
    events = dict((e[0], e[1:]) for e in _fixture("kill-worker.json"))
    assert events["chat before kill"] == [200]
    assert events["leader exited after the worker's kill"][0] == -6  # SIGABRT: the group is down as a whole
    assert events["chat after restarting worker then leader"][0] == 200


def _six_h200_nodes_two_models():
    """dsv3-0 / dsv3-1 (BF16, 2 nodes each) on gpu-h01..04, and two one-node replicas of the FP8 model on 05, 06."""
    hosts = fleet(6, "NVIDIA H200", H200_MIB, prefix="gpu-h")
    return plan([spec(model="dsv3-bf16", replicas=2, hosts=["gpu-h01", "gpu-h02", "gpu-h03", "gpu-h04"]),
                 spec(name="fp8", model="dsv3-fp8", nodes=1, replicas=2, tensor_parallel_size=8,
                      hosts=["gpu-h05", "gpu-h06"])], hosts)


def test_a_limit_that_names_part_of_a_group_is_refused_or_widened():
    out = _six_h200_nodes_two_models()
    with pytest.raises(sg.GroupPlanError, match=r"dsv3-0: limit has gpu-h02, leaves out gpu-h01"):
        sg.check_limit(out, ["gpu-h02", "gpu-h05"])
    hosts, messages = sg.check_limit(out, ["gpu-h02", "gpu-h05"], widen=True)
    assert hosts == ["gpu-h02", "gpu-h05", "gpu-h01"]
    assert messages == ["--limit widened to the whole group dsv3-0: added gpu-h01"]
    # whole groups and hosts outside any group pass unchanged
    assert sg.check_limit(out, ["gpu-h03", "gpu-h04", "gpu-h06", "svc1"]) == (
        ["gpu-h03", "gpu-h04", "gpu-h06", "svc1"], [])


def test_the_fast_path_never_skips_one_member_of_a_changed_group():
    out = _six_h200_nodes_two_models()
    assert sg.full_path_hosts(out, ["gpu-h04"]) == ["gpu-h03", "gpu-h04"]
    assert sg.full_path_hosts(out, ["gpu-h05", "svc1"]) == ["gpu-h05", "svc1"]
    assert sg.full_path_hosts(out, []) == []


def test_rolling_restart_batches_take_whole_groups_never_two_of_one_model():
    out = _six_h200_nodes_two_models()
    batches = sg.rolling_batches(out)
    assert batches == [["dsv3-0", "fp8-0"], ["dsv3-1", "fp8-1"]]
    model_of = dict((g["name"], g["model"]) for g in out["groups"])
    for batch in batches:
        assert len(set(model_of[n] for n in batch)) == len(batch)
    assert sg.rolling_batches({"groups": []}) == []


def test_single_node_llama_server_instance_flags_exist_in_the_pinned_cli():
    """serving_plan's llama_cpp instance (the replicas) emits only flags of the pinned llama-server."""
    from ansible_collections.llmfleet.baremetal.plugins.module_utils.serving_plan import plan_instances
    snapshot = json.load(open(os.path.join(REPO, "tests", "fixtures", "gpu", "h200x2", "snapshot.json")))
    snapshot = snapshot.get("llmfleet_gpu", snapshot)
    known = flags("llama_cpp-0.3.16-flags.tsv")
    for gpus in (True, False):
        out = plan_instances(snapshot, [{"name": "lab", "engine": "llama_cpp", "model": "tiny", "gpus": gpus,
                                         "count": 1, "threads": 1}],
                             [{"name": "tiny", "path": "/srv/models/tiny", "file": "tiny-llama.gguf"}], host_name="h")
        argv = out[0]["argv"]
        assert argv[0].endswith("/bin/llama-server")
        assert argv[argv.index("--n-gpu-layers") + 1] == ("999" if gpus else "0")
        missing = [f for f in emitted(argv) if f not in known]
        assert not missing, missing


def test_lab_group_extra_args_exist_in_the_pinned_cli():
    known = flags("llama_cpp-0.3.16-flags.tsv")
    lab = ["--threads", "1", "--chat-template", "chatml"]
    assert not [f for f in emitted(lab) if f not in known]


def test_the_example_inventory_plans_two_bf16_replicas_on_its_four_h200_nodes():
    import yaml
    inv = os.path.join(REPO, "inventories", "example")
    gvars = yaml.safe_load(open(os.path.join(inv, "group_vars", "gpu_nodes.yml")))
    nodes = sorted(yaml.safe_load(open(os.path.join(inv, "hosts.yml")))["all"]["children"]["gpu_nodes"]["hosts"])
    specs = [dict(s, hosts=nodes) for s in gvars["model_server_groups"]]  # "{{ groups['gpu_nodes'] }}"
    hosts = dict((h, {"gpu": board("NVIDIA H200", 143771), "serving_address": "10.20.0.%d" % (11 + i),
                      "serving_interface": "ens1f0", "nccl_env": {"NCCL_IB_HCA": "=mlx5_0:1", "NCCL_IB_GID_INDEX": "3"}})
                 for i, h in enumerate(nodes))
    out = sg.plan_groups(specs, hosts, gvars["model_server_models"])
    assert [(g["name"], g["members"]) for g in out["groups"]] == [("dsv3-0", ["gpu-a01", "gpu-a02"]),
                                                                  ("dsv3-1", ["gpu-a03", "gpu-a04"])]
    assert all((g["tensor_parallel_size"], g["pipeline_parallel_size"], g["fabric"]) == (8, 2, "rdma")
               for g in out["groups"])


def test_a_secret_in_a_group_env_is_refused():
    with pytest.raises(sg.GroupPlanError) as err:
        plan([spec(env={"HF_TOKEN": "hf_secret", "NCCL_DEBUG": "WARN"})], fleet(2))
    assert "model_server_groups[dsv3].env.HF_TOKEN looks like a secret" in str(err.value)
    assert "hf_secret" not in str(err.value)
