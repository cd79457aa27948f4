"""The model_server role's secret files as Ansible writes them (the role's own tasks, run against localhost into a
temporary directory): the engines' environment KEY="value" one per line with JSON quoting, and the vLLM engine key
file VLLM_API_KEY=<key> ending in a real newline (a folded YAML scalar had written a literal backslash-n, which
systemd's EnvironmentFile would have read into the key)."""

from pathlib import Path

import yaml
from localhost_play import run_tasks

ROOT = Path(__file__).resolve().parents[2]
TASKS = yaml.safe_load((ROOT / "roles" / "model_server" / "tasks" / "configure.yml").read_text())


def _task(name, dest, **extra):
    task = dict([t for t in TASKS if t["name"] == name][0])
    for key in ("when", "notify", "no_log", "loop_control"):
        task.pop(key, None)
    copy = dict(task["ansible.builtin.copy"], dest=dest)
    copy.pop("owner", None)
    copy.pop("group", None)
    task["ansible.builtin.copy"] = copy
    task.update(extra)
    return task


def run(tmp_path, tasks, evars):
    proc = run_tasks(tmp_path, tasks, evars)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_secret_env_and_engine_key_files(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "ds.key").write_text("abcdefABCDEF0123456789abcdefABCDEF0123456789abcd\n")
    run(tmp_path, [
        _task("Write the engines' secret environment (root only)", str(tmp_path / "secrets.env")),
        _task("Install the engine key of each model served here", str(tmp_path / "{{ item.0 }}.{{ item.1 }}"),
              loop=[["ds", "env"], ["ds", "key"]]),
    ], {"model_server_secret_env": {"HF_TOKEN": "hf_x", "B_PASSWORD": 'a"b\\c'}, "model_server_engine_key_dir": str(keys)})
    assert (tmp_path / "secrets.env").read_text() == 'B_PASSWORD="a\\"b\\\\c"\nHF_TOKEN="hf_x"\n'
    assert (tmp_path / "ds.env").read_text() == "VLLM_API_KEY=abcdefABCDEF0123456789abcdefABCDEF0123456789abcd\n"
    assert (tmp_path / "ds.key").read_text() == "abcdefABCDEF0123456789abcdefABCDEF0123456789abcd"
