"""Unit tests for the pure parts of llmfleet.lab_vm (nothing is booted)."""

import os
import pathlib
import time

import pytest

from llmfleet import lab_vm

LAB = "unitlab"


def _cmd(name="vm1", lab=LAB, **hv):
    base = {"ansible_host": "127.0.0.1", "ansible_port": 2331, "ansible_user": "root"}
    base.update(hv)
    spec = lab_vm.spec_from_hv(name, base)
    paths = lab_vm.VMPaths(pathlib.Path("/state"), name)
    image = lab_vm.Image(
        base=pathlib.Path("/cache/vm/x/base.qcow2"),
        kernel=pathlib.Path("/cache/vm/x/vmlinuz"),
        initrd=pathlib.Path("/cache/vm/x/initrd.img"),
        root_uuid="u-u-i-d",
    )
    return lab_vm.build_qemu_cmd(spec, paths, image, lab, qemu="qemu-system-x86_64")


def _pairs(cmd, flag):
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == flag]


def test_defaults_and_port():
    cmd = _cmd()
    assert cmd[0] == "qemu-system-x86_64"
    assert _pairs(cmd, "-smp") == ["2"]
    assert _pairs(cmd, "-m") == ["1536M"]
    assert _pairs(cmd, "-accel") == ["tcg"]
    assert _pairs(cmd, "-cpu") == ["max"]
    assert "-daemonize" in cmd and "-no-reboot" not in cmd
    assert _pairs(cmd, "-pidfile") == ["/state/vm1.pid"]
    assert _pairs(cmd, "-serial") == ["file:/state/vm1.serial.log"]
    netdevs = _pairs(cmd, "-netdev")
    assert netdevs == ["user,id=mgmt,hostname=vm1,hostfwd=tcp:127.0.0.1:2331-:22"]
    assert f"virtio-net-pci,netdev=mgmt,mac={lab_vm.MGMT_MAC}" in _pairs(cmd, "-device")
    assert _pairs(cmd, "-kernel") == ["/cache/vm/x/vmlinuz"]
    assert _pairs(cmd, "-initrd") == ["/cache/vm/x/initrd.img"]
    append = _pairs(cmd, "-append")[0]
    assert append.startswith("root=UUID=u-u-i-d ") and "console=ttyS0" in append
    assert any(
        d.startswith("file=/state/vm1.root.qcow2,") for d in _pairs(cmd, "-drive")
    )
    fw = _pairs(cmd, "-fw_cfg")
    assert "name=opt/llmfleet/authorized_keys,file=/state/vm1.authorized_keys" in fw
    assert "name=opt/llmfleet/hostname,string=vm1" in fw
    assert "-numa" not in cmd


def test_everything_on_loopback():
    cmd = " ".join(_cmd(llmfleet_vm_nics=[{"net": "fabric0"}]))
    assert "hostfwd=tcp:127.0.0.1:" in cmd
    assert "localaddr=127.0.0.1" in cmd
    with pytest.raises(ValueError):
        lab_vm.spec_from_hv("vm1", {"ansible_host": "10.1.2.3", "ansible_port": 2331})


def test_port_required_and_validated():
    with pytest.raises(ValueError):
        lab_vm.spec_from_hv("vm1", {"ansible_host": "127.0.0.1"})
    with pytest.raises(ValueError):
        lab_vm.spec_from_hv("vm1", {"ansible_host": "127.0.0.1", "ansible_port": 22})
    assert lab_vm.spec_from_hv("vm1", {"ansible_port": "2400"}).port == 2400


def test_numa_split_two_nodes():
    cmd = _cmd(llmfleet_vm_cpus=2, llmfleet_vm_memory_mb=1536, llmfleet_vm_numa_nodes=2)
    assert _pairs(cmd, "-smp") == ["2,sockets=2,cores=1,threads=1"]
    assert _pairs(cmd, "-object") == [
        "memory-backend-ram,id=mem0,size=768M",
        "memory-backend-ram,id=mem1,size=768M",
    ]
    assert _pairs(cmd, "-numa") == [
        "node,nodeid=0,cpus=0,memdev=mem0",
        "node,nodeid=1,cpus=1,memdev=mem1",
    ]


