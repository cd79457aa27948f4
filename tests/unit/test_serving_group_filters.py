"""plugins/filter/serving.py's group filters: model_server_groups from hostvars (serving network from the facts),
model_group_check_entry, model_server_local_url, and scrape targets without a group's workers."""

from __future__ import annotations

import json
import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.llmfleet.baremetal.plugins.filter import serving as filt  # noqa: E402

SNAPSHOT = json.load(open(os.path.join(REPO, "tests", "fixtures", "gpu", "h200x2", "snapshot.json")))
SNAPSHOT = SNAPSHOT.get("llmfleet_gpu", SNAPSHOT)
MODELS = [{"name": "tiny", "path": "/srv/models/tiny", "file": "tiny-llama.gguf", "size_gib": 0.01}]
SPEC = {"name": "split", "engine": "llama_cpp", "model": "tiny", "nodes": 2, "hosts": ["srv-gpu1", "srv-gpu2"],
        "allow_tcp": True, "port": 8111}


def hostvars(**override):
    def one(address, mgmt):
        return {"ansible_host": mgmt, "ansible_facts": {
            "llmfleet_gpu": SNAPSHOT, "interfaces": ["lo", "eth0", "eth1"],
            "lo": {"ipv4": {"address": "127.0.0.1"}}, "eth0": {"ipv4": {"address": mgmt}},
            "eth1": {"ipv4": {"address": address}}}}
    out = {"srv-gpu1": one("10.40.0.11", "192.168.1.11"), "srv-gpu2": one("10.40.0.12", "192.168.1.12"),
           "srv-mon1": {"ansible_host": "192.168.1.21"}}
    out.update(override)
    return out


def test_groups_on_the_serving_network_from_the_facts():
    plan = filt.model_server_groups([SPEC], hostvars(), MODELS, cidr="10.40.0.0/24",
                                    limit=["srv-gpu1", "srv-gpu2", "srv-mon1"])
    leader, worker = plan["groups"][0]["ranks"]
    assert leader["listen"] == "10.40.0.11" and worker["listen"] == "10.40.0.12"
    assert leader["argv"][leader["argv"].index("--rpc") + 1] == "10.40.0.12:50052"
    assert worker["leader_address"] == "10.40.0.11" and worker["tcp_port"] == 50052
    assert plan["warnings"]  # allow_tcp: slow, said so


def test_no_cidr_uses_ansible_host():
    plan = filt.model_server_groups([SPEC], hostvars(), MODELS)
    assert plan["groups"][0]["ranks"][0]["listen"] == "192.168.1.11"


def test_a_host_outside_the_serving_network_is_named():
    bad = hostvars()
    bad["srv-gpu2"]["ansible_facts"]["eth1"] = {"ipv4": {"address": "10.99.0.12"}}
    with pytest.raises(AnsibleFilterError, match="srv-gpu2 has no address inside llmfleet_serving_cidr=10.40.0.0/24"):
        filt.model_server_groups([SPEC], bad, MODELS, cidr="10.40.0.0/24")


def test_serving_address_override():
    hv = hostvars()
    hv["srv-gpu2"]["llmfleet_serving_address"] = "192.168.1.12"
    plan = filt.model_server_groups([SPEC], hv, MODELS, cidr="10.40.0.0/24")
    assert plan["groups"][0]["ranks"][1]["listen"] == "192.168.1.12"


def test_a_limit_that_takes_part_of_a_group_is_refused():
    with pytest.raises(AnsibleFilterError, match="split"):
        filt.model_server_groups([SPEC], hostvars(), MODELS, cidr="10.40.0.0/24", limit=["srv-gpu1"])


def test_check_entry_and_local_url():
    plan = filt.model_server_groups([SPEC], hostvars(), MODELS, cidr="10.40.0.0/24")
    leader, worker = plan["groups"][0]["ranks"]
    entry = filt.model_group_check_entry(leader)
    assert entry == {"group": "split", "model": "tiny", "unit": "llmfleet-model-split-leader.service",
                     "health_url": "http://10.40.0.11:8111/health",
                     "workers": [{"host": "srv-gpu2", "address": "10.40.0.12", "port": 50052}]}
    with pytest.raises(AnsibleFilterError):
        filt.model_group_check_entry(worker)
    assert filt.local_url({"listen": "0.0.0.0", "port": 8101, "health_path": "/health"}) == "http://127.0.0.1:8101/health"
    assert filt.local_url({"listen": "fd00::1", "port": 1}, "/v1/models") == "http://[fd00::1]:1/v1/models"


def test_targets_leave_out_group_workers():
    plan = filt.model_server_groups([SPEC], hostvars(), MODELS, cidr="10.40.0.0/24")
    leader, worker = plan["groups"][0]["ranks"]
    from ansible_collections.llmfleet.baremetal.plugins.filter.monitoring import model_server_targets
    assert [t["name"] for t in model_server_targets("srv-gpu2", this_run=[worker])] == []
    assert [t["name"] for t in model_server_targets("srv-gpu1", this_run=[leader])] == ["split-leader"]


def test_nccl_transport_check_on_the_cited_logs():
    fixtures = os.path.join(REPO, "tests", "fixtures", "nccl")
    socket_log = open(os.path.join(fixtures, "socket_fallback.log")).read()
    roce_log = open(os.path.join(fixtures, "rdma_roce.log")).read()
    member = {"group": "dsv3", "host": "gpu-a01", "fabric": "rdma"}
    assert filt.nccl_transport_check(roce_log, member)["status"] == "ok"
    bad = filt.nccl_transport_check(socket_log, member)
    assert bad["status"] == "fail" and "gpu-a01" in bad["message"]
    assert filt.nccl_transport_check(socket_log, member, on_socket="warn")["status"] == "warn"
    assert filt.nccl_transport_check(socket_log, dict(member, fabric="tcp"))["status"] == "warn"
    with pytest.raises(AnsibleFilterError):
        filt.nccl_transport_check(roce_log, member, on_socket="ignore")
