"""llmfleet/endpoints.py: the next-steps text after a site run names files, never a secret, and its commands parse."""

from __future__ import annotations

import json
import shlex

from llmfleet import endpoints

GW = {"schema": endpoints.SCHEMA, "service": "gateway", "site": "lab", "url": "https://172.31.240.21/v1",
      "server_name": "gateway.llmfleet.internal", "ca": "/s/lab/gateway/ca.crt", "models": ["tiny", "tiny-split"],
      "keys": [{"name": "demo", "key_file": "/s/lab/gateway/keys/demo key.key", "models": ["tiny-split"]}]}
PROM = {"schema": endpoints.SCHEMA, "service": "prometheus", "site": "lab", "url": "https://172.31.240.21:9090",
        "user": "prometheus", "password_file": "/s/lab/monitoring/basic-auth-password", "ca": "/s/lab/monitoring/ca.crt"}


def test_records_are_read_from_the_site_dirs(tmp_path):
    (tmp_path / "gw").mkdir()
    (tmp_path / "mon").mkdir()
    (tmp_path / "gw" / "endpoint.json").write_text(json.dumps(GW))
    (tmp_path / "mon" / "endpoint-lab-svc1.json").write_text(json.dumps(PROM))
    (tmp_path / "mon" / "endpoint-other.json").write_text(json.dumps({"schema": "something/else"}))
    got = endpoints.read_records(tmp_path / "gw", tmp_path / "mon")
    assert got == {"gateway": GW, "prometheus": [PROM]}
    assert endpoints.read_records(tmp_path / "none", tmp_path / "none") == {"gateway": None, "prometheus": []}


def test_site_dirs_follow_the_role_defaults_and_literal_overrides():
    site, gw, mon = endpoints.site_secret_dirs({"h": {"llmfleet_site_name": "lab"}})
    assert site == "lab" and gw.parts[-3:] == ("secrets", "lab", "gateway") and mon.parts[-2:] == ("lab", "monitoring")
    gw = endpoints.site_secret_dirs({"h": {"llmfleet_secrets_dir": "/vault/site1"}})[1]
    assert str(gw) == "/vault/site1/gateway"
    gw = endpoints.site_secret_dirs({"h": {"gateway_controller_secrets_dir": "{{ somewhere }}"}})[1]
    assert gw.parts[-3:] == ("secrets", "site", "gateway")  # a template is not guessed at


def test_next_steps_name_files_and_pick_a_model_the_key_may_use():
    text = endpoints.next_steps("inventories/lab", {"gateway": GW, "prometheus": [PROM]}, "lab")
    assert "https://172.31.240.21/v1" in text and "/s/lab/gateway/ca.crt" in text
    assert "API key 'demo': in /s/lab/gateway/keys/demo key.key" in text
    assert "https://172.31.240.21:9090" in text and "basic-auth-password" in text
    assert "report -i inventories/lab" in text
    curl = next(line.strip() for line in text.splitlines() if line.strip().startswith("curl") and "chat" in line)
    argv = shlex.split(curl)
    body = json.loads(argv[argv.index("-d") + 1])
    assert body["model"] == "tiny-split" and argv[-1] == "https://172.31.240.21/v1/chat/completions"
    assert "$(cat '/s/lab/gateway/keys/demo key.key')" in curl


def test_the_python_snippet_compiles():
    snippet = endpoints.python_chat(GW, "/k/demo.key", "tiny").splitlines()
    assert snippet[0].endswith("python - <<'EOF'") and snippet[-1] == "EOF"
    compile("\n".join(snippet[1:-1]), "snippet", "exec")


def test_nothing_recorded_is_no_text():
    assert endpoints.next_steps("inv", {"gateway": None, "prometheus": []}, "lab") is None


def test_alertmanager_and_who_alerts_reach():
    with_receiver = dict(PROM, alertmanager="https://172.31.240.21:9093", alert_receivers=["lab-receiver"])
    text = endpoints.next_steps("inv", {"gateway": None, "prometheus": [with_receiver]}, "lab")
    assert "Alertmanager: https://172.31.240.21:9093" in text and "alerts go to: lab-receiver" in text
    nobody = dict(PROM, alertmanager="https://172.31.240.21:9093", alert_receivers=[])
    text = endpoints.next_steps("inv", {"gateway": None, "prometheus": [nobody]}, "lab")
    assert "alerts go to: no one yet (set monitoring_alert_receivers" in text
    assert "Alertmanager" not in endpoints.next_steps("inv", {"gateway": None, "prometheus": [PROM]}, "lab")
