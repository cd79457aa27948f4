"""A GPU node that fails its burn-in is drained, not fatal (issue 22 items 1 and 6): its verdict says failed, the
serving and gateway layers run again (as site.yml would: pre-flight, serving.yml, gateway.yml) and succeed; srv-gpu2's
model servers stop and stay disabled, so does the "split" group it is a member of (its leader on srv-gpu1 too: a group
serves whole or not at all), srv-gpu1's own instance keeps serving, and through the gateway (the official `openai`
SDK) "tiny" is answered by srv-gpu1 alone while "tiny-split" gets 503 no_healthy_backend, not 404. A passing verdict
and the same run bring everything back. Runs last in this scenario (file order): it stops instances the other tests
use. The lab's nodes replay a recorded GPU snapshot, so the verdicts are written as the burnin role writes them
(the real burn-in is proven on the lent H200: tests/fixtures/gpu/h100-burnin, docs/burnin.md)."""

import json
import os
import subprocess
import sys
import time

import openai
import testinfra

sys.path.insert(0, os.path.dirname(__file__))
from test_gateway import audit, client  # noqa: E402  (shared helpers of this scenario)
from test_serving import NOCOLOR, ROOT, SCENARIO, record  # noqa: E402

testinfra_hosts = ["ansible://srv-mon1?force_ansible=True"]

RESULT = "/var/lib/llmfleet/burnin/result.json"
LAB, LEADER, WORKER = ("llmfleet-model-lab-0.service", "llmfleet-model-split-leader.service",
                       "llmfleet-model-split-worker1.service")
FAILED = {"host": "srv-gpu2", "passed": False, "level": "quick", "at": "2026-12-06T18:00:00+00:00", "measured": [],
          "violations": [{"host": "srv-gpu2", "gpu": 1, "check": "ecc_uncorrected_volatile", "expected": 0,
                          "found": 3}]}


def node(name):
    return testinfra.get_host("ansible://%s?force_ansible=True" % name,
                              ansible_inventory=os.path.join(SCENARIO, "inventory.yml"))


def unit_state(name, unit):
    out = node(name).run("systemctl is-active %s; systemctl is-enabled %s" % (unit, unit)).stdout.split()
    return tuple(out[:2])


def deploy():
    """The layers a drain changes, as site.yml runs them: pre-flight (the plans read the verdicts), serving, gateway."""
    t0 = time.monotonic()
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i",
                           os.path.join(SCENARIO, "inventory.yml")]
                          + [os.path.join(ROOT, "playbooks", p) for p in ("preflight.yml", "serving.yml", "gateway.yml")],
                          capture_output=True, text=True, check=False, cwd=ROOT, timeout=900, env=NOCOLOR)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc, round(time.monotonic() - t0, 1)


def write_verdict(verdict):
    gpu2 = node("srv-gpu2")
    assert gpu2.run("install -d -m 0755 /var/lib/llmfleet/burnin && printf '%%s\\n' '%s' > %s"
                    % (json.dumps(verdict), RESULT)).rc == 0


def wait_chat(model, timeout=120):
    end = time.monotonic() + timeout
    while True:
        try:
            return client("lab-admin").chat.completions.create(
                model=model, max_tokens=4, messages=[{"role": "user", "content": "Hello again."}])
        except openai.APIStatusError:
            if time.monotonic() > end:
                raise
            time.sleep(2)


def test_a_failed_burn_in_drains_the_node_and_its_group_then_a_pass_brings_them_back(host):
    write_verdict(FAILED)
    proc, drain_s = deploy()
    out = " ".join(proc.stdout.split())
    assert "DRAINED: srv-gpu2 serves nothing" in out and "srv-gpu2 GPU 1: ecc_uncorrected_volatile" in out, out[-3000:]
    assert unit_state("srv-gpu2", LAB) == ("inactive", "disabled")
    assert unit_state("srv-gpu2", WORKER) == ("inactive", "disabled")
    assert unit_state("srv-gpu1", LEADER) == ("inactive", "disabled")  # the group serves whole or not at all
    assert unit_state("srv-gpu1", LAB) == ("active", "enabled")
    # the gateway: the drained model is known (the keys keep it) and answers 503, the other one srv-gpu1 alone
    assert sorted(m.id for m in client("lab-admin").models.list()) == ["tiny", "tiny-split"]
    backends = set()
    for _ in range(4):
        wait_chat("tiny", timeout=30)
        backends.add(audit(host)[0]["backend"])
    assert backends == {"srv-gpu1/lab-0"}, backends
    try:
        client("lab-admin").chat.completions.create(model="tiny-split", max_tokens=4,
                                                    messages=[{"role": "user", "content": "Anyone there?"}])
        raise AssertionError("a drained model was served")
    except openai.InternalServerError as exc:
        assert exc.status_code == 503 and exc.code == "no_healthy_backend", exc
    routes = json.loads(host.check_output("cat /etc/llmfleet-gateway/gateway.json"))["models"]
    assert routes["tiny-split"]["backends"] == [] and [b["name"] for b in routes["tiny"]["backends"]] == ["srv-gpu1/lab-0"]

    # a passing burn-in (as `llmfleet burnin` records it) and the same layers: everything serves again
    write_verdict(dict(FAILED, passed=True, violations=[]))
    proc, undrain_s = deploy()
    assert "DRAINED" not in proc.stdout
    for name, unit in (("srv-gpu2", LAB), ("srv-gpu2", WORKER), ("srv-gpu1", LEADER)):
        assert unit_state(name, unit) == ("active", "enabled"), (name, unit)
    assert wait_chat("tiny-split").choices[0].message.role == "assistant"
    routes = json.loads(host.check_output("cat /etc/llmfleet-gateway/gateway.json"))["models"]
    assert [b["name"] for b in routes["tiny"]["backends"]] == ["srv-gpu1/lab-0", "srv-gpu2/lab-0"]
    record(burnin_drain={"drain_run_s": drain_s, "undrain_run_s": undrain_s})
