"""Issue 21 item 7: downloads are pinned. A dcgm-exporter URL without its sha256 is refused by the monitoring
role's first task, before any host changes (ansible-playbook against localhost, nothing else runs); the pinned
NVIDIA key default is the key NVIDIA's repositories are signed with. The NVIDIA repository key itself is checked
against its pin in molecule/gpu_stack (tests/test_negative.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The monitoring role
      ansible.builtin.include_role:
        name: llmfleet.baremetal.monitoring
"""


def test_dcgm_exporter_download_without_sha256_is_refused(tmp_path):
    (tmp_path / "play.yml").write_text(PLAY)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    extra = {"monitoring_dcgm_exporter_url": "https://mirror.example/dcgm-exporter",
             "ansible_python_interpreter": sys.executable}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                           str(tmp_path / "play.yml"), "-e", json.dumps(extra)], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=120, check=False)
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0
    assert "a dcgm-exporter download (monitoring_dcgm_exporter_url) needs its sha256" in out, out[-2000:]
    assert "changed=0" in out and "TASK [llmfleet.baremetal.monitoring : Validate monitoring inputs]" in out


def test_nvidia_key_pins_default_to_the_cuda_repository_key():
    for role in ("nvidia_driver", "monitoring"):
        defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
        key = "nvidia_driver_repo_key_fingerprints" if role == "nvidia_driver" else "monitoring_dcgm_repo_key_fingerprints"
        assert defaults[key] == ["EB693B3035CD5710E231E123A4B469963BF863CC"]
