"""Serving lab verify: real completions from every replica and from the group split across both GPU nodes, every
Prometheus target up, rolling restart keeps N-1 (replicas one at a time, the group whole), corrupt weights refuse to
start, and a stopped model server fires ModelServerDown within its for: (tests run in file order). The group's own
lifecycle (worker killed, recovery, ModelServerGroupDegraded): test_split_group.py, after these."""

import base64
import json
import os
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
import testinfra
import yaml

testinfra_hosts = ["ansible://srv-gpu1?force_ansible=True"]

ROOT = os.environ.get("LLMFLEET_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
SCENARIO = os.path.join(ROOT, "molecule", "serving")
SECRETS = os.path.join(ROOT, "lab", "cache", "secrets", "molecule-serving", "monitoring")
RESULTS = os.path.join(ROOT, "lab", "cache", "serving", "verify-results.json")
INVENTORY = yaml.safe_load(open(os.path.join(SCENARIO, "inventory.yml")))
GPU_HOSTS = INVENTORY["all"]["children"]["gpu_nodes"]["hosts"]
GPU_ADDR = GPU_HOSTS["srv-gpu1"]["ansible_host"]
MON_ADDR = INVENTORY["all"]["children"]["monitoring"]["hosts"]["srv-mon1"]["ansible_host"]
NOCOLOR = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")  # molecule's verify forces colour
ALERT_FOR_S = 30  # monitoring_alert_for_overrides.ModelServerDown in inventory.yml
SCRAPE_S = 5


def record(**kw):
    data = {}
    if os.path.exists(RESULTS):
        data = json.load(open(RESULTS))
    data.update(kw)
    json.dump(data, open(RESULTS, "w"), indent=1)


def engine_key(model):
    """The engine key of a served model (the gateway injects it; direct requests to an engine need it)."""
    return open(os.path.join(ROOT, "lab", "cache", "secrets", "molecule-serving", "engine-keys",
                             "%s.key" % model)).read().strip()


def http(url, body=None, timeout=30, auth=False, bearer=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    if bearer:
        req.add_header("Authorization", "Bearer " + bearer)
    ctx = None
    if auth:
        pw = open(os.path.join(SECRETS, "basic-auth-password")).read().split()[0]
        req.add_header("Authorization", "Basic " + base64.b64encode(("prometheus:" + pw).encode()).decode())
        ctx = ssl.create_default_context(cafile=os.path.join(SECRETS, "ca.crt"))
    with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:
        return resp.status, json.loads(resp.read().decode())


def prom(path):
    status, data = http("https://%s:9090%s" % (MON_ADDR, path), auth=True)
    assert status == 200 and data["status"] == "success"
    return data["data"]


def state_of(name):
    """model-servers.json of inventory host NAME, read through Ansible (the lab's own SSH key)."""
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible"), "-i", os.path.join(SCENARIO, "inventory.yml"),
                           name, "-m", "ansible.builtin.slurp", "-a", "src=/etc/llmfleet/model-servers.json", "-o"],
                          capture_output=True, text=True, check=True, cwd=ROOT, timeout=120, env=NOCOLOR)
    content = json.JSONDecoder().raw_decode(proc.stdout.split("=>", 1)[1].strip())[0]["content"]
    return [dict(i, address=GPU_HOSTS[name]["ansible_host"], host=name)
            for i in json.loads(base64.b64decode(content))["instances"]]


@pytest.fixture(scope="module")
def members():
    """Every deployed instance and group member of both GPU nodes."""
    return state_of("srv-gpu1") + state_of("srv-gpu2")


@pytest.fixture(scope="module")
def instances(members):
    """srv-gpu1's own replica(s) (not group members)."""
    return [i for i in members if i["host"] == "srv-gpu1" and "group" not in i]


@pytest.fixture(scope="module")
def fleet(members):
    """Everything that answers HTTP: the replica of each node and the group's leader."""
    return [i for i in members if i.get("health_path")]


