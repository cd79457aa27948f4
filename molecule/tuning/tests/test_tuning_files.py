"""What a container can show of the tuning layer: persisted files, tmpfiles entry, units (testinfra over SSH).

Containers share the host kernel and have a read-only /proc/sys and /sys: nothing is applied live there (that is
molecule/node_vm); the role must still write everything and say why it did not apply it."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / ".collections"))
from ansible_collections.llmfleet.baremetal.plugins.module_utils import sysctl_profiles as sp  # noqa: E402

PROFILE_OF = {"tun-gpu1": "llm_serving", "tun-gw1": "gateway"}
THP_OF = {"tun-gpu1": "madvise", "tun-gw1": "never"}
OVERRIDES_OF = {"tun-gw1": {"net.ipv4.tcp_fin_timeout": "20"}}


def name(host):
    return host.backend.get_hostname()


def parse_conf(text):
    values = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _sep, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_sysctl_file_has_every_profile_value_with_reason(host):
    profile = PROFILE_OF[name(host)]
    f = host.file("/etc/sysctl.d/60-llmfleet-%s.conf" % profile)
    assert f.exists and f.user == "root" and f.mode == 0o644
    values = parse_conf(f.content_string)
    want = {k: v["value"] for k, v in sp.merge_profile(profile).items()}
    want.update(OVERRIDES_OF.get(name(host), {}))
    want["kernel.numa_balancing"] = "0"
    assert values == want
    assert "# source: seed 000" in f.content_string
    assert "molecule: an override with its own reason" in f.content_string or name(host) != "tun-gw1"
    # only this profile's file: others are purged
    listing = host.run("ls /etc/sysctl.d").stdout.split()
    assert [n for n in listing if n.startswith("60-llmfleet-")] == ["60-llmfleet-%s.conf" % profile]


def test_systemd_sysctl_accepts_the_file(host):
    # the file parses: systemd-sysctl only complains about what it cannot write in a container
    out = host.run("/lib/systemd/systemd-sysctl --cat-config")
    assert out.rc == 0
    assert "60-llmfleet-" in out.stdout


def test_thp_tmpfiles_entry(host):
    mode = THP_OF[name(host)]
    f = host.file("/etc/tmpfiles.d/llmfleet-thp.conf")
    assert "w- /sys/kernel/mm/transparent_hugepage/enabled - - - - %s" % mode in f.content_string
    # "w-": a read-only /sys is not an error for systemd-tmpfiles (the boot-time unit stays green)
    assert host.run("systemd-tmpfiles --create /etc/tmpfiles.d/llmfleet-thp.conf").rc == 0


def test_bbr_module_listed_for_boot(host):
    text = host.file("/etc/modules-load.d/llmfleet-sysctl.conf").content_string
    assert text.splitlines()[-2:] == ["sch_fq", "tcp_bbr"]


def test_live_values_untouched_in_container(host):
    # read-only /proc/sys: the live values are the host kernel's, the role did not fail on them
    assert host.file("/proc/sys/vm/swappiness").exists
    assert host.run("sh -c 'echo 1 > /proc/sys/vm/swappiness'").rc != 0
