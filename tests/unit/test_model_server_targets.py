"""model_server_targets: this run's fact, else the node's file read now, else the monitoring server's previous list."""

import base64
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.filter.monitoring import model_server_targets

INST = [{"name": "lab-0", "port": 8101, "enabled": True}, {"name": "off", "port": 8102, "enabled": False}]


def slurped(item, instances):
    return {"item": item, "content": base64.b64encode(json.dumps({"instances": instances}).encode()).decode()}


def test_fact_of_this_run_wins():
    out = model_server_targets("gpu1", INST, [slurped("gpu1", [])], [{"host": "gpu1", "name": "old"}], "10.0.0.1")
    assert out == [{"name": "lab-0", "port": 8101, "enabled": True, "host": "gpu1", "address": "10.0.0.1"}]


def test_file_read_now_when_the_serving_play_did_not_run():
    out = model_server_targets("gpu2", None, [slurped("gpu1", []), slurped("gpu2", INST)], [], None)
    assert [t["name"] for t in out] == ["lab-0"] and out[0]["address"] == "gpu2"


def test_unreachable_node_keeps_its_previous_targets():
    previous = [{"host": "gpu2", "name": "lab-0", "enabled": True, "address": "10.0.0.2"},
                {"host": "gpu1", "name": "x", "enabled": True, "address": "10.0.0.1"}]
    results = [{"item": "gpu2", "unreachable": True, "msg": "ssh: connect to host ... timed out"}]
    assert model_server_targets("gpu2", None, results, previous) == [previous[0]]
    assert model_server_targets("gpu3", None, results, previous) == []


def test_broken_file_is_named():
    bad = {"item": "gpu1", "content": base64.b64encode(b"{not json").decode()}
    with pytest.raises(AnsibleFilterError, match="gpu1: /etc/llmfleet/model-servers.json"):
        model_server_targets("gpu1", None, [bad], [])


def test_drained_instances_only_when_asked():
    drained = INST + [{"name": "lab-1", "port": 8103, "enabled": False, "drained": "gpu1: burn-in failed"}]
    assert [t["name"] for t in model_server_targets("gpu1", drained, [], [], "10.0.0.1")] == ["lab-0"]
    assert [t["name"] for t in model_server_targets("gpu1", drained, [], [], "10.0.0.1", True)] == ["lab-0", "lab-1"]