def wait_ready(inst, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if http("http://%s:%d/v1/models" % (inst.get("address", GPU_ADDR), inst["port"]), timeout=5)[0] == 200:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise AssertionError("%s not ready after %ds" % (inst["name"], timeout))


def test_group_takes_both_nodes_replicas_no_gpu(members):
    """The planner put group "split" on both replayed H200 nodes (leader = rank 0 = srv-gpu1, GPUs by UUID) and one
    replica of "tiny" without GPUs on each node."""
    snapshot = json.load(open(os.path.join(ROOT, "tests", "fixtures", "gpu", "h200x2", "snapshot.json")))
    snapshot = snapshot.get("llmfleet_gpu", snapshot)
    uuids = ",".join(g["uuid"] for g in sorted(snapshot["gpus"], key=lambda g: g["index"]))
    by = dict(((i["host"], i["name"]), i) for i in members)
    assert sorted(by) == [("srv-gpu1", "lab-0"), ("srv-gpu1", "split-leader"), ("srv-gpu2", "lab-0"),
                          ("srv-gpu2", "split-worker1")], sorted(by)
    leader, worker = by[("srv-gpu1", "split-leader")], by[("srv-gpu2", "split-worker1")]
    assert leader["rank"] == 0 and worker["rank"] == 1 and leader["members"] == ["srv-gpu1", "srv-gpu2"]
    assert leader["gpus"] == [0, 1] and leader["env"]["CUDA_VISIBLE_DEVICES"] == uuids
    assert leader["listen"] == GPU_HOSTS["srv-gpu1"]["ansible_host"]
    rpc = leader["argv"][leader["argv"].index("--rpc") + 1]
    assert rpc == "%s:50052" % GPU_HOSTS["srv-gpu2"]["ansible_host"], leader["argv"]
    assert worker["argv"][0].endswith("/rpc-server") and worker["model_path"] is None
    assert leader["fabric"] == "tcp"  # allow_tcp: the lab has no RDMA fabric
    assert all(by[(h, "lab-0")]["gpus"] == [] for h in ("srv-gpu1", "srv-gpu2"))


def test_units_are_hardened(host, members):
    for inst in [m for m in members if m["host"] == "srv-gpu1"]:
        unit = host.run("systemctl show %s -p User -p NoNewPrivileges -p ProtectSystem -p LimitMEMLOCK "
                        "-p Restart -p StartLimitBurst -p ActiveState -p ExecStartPre -p CPUAffinity" % inst["unit"])
        props = dict(line.split("=", 1) for line in unit.stdout.splitlines() if "=" in line)
        assert props["User"] == "llmfleet-model"
        assert props["NoNewPrivileges"] == "yes" and props["ProtectSystem"] == "strict"
        assert props["LimitMEMLOCK"] == "infinity" and props["Restart"] == "on-failure"
        assert props["ActiveState"] == "active"
        assert "llmfleet-model-check" in unit.stdout  # a group leader has a second ExecStartPre (waits for workers)
        assert host.process.filter(user="llmfleet-model", comm="llama-server")


def test_chat_completion_on_every_instance(fleet):
    seen = {}
    for inst in fleet:
        status, data = http("http://%s:%d/v1/chat/completions" % (inst["address"], inst["port"]), {
            "model": inst["served_model_name"], "max_tokens": 8,
            "messages": [{"role": "user", "content": "Say hello to the llmfleet lab."}]},
            bearer=engine_key(inst["served_model_name"]))
        assert status == 200, data
        assert data["choices"] and data["choices"][0]["message"]["role"] == "assistant"
        assert data["usage"]["completion_tokens"] > 0
        seen["%s/%s" % (inst["host"], inst["name"])] = data
        print("completion from %s: %s" % (inst["name"], json.dumps(data)))
    record(completions=seen)


def test_v1_models(fleet):
    for inst in fleet:
        status, data = http("http://%s:%d/v1/models" % (inst["address"], inst["port"]))
        assert status == 200 and [m["id"] for m in data["data"]] == [inst["served_model_name"]]


def test_prometheus_scrapes_every_target_up(host):  # host: keeps this test in file order (host-parametrized)
    end = time.monotonic() + 90
    while True:
        targets = prom("/api/v1/targets")["activeTargets"]
        down = [(t["labels"]["job"], t["labels"].get("instance"), t["health"], t.get("lastError"))
                for t in targets if t["health"] != "up"]
        down += [("probe", r["metric"]["instance"], "probe_success=0", None)
                 for r in prom("/api/v1/query?query=probe_success")["result"] if r["value"][1] != "1"]
        if not down or time.monotonic() > end:
            break
        time.sleep(3)
    assert not down, down
    jobs = sorted(set(t["labels"]["job"] for t in targets))
    # model_servers: llama-server's own /metrics (--metrics) on every replica and on the group's leader
    # alertmanager: llmfleet's own on srv-mon1 (TLS + basic auth like the exporters), scraped and sent alerts
    assert jobs == ["alertmanager", "blackbox", "gateway", "model_server_probe", "model_servers", "node",
                    "prometheus"], jobs
    ups = prom("/api/v1/query?query=up")["result"]
    assert ups and all(r["value"][1] == "1" for r in ups), ups
    probes = prom("/api/v1/query?query=probe_success")["result"]
    assert len(probes) == 3 and all(r["value"][1] == "1" for r in probes), probes
    record(targets=[(t["labels"]["job"], t["labels"]["instance"], t["health"]) for t in targets])


def run_under_load(instances, argv, gateway=None):
    """Run an ansible-playbook command while a thread sends a completion to every instance in rounds; returns the
    process, its seconds and the list of rounds (each: the instances that did not answer). ``gateway``: a list that
    a second thread fills with the outcome of each request for model "tiny" (two replicas) through the gateway,
    as a client sees it (the official openai SDK, no retries)."""
    rounds, stop = [], threading.Event()

    def client_load():
        import openai  # pylint: disable=import-outside-toplevel
        keys = dict((k["name"], k.get("key")) for k in INVENTORY["all"]["vars"]["gateway_api_keys"])
        c = openai.OpenAI(base_url="https://%s/v1" % MON_ADDR, api_key=keys["lab-load"], max_retries=0, timeout=30,
                          http_client=openai.DefaultHttpxClient(verify=os.path.join(
                              ROOT, "lab", "cache", "secrets", "molecule-serving", "gateway", "ca.crt")))
        while not stop.is_set():
            try:
                c.chat.completions.create(model="tiny", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
                gateway.append("ok")
            except openai.APIError as exc:
                gateway.append(repr(exc))

    def load():
        while not stop.is_set():
            down = []
            for inst in instances:
                try:
                    status, data = http("http://%s:%d/v1/chat/completions" % (inst["address"], inst["port"]), {
                        "model": inst["served_model_name"], "max_tokens": 2,
                        "messages": [{"role": "user", "content": "hi"}]}, timeout=10,
                        bearer=engine_key(inst["served_model_name"]))
                    if status != 200 or not data.get("choices"):
                        down.append(inst["host"] + "/" + inst["name"])
                except (urllib.error.URLError, OSError, ValueError):
                    down.append(inst["host"] + "/" + inst["name"])
            rounds.append(down)
            time.sleep(0.2)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    through = threading.Thread(target=client_load, daemon=True) if gateway is not None else None
    if through:
        through.start()
    t0 = time.monotonic()
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i",
                           os.path.join(SCENARIO, "inventory.yml"), *argv],
                          capture_output=True, text=True, check=False, cwd=ROOT, timeout=600, env=NOCOLOR)
    took = time.monotonic() - t0
    stop.set()
    worker.join(30)
    if through:
        through.join(30)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc, took, rounds


