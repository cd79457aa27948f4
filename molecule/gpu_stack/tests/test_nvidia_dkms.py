"""dk-gpu1 (molecule/gpu_stack) after the GPU stack converge: Debian's 535 DKMS module built for every installed kernel."""

import re

import pytest

testinfra_hosts = ["dk-gpu1"]

KERNELS = ["6.1.0-47-amd64", "6.1.0-50-amd64"]


def driver_version(host):
    return host.check_output("dpkg-query -W -f '${Version}' nvidia-kernel-dkms").split("-")[0]


def test_both_kernels_installed(host):
    for k in KERNELS:
        assert host.file(f"/boot/vmlinuz-{k}").exists
        assert host.package(f"linux-headers-{k}").is_installed


def test_dkms_built_for_every_installed_kernel(host):
    status = host.check_output("dkms status")
    print(status)
    ver = driver_version(host)
    for k in KERNELS:
        assert re.search(rf"^nvidia-current/{re.escape(ver)}, {re.escape(k)}, x86_64: installed", status, re.M), k


@pytest.mark.parametrize("kernel", KERNELS)
def test_modinfo_version_equals_held_package(host, kernel):
    ver = driver_version(host)
    out = host.check_output(f"modinfo -k {kernel} -F version nvidia 2>/dev/null || modinfo -k {kernel} -F version nvidia-current")
    print(host.check_output(f"modinfo -k {kernel} -F filename nvidia 2>/dev/null || modinfo -k {kernel} -F filename nvidia-current"))
    print(kernel, out)
    assert out.strip() == ver
    assert "nvidia-kernel-dkms" in host.check_output("apt-mark showhold").split()


@pytest.mark.parametrize("kernel", KERNELS)
def test_nouveau_blacklisted_in_initramfs(host, kernel):
    listing = host.check_output(f"lsinitramfs /boot/initrd.img-{kernel}")
    assert "etc/modprobe.d/blacklist-nouveau.conf" in listing
    assert "nouveau.ko" not in listing
    conf = host.check_output(
        f"mkdir -p /tmp/ir-{kernel} && cd /tmp/ir-{kernel} && unmkinitramfs /boot/initrd.img-{kernel} . "
        f"&& cat $(find . -path '*etc/modprobe.d/blacklist-nouveau.conf' | head -1)")
    assert "blacklist nouveau" in conf


def test_pinned_to_the_installed_version(host):
    ver = driver_version(host)
    pref = host.file("/etc/apt/preferences.d/llmfleet-nvidia-driver.pref")
    assert pref.contains(f"Pin: version {ver}-")
    assert f"Candidate: {ver}-" in host.check_output("apt-cache policy nvidia-kernel-dkms")


# The modalias an H100 SXM5 80GB announces (PCI 10de:2330, subsystem 10de:16c1, class 0302 = 3D controller): what
# udev hands to `modprobe -b` when the board appears at boot. Read from the real H100 (tests/fixtures/gpu/h100x1).
H100_MODALIAS = "pci:v000010DEd00002330sv000010DEsd000016C1bc03sc02i00"


def would_load(host, kernel, alias, config=""):
    """What modprobe would do for a modalias, called as udev calls it (`modprobe -b`), dry run (-n -v): the
    insmod/install lines it prints."""
    return host.check_output(f"modprobe -S {kernel} {config} -b -n -v {alias}")


@pytest.mark.parametrize("kernel", KERNELS)
def test_udev_would_load_nvidia_not_nouveau_for_an_h100(host, kernel):
    """Resolve the H100's modalias against each kernel's module index, with this host's modprobe configuration."""
    empty = host.check_output("mktemp -d")
    unconfigured = would_load(host, kernel, H100_MODALIAS, config=f"-C {empty}")
    udev = would_load(host, kernel, H100_MODALIAS)
    print(kernel, "with no modprobe configuration:", unconfigured, "with this host's:", udev)
    # The check discriminates: the kernel's own nouveau claims the board when nothing blacklists it.
    assert re.search(r"^insmod \S*/nouveau\.ko", unconfigured, re.M), unconfigured
    assert "nouveau" not in udev, udev
    # Debian's module is nvidia-current.ko (an `install` rule of its modprobe.d may wrap it): nvidia, not nothing
    assert re.search(r"^(insmod \S*/nvidia(-current)?\.ko|install .*nvidia)", udev, re.M), udev
