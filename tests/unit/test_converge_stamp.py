"""The fast path's converge stamps: what makes a host fresh, and the reasons named when it is not."""

import json
import os
from types import SimpleNamespace

import pytest

from ansible_collections.llmfleet.baremetal.plugins.filter.fast_path import fast_path_inputs
from ansible_collections.llmfleet.baremetal.plugins.module_utils import converge_stamp as cs

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
PREFIXES = ("llmfleet", "model_server", "sysctl_tuning")


def _state(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "sysctl.d").mkdir()
    conf = etc / "sysctl.d" / "60-llmfleet-llm_serving.conf"
    conf.write_text("# llmfleet\nvm.swappiness = 10\n-kernel.numa_balancing = 0\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n")
    live = tmp_path / "thp"
    live.write_text("always [madvise] never\n")
    watch = {"trees": [str(etc)], "exclude": [str(etc / "skip*")], "live": [str(live)],
             "sysctl_files": [str(etc / "sysctl.d" / "*llmfleet*.conf")]}
    units = cs.parse_units("chrony.service loaded active running Chrony\n"
                           "llmfleet-model@a.service loaded active running model\n",
                           "chrony.service enabled enabled\nllmfleet-model@a.service enabled -\n")
    return SimpleNamespace(etc=etc, conf=conf, live=live, watch=watch, units=units)


def _inputs(digest):
    return {"digest": digest, "content": "c", "vars": {}, "hosts": {}}


def _stamp(digest, current, when=1000.0):
    return json.loads(json.dumps({"schema": cs.SCHEMA, "inputs": _inputs(digest), "fingerprint": current,
                                  "facts": {}, "verified_at": when}))


def fast_path_digest(hostvars, hosts):
    return fast_path_inputs(hostvars, hosts, "gpu1")["digest"]


def test_unchanged_host_is_fresh(tmp_path):
    lab = _state(tmp_path)
    watch, units = lab.watch, lab.units
    current = cs.fingerprint(watch, units=units, dpkg_status="Package: a\nVersion: 1\nStatus: install ok installed\n")
    again = cs.fingerprint(watch, units=units, dpkg_status="Package: a\nVersion: 1\nStatus: install ok installed\n")
    assert cs.compare(_stamp("d", current), _inputs("d"), json.loads(json.dumps(again)), now=1010.0, max_age=3600) == []
    assert sorted(current["sysctl"]) == ["kernel.numa_balancing", "vm.swappiness"]


@pytest.mark.parametrize("change, expected", [
    ("edit", "managed files changed: {etc}/hosts (modified)"),
    ("add", "managed files changed: {etc}/new.conf (added)"),
    ("chmod", "managed files changed: {etc}/hosts (modified)"),
    ("live", "live kernel settings changed: {live} (modified)"),
])
def test_drift_on_the_host_is_named(tmp_path, change, expected):
    lab = _state(tmp_path)
    etc, live, watch, units = lab.etc, lab.live, lab.watch, lab.units
    before = json.loads(json.dumps(cs.fingerprint(watch, units=units)))
    if change == "edit":
        os.utime(etc / "hosts", ns=(1, 1))
    elif change == "add":
        (etc / "new.conf").write_text("x")
    elif change == "chmod":
        os.chmod(etc / "hosts", 0o600)
    else:
        live.write_text("[always] madvise never\n")
    reasons = cs.compare(_stamp("d", before), _inputs("d"), cs.fingerprint(watch, units=units), now=1001.0)
    assert reasons == [expected.format(etc=etc, live=live)]


def test_excluded_paths_do_not_count(tmp_path):
    lab = _state(tmp_path)
    etc, watch, units = lab.etc, lab.watch, lab.units
    before = json.loads(json.dumps(cs.fingerprint(watch, units=units)))
    (etc / "skip-me").write_text("volatile")
    assert cs.compare(_stamp("d", before), _inputs("d"), cs.fingerprint(watch, units=units), now=1001.0) == []


def test_inputs_age_reboot_packages_and_services_are_reasons(tmp_path):
    lab = _state(tmp_path)
    watch, units = lab.watch, lab.units
    before = json.loads(json.dumps(cs.fingerprint(watch, units=units, dpkg_status="Package: a\nVersion: 1\n")))
    now = dict(cs.fingerprint(watch, units=cs.parse_units(
        "chrony.service loaded inactive dead Chrony\nllmfleet-model@a.service loaded failed failed model\n",
        "chrony.service disabled enabled\nllmfleet-model@a.service enabled -\n"),
        dpkg_status="Package: a\nVersion: 2\n"))
    now["boot_id"] = "another boot"
    reasons = cs.compare(_stamp("old", before), _inputs("new"), now, now=1000.0 + 90000, max_age=86400)
    assert reasons[0].startswith("inputs changed")
    assert "older than llmfleet_fast_path_max_age (86400 s)" in reasons[1]
    assert reasons[2] == "host rebooted since the last converge"
    assert reasons[3] == "packages changed: a (modified)"
    assert reasons[4] == ("services changed: chrony.service (no longer active), chrony.service (no longer enabled), "
                          "llmfleet-model@a.service (failed), llmfleet-model@a.service (no longer active)")


def test_no_stamp_or_another_schema_is_not_fresh():
    assert cs.compare(None, _inputs("d"), {}, now=0)[0].startswith("no converge stamp")
    assert "schema" in cs.compare({"schema": "other/v0"}, _inputs("d"), {}, now=0)[0]