def assert_one_at_a_time(proc, rounds, instances, key, took):
    for inst in instances:
        if "group" in inst:
            assert ("Restart the workers of group %s" % inst["group"] in proc.stdout
                    or "Restart %s" % inst["unit"] in proc.stdout), proc.stdout[-3000:]
        else:
            assert "Restart %s" % inst["unit"] in proc.stdout, proc.stdout[-3000:]
    assert len(rounds) > 5
    worst = max(len(r) for r in rounds)
    failed = sum(1 for r in rounds if r)
    record(**{key: {"seconds": round(took, 1), "request_rounds": len(rounds), "rounds_with_a_failure": failed,
                    "max_instances_down_at_once": worst}})
    print("%s %.1fs: %d request rounds, %d with one instance down, max down at once %d"
          % (key, took, len(rounds), failed, worst))
    assert worst <= len(instances) - 1 and worst <= 1


def test_rolling_restart_keeps_n_minus_1(fleet):
    """Rolling restart of everything under load: never more than one instance down, and a client of the gateway
    asking for "tiny" (two replicas) sees not one failed request (a stopped backend is retried on the other)."""
    through = []
    proc, took, rounds = run_under_load(fleet, [os.path.join(ROOT, "playbooks", "rolling_restart.yml")], gateway=through)
    assert "Stop the leader of group split" in proc.stdout and "Start the leader of group split" in proc.stdout
    assert_one_at_a_time(proc, rounds, fleet, "rolling_restart", took)
    failed = [r for r in through if r != "ok"]
    record(rolling_restart_through_gateway={"requests": len(through), "failed": len(failed)})
    assert len(through) > 20 and not failed, failed[:5]
    for inst in fleet:
        wait_ready(inst)