def test_numa_split_uneven():
    nodes = lab_vm.numa_split(5, 1025, 2)
    assert [n["cpus"] for n in nodes] == [(0, 2), (3, 4)]
    assert sum(n["memory_mb"] for n in nodes) == 1025
    cmd = _cmd(llmfleet_vm_cpus=5, llmfleet_vm_memory_mb=1025, llmfleet_vm_numa_nodes=2)
    assert _pairs(cmd, "-smp") == ["5"]
    assert _pairs(cmd, "-numa")[0] == "node,nodeid=0,cpus=0-2,memdev=mem0"


def test_numa_one_node_is_no_numa_and_invalid_rejected():
    assert "-numa" not in _cmd(llmfleet_vm_numa_nodes=1)
    with pytest.raises(ValueError):
        lab_vm.spec_from_hv(
            "vm1",
            {"ansible_port": 2331, "llmfleet_vm_cpus": 1, "llmfleet_vm_numa_nodes": 2},
        )


def test_nic_mcast_deterministic_and_shared_per_net():
    a = _cmd(
        "vm1", llmfleet_vm_nics=[{"net": "fabric0", "queues": 4}, {"net": "fabric1"}]
    )
    b = _cmd("vm2", llmfleet_vm_nics=[{"net": "fabric0", "queues": 4}])
    a2 = _cmd(
        "vm1", llmfleet_vm_nics=[{"net": "fabric0", "queues": 4}, {"net": "fabric1"}]
    )
    assert a == a2  # deterministic
    g0, p0 = lab_vm.mcast_endpoint(LAB, "fabric0")
    g1, p1 = lab_vm.mcast_endpoint(LAB, "fabric1")
    assert (g0, p0) != (g1, p1)
    assert g0.startswith("230.") and 20000 <= p0 < 40000
    na, nb = _pairs(a, "-netdev"), _pairs(b, "-netdev")
    # multi-queue fabric0 rides a tap on the segment's bridge; single-queue fabric1 a multicast socket
    assert na[1].startswith(f"tap,id=nic0,ifname={lab_vm.tap_name(LAB, 'vm1', 0)},") and "queues=4" in na[1]
    assert na[2] == f"socket,id=nic1,mcast={g1}:{p1},localaddr=127.0.0.1"
    assert nb[1].startswith(f"tap,id=nic0,ifname={lab_vm.tap_name(LAB, 'vm2', 0)},")
    assert lab_vm.bridge_name(LAB, "fabric0") != lab_vm.bridge_name("otherlab", "fabric0")
    # another lab gets another segment
    assert lab_vm.mcast_endpoint("otherlab", "fabric0") != (g0, p0)
    da = [d for d in _pairs(a, "-device") if "netdev=nic" in d]
    assert (
        da[0]
        == f"virtio-net-pci,netdev=nic0,mac={lab_vm.nic_mac('vm1', 'fabric0', 0)},mq=on,vectors=10"
    )
    assert "mq=on" not in da[1]
    db = [d for d in _pairs(b, "-device") if "netdev=nic" in d]
    assert lab_vm.nic_mac("vm1", "fabric0", 0) != lab_vm.nic_mac("vm2", "fabric0", 0)
    assert lab_vm.nic_mac("vm2", "fabric0", 0) in db[0]


def test_mac_format():
    mac = lab_vm.nic_mac("h", "n", 0)
    parts = mac.split(":")
    assert len(parts) == 6 and parts[:3] == ["52", "54", "00"]
    assert mac != lab_vm.MGMT_MAC