def test_many_changes_are_counted_not_listed():
    old = {"files": {"/etc/f%d" % i: "f 644 0 0 1 1" for i in range(8)}}
    new = {"files": {}}
    reasons = cs.compare(_stamp("d", old), _inputs("d"), new, now=1000.0)
    assert reasons == ["managed files changed: /etc/f0 (removed), /etc/f1 (removed), /etc/f2 (removed), "
                       "/etc/f3 (removed), /etc/f4 (removed) and 3 more"]


def test_user_sessions_are_not_services_llmfleet_manages():
    units = cs.parse_units("user@0.service loaded active running u\nsession-3.scope loaded active running s\n", "")
    assert units == {"active": [], "failed": [], "enabled": []}


def test_dpkg_status_keeps_architecture_and_status():
    text = ("Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n"
            "Description: x\n continued\n\nPackage: tzdata\nArchitecture: all\nVersion: 2024a\n"
            "Status: install ok installed\n")
    assert cs.parse_dpkg_status(text) == {"libc6:amd64": "2.36-9 install ok installed",
                                          "tzdata": "2024a install ok installed"}


def _hostvars():
    with open(os.path.join(FIXTURES, "gpu", "h100x1", "snapshot.json")) as fh:
        snapshot = json.load(fh)
    return {
        "gpu1": {"llmfleet_site_name": "lab", "model_server_instances": [{"model": "m"}], "ansible_host": "10.0.0.1",
                 "group_names": ["gpu_nodes"], "ansible_facts": {"llmfleet_gpu": snapshot},
                 "llmfleet_preflight": {"passed": True, "checks": ["gpu_count"], "violations": [], "expect": {},
                                        "warnings": ["temperature 71 C"]},
                 "ansible_date_time": {"epoch": "1"}, "llmfleet_model_servers": [{"port": 8000}]},
        "mon1": {"llmfleet_site_name": "lab", "group_names": ["monitoring"]},
    }


def test_digest_is_stable_and_ignores_volatile_facts():
    hv = _hostvars()
    first = fast_path_digest(hv, ["gpu1", "mon1"])
    hv["gpu1"]["ansible_date_time"] = {"epoch": "2"}
    hv["gpu1"]["llmfleet_preflight"]["warnings"] = ["temperature 80 C"]
    hv["gpu1"]["llmfleet_model_servers"] = [{"port": 9000}]  # set by a later layer of the run
    hv["gpu1"]["llmfleet_fast_path_max_age"] = 5
    # the probe modules' facts are also top-level variables (INJECT_FACTS_AS_VARS), with their timestamps
    hv["gpu1"]["llmfleet_host"] = {"timestamp": "now", "memory": {"available_kib": 1}}
    hv["gpu1"]["llmfleet_gpu"] = {"timestamp": "now"}
    assert fast_path_digest(hv, ["mon1", "gpu1"]) == first


@pytest.mark.parametrize("host, key, value", [
    ("gpu1", "model_server_instances", [{"model": "other"}]),
    ("mon1", "llmfleet_site_name", "renamed"),  # another host's change counts too (fleet-wide)
    ("gpu1", "ansible_host", "10.0.0.9"),
    ("gpu1", "group_names", ["gpu_nodes", "storage_nodes"]),
])
def test_any_input_change_changes_the_digest(host, key, value):
    hv = _hostvars()
    first = fast_path_digest(hv, ["gpu1", "mon1"])
    hv[host][key] = value
    assert fast_path_digest(hv, ["gpu1", "mon1"]) != first


def test_gpu_swap_changes_the_digest():
    hv = _hostvars()
    first = fast_path_digest(hv, ["gpu1", "mon1"])
    hv["gpu1"]["ansible_facts"] = {"llmfleet_gpu": {"gpus": [{"name": "NVIDIA H200", "uuid": "GPU-new"}]}}
    assert fast_path_digest(hv, ["gpu1", "mon1"]) != first


def test_digest_needs_the_host_list():
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="groups"):
        fast_path_digest(_hostvars(), None)


def test_changed_inputs_are_named():
    hv = _hostvars()
    before = fast_path_inputs(hv, ["gpu1", "mon1"], "gpu1")
    hv["gpu1"]["model_server_instances"] = [{"model": "other"}]
    hv["mon1"]["llmfleet_site_name"] = "renamed"
    after = fast_path_inputs(hv, ["gpu1", "mon1"], "gpu1")
    stamp = {"schema": cs.SCHEMA, "inputs": before, "fingerprint": {}}
    assert cs.compare(stamp, after, {}, now=0) == [
        "inputs changed since the last converge: model_server_instances (this host, modified), host mon1 (modified)"]
    # this host's own variables come first, before a fleet-wide list of other hosts cuts them off ("and N more")
    for h in ("st1", "st2", "st3", "st4", "st5"):
        hv[h] = dict(hv["mon1"])
    before = fast_path_inputs(hv, ["gpu1", "mon1", "st1", "st2", "st3", "st4", "st5"], "gpu1")
    for h in hv:
        hv[h]["llmfleet_serving_serial"] = 2  # an extra variable: every host's inputs change
    after = fast_path_inputs(hv, ["gpu1", "mon1", "st1", "st2", "st3", "st4", "st5"], "gpu1")
    reason = cs.compare(dict(stamp, inputs=before), after, {}, now=0)[0]
    assert reason.startswith("inputs changed since the last converge: llmfleet_serving_serial (this host, added), "
                             "host mon1 (modified)") and reason.endswith(" and 2 more"), reason
    assert fast_path_inputs(hv, ["gpu1"], "gpu1", raw=True)["gpu1"]["model_server_instances"] == [{"model": "other"}]
