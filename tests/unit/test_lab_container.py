"""Container lab hosts with block devices and package images (llmfleet/lab_container.py), with docker and losetup
recorded instead of run: the `docker run` of a storage host passes each loop device, the inventory's device lists
are written, `lab down` detaches exactly that host's devices, a package image is built once per recipe."""

import json
import subprocess
from types import SimpleNamespace

import pytest

from llmfleet import lab_container, paths


class Recorder:
    """docker and losetup/mkfs as this module calls them: returns what a real run would print."""

    def __init__(self):
        self.calls, self.images, self.attached, self.containers = [], set(), {}, set()

    def run(self, argv, **_kw):
        argv = list(argv)
        self.calls.append(argv)
        out, rc = "", 0
        if argv[:3] == ["docker", "image", "inspect"]:
            rc = 0 if argv[3] in self.images else 1
        elif argv[:2] == ["docker", "inspect"]:
            rc = 0 if argv[-1] in self.containers else 1
            out = "running" if rc == 0 else ""
        elif argv[:2] == ["docker", "run"]:
            self.containers.add(argv[argv.index("--name") + 1])
        elif argv[:2] == ["docker", "commit"]:
            self.images.add(argv[-1])
        elif argv[:2] == ["docker", "rm"] and argv[-1] in self.containers:
            self.containers.discard(argv[-1])
        elif argv[:3] == ["losetup", "-f", "--show"]:
            out = "/dev/loop%d" % (7 + len(self.attached))
            self.attached[out] = argv[3]
        elif argv[:2] == ["losetup", "-a"]:
            out = "\n".join("%s %s" % kv for kv in self.attached.items())
        elif argv[:2] == ["losetup", "-d"]:
            self.attached.pop(argv[2])
        return subprocess.CompletedProcess(argv, rc, out, "")


@pytest.fixture()
def rec(tmp_path, monkeypatch):
    r = Recorder()
    monkeypatch.setattr(lab_container.subprocess, "run", r.run)
    monkeypatch.setattr(paths, "MACHINE_CACHE", tmp_path / "machine")
    monkeypatch.setattr(lab_container, "ensure_image", lambda ctx: "llmfleet/debian12-systemd:base")
    monkeypatch.setattr(lab_container, "wait_for_ssh", lambda *a, **k: 0.1)
    return r


def ctx_of(tmp_path):
    return SimpleNamespace(lab_name="t", state_dir=tmp_path / "labs" / "t", log=lambda m: None, ssh_pubkey="ssh-ed25519 X",
                           ssh_key_path=tmp_path / "key")


HV = {"ansible_host": "172.31.250.31", "llmfleet_lab_memory": "2g",
      "llmfleet_lab_loop_files": [{"size_gb": 4}, {"size_gb": 1, "mkfs": "ext4"}],
      "llmfleet_lab_image_packages": ["radosgw", "ceph-osd"]}


def test_storage_host_gets_its_loop_devices_and_package_image(tmp_path, rec):
    ctx = ctx_of(tmp_path)
    lab_container.up("st1", HV, ctx)
    run = next(c for c in rec.calls if c[:2] == ["docker", "run"] and "--hostname" in c)
    assert run[run.index("--device") + 1] == "/dev/loop7:/dev/loop7"
    assert run.count("--device") == 2 and "/dev/loop8:/dev/loop8" in run
    tag = lab_container.package_image_tag("llmfleet/debian12-systemd:base", ["ceph-osd", "radosgw"])
    assert run[-1] == tag and tag in rec.images
    # the OSD device list the inventory reads; the formatted spare apart
    devices = ctx.state_dir / "devices"
    assert json.loads((devices / "st1.json").read_text()) == ["/dev/loop7"]
    assert json.loads((devices / "st1-spare.json").read_text()) == ["/dev/loop8"]
    assert (ctx.state_dir / "loops" / "st1-0.img").stat().st_size == 4 << 30  # sparse
    assert ["mkfs.ext4", "-q", "-F", "-L", "precious-data", str(ctx.state_dir / "loops" / "st1-1.img")] in rec.calls
    install = next(c for c in rec.calls if c[:2] == ["docker", "exec"] and "apt-get" in c[-1])
    assert install[-1].endswith("--no-install-recommends ceph-osd radosgw && apt-get clean")


def test_package_image_is_built_once_per_recipe(tmp_path, rec):
    ctx = ctx_of(tmp_path)
    first = lab_container.ensure_package_image(ctx, ["radosgw", "ceph-osd"])
    builds = sum(1 for c in rec.calls if c[:2] == ["docker", "commit"])
    assert lab_container.ensure_package_image(ctx, ["ceph-osd", "radosgw"]) == first  # order does not matter
    assert sum(1 for c in rec.calls if c[:2] == ["docker", "commit"]) == builds == 1
    assert lab_container.ensure_package_image(ctx, []) == "llmfleet/debian12-systemd:base"
    assert lab_container.package_image_tag("b", ["x"]) != lab_container.package_image_tag("b", ["x", "y"])


def test_down_detaches_that_hosts_devices_only(tmp_path, rec):
    ctx = ctx_of(tmp_path)
    lab_container.up("st1", HV, ctx)
    lab_container.up("st2", dict(HV, ansible_host="172.31.250.32", llmfleet_lab_loop_files=[{"size_gb": 4}]), ctx)
    assert len(rec.attached) == 3
    lab_container.down("st1", HV, ctx)
    assert list(rec.attached) == ["/dev/loop9"]  # st2's
    assert not list((ctx.state_dir / "loops").glob("st1-*"))
    assert not (ctx.state_dir / "devices" / "st1.json").exists()
    assert json.loads((ctx.state_dir / "devices" / "st2.json").read_text()) == ["/dev/loop9"]


def test_host_without_devices_or_packages_runs_the_base_image(tmp_path, rec):
    ctx = ctx_of(tmp_path)
    lab_container.up("gpu1", {"ansible_host": "172.31.250.11"}, ctx)
    run = next(c for c in rec.calls if c[:2] == ["docker", "run"])
    assert "--device" not in run and run[-1] == "llmfleet/debian12-systemd:base"
    assert not any(c[0] == "losetup" for c in rec.calls)
