"""Issue 21 item 7: downloads are pinned. A dcgm-exporter URL without its sha256 is refused by the monitoring
role's first task, before any host changes (ansible-playbook against localhost, nothing else runs); the pinned
NVIDIA key default is the key NVIDIA's repositories are signed with. The NVIDIA repository key itself is checked
against its pin in molecule/gpu_stack (tests/test_negative.py)."""

from pathlib import Path

import yaml
from localhost_play import run_role

ROOT = Path(__file__).resolve().parents[2]


def test_dcgm_exporter_download_without_sha256_is_refused(tmp_path):
    proc = run_role(tmp_path, "monitoring", {"monitoring_dcgm_exporter_url": "https://mirror.example/dcgm-exporter"})
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0
    assert "a dcgm-exporter download (monitoring_dcgm_exporter_url) needs its sha256" in out, out[-2000:]
    assert "changed=0" in out and "TASK [llmfleet.baremetal.monitoring : Validate monitoring inputs]" in out


def test_nvidia_key_pins_default_to_the_cuda_repository_key():
    for role in ("nvidia_driver", "monitoring"):
        defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
        key = "nvidia_driver_repo_key_fingerprints" if role == "nvidia_driver" else "monitoring_dcgm_repo_key_fingerprints"
        assert defaults[key] == ["EB693B3035CD5710E231E123A4B469963BF863CC"]
