"""The llama.cpp group split across both lab GPU nodes (issue 18): the worker's rpc-server holds part of the model,
a chat completion succeeds through the leader, only the leader reaches the worker, and a `kill -9` of the worker's
rpc-server makes the group down as one (ModelServerGroupDegraded fires) until it recovers on its own - the group
check on the leader restarts it once the worker is back. Runs after test_serving.py (file order); the timings go to
lab/cache/serving/verify-results.json."""

import os
import re
import sys
import time
import urllib.error

import testinfra

sys.path.insert(0, os.path.dirname(__file__))
from test_serving import GPU_HOSTS, SCENARIO, engine_key, http, prom, record  # noqa: E402  (shared helpers of this scenario)

testinfra_hosts = ["ansible://srv-gpu1?force_ansible=True"]

LEADER_UNIT = "llmfleet-model-split-leader.service"
WORKER_UNIT = "llmfleet-model-split-worker1.service"
LEADER = GPU_HOSTS["srv-gpu1"]["ansible_host"]
WORKER = GPU_HOSTS["srv-gpu2"]["ansible_host"]
PORT, RPC_PORT = 8111, 50052


def other(name):
    return testinfra.get_host("ansible://%s?force_ansible=True" % name,
                              ansible_inventory=os.path.join(SCENARIO, "inventory.yml"))


def chat(timeout=60):
    status, data = http("http://%s:%d/v1/chat/completions" % (LEADER, PORT), {
        "model": "tiny-split", "max_tokens": 8,
        "messages": [{"role": "user", "content": "Say hello across two nodes."}]},
        timeout=timeout, bearer=engine_key("tiny-split"))
    assert status == 200 and data["choices"][0]["message"]["role"] == "assistant", data
    return data


def group_up():
    rows = prom("/api/v1/query?query=llmfleet_model_group_up")["result"]
    return {r["metric"].get("group"): r["value"][1] for r in rows}


def firing():
    return [a for a in prom("/api/v1/alerts")["alerts"]
            if a["labels"]["alertname"] == "ModelServerGroupDegraded" and a["state"] == "firing"]


def test_worker_holds_part_of_the_weights(host):
    invocation = host.run("systemctl show -p InvocationID --value %s" % LEADER_UNIT).stdout.strip()
    log = host.run("journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID=%s" % invocation).stdout
    rpc = re.findall(r"RPC\[%s:%d\] model buffer size =\s+([0-9.]+) MiB" % (re.escape(WORKER), RPC_PORT), log)
    assert rpc and float(rpc[-1]) > 0, log[-3000:]
    offloaded = re.findall(r"offloaded (\d+)/(\d+) layers", log)
    assert offloaded and offloaded[-1][0] == offloaded[-1][1], log[-3000:]
    worker_log = other("srv-gpu2").run("journalctl --no-pager -o cat -u %s" % WORKER_UNIT).stdout
    assert "Accepted client connection" in worker_log, worker_log[-2000:]
    record(split_group={"worker_model_buffer_mib": float(rpc[-1]), "layers_offloaded": "/".join(offloaded[-1]),
                        "leader_log": [line for line in log.splitlines() if "RPC[" in line or "offloaded" in line]})


def test_chat_through_the_leader_and_group_metric_up(host):  # host: keeps this test in file order
    data = chat()
    assert data["usage"]["completion_tokens"] > 0
    end = time.monotonic() + 60  # an alert resolves one evaluation after the metric (a rolling restart ran before)
    while (group_up().get("split") != "1" or firing()) and time.monotonic() < end:
        time.sleep(2)
    assert group_up().get("split") == "1"
    assert not firing()


def test_only_the_leader_reaches_the_worker(host):
    """rpc-server has no authentication: its unit lets only the leader's address (and localhost) in."""
    linked = host.run("python3 /usr/local/libexec/llmfleet/llmfleet-model-group linked %s:%d" % (WORKER, RPC_PORT))
    assert linked.rc == 0, "the leader holds no connection to its worker"
    probe = ("python3 -c \"import socket,sys; s=socket.socket(); s.settimeout(3); "
             "sys.exit(0 if s.connect_ex(('%s', %d)) == 0 else 7)\"" % (WORKER, RPC_PORT))
    denied = other("srv-mon1").run(probe)
    assert denied.rc == 7, "srv-mon1 reached the worker's rpc-server: %s" % denied.stdout


def test_killed_worker_downs_the_group_and_it_recovers(host):
    worker = other("srv-gpu2")
    # start from a group that is up with no alert left from an earlier test (a rolling restart stops the leader)
    end = time.monotonic() + 90
    while (group_up().get("split") != "1" or firing()) and time.monotonic() < end:
        time.sleep(2)
    assert group_up().get("split") == "1" and not firing(), "the group is not up before the kill"
    recoveries = prom("/api/v1/query?query=llmfleet_model_group_recoveries_total")["result"]
    before = int(float(recoveries[0]["value"][1])) if recoveries else 0
    pid = worker.run("systemctl show -p MainPID --value %s" % WORKER_UNIT).stdout.strip()
    assert pid and pid != "0"
    t0 = time.monotonic()
    assert worker.run("kill -9 %s" % pid).rc == 0
    down_at = fired_at = up_at = chat_at = None
    while time.monotonic() - t0 < 180 and (up_at is None or chat_at is None or fired_at is None):
        now = time.monotonic() - t0
        if down_at is None and group_up().get("split") == "0":
            down_at = now
        if fired_at is None and firing():
            fired_at = now
        if down_at is not None and up_at is None and group_up().get("split") == "1":
            up_at = now
        if up_at is not None and chat_at is None:
            try:
                chat(timeout=20)
                chat_at = time.monotonic() - t0
            except (urllib.error.URLError, OSError, AssertionError):
                pass
        time.sleep(1)
    journal = host.run("journalctl --no-pager -o short-precise -t llmfleet-model-group --since '-5min'").stdout
    result = {"group_down_seen_after_s": down_at and round(down_at, 1),
              "alert_firing_after_s": fired_at and round(fired_at, 1),
              "group_up_again_after_s": up_at and round(up_at, 1),
              "chat_ok_again_after_s": chat_at and round(chat_at, 1),
              "group_check_log": [line for line in journal.splitlines() if "split" in line][-6:]}
    record(split_group_kill=result)
    print("kill -9 of the worker's rpc-server: %s" % result)
    assert down_at is not None, "the group never showed down: %s" % result
    assert fired_at >= down_at - 6, "an alert older than the kill: %s" % result
    assert fired_at is not None, "ModelServerGroupDegraded did not fire: %s" % result
    assert up_at is not None and chat_at is not None, "the group did not recover on its own: %s" % result
    assert "restart %s" % LEADER_UNIT in journal, journal
    after = prom("/api/v1/query?query=llmfleet_model_group_recoveries_total")["result"]
    assert int(float(after[0]["value"][1])) > before
    end = time.monotonic() + 60
    while firing() and time.monotonic() < end:
        time.sleep(2)
    assert not firing(), "ModelServerGroupDegraded still fires after the recovery"