def test_disks():
    cmd = _cmd(llmfleet_vm_disks=[{"size_gb": 2}, {"size_gb": 5}])
    drives = _pairs(cmd, "-drive")
    assert drives[1].startswith(
        "file=/state/vm1.data0.qcow2,if=none,id=data0,format=qcow2"
    )
    assert drives[2].startswith(
        "file=/state/vm1.data1.qcow2,if=none,id=data1,format=qcow2"
    )
    devs = _pairs(cmd, "-device")
    assert "virtio-blk-pci,drive=data0,serial=llmfleet-data0" in devs
    assert "virtio-blk-pci,drive=data1,serial=llmfleet-data1" in devs
    with pytest.raises(ValueError):
        lab_vm.spec_from_hv(
            "vm1", {"ansible_port": 2331, "llmfleet_vm_disks": [{"size_gb": 0}]}
        )
    spec = lab_vm.spec_from_hv(
        "vm1", {"ansible_port": 2331, "llmfleet_vm_disks": [{"size_mb": 256}, {"size_gb": 2}]}
    )
    assert [d["size_mb"] for d in spec.disks] == [256, 2048]
    with pytest.raises(ValueError, match="size_mb must be >= 64"):
        lab_vm.spec_from_hv(
            "vm1", {"ansible_port": 2331, "llmfleet_vm_disks": [{"size_mb": 8}]}
        )


def test_recipe_hash_changes_with_recipe(tmp_path):
    (tmp_path / "build-disk.sh").write_text("echo 1\n")
    (tmp_path / "packages.txt").write_text("python3\n")
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "rootfs" / "f").write_text("x")
    src = tmp_path / "sources"
    src.write_text("URIs: http://deb.debian.org/debian\n")
    h1 = lab_vm.recipe_hash(tmp_path, src)
    assert h1 == lab_vm.recipe_hash(tmp_path, src)
    (tmp_path / "packages.txt").write_text("python3\ndrbd-utils\n")
    h2 = lab_vm.recipe_hash(tmp_path, src)
    (tmp_path / "rootfs" / "f").write_text("y")
    h3 = lab_vm.recipe_hash(tmp_path, src)
    assert len({h1, h2, h3}) == 3
    # files outside the recipe (docs, logs) do not matter
    (tmp_path / "README.md").write_text("doc")
    assert lab_vm.recipe_hash(tmp_path, src) == h3


def test_status_stopped_without_pidfile(tmp_path):
    class Ctx:
        lab_name = LAB
        state_dir = tmp_path
        cache_dir = tmp_path

    r = lab_vm.status("vm1", {"ansible_port": 2331}, Ctx())
    assert r == {
        "name": "vm1",
        "kind": "vm",
        "state": "stopped",
        "ssh": "127.0.0.1:2331",
    }


def test_prune_images_keeps_current_and_used(tmp_path):
    vm = tmp_path / "vm"
    for h in ("aaaa", "bbbb", "cccc", "dddd"):
        (vm / h).mkdir(parents=True)
        (vm / h / "recipe.sha256").write_text(h)
        if h != "dddd":  # dddd was built yesterday: another checkout on this machine may boot from it
            old = time.time() - lab_vm.PRUNE_AFTER_S - 60
            os.utime(vm / h / "recipe.sha256", (old, old))
    (vm / "debs").mkdir()
    lab = tmp_path / "labs" / "l1"
    lab.mkdir(parents=True)
    (lab / "vm1.vm.json").write_text('{"base": "%s"}' % (vm / "bbbb" / "base.qcow2"))

    class Ctx:
        cache_dir = tmp_path
        log = staticmethod(lambda m: None)

    lab_vm._prune_images(Ctx(), keep=vm / "cccc")
    assert sorted(p.name for p in vm.iterdir()) == ["bbbb", "cccc", "dddd", "debs"]


def test_vm_disks_are_cached_per_machine_unless_the_context_says_otherwise(tmp_path):
    from llmfleet import lab, paths

    ctx = lab.LabContext(lab_name="l", inventory=tmp_path, state_dir=tmp_path)
    assert lab_vm.vm_cache(ctx) == paths.MACHINE_CACHE / "vm"

    class Ctx:
        cache_dir = tmp_path

    assert lab_vm.vm_cache(Ctx()) == tmp_path / "vm"


