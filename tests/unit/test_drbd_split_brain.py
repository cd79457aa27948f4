# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/drbd_split_brain.py and plugins/filter/drbd.py (playbooks/drbd_split_brain.yml), the drbd
role's resource template (split-brain policy and handler) and the handler script, run for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jinja2
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.llmfleet.baremetal.plugins.filter.drbd import (  # noqa: E402
    drbd_split_brain_merge, drbd_split_brain_plan)
from ansible_collections.llmfleet.baremetal.plugins.module_utils.drbd_split_brain import (  # noqa: E402
    merge, missing_lines, plan)


def node(name, role, cstate, marker=False):
    return {"name": name, "role": role, "cstate": cstate, "marker": marker}


def test_split_brain_victim_is_the_secondary():
    res = plan([node("gw1", "Primary/Unknown", "StandAlone", True), node("gw2", "Secondary/Unknown", "StandAlone", True)])
    assert res["violations"] == []
    assert (res["action"], res["victim"], res["survivor"]) == ("recover", "gw2", "gw1")
    assert "gw1 keeps its data, gw2 resyncs" in res["message"]


def test_survivor_still_retrying_and_no_marker_on_it_is_still_a_split_brain():
    # after a `drbdadm connect` on the survivor it waits for the peer (WFConnection); its handler may not have run
    res = plan([node("gw1", "Primary", "WFConnection"), node("gw2", "Secondary", "StandAlone", True)])
    assert res["action"] == "recover" and res["victim"] == "gw2"


def test_connected_without_marker_does_nothing_and_with_marker_clears_it():
    ok = plan([node("gw1", "Primary/Secondary", "Connected"), node("gw2", "Secondary/Primary", "Connected")])
    assert ok["action"] == "none" and ok["violations"] == [] and "no split brain" in ok["message"]
    stale = plan([node("gw1", "Primary", "Connected"), node("gw2", "Secondary", "Connected", True)])
    assert stale["action"] == "clear" and "gw2" in stale["message"]


def test_a_broken_link_is_not_a_split_brain():
    res = plan([node("gw1", "Primary", "WFConnection"), node("gw2", "Secondary", "WFConnection")])
    assert res["action"] == "none"
    assert "broken replication link, not a split brain" in res["violations"][0]


def test_two_secondaries_or_two_primaries_need_the_operator_to_choose():
    for role in ("Secondary", "Primary"):
        res = plan([node("gw1", role, "StandAlone", True), node("gw2", role, "StandAlone", True)])
        assert res["action"] == "none"
        assert "drbd_split_brain_victim" in res["violations"][0], res


def test_named_victim_must_be_a_secondary_node_of_the_pair():
    states = [node("gw1", "Primary", "StandAlone", True), node("gw2", "Secondary", "StandAlone", True)]
    assert plan(states, victim="gw9")["violations"][0].startswith("cluster: drbd_split_brain_victim=gw9 is not a node")
    primary_victim = plan(states, victim="gw1")["violations"]
    assert primary_victim[0].startswith("gw1: drbd_split_brain_victim: the victim must be Secondary")
    assert any(v.startswith("gw2: the survivor must be Primary") for v in primary_victim)
    assert plan(states, victim="gw2")["victim"] == "gw2"


def test_half_connected_unknown_state_and_wrong_node_count_are_refused():
    half = plan([node("a", "Primary", "Connected"), node("b", "Secondary", "StandAlone", True)])
    assert "Connected on one node only" in half["violations"][-1]
    weird = plan([node("a", "Primary", "Weird"), node("b", "Secondary", "StandAlone", True)])
    assert "not a DRBD connection state" in weird["violations"][0]
    assert "exactly 2 nodes, found 1" in plan([node("a", "Primary", "StandAlone")])["violations"][0]


