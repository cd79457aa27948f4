"""Issue 21 item 8: model_server_ready_timeout_sec: 0 waits the instance's TimeoutStartSec (as documented), not a
fixed 1800 s: the role's own variables, evaluated by Ansible for an instance with 70 GiB of weights."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars_files: ["%(root)s/roles/model_server/defaults/main.yml", "%(root)s/roles/model_server/vars/main.yml"]
  tasks:
    - name: Retries
      ansible.builtin.debug:
        msg: "RETRIES={{ __model_server_ready_retries }}"
"""


@pytest.mark.parametrize("timeout, want", [(0, (120 + 70 * 6) // 3), (90, 30)], ids=["TimeoutStartSec", "explicit"])
def test_ready_wait_follows_the_documented_timeout(tmp_path, timeout, want):
    (tmp_path / "play.yml").write_text(PLAY % {"root": ROOT})
    extra = {"model_server_ready_timeout_sec": timeout, "ansible_python_interpreter": sys.executable,
             "__model_server_instance": {"model_path": "/srv/models/ds"},
             "__model_server_du": {"results": [{"item": "/srv/models/ds", "stdout": "%d\t/srv/models/ds" % (70 << 30)}]}}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                           str(tmp_path / "play.yml"), "-e", json.dumps(extra)], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "RETRIES=%d" % want in proc.stdout, proc.stdout[-1500:]
