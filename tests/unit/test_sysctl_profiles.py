# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/module_utils/sysctl_profiles.py and plugins/modules/sysctl_apply.py on a fake /proc."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.llmfleet.baremetal.plugins.module_utils import sysctl_profiles as sp
from ansible_collections.llmfleet.baremetal.plugins.modules import sysctl_apply

REPO = Path(__file__).resolve().parents[2]

LIVE = {
    "vm.swappiness": "60",
    "vm.dirty_background_ratio": "10",
    "vm.dirty_ratio": "20",
    "vm.max_map_count": "65530",
    "vm.vfs_cache_pressure": "100",
    "net.core.somaxconn": "4096",
    "net.core.default_qdisc": "pfifo_fast",
    "net.core.rmem_max": "212992",
    "net.core.wmem_max": "212992",
    "net.ipv4.tcp_max_syn_backlog": "512",
    "net.ipv4.tcp_slow_start_after_idle": "1",
    "net.ipv4.tcp_congestion_control": "cubic",
    "net.ipv4.tcp_available_congestion_control": "reno cubic bbr",
    "net.ipv4.tcp_window_scaling": "1",
    "net.ipv4.tcp_rmem": "4096\t131072\t6291456",
    "net.ipv4.tcp_wmem": "4096\t16384\t4194304",
    "net.ipv4.ip_local_port_range": "32768\t60999",
    "net.ipv4.tcp_tw_reuse": "2",
    "net.ipv4.tcp_fin_timeout": "60",
    "net.ipv4.ip_nonlocal_bind": "0",
    "kernel.numa_balancing": "1",
    "kernel.osrelease": "6.1.0-99-amd64",
}


