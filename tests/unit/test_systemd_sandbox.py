"""The sandbox profiles (module_utils/systemd_sandbox): scored by systemd-analyze on this machine's systemd, each
under the ceiling the serving scenario asserts on the lab's deployed units; model servers get their own GPUs."""

import shutil
import subprocess

import pytest

from ansible_collections.llmfleet.baremetal.plugins.module_utils import systemd_sandbox as sb

CEILING = {"model_server": 5.0, "exporter": 5.0, "textfile": 5.0, "gateway": 6.6}


def test_a_model_server_gets_its_own_gpus_only():
    assert sb.gpu_devices([1, 3], {0: 0, 1: 1, 2: 2, 3: 5}) == [
        "/dev/nvidia1 rw", "/dev/nvidia5 rw", "/dev/nvidiactl rw", "/dev/nvidia-uvm rw", "/dev/nvidia-uvm-tools rw"]
    assert sb.gpu_devices([0], {}, rdma=True)[0] == "char-nvidia-frontend rw"  # no minor recorded: not a guess
    assert "char-infiniband_verbs rw" in sb.gpu_devices([0], {0: 0}, rdma=True)
    assert sb.gpu_devices([], {0: 0}) == []


def test_profiles_replace_base_values_and_refuse_unknown_ones():
    d = sb.directives("gateway", writable_paths=["/srv/x"])
    assert ("ProtectSystem", "full") in d and ("ProtectSystem", "strict") not in d
    assert d[-1] == ("ReadWritePaths", "-/srv/x")
    assert [v for k, v in sb.directives("exporter") if k == "SystemCallFilter"] == ["@system-service",
                                                                                    "~@privileged @resources"]
    with pytest.raises(sb.SandboxError):
        sb.directives("nope")


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
@pytest.mark.parametrize("profile", sorted(CEILING))
def test_profile_scores_under_its_ceiling(tmp_path, profile):
    unit = tmp_path / ("x-%s.service" % profile)
    extra = "User=nobody\n" if profile in ("model_server", "exporter") else ""
    unit.write_text("[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n" + extra
                    + "".join("%s=%s\n" % kv for kv in sb.directives(profile, device_allow=sb.gpu_devices([0], {0: 0}))
                              if profile == "model_server" or kv[0] != "DeviceAllow"))
    out = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)], capture_output=True,
                         text=True, check=False).stdout
    score = float(out.strip().splitlines()[-1].split(": ")[1].split()[0])
    assert score <= CEILING[profile], out[-2000:]
