"""The model_server role's unit template rendered for group members (issue 18): a 2 x (8 x H100) DeepSeek-V3 FP8
group for vLLM (TP8 x PP2) and SGLang (TP16), and the lab's llama.cpp leader/worker. Rendered with Jinja2 and
Ansible's own filters, so the text is what the role writes (ansible_managed aside)."""

from __future__ import annotations

import os
import sys

import jinja2
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ansible.plugins.filter.core import FilterModule as CoreFilters  # noqa: E402
from ansible.plugins.filter.mathstuff import FilterModule as MathFilters  # noqa: E402
from ansible_collections.llmfleet.baremetal.plugins.filter import serving as serving_filters  # noqa: E402

from test_serving_groups import fleet, plan, spec  # noqa: E402

ROLE = os.path.join(REPO, "roles", "model_server")
VARS = {"ansible_managed": "Ansible managed", "model_server_start_limit_interval_sec": 900,
        "model_server_start_limit_burst": 3, "model_server_user": "llmfleet-model",
        "__model_server_home": "/var/lib/llmfleet-model", "model_server_unit_prefix": "llmfleet-model",
        "__model_server_check_bin": "/usr/local/libexec/llmfleet/llmfleet-model-check",
        "__model_server_group_bin": "/usr/local/libexec/llmfleet/llmfleet-model-group",
        "model_server_checksum_mode": "cached", "model_server_restart_sec": 10, "model_server_limit_nofile": 65536,
        "__model_server_bytes": 700 * 2 ** 30, "__model_server_timeout": 4320,
        "__model_server_http_allow": ["10.30.0.5", "10.30.0.9"], "model_server_engine_auth": True,
        "__model_server_engine_key_host_dir": "/etc/llmfleet/engine-keys",
        "__model_server_memory_share": 96 << 30,
        # an H100 x8 node whose device minors are not the CUDA order (NVML's minor number names /dev/nvidiaN)
        "ansible_facts": {"llmfleet_gpu": {"gpus": [{"index": i, "minor_number": 7 - i} for i in range(8)]}}}


def render(member):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, "templates")), trim_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(CoreFilters().filters())
    env.filters.update(MathFilters().filters())
    env.filters.update({"llmfleet.baremetal." + k: v for k, v in serving_filters.FilterModule().filters().items()})
    return env.get_template("model-server.service.j2").render(item=member, **VARS)


def props(text):
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_deepseek_group_units_on_two_h100_nodes(engine):
    out = plan([spec(engine=engine)], fleet(2))
    leader, worker = out["groups"][0]["ranks"]
    for member in (leader, worker):
        unit = render(member)
        if os.environ.get("LLMFLEET_PRINT_UNITS"):
            print("==== %s (%s) ====\n%s" % (member["unit"], member["host"], unit))
        p = props(unit)
        env = dict(e.split("=", 1) for e in p["Environment"])
        assert env["CUDA_VISIBLE_DEVICES"] == ",".join("GPU-HBM3-%d" % i for i in range(8))
        assert env["NCCL_IB_HCA"] and env["NCCL_IB_GID_INDEX"] and env["NCCL_DEBUG"] == "INFO"
        assert env["NCCL_SOCKET_IFNAME"] == "=bond0" and env["GLOO_SOCKET_IFNAME"] == "bond0"
        assert "NCCL_IB_DISABLE" not in env
        assert any("llmfleet-model-check" in x for x in p["ExecStartPre"])  # every rank reads the weights
        assert p["User"] == ["llmfleet-model"] and p["NoNewPrivileges"] == ["yes"]
        # its own GPUs only (all 8 here: /dev/nvidia<minor>, minors reversed on this node), no capability
        assert p["DevicePolicy"] == ["closed"] and p["CapabilityBoundingSet"] == [""]
        assert p["DeviceAllow"][:8] == ["/dev/nvidia%d rw" % (7 - g) for g in member["gpus"]]
        assert "/dev/nvidiactl rw" in p["DeviceAllow"] and "char-nvidia-frontend rw" not in p["DeviceAllow"]
        # memory: the host's share (no memory_max in the spec); a runaway request restarts this unit only
        assert p["MemoryMax"] == [str(96 << 30)] and p["MemoryHigh"] == [str(int((96 << 30) * 0.9))]
        assert p["OOMPolicy"] == ["stop"]
        start = p["ExecStart"][0]
        # the network: every other rank (NCCL, Gloo, the rendezvous); the leader's HTTP also gateways + monitoring
        assert p["IPAddressDeny"] == ["any"]
        peer = "10.30.0.12" if member["rank"] == 0 else "10.30.0.11"
        http_allow = " 10.30.0.5 10.30.0.9" if member["rank"] == 0 else ""
        assert p["IPAddressAllow"] == ["localhost%s %s" % (http_allow, peer)], p["IPAddressAllow"]
        # the engine key: vLLM from a root-only environment file; SGLang has no way but argv, so none
        assert "--api-key" not in start
        if engine == "vllm" and member["rank"] == 0:
            assert p["EnvironmentFile"] == ["/etc/llmfleet/engine-keys/deepseek-v3.env"], p.get("EnvironmentFile")
        else:
            assert "EnvironmentFile" not in p and "LoadCredential" not in p
        if engine == "vllm":
            assert "--tensor-parallel-size 8 --pipeline-parallel-size 2" in start
            assert "--nnodes 2 --node-rank %d --master-addr 10.30.0.11 --master-port 29500" % member["rank"] in start
            assert ("--headless" in start) == (member["rank"] == 1)
        else:
            assert "--tp-size 16" in start and "--dist-init-addr 10.30.0.11:29500" in start
            assert "--node-rank %d" % member["rank"] in start


def test_llama_cpp_worker_unit_lets_only_its_leader_in():
    hosts = fleet(2)
    models = [{"name": "tiny", "path": "/srv/models/tiny", "file": "tiny-llama.gguf", "size_gib": 0.01}]
    import test_serving_groups as tsg
    out = tsg.sg.plan_groups([spec(engine="llama_cpp", model="tiny", hosts=sorted(hosts), allow_tcp=True)], hosts,
                             models)
    leader, worker = out["groups"][0]["ranks"]
    lp, wp = props(render(leader)), props(render(worker))
    assert any("llmfleet-model-group wait --timeout 4320 10.30.0.12:50052" in x for x in lp["ExecStartPre"])
    # the leader's HTTP: gateways and monitoring, plus its worker; the worker: its leader only
    assert lp["IPAddressDeny"] == ["any"] and lp["IPAddressAllow"] == ["localhost 10.30.0.5 10.30.0.9 10.30.0.12"]
    assert wp["IPAddressDeny"] == ["any"] and wp["IPAddressAllow"] == ["localhost 10.30.0.11"]
    # the engine key: a file that --api-key-file names, never the key in argv or the unit file
    assert lp["ExecStart"][0].endswith(" --api-key-file /etc/llmfleet/engine-keys/tiny.key")
    assert "LoadCredential" not in wp and "--api-key" not in wp["ExecStart"][0]
    assert "ExecStartPre" not in wp and not any(e.startswith("LLMFLEET_MODEL_DIR") for e in wp["Environment"])
    assert wp["ExecStart"][0].startswith("/opt/llmfleet/engines/llama_cpp/bin/rpc-server --host 10.30.0.12")
