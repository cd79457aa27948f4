"""Run one of the collection's roles (or one of its task files) for real through ansible-playbook against localhost,
with extra variables: what the unit tests of a role's checks use (no lab, no SSH)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_play(tmp_path, play, extra, flags=()):
    """ansible-playbook's CompletedProcess for ``play`` (a list of plays) on localhost, with extra variables."""
    (tmp_path / "play.yml").write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    extra = dict(extra, ansible_python_interpreter=sys.executable)
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                           str(tmp_path / "play.yml"), "-e", json.dumps(extra)] + list(flags),
                          capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=120, check=False)


def run_tasks(tmp_path, tasks, extra, flags=(), **play_keys):
    """run_play of one localhost play with ``tasks`` (and play keys such as vars_files)."""
    play = dict({"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}, **play_keys)
    return run_play(tmp_path, [play], extra, flags)


def run_role(tmp_path, role, extra, tasks_from=None, flags=()):
    """ansible-playbook's CompletedProcess for ``include_role`` of llmfleet.baremetal.ROLE (tasks_from) on localhost."""
    task = {"name": "The role", "ansible.builtin.include_role": {"name": "llmfleet.baremetal." + role}}
    if tasks_from:
        task["ansible.builtin.include_role"]["tasks_from"] = tasks_from
    return run_tasks(tmp_path, [task], extra, flags)