def test_multiqueue_nic_uses_a_tap_on_a_bridge_and_numa_local_expander_bus():
    spec = lab_vm.spec_from_hv("tv1", {"ansible_port": 2399, "llmfleet_vm_cpus": 4, "llmfleet_vm_numa_nodes": 2,
                                       "llmfleet_vm_nics": [{"net": "fab", "queues": 4, "numa_node": 1}]})
    cmd = " ".join(lab_vm.build_qemu_cmd(spec, lab_vm.VMPaths(pathlib.Path("/tmp/x"), "tv1"),
                                         lab_vm.Image(pathlib.Path("/b"), pathlib.Path("/k"), pathlib.Path("/i")), "lab"))
    tap = lab_vm.tap_name("lab", "tv1", 0)
    assert len(tap) <= 15 and len(lab_vm.bridge_name("lab", "fab")) <= 15
    assert f"tap,id=nic0,ifname={tap},script=no,downscript=no,queues=4,vhost=off" in cmd
    assert "mq=on,vectors=10" in cmd
    assert "pxb-pcie,id=pxb0,bus_nr=128,numa_node=1,bus=pcie.0" in cmd and "bus=rp0" in cmd


def test_nic_numa_node_must_exist():
    with pytest.raises(ValueError, match="numa_node 2 needs llmfleet_vm_numa_nodes > 2"):
        lab_vm.spec_from_hv("tv1", {"ansible_port": 2399, "llmfleet_vm_cpus": 4, "llmfleet_vm_numa_nodes": 2,
                                    "llmfleet_vm_nics": [{"net": "fab", "numa_node": 2}]})


def test_vm_packages_select_a_derived_image():
    spec = lab_vm.spec_from_hv("vm1", {"ansible_port": 2331, "llmfleet_vm_packages": ["pacemaker", "drbd-utils", "pacemaker"]})
    assert spec.packages == ("drbd-utils", "pacemaker")
    assert lab_vm.spec_from_hv("vm1", {"ansible_port": 2331}).packages == ()
    base = "a" * 64
    assert lab_vm.image_digest(base, ()) == base
    derived = lab_vm.image_digest(base, spec.packages)
    assert derived != base and derived == lab_vm.image_digest(base, ("pacemaker", "drbd-utils"))
    with pytest.raises(ValueError, match="llmfleet_vm_packages"):
        lab_vm.spec_from_hv("vm1", {"ansible_port": 2331, "llmfleet_vm_packages": "pacemaker; rm -rf /"})


def _vm_hosts(inventory):
    """{host: llmfleet_vm_packages} of the VM hosts of a Molecule inventory (vars as Ansible merges them)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    inv = InventoryManager(loader=loader, sources=[str(inventory)])
    vm = VariableManager(loader=loader, inventory=inv)
    out = {}
    for h in inv.get_hosts():
        hv = vm.get_vars(host=h, include_hostvars=False)
        if hv.get("llmfleet_lab_kind") == "vm":
            out[h.name] = lab_vm.spec_from_hv(h.name, {"ansible_port": hv["ansible_port"], **hv}).packages
    return out


def test_the_vm_lane_builds_one_image():
    """Every VM scenario of make test's vms lane bakes the same package list: one derived image per machine (a cold
    build costs minutes; issue 17)."""
    import yaml

    repo = pathlib.Path(__file__).resolve().parents[2]
    budget = yaml.safe_load((repo / "tests/ci_budget.yml").read_text())
    images = {}
    for row in budget["lanes"]["vms"]:
        for host, packages in _vm_hosts(repo / "molecule" / row["scenario"] / "inventory.yml").items():
            images.setdefault(packages, []).append("%s/%s" % (row["scenario"], host))
    assert len(images) == 1, images
