"""playbooks/upgrade_gpu_stack.yml on gs-gpu1 (runs after test_gpu_stack.py and test_negative.py): drain, install
580.95.05 -> 580.105.08 (driver and Fabric Manager together, held again), undrain; then the same playbook back to
the inventory's 580.95.05 (a rollback is the same path).

A stand-in model-server unit records, when it stops and when it starts, the driver package version installed at
that moment: the node was drained before the driver changed and took traffic again only after. The reboot is not
run here (a container cannot reboot: nvidia_driver_reboot_ok=false as an extra var); the reboot contract is proven
by molecule/vm_smoke, the NVML verify against a live driver on the real H100 (docs/gpu-stack.md).
"""

import os
import subprocess

testinfra_hosts = ["gs-gpu1"]

ROOT = os.environ.get("LLMFLEET_ROOT") or os.environ.get("MOLECULE_PROJECT_DIRECTORY")
SCENARIO = os.path.join(ROOT, "molecule", "gpu_stack")
UNIT = "llmfleet-model-upgradetest.service"
LOG = "/var/log/llmfleet-upgradetest.log"
PKGS = ["nvidia-open-580", "nvidia-persistenced", "nvidia-fabricmanager-580"]
HOOK = "/usr/local/sbin/llmfleet-upgradetest-log"
HOOK_SH = """#!/bin/sh
echo "$1 $(dpkg-query -W -f='${Version}' nvidia-open-580)" >> %s
""" % LOG
STAND_IN = """[Unit]
Description=llmfleet upgrade test stand-in model server
[Service]
ExecStartPre=%s start
ExecStart=/bin/sleep infinity
ExecStopPost=%s stop
""" % (HOOK, HOOK)


def write(host, path, content, mode):
    host.check_output("cat > %s <<'LLMFLEET_EOF'\n%sLLMFLEET_EOF\nchmod %s %s" % (path, content, mode, path))


def upgrade(version):
    proc = subprocess.run(
        [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", os.path.join(SCENARIO, "inventory.yml"),
         os.path.join(ROOT, "playbooks", "upgrade_gpu_stack.yml"), "--limit", "gs-gpu1",
         "-e", f"nvidia_driver_version={version}",
         "-e", "nvidia_driver_reboot_ok=false", "-e", '{"gpu_stack_model_server_units": ["%s"]}' % UNIT],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc.stdout


def versions(host):
    return {p: host.package(p).version for p in PKGS}


def test_upgrade_drains_installs_holds_and_undrains(host):
    write(host, HOOK, HOOK_SH, "0755")
    write(host, f"/etc/systemd/system/{UNIT}", STAND_IN, "0644")
    host.check_output(f": > {LOG} && systemctl daemon-reload && systemctl start {UNIT}")
    assert versions(host) == {p: "580.95.05-1" for p in PKGS}

    out = upgrade("580.105.08")
    assert "Stop the node's model server units (default drain)" in out
    assert versions(host) == {p: "580.105.08-1" for p in PKGS}
    holds = host.check_output("apt-mark showhold").split()
    assert all(p in holds for p in PKGS), holds
    assert host.file("/etc/apt/preferences.d/llmfleet-nvidia-driver.pref").contains("Pin: version 580.105.08-")
    assert host.service(UNIT).is_running
    log = host.file(LOG).content_string.split("\n")
    print(log)
    # drained on the old driver, back on the new one, and nothing in between
    assert [x for x in log if x] == ["start 580.95.05-1", "stop 580.95.05-1", "start 580.105.08-1"]


def test_rollback_is_the_same_path(host):
    out = upgrade("580.95.05")
    assert versions(host) == {p: "580.95.05-1" for p in PKGS}
    holds = host.check_output("apt-mark showhold").split()
    assert all(p in holds for p in PKGS), holds
    log = [x for x in host.file(LOG).content_string.split("\n") if x]
    assert log[-2:] == ["stop 580.105.08-1", "start 580.95.05-1"], log
    assert "Start the node's model server units again (default undrain)" in out
    host.check_output(f"systemctl stop {UNIT}; rm -f /etc/systemd/system/{UNIT} {HOOK}; systemctl daemon-reload")