def make_proc(root, live=None, drop=()):
    for key, value in (live or LIVE).items():
        if key in drop:
            continue
        path = Path(sp.key_path(key, str(root)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
    return str(root)


def make_sys(root, enabled="always [madvise] never", defrag="always defer defer+madvise [madvise] never"):
    thp = root / "kernel" / "mm" / "transparent_hugepage"
    thp.mkdir(parents=True)
    (thp / "enabled").write_text(enabled + "\n")
    (thp / "defrag").write_text(defrag + "\n")
    for mod in ("tcp_bbr", "sch_fq"):
        (root / "module" / mod).mkdir(parents=True)
    return str(root)


# --- data ---------------------------------------------------------------------------------------------------------

def test_profiles_have_reason_source_and_seed_values():
    assert {"llm_serving", "storage", "gateway"} <= set(sp.PROFILES)
    for name, profile in sp.PROFILES.items():
        for key, entry in profile.items():
            assert sp.KEY_RE.match(key), key
            assert entry["reason"] and entry["source"], (name, key)
            assert isinstance(entry["reboot"], bool)
    serving = sp.merge_profile("llm_serving")
    seeds = {"vm.swappiness": "10", "vm.dirty_background_ratio": "5", "vm.dirty_ratio": "10",
             "net.core.somaxconn": "65535", "net.ipv4.tcp_window_scaling": "1",
             "net.ipv4.tcp_congestion_control": "bbr", "net.core.default_qdisc": "fq"}
    for key, value in seeds.items():
        assert serving[key]["value"] == value, key
        assert "seed" in serving[key]["source"], key


def test_role_vars_list_the_profiles():
    role_vars = yaml.safe_load((REPO / "roles" / "sysctl_tuning" / "vars" / "main.yml").read_text())
    assert sorted(role_vars["__sysctl_tuning_profiles"]) == sp.profile_names()
    spec = yaml.safe_load((REPO / "roles" / "sysctl_tuning" / "meta" / "argument_specs.yml").read_text())
    assert sorted(spec["argument_specs"]["main"]["options"]["sysctl_tuning_profile"]["choices"]) == sp.profile_names()


# --- merge --------------------------------------------------------------------------------------------------------

def test_merge_overrides_win_and_are_normalized():
    merged = sp.merge_profile("llm_serving", {"net.core.somaxconn": 1024, "net.ipv4.tcp_rmem": [4096, 1, 2],
                                              "vm.overcommit_memory": {"value": 1, "reason": "why"}},
                              {"kernel.numa_balancing": {"value": 0, "origin": "sysctl_tuning_numa_balancing"}})
    assert merged["net.core.somaxconn"]["value"] == "1024"
    assert merged["net.core.somaxconn"]["origin"] == "sysctl_tuning_overrides"
    assert merged["net.ipv4.tcp_rmem"]["value"] == "4096 1 2"
    assert merged["vm.overcommit_memory"]["reason"] == "why"
    assert merged["kernel.numa_balancing"]["origin"] == "sysctl_tuning_numa_balancing"
    assert merged["vm.swappiness"]["origin"] == "profile llm_serving"
    # the profile data itself is not modified by a merge
    assert sp.PROFILES["llm_serving"]["net.core.somaxconn"]["value"] == 65535


def test_merge_keeps_reboot_flag_of_overridden_key():
    merged = sp.merge_profile("gateway", {"net.core.default_qdisc": "fq_codel"})
    assert merged["net.core.default_qdisc"]["reboot"] is True


@pytest.mark.parametrize("name,overrides,needle", [
    ("nope", {}, "unknown sysctl profile 'nope'"),
    ("storage", ["vm.swappiness"], "sysctl_tuning_overrides must be a dict"),
    ("storage", {"vm/swappiness": 1}, "'vm/swappiness' is not a sysctl key"),
    ("storage", {"vm.swappiness": None}, "sysctl_tuning_overrides[vm.swappiness] has no usable value"),
    ("storage", {"vm.swappiness": {"reason": "x"}}, "without 'value'"),
])
def test_merge_errors(name, overrides, needle):
    with pytest.raises(sp.ProfileError) as exc:
        sp.merge_profile(name, overrides)
    assert needle in str(exc.value)


# --- validation ---------------------------------------------------------------------------------------------------

def test_validate_clean_profile(tmp_path):
    proc = make_proc(tmp_path)
    for name in sp.profile_names():
        errors, skipped, live = sp.validate(sp.merge_profile(name), proc)
        assert errors == [] and skipped == {}, (name, errors)
    assert live["vm.swappiness"] == "60"


def test_validate_unknown_key_names_key_kernel_and_variable(tmp_path):
    proc = make_proc(tmp_path)
    errors, _skipped, _live = sp.validate(sp.merge_profile("storage", {"net.ipv4.tcp_bogus": 1}), proc)
    assert errors == ["sysctl net.ipv4.tcp_bogus does not exist on this kernel (6.1.0-99-amd64): "
                      "remove it from sysctl_tuning_overrides"]


def test_validate_types(tmp_path):
    proc = make_proc(tmp_path)
    settings = sp.merge_profile("llm_serving", {"vm.swappiness": "ten", "net.ipv4.tcp_rmem": "4096 87380",
                                                "net.ipv4.tcp_congestion_control": "bbr; reboot"})
    errors, _skipped, _live = sp.validate(settings, proc)
    text = "\n".join(errors)
    assert len(errors) == 3, errors
    assert "sysctl vm.swappiness='ten' has the wrong type: the kernel expects an integer" in text
    assert "sysctl net.ipv4.tcp_rmem='4096 87380' has the wrong type: the kernel expects 3 integers" in text
    assert "net.ipv4.tcp_congestion_control='bbr; reboot' is not a valid value" in text


def test_validate_container_netns_skips_init_only_keys(tmp_path):
    proc = make_proc(tmp_path, drop=("net.core.default_qdisc",))
    errors, skipped, _live = sp.validate(sp.merge_profile("llm_serving"), proc)
    assert errors == []
    assert list(skipped) == ["net.core.default_qdisc"]


def test_unavailable_congestion_control(tmp_path):
    live = dict(LIVE, **{"net.ipv4.tcp_available_congestion_control": "reno cubic"})
    proc = make_proc(tmp_path, live)
    msgs = sp.unavailable_values(sp.merge_profile("gateway"), proc)
    assert msgs == ["sysctl net.ipv4.tcp_congestion_control=bbr is not available on this kernel "
                    "(net.ipv4.tcp_available_congestion_control: reno cubic)"]
    assert sp.modules_needed(sp.merge_profile("gateway")) == ["sch_fq", "tcp_bbr"]


def test_render_conf_has_reasons():
    text = sp.render_conf("storage", sp.merge_profile("storage"), header="managed")
    assert text.startswith("# managed\n")
    assert "\nvm.swappiness = 10\n" in text
    assert "# source: seed 000" in text
    assert "net.core.default_qdisc = fq" in text and "[reboot for full effect]" in text


def test_thp_selected():
    assert sp.thp_selected("always [madvise] never\n") == "madvise"
    assert sp.thp_selected("never") == "never"


# --- module -------------------------------------------------------------------------------------------------------

class Exit(Exception):
    pass


def run_module(monkeypatch, args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    out = {}

    def exit_json(self, **kw):
        out.update(kw, failed=False)
        raise Exit()

    def fail_json(self, **kw):
        out.update(kw, failed=True)
        raise Exit()

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(sp, "read_only", lambda path: False)
    with patch_module_args(args), pytest.raises(Exit):
        sysctl_apply.main()
    return out


@pytest.fixture
def tree(tmp_path):
    proc = make_proc(tmp_path / "proc")
    sysfs = make_sys(tmp_path / "sys")
    dest = tmp_path / "etc" / "sysctl.d"
    dest.mkdir(parents=True)
    (dest / "60-llmfleet-gateway.conf").write_text("old\n")
    return {"procfs_root": proc, "sysfs_root": sysfs, "dest": str(dest),
            "modules_load_file": str(tmp_path / "etc" / "modules-load.d" / "llmfleet-sysctl.conf")}


def test_module_check_mode_changes_nothing(monkeypatch, tree):
    out = run_module(monkeypatch, dict(tree, profile="llm_serving", thp="never"), check_mode=True)
    assert out["failed"] is False and out["changed"] is True
    assert out["live_applied"] is False and out["live_reason"] == "check mode"
    assert out["settings"]["vm.swappiness"]["live"] == "would apply"
    assert out["reboot_required"] is True  # default_qdisc would change
    assert not os.path.exists(os.path.join(tree["dest"], "60-llmfleet-llm_serving.conf"))
    assert os.path.exists(os.path.join(tree["dest"], "60-llmfleet-gateway.conf"))
    assert sp.read_live("vm.swappiness", tree["procfs_root"]) == "60"
    headers = [d["before_header"] for d in out["diff"]]
    assert os.path.join(tree["dest"], "60-llmfleet-llm_serving.conf") in headers and "live /proc/sys" in headers


def test_module_applies_then_is_idempotent(monkeypatch, tree):
    args = dict(tree, profile="llm_serving", thp="madvise", overrides={"vm.swappiness": 5},
                extra={"kernel.numa_balancing": {"value": 0, "origin": "sysctl_tuning_numa_balancing"}})
    out = run_module(monkeypatch, args)
    assert out["failed"] is False and out["changed"] is True, out.get("msg")
    assert out["live_applied"] is True
    assert sp.read_live("vm.swappiness", tree["procfs_root"]) == "5"
    assert sp.read_live("net.ipv4.tcp_rmem", tree["procfs_root"]) == "4096 131072 268435456"
    assert sp.read_live("kernel.numa_balancing", tree["procfs_root"]) == "0"
    assert out["reboot_required"] is True and out["reboot_reasons"][0].startswith("net.core.default_qdisc: pfifo_fast -> fq")
    conf = Path(tree["dest"], "60-llmfleet-llm_serving.conf").read_text()
    assert "vm.swappiness = 5\n" in conf and "kernel.numa_balancing = 0\n" in conf
    assert not Path(tree["dest"], "60-llmfleet-gateway.conf").exists()
    assert Path(tree["modules_load_file"]).read_text().splitlines()[-2:] == ["sch_fq", "tcp_bbr"]
    assert out["thp"]["enabled"] == {"before": "madvise", "after": "madvise"}

    again = run_module(monkeypatch, args)
    assert again["changed"] is False and again["reboot_required"] is False and again["diff"] == []
    assert all(s["live"] == "unchanged" for s in again["settings"].values())


def test_module_fails_naming_every_invalid_key(monkeypatch, tree):
    out = run_module(monkeypatch, dict(tree, profile="storage",
                                       overrides={"net.ipv4.tcp_bogus": 1, "vm.swappiness": "x"}))
    assert out["failed"] is True
    assert "2 invalid sysctl setting(s) for profile storage" in out["msg"]
    assert "sysctl net.ipv4.tcp_bogus does not exist on this kernel (6.1.0-99-amd64): remove it from " \
           "sysctl_tuning_overrides" in out["msg"]
    assert len(out["invalid"]) == 2
    assert not Path(tree["dest"], "60-llmfleet-storage.conf").exists()


def test_module_read_only_proc_writes_file_only(monkeypatch, tree):
    monkeypatch.setattr(sp, "read_only", lambda path: True)
    args = dict(tree, profile="gateway")
    out = {}

    def done(self, **kw):
        out.update(kw)
        raise Exit()

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", done)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", lambda self, **kw: done(self, failed=True, **kw))
    with patch_module_args(args), pytest.raises(Exit):
        sysctl_apply.main()
    assert not out.get("failed") and out["changed"] is True
    assert out["live_applied"] is False and "read-only" in out["live_reason"]
    assert out["reboot_required"] is False
    assert sp.read_live("net.ipv4.tcp_fin_timeout", tree["procfs_root"]) == "60"
    assert "net.ipv4.tcp_fin_timeout = 15" in Path(tree["dest"], "60-llmfleet-gateway.conf").read_text()