def test_missing_lines_are_the_victims_lines_the_survivor_lacks_in_order_once():
    survivor = '{"request_id":"a"}\n{"request_id":"b"}\n'
    victim = '{"request_id":"a"}\n{"request_id":"v2"}\n{"request_id":"v1"}\n{"request_id":"v2"}\n\n'
    assert missing_lines(survivor, victim) == '{"request_id":"v2"}\n{"request_id":"v1"}\n'
    assert missing_lines(survivor, survivor) == ""
    # a survivor file cut mid-line gets its newline before the appended lines
    assert missing_lines('{"request_id":"a"}', '{"request_id":"b"}\n') == '\n{"request_id":"b"}\n'


def test_merge_rows_per_file_with_new_files_and_summaries():
    rows = merge({"/audit/audit-2026-12-06.jsonl": "x\ny\nz\n", "/audit/audit-2026-12-07.jsonl": "n\n"},
                 {"/audit/audit-2026-12-06.jsonl": "x\ny\n"}, victim="gw2", survivor="gw1")
    assert [(r["path"], r["appended"], r["victim_lines"], r["new_file"]) for r in rows] == [
        ("/audit/audit-2026-12-06.jsonl", 1, 3, False), ("/audit/audit-2026-12-07.jsonl", 1, 1, True)]
    assert rows[0]["append"] == "z\n"
    assert rows[0]["summary"] == "/audit/audit-2026-12-06.jsonl: 1 of gw2's 3 lines were missing on gw1 - appended"
    assert rows[1]["summary"].endswith("appended (a new file)")
    same = merge({"/audit/a": "x\n"}, {"/audit/a": "x\n"}, victim="gw2", survivor="gw1")
    assert same[0]["appended"] == 0 and same[0]["summary"] == "/audit/a: 0 of gw2's 1 lines were missing on gw1"


def test_filters_check_their_input():
    with pytest.raises(AnsibleFilterError):
        drbd_split_brain_plan("gw1")
    with pytest.raises(AnsibleFilterError):
        drbd_split_brain_merge(["x"], {})
    assert drbd_split_brain_plan([node("a", "Primary", "Connected"), node("b", "Secondary", "Connected")],
                                 victim="")["action"] == "none"
    assert drbd_split_brain_merge({"/a": "1\n"}, {})[0]["new_file"] is True


def render(template, **extra):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(REPO, "roles", "drbd", "templates")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    hostvars = {"gw1": {"drbd_address": "10.0.0.1"}, "gw2": {"drbd_address": "10.0.0.2"}}
    ctx = {"ansible_managed": "managed", "drbd_version": "8.4", "drbd_resource": "gw", "drbd_protocol": "C",
           "__drbd_device": "/dev/drbd0", "drbd_minor": 0, "drbd_backing_device": "/dev/vdb", "drbd_fencing":
           "resource-and-stonith", "drbd_quorum": "off", "__drbd_secret": "s", "drbd_ping_int": 3,
           "drbd_ping_timeout": 5, "drbd_timeout": 30, "__drbd_nodes": ["gw1", "gw2"], "hostvars": hostvars,
           "drbd_port": 7789, "__drbd_split_brain_handler": "/usr/local/sbin/llmfleet-drbd-split-brain",
           "__drbd_handlers": {"8.4": {"fence_peer": "/usr/lib/drbd/crm-fence-peer.sh",
                                       "unfence": "/usr/lib/drbd/crm-unfence-peer.sh"}},
           "__drbd_state_dir": "/var/lib/llmfleet/drbd", "drbd_textfile_dir": "/var/lib/prometheus/node-exporter"}
    ctx.update(extra)
    return env.get_template(template).render(**ctx)


def test_resource_never_discards_a_side_and_names_the_handler():
    res = render("resource.res.j2")
    assert "after-sb-1pri disconnect;" in res and "discard-secondary" not in res
    assert "after-sb-2pri disconnect;" in res
    assert "fencing resource-and-stonith;" in res
    assert 'split-brain "/usr/local/sbin/llmfleet-drbd-split-brain";' in res
    assert 'fence-peer "/usr/lib/drbd/crm-fence-peer.sh";' in res
    quorum = render("resource.res.j2", drbd_fencing="dont-care", drbd_quorum="majority", drbd_version="9")
    assert "split-brain" in quorum and "fence-peer" not in quorum