def test_unit_change_restarts_one_instance_at_a_time(host, fleet, members):
    """serving.yml installs on every node at once but restarts changed running instances in its serial play."""
    # the layers that restart model servers (pre-flight's facts, then serving.yml), not the whole converge: common,
    # the gateway and monitoring have nothing to do here and cost the CI budget about a minute under load
    proc, took, rounds = run_under_load(fleet, [os.path.join(ROOT, "playbooks", "preflight.yml"),
                                                os.path.join(ROOT, "playbooks", "serving.yml"),
                                                "-e", "model_server_limit_nofile=65000"])
    assert "Restart changed model servers, one GPU node at a time" in proc.stdout
    assert_one_at_a_time(proc, rounds, fleet, "unit_change_restart", took)
    for inst in fleet:
        wait_ready(inst)
    for inst in [m for m in members if m["host"] == "srv-gpu1"]:
        end = time.monotonic() + 90  # the group check may be restarting the leader after its worker's restart
        while True:
            live = host.run("systemctl show %s -p LimitNOFILE -p ActiveState" % inst["unit"]).stdout
            if "ActiveState=active" in live or time.monotonic() > end:
                break
            time.sleep(2)
        assert "LimitNOFILE=65000" in live and "ActiveState=active" in live, live
    # The lab keeps LimitNOFILE=65000 for the tests below (none reads it; idempotence ran before verify).


def test_corrupt_weights_refuse_to_start(host, instances):
    inst = instances[0]
    dropin_dir = "/run/systemd/system/%s.d" % inst["unit"]
    setup = host.run(
        "set -e; rm -rf /srv/models/tiny-corrupt; cp -a /srv/models/tiny /srv/models/tiny-corrupt; "
        "printf 'X' | dd of=/srv/models/tiny-corrupt/tiny-llama.gguf bs=1 seek=4096 conv=notrunc status=none; "
        "mkdir -p %s; printf '[Service]\\nEnvironment=LLMFLEET_MODEL_DIR=/srv/models/tiny-corrupt\\n"
        "Environment=LLMFLEET_MODEL_MANIFEST=/srv/models/tiny-corrupt/SHA256SUMS\\n' > %s/zz-corrupt-test.conf; "
        "systemctl daemon-reload" % (dropin_dir, dropin_dir))
    assert setup.rc == 0, setup.stderr
    try:
        since = host.run("date +'%Y-%m-%d %H:%M:%S'").stdout.strip()
        restart = host.run("systemctl restart %s" % inst["unit"])
        assert restart.rc != 0, "the unit started on corrupt weights"
        journal = host.run("journalctl -u %s --since '%s' --no-pager" % (inst["unit"], since)).stdout
        assert "refusing to start on corrupt or missing weights" in journal, journal
        assert "sha256" in journal
        state = host.run("systemctl show %s -p ActiveState -p Result" % inst["unit"]).stdout
        assert "ActiveState=active" not in state, state
        record(corrupt_weights_journal=[line for line in journal.splitlines() if "llmfleet-model-check" in line][-3:])
    finally:
        host.run("rm -rf %s /srv/models/tiny-corrupt; systemctl daemon-reload; systemctl reset-failed %s; "
                 "systemctl start %s" % (dropin_dir, inst["unit"], inst["unit"]))
    wait_ready(inst)


