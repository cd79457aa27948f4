"""Negative plans: each is refused in the GPU stack pre-flight, names host/component/versions, changes nothing.

Plus the positive plan in --check --diff on the same fresh host: it runs through and changes nothing.

They run playbooks/gpu_stack.yml against gs-neg (a container the converge never touches) with extra vars.
"""

import os
import subprocess

import pytest

testinfra_hosts = ["gs-neg"]

ROOT = os.environ.get("LLMFLEET_ROOT") or os.environ.get("MOLECULE_PROJECT_DIRECTORY")
SCENARIO = os.path.join(ROOT, "molecule", "gpu_stack")
FIX = os.path.join(ROOT, "tests", "fixtures", "gpu")

CASES = {
    "cuda13_on_535": (
        {"preflight_gpu_replay_file": f"{FIX}/h100x1/snapshot.json", "nvidia_driver_repo_mode": "distribution",
         "nvidia_driver_version": "535.261.03", "nvidia_driver_flavor": "proprietary",
         "nvidia_driver_allow_eol_branch": True, "cuda_enabled": True, "cuda_version": "13.0"},
        ["gs-neg: cuda/driver (expected >= 580.65.06, found 535.261.03)", "CUDA 13.0 needs driver >= 580.65.06"]),
    "proprietary_on_blackwell": (
        {"preflight_gpu_replay_file": f"{FIX}/synthetic-blackwell/snapshot.json", "nvidia_driver_version": "580.95.05",
         "nvidia_driver_flavor": "proprietary"},
        ["gs-neg: kernel_module_flavor (expected open, found proprietary)", "NVIDIA B200"]),
    "fabric_manager_not_driver": (
        {"preflight_gpu_replay_file": f"{FIX}/h200x2/snapshot.json", "nvidia_driver_version": "580.95.05",
         "nvidia_driver_fabric_manager_version": "580.82.07"},
        ["gs-neg: fabric_manager (expected == 580.95.05, found 580.82.07)",
         "Fabric Manager 580.82.07 does not match driver 580.95.05"]),
}

UNTOUCHED = ["/etc/apt/sources.list.d/llmfleet-nvidia.sources", "/etc/apt/keyrings/llmfleet-nvidia.asc",
             "/etc/apt/preferences.d/llmfleet-nvidia-driver.pref", "/etc/apt/preferences.d/llmfleet-cuda.pref",
             "/etc/modprobe.d/blacklist-nouveau.conf", "/etc/profile.d/llmfleet-cuda.sh"]


def run_plan(extra, flags=()):
    args = ["ansible-playbook", "-i", os.path.join(SCENARIO, "inventory.yml"),
            os.path.join(ROOT, "playbooks", "gpu_stack.yml"), "-e", "gpu_stack_hosts=gs-neg"] + list(flags)
    for k, v in extra.items():
        args += ["-e", f"{k}={v}" if isinstance(v, str) else "{\"%s\": %s}" % (k, str(v).lower())]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_CACHE_PLUGIN="memory",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"), LLMFLEET_ROOT=ROOT, NO_COLOR="1",
               ANSIBLE_NOCOLOR="1")
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600)


@pytest.mark.parametrize("case", sorted(CASES))
def test_negative_plan_refused_before_any_change(host, case):
    extra, expect = CASES[case]
    before = host.check_output("dpkg-query -W -f '${Package} ${Version} ${Status}\\n' | sort | md5sum")
    res = run_plan(extra)
    out = res.stdout + res.stderr
    print(out[-3000:])
    assert res.returncode != 0
    assert "GPU stack plan refused" in out
    for text in expect:
        assert text in out, text
    # failed in the pre-flight play: no task of the install play ran
    assert "PLAY [GPU stack - driver, Fabric Manager, CUDA toolkit, cuDNN]" not in out
    assert host.check_output("dpkg-query -W -f '${Package} ${Version} ${Status}\\n' | sort | md5sum") == before
    assert host.run("dpkg -l 'nvidia-*' 'cuda-*' 'libcudnn*' 2>/dev/null | grep '^ii'").rc == 1
    for path in UNTOUCHED:
        assert not host.file(path).exists, path
    assert host.check_output("apt-mark showhold") == ""


def test_check_mode_diff_on_a_fresh_host_changes_nothing(host):
    """The positive H200x2 plan in --check --diff on the never-converged host: runs through, changes nothing."""
    before = host.check_output("dpkg-query -W -f '${Package} ${Version} ${Status}\\n' | sort | md5sum")
    extra = {"preflight_gpu_replay_file": f"{FIX}/h200x2/snapshot.json", "nvidia_driver_version": "580.95.05",
             "cuda_enabled": True, "cuda_version": "12.8.1", "cudnn_enabled": True, "cudnn_version": "9.10.2"}
    res = run_plan(extra, ["--check", "--diff"])
    out = res.stdout + res.stderr
    print(out[-3000:])
    assert res.returncode == 0, out[-3000:]
    assert host.check_output("dpkg-query -W -f '${Package} ${Version} ${Status}\\n' | sort | md5sum") == before
    for path in UNTOUCHED:
        assert not host.file(path).exists, path
    assert host.check_output("apt-mark showhold") == ""


def test_a_repository_key_that_is_not_pinned_is_refused(host):
    """Issue 21 item 7: the repository serves a key whose fingerprint is not pinned (a swapped key): the role fails
    naming both fingerprints before apt trusts anything; no keyring, source or package lands on the host."""
    before = host.check_output("dpkg-query -W -f '${Package} ${Version} ${Status}\\n' | sort | md5sum")
    extra = {"preflight_gpu_replay_file": f"{FIX}/h200x2/snapshot.json", "nvidia_driver_version": "580.95.05",
             "nvidia_driver_repo_key_fingerprints": ["EB69 3B30 35CD 5710 E231  E123 A4B4 6996 3BF8 63CC"]}
    res = run_plan(extra)
    out = " ".join((res.stdout + res.stderr).split())
    print(out[-3000:])
    assert res.returncode != 0
    assert "gs-neg: the repository key from http://172.31.247.1:8747/key.asc has fingerprint(s)" in out
    assert "none of them pinned in nvidia_driver_repo_key_fingerprints (EB693B3035CD5710E231E123A4B469963BF863CC)" in out
    assert host.check_output("dpkg-query -W -f '${Package} ${Version} ${Status}\\n' | sort | md5sum") == before
    for path in UNTOUCHED:
        assert not host.file(path).exists, path
