"""Live tuning state on the NUMA VM (rdma1 of molecule/node_vm), after converge and again after a reboot.

molecule/node_vm/verify.yml runs this file twice: `-k after_converge`, then reboots both VMs (its RDMA checks share
the reboot), then `-k after_reboot`. TUNING_VM_STATE carries the boot id from the first half to the second.

Every value of the profile must be what `sysctl -n` shows, THP must be madvise, kernel.numa_balancing 0, and
every IRQ the irq_affinity role pinned must have an smp_affinity_list inside the NUMA-local set it computed.
"""

import json
import os
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / ".collections"))
from ansible_collections.llmfleet.baremetal.plugins.module_utils import sysctl_profiles as sp  # noqa: E402

PROFILE = "llm_serving"
IRQ_STATE = "/etc/llmfleet/irq-affinity.json"
STATE = {}


def expected():
    want = {k: v["value"] for k, v in sp.merge_profile(PROFILE).items()}
    want["kernel.numa_balancing"] = "0"
    return want


def cpulist(text):
    cpus = set()
    for part in str(text).strip().split(","):
        if not part:
            continue
        lo, _sep, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def check_sysctls(host):
    seen = {}
    for key, value in sorted(expected().items()):
        out = host.run("sysctl -n %s", key)
        assert out.rc == 0, (key, out.stderr)
        seen[key] = " ".join(out.stdout.split())
        assert seen[key] == value, "%s: live %r, profile %r" % (key, seen[key], value)
    return seen


def check_thp(host):
    for name, want in (("enabled", "madvise"), ("defrag", "madvise")):
        text = host.file("/sys/kernel/mm/transparent_hugepage/" + name).content_string
        assert "[%s]" % want in text, (name, text)


def irq_plan(host):
    f = host.file(IRQ_STATE)
    assert f.exists, "%s not written: the irq_affinity role did not run in this converge" % IRQ_STATE
    return json.loads(f.content_string)


def irq_numbers(host):
    """{name: irq} of this boot from /proc/interrupts (IRQ numbers may change across reboots, names do not)."""
    out = {}
    for line in host.file("/proc/interrupts").content_string.splitlines():
        fields = line.split()
        if fields and fields[0].rstrip(":").isdigit():
            out[fields[-1]] = int(fields[0].rstrip(":"))
    return out


def check_irqs(host):
    """Every planned IRQ: live smp_affinity_list within its planned CPUs, within the IRQ cores the numa_placement
    filter reserved (llmfleet_placement.reserved.irq in placement.json) and, where the device has a NUMA node,
    within that node's CPUs."""
    plan = irq_plan(host)
    entries = plan["entries"]
    assert entries, "no IRQs in %s: %s" % (IRQ_STATE, plan)
    placement = json.loads(host.file("/etc/llmfleet/placement.json").content_string)
    reserved_irq = cpulist(placement["reserved"]["irq"])
    assert reserved_irq, placement["reserved"]
    numbers = irq_numbers(host)
    seen = {}
    for e in entries:
        irq = numbers.get(e["name"], e["irq"])
        planned = cpulist(e["cpus"])
        live = cpulist(host.file("/proc/irq/%d/smp_affinity_list" % irq).content_string)
        seen["%s (irq %d)" % (e["name"], irq)] = {"live": sorted(live), "planned": e["cpus"], "numa_node": e["numa_node"]}
        assert live and live <= planned, "IRQ %d %s: smp_affinity_list %s not within %s" % (irq, e["name"], sorted(live), e["cpus"])
        assert planned <= reserved_irq, "IRQ %d %s: planned %s outside the reserved IRQ cores %s" % (
            irq, e["name"], e["cpus"], sorted(reserved_irq))
        if e["numa_node"] is not None and e["numa_node"] >= 0:
            node = cpulist(host.file("/sys/devices/system/node/node%d/cpulist" % e["numa_node"]).content_string)
            assert live <= node, "IRQ %d %s: %s not NUMA-local %s" % (irq, e["name"], sorted(live), sorted(node))
    return seen


def boot_id(host):
    return host.file("/proc/sys/kernel/random/boot_id").content_string.strip()


def state_file():
    path = os.environ.get("TUNING_VM_STATE")
    assert path, "TUNING_VM_STATE (the file that carries the boot id across the reboot) is not set"
    return Path(path)


# --- after converge -------------------------------------------------------------------------------------------

def test_guest_has_two_numa_nodes_after_converge(host):
    assert host.file("/sys/devices/system/node/node1").is_directory


def test_sysctls_live_after_converge(host):
    STATE["before"] = check_sysctls(host)
    print("sysctl -n after converge:", json.dumps(STATE["before"], indent=1))


def test_thp_after_converge(host):
    check_thp(host)


def test_persisted_files_after_converge(host):
    conf = host.file("/etc/sysctl.d/60-llmfleet-%s.conf" % PROFILE).content_string
    for key, value in expected().items():
        assert "\n%s = %s\n" % (key, value) in conf, key
    assert "tcp_bbr" in host.file("/etc/modules-load.d/llmfleet-sysctl.conf").content_string
    assert "w- /sys/kernel/mm/transparent_hugepage/enabled - - - - madvise" in \
        host.file("/etc/tmpfiles.d/llmfleet-thp.conf").content_string


def test_irqs_pinned_after_converge(host):
    print("IRQ pinning after converge:", json.dumps(check_irqs(host), indent=1))


def test_boot_id_recorded_after_converge(host):
    state_file().write_text(json.dumps({"boot_id": boot_id(host)}))


# --- after the reboot (verify.yml reboots both VMs between the halves) -----------------------------------------

def test_rebooted_after_reboot(host):
    before = json.loads(state_file().read_text())["boot_id"]
    assert boot_id(host) != before, "boot id %s unchanged: the VM was not rebooted" % before


def test_sysctls_live_after_reboot(host):
    seen = check_sysctls(host)
    print("sysctl -n after reboot:", json.dumps(seen, indent=1))
    out = os.environ.get("TUNING_VM_REPORT")
    if out:
        Path(out).write_text(json.dumps({"sysctl_after_reboot": seen}, indent=1))


def test_thp_after_reboot(host):
    check_thp(host)


def test_fabric_nic_uses_fq_after_reboot(host):
    qdiscs = host.run("tc qdisc show").stdout
    print(qdiscs)
    assert " fq " in qdiscs, qdiscs


def test_irqs_pinned_after_reboot(host):
    seen = check_irqs(host)
    print("IRQ pinning after reboot:", json.dumps(seen, indent=1))
    out = os.environ.get("TUNING_VM_REPORT")
    if out:
        report = json.loads(Path(out).read_text()) if Path(out).exists() else {}
        report["irq_after_reboot"] = seen
        Path(out).write_text(json.dumps(report, indent=1))
    for line in host.run("grep -E 'virtio' /proc/interrupts").stdout.splitlines():
        print(line)
