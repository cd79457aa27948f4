"""The model_server role serves only weights it can verify: a synced version once model sync marked it ready, any
model once its manifest is where model_server_models says (issue 21 item 8: a missing manifest was found only when
systemd failed the unit).

Runs the role's own gate (roles/model_server/tasks/weights_ready.yml, with the role's vars/main.yml) through
ansible-playbook against localhost: missing markers and manifests fail naming host, paths and the command that
publishes a version; with them, or in check mode, it passes; models this host does not serve are not asked.
"""

from localhost_play import run_role


def run(tmp_path, models, plan, *extra):
    resolved = []
    for m in models:
        path = tmp_path / m["name"] / m.get("version", "")
        resolved.append(dict(m, path=str(path).rstrip("/"), manifest=str(path / "MANIFEST.sha256")))
        if m.get("version"):
            resolved[-1]["ready_marker"] = str(path / ".ready")
    evars = {"__model_server_models": resolved,
             "__model_server_plan": [{"name": "i%d" % i, "model_path": str(tmp_path / p)} for i, p in enumerate(plan)]}
    return run_role(tmp_path, "model_server", evars, tasks_from="weights_ready.yml", flags=extra)


MODELS = [{"name": "ds", "version": "v2"}, {"name": "qw", "version": "v1"}, {"name": "local"}]


def test_a_served_version_without_its_ready_marker_is_refused(tmp_path):
    proc = run(tmp_path, MODELS, ["ds/v2", "local"])
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0
    assert "localhost: no model server starts on weights it cannot verify - missing: %s, %s, %s." % (
        tmp_path / "ds/v2/MANIFEST.sha256", tmp_path / "local/MANIFEST.sha256", tmp_path / "ds/v2/.ready") in out, out[-2000:]
    assert "llmfleet model push -i INVENTORY NAME DIR --version VERSION" in out
    assert "qw/v1" not in proc.stdout  # not served here, not asked


def test_a_ready_version_is_served_and_check_mode_does_not_refuse(tmp_path):
    (tmp_path / "ds" / "v2").mkdir(parents=True)
    (tmp_path / "ds" / "v2" / ".ready").write_text("{}\n")
    (tmp_path / "ds" / "v2" / "MANIFEST.sha256").write_text("")
    assert run(tmp_path, MODELS, ["ds/v2"]).returncode == 0
    proc = run(tmp_path, MODELS, ["ds/v2", "qw/v1"], "--check")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "skipping: [localhost]" in proc.stdout
