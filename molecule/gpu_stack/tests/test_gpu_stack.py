"""gs-gpu1 after playbooks/gpu_stack.yml from the FAKE local NVIDIA repository (see molecule.yml)."""

import pytest

testinfra_hosts = ["gs-gpu1"]

DRIVER = "580.95.05"
HELD = ["nvidia-open-580", "nvidia-persistenced", "nvidia-fabricmanager-580", "cuda-toolkit-12-8",
        "libcudnn9-cuda-12", "libcudnn9-dev-cuda-12"]


def test_repository_is_the_mirror_with_its_key(host):
    src = host.file("/etc/apt/sources.list.d/llmfleet-nvidia.sources")
    assert src.contains("URIs: http://172.31.247.1:8747/")
    assert src.contains("Signed-By: /etc/apt/keyrings/llmfleet-nvidia.asc")
    assert host.file("/etc/apt/keyrings/llmfleet-nvidia.asc").contains("BEGIN PGP PUBLIC KEY BLOCK")


@pytest.mark.parametrize("pkg,version", [
    ("nvidia-open-580", "580.95.05-1"), ("nvidia-persistenced", "580.95.05-1"),
    ("nvidia-fabricmanager-580", "580.95.05-1"), ("cuda-toolkit-12-8", "12.8.1-1"),
    ("libcudnn9-cuda-12", "9.10.2.21-1"), ("libcudnn9-dev-cuda-12", "9.10.2.21-1")])
def test_exact_versions_installed_although_newer_exist(host, pkg, version):
    assert host.package(pkg).version == version


def test_everything_held(host):
    holds = host.check_output("apt-mark showhold").split()
    for pkg in HELD:
        assert pkg in holds, pkg


def test_pinned_so_newer_candidates_are_not_taken(host):
    # 580.105.08 / 12.8.2 / 9.10.1 exist in the repository: the pin makes the installed version the candidate.
    for pkg, want in (("nvidia-open-580", "580.95.05-1"), ("nvidia-fabricmanager-580", "580.95.05-1"),
                      ("cuda-toolkit-12-8", "12.8.1-1"), ("libcudnn9-cuda-12", "9.10.2.21-1")):
        pol = host.check_output(f"apt-cache policy {pkg}")
        assert f"Candidate: {want}" in pol, pol
    assert "580.105.08" in host.check_output("apt-cache madison nvidia-open-580")
    upgrade = host.check_output("apt-get -s -o Debug::NoLocking=1 dist-upgrade")
    assert "Inst nvidia" not in upgrade and "Inst cuda" not in upgrade and "Inst libcudnn" not in upgrade, upgrade


def test_fabric_manager_matches_driver_and_is_enabled(host):
    assert host.check_output("nv-fabricmanager -v").endswith(DRIVER)
    assert host.service("nvidia-fabricmanager").is_enabled
    assert host.service("nvidia-persistenced").is_enabled


def test_nouveau_blacklisted(host):
    f = host.file("/etc/modprobe.d/blacklist-nouveau.conf")
    assert f.contains("^blacklist nouveau$") and f.contains("^options nouveau modeset=0$")


def test_cuda_on_path_and_linker(host):
    assert host.file("/etc/profile.d/llmfleet-cuda.sh").contains("/usr/local/cuda-12.8/bin")
    assert host.file("/etc/ld.so.conf.d/llmfleet-cuda.conf").contains("^/usr/local/cuda-12.8/lib64$")
    out = host.check_output("bash -lc 'nvcc --version'")
    assert "release 12.8, V12.8.93" in out


def test_cudnn_header_and_library(host):
    hdr = host.file("/usr/include/cudnn_version.h")
    assert hdr.contains("#define CUDNN_MAJOR 9") and hdr.contains("#define CUDNN_MINOR 10")
    assert host.file("/usr/lib/x86_64-linux-gnu/libcudnn.so.9.10.2").exists
    assert "libcudnn.so.9 " in host.check_output("ldconfig -p")


def test_apt_preferences_pin_files(host):
    assert host.file("/etc/apt/preferences.d/llmfleet-nvidia-driver.pref").contains("Pin: version 580.95.05-\\*")
    assert host.file("/etc/apt/preferences.d/llmfleet-cuda.pref").contains("Pin: version 12.8.1-\\*")
    assert host.file("/etc/apt/preferences.d/llmfleet-cudnn.pref").contains("Pin: version 9.10.2.\\*")