def test_stopped_model_server_fires_model_server_down(host, instances):
    inst = instances[0]
    # every probe must be healthy again first (the corrupt-weights test stopped lab-0)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        probes = prom("/api/v1/query?query=probe_success")["result"]
        if len(probes) == 3 and all(r["value"][1] == "1" for r in probes):
            break
        time.sleep(2)
    assert not [a for a in prom("/api/v1/alerts")["alerts"]
                if a["labels"]["alertname"] == "ModelServerDown" and a["state"] == "firing"]
    stop = host.run("systemctl stop %s" % inst["unit"])
    assert stop.rc == 0
    t0 = time.monotonic()
    pending_at = fired_at = None
    try:
        while time.monotonic() - t0 < ALERT_FOR_S + 6 * SCRAPE_S + 30:
            for a in prom("/api/v1/alerts")["alerts"]:
                if a["labels"]["alertname"] == "ModelServerDown" and a["labels"].get("model_instance") == inst["name"]:
                    if a["state"] == "pending" and pending_at is None:
                        pending_at = time.monotonic() - t0
                    if a["state"] == "firing":
                        fired_at = time.monotonic() - t0
            if fired_at is not None:
                break
            time.sleep(1)
    finally:
        host.run("systemctl start %s" % inst["unit"])
    record(alert={"alert": "ModelServerDown", "for_s": ALERT_FOR_S, "scrape_interval_s": SCRAPE_S,
                  "pending_after_s": pending_at and round(pending_at, 1),
                  "firing_after_s": fired_at and round(fired_at, 1)})
    print("ModelServerDown pending after %ss, firing after %ss (for: %ds, scrape %ds)"
          % (pending_at and round(pending_at, 1), fired_at and round(fired_at, 1), ALERT_FOR_S, SCRAPE_S))
    assert fired_at is not None, "ModelServerDown did not fire"
    # for: + one scrape to see the failure + one evaluation to start pending + one to fire, plus slack
    assert fired_at <= ALERT_FOR_S + 3 * SCRAPE_S + 10
    wait_ready(inst)


def receiver_records(receiver):
    out = receiver.run("cat /var/lib/llmfleet-alert-receiver/alerts.jsonl 2>/dev/null")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_firing_alert_reaches_the_receiver(host):  # host: keeps this test in file order, after the one before
    """The ModelServerDown of the test before reached a person: Prometheus sent it to Alertmanager on srv-mon1
    (TLS + basic auth), whose webhook delivered it over HTTPS with basic auth to the lab's receiver on srv-gpu2
    (lab/alert-receiver), firing and then resolved. The receiver refuses a POST without the password and any
    client that is not a monitoring host."""
    receiver = testinfra.get_host("ansible://srv-gpu2?force_ansible=True",
                                  ansible_inventory=os.path.join(SCENARIO, "inventory.yml"))
    t0 = time.monotonic()
    firing = resolved = None
    while time.monotonic() - t0 < 90:
        for rec in receiver_records(receiver):
            payload = rec["payload"]
            for alert in payload.get("alerts", []):
                if alert["labels"].get("alertname") != "ModelServerDown":
                    continue
                if alert["status"] == "firing" and firing is None:
                    firing = rec
                if alert["status"] == "resolved" and firing is not None:
                    resolved = rec
        if firing and resolved:
            break
        time.sleep(2)
    assert firing, "no firing ModelServerDown reached the receiver: %s" % receiver_records(receiver)[-3:]
    assert firing["remote"] == MON_ADDR and firing["payload"]["receiver"] == "lab-receiver"
    assert resolved, "ModelServerDown was never delivered resolved"
    record(alert_delivery={"firing_records": sum(1 for r in receiver_records(receiver)
                                                 if r["payload"].get("status") == "firing"),
                           "receiver": firing["payload"]["receiver"], "from": firing["remote"]})
    # a POST from the monitoring host without the password is refused and not recorded; a host that is no
    # monitoring host gets no answer at all
    url = "https://%s:9099/alerts" % GPU_HOSTS["srv-gpu2"]["ansible_host"]
    monitor = testinfra.get_host("ansible://srv-mon1?force_ansible=True",
                                 ansible_inventory=os.path.join(SCENARIO, "inventory.yml"))
    anon = monitor.run("curl -sk -m 5 -o /dev/null -w '%%{http_code}' -X POST -d '{}' %s" % url)
    assert anon.stdout == "401", anon.stdout
    # Alertmanager keeps notifying meanwhile (resolved, other groups): what must be missing is the refused body
    assert not [r for r in receiver_records(receiver) if r["payload"] == {}], "the refused POST was recorded"
    stranger = testinfra.get_host("ansible://srv-gpu1?force_ansible=True",
                                  ansible_inventory=os.path.join(SCENARIO, "inventory.yml"))
    blocked = stranger.run("curl -sk -m 5 -o /dev/null -w '%%{http_code}' %s" % url.replace("/alerts", "/health"))
    assert blocked.rc != 0 and blocked.stdout in ("", "000"), (blocked.rc, blocked.stdout)
