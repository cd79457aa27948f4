"""Issue 21 item 8: model_server_ready_timeout_sec: 0 waits the instance's TimeoutStartSec (as documented), not a
fixed 1800 s: the role's own variables, evaluated by Ansible for an instance with 70 GiB of weights."""

from pathlib import Path

import pytest
from localhost_play import run_tasks

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("timeout, want", [(0, (120 + 70 * 6) // 3), (90, 30)], ids=["TimeoutStartSec", "explicit"])
def test_ready_wait_follows_the_documented_timeout(tmp_path, timeout, want):
    extra = {"model_server_ready_timeout_sec": timeout,
             "__model_server_instance": {"model_path": "/srv/models/ds"},
             "__model_server_du": {"results": [{"item": "/srv/models/ds", "stdout": "%d\t/srv/models/ds" % (70 << 30)}]}}
    role = ROOT / "roles" / "model_server"
    proc = run_tasks(tmp_path, [{"name": "Retries", "ansible.builtin.debug": {
        "msg": "RETRIES={{ __model_server_ready_retries }}"}}], extra,
        vars_files=[str(role / "defaults" / "main.yml"), str(role / "vars" / "main.yml")])
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "RETRIES=%d" % want in proc.stdout, proc.stdout[-1500:]