def test_handler_marks_the_node_raises_the_metric_and_keeps_the_first_detection(tmp_path):
    state, textfile, bindir = tmp_path / "state", tmp_path / "textfile", tmp_path / "bin"
    textfile.mkdir()
    bindir.mkdir()
    (bindir / "drbdadm").write_text("#!/bin/sh\necho Secondary/Unknown\n")
    (bindir / "logger").write_text("#!/bin/sh\necho \"$@\" >> %s/logged\n" % tmp_path)
    for tool in ("drbdadm", "logger"):
        os.chmod(bindir / tool, 0o755)
    script = tmp_path / "handler"
    script.write_text(render("llmfleet-drbd-split-brain.j2", __drbd_state_dir=str(state), drbd_textfile_dir=str(textfile)))
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ["PATH"]), DRBD_RESOURCE="gw", DRBD_PEER_ADDRESS="10.0.0.1")
    subprocess.run(["sh", str(script)], check=True, env=env)
    marker = json.loads((state / "split-brain-gw.json").read_text())
    assert marker["resource"] == "gw" and marker["role"] == "Secondary" and marker["peer"] == "10.0.0.1"
    assert oct((state / "split-brain-gw.json").stat().st_mode & 0o777) == "0o600"
    prom = (textfile / "llmfleet-drbd-split-brain-gw.prom").read_text()
    assert 'llmfleet_drbd_split_brain{resource="gw"} 1' in prom
    assert "DRBD split brain on resource gw" in (tmp_path / "logged").read_text()
    first = marker["detected_at"]
    subprocess.run(["sh", str(script)], check=True, env=dict(env, DRBD_RESOURCE="gw"))
    assert json.loads((state / "split-brain-gw.json").read_text())["detected_at"] == first
    # a resource name that could escape the paths is not used as one
    subprocess.run(["sh", str(script)], check=True, env=dict(env, DRBD_RESOURCE="../x"))
    assert (state / "split-brain-unknown.json").exists()


def test_only_files_that_differ_are_read():
    from ansible_collections.llmfleet.baremetal.plugins.filter.drbd import drbd_split_brain_differing

    victim = [{"path": "/var/lib/llmfleet/drbd/split-brain/T/audit/audit-2026-12-05.jsonl", "checksum": "aaa"},
              {"path": "/var/lib/llmfleet/drbd/split-brain/T/audit/audit-2026-12-06.jsonl", "checksum": "bbb"},
              {"path": "/var/lib/llmfleet/drbd/split-brain/T/audit/audit-2026-12-07.jsonl", "checksum": "ccc"}]
    survivor = [{"path": "/srv/llmfleet-gateway/audit/audit-2026-12-05.jsonl", "checksum": "aaa"},
                {"path": "/srv/llmfleet-gateway/audit/audit-2026-12-06.jsonl", "checksum": "zzz"}]
    assert drbd_split_brain_differing(victim, "/var/lib/llmfleet/drbd/split-brain/T/", survivor,
                                      "/srv/llmfleet-gateway") == ["/audit/audit-2026-12-06.jsonl",
                                                                   "/audit/audit-2026-12-07.jsonl"]
    # a file without a checksum (unreadable to find) is read rather than skipped
    assert drbd_split_brain_differing([dict(victim[0], checksum=None)], "/var/lib/llmfleet/drbd/split-brain/T",
                                      survivor, "/srv/llmfleet-gateway") == ["/audit/audit-2026-12-05.jsonl"]
    with pytest.raises(AnsibleFilterError):
        drbd_split_brain_differing("x", "/", [], "/")
