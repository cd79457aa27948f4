#!/usr/bin/env python3
"""Scenario-local stand-in for block devices in container labs (until llmfleet/lab_container.py grows
``llmfleet_lab_loop_files``): loop devices on the controller, passed to the storage containers with --device.

create: for every host with ``llmfleet_lab_loop_files`` ([{size_gb, mkfs?}]) create sparse files under
lab/cache/labs/<lab>/loops/, attach them with ``losetup -f``, write lab/cache/labs/<lab>/devices/<host>.json
(the /dev/loopN paths; entries with ``mkfs`` go to <host>-spare.json instead) and start the host's container with
lab_container.run_args() plus ``--device`` for each loop device, on an image with the Ceph packages
pre-installed (built once from the lab image, cached by a hash of base image + package list). ``llmfleet lab up``
then adopts the running containers (SSH key, wait for SSH) and creates the other hosts.
destroy (after ``llmfleet lab down``): detach the loop devices and delete their files.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import yaml

ROOT = Path(os.environ.get("LLMFLEET_ROOT", Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(ROOT))
from llmfleet import lab_container, paths  # noqa: E402  (image, network, names and docker run flags)


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def hosts_of(inventory):
    inv = yaml.safe_load(Path(inventory).read_text())["all"]
    hosts = {}

    def walk(group, inherited):
        gvars = dict(inherited, **(group.get("vars") or {}))
        for h, hv in (group.get("hosts") or {}).items():
            hosts.setdefault(h, {}).update(dict(gvars, **(hv or {})))
        for child in (group.get("children") or {}).values():
            walk(child or {}, gvars)
    walk(inv, {})
    return hosts


def ceph_image(base, packages, log):
    tag = "llmfleet/debian12-systemd-ceph:" + hashlib.sha256(
        ("%s\n%s" % (base, " ".join(sorted(packages)))).encode()).hexdigest()[:12]
    if sh("docker", "image", "inspect", tag, check=False).returncode == 0:
        return tag
    log("building %s (apt-get install %s; slow: ~13 min on a loaded 2-core host)" % (tag, " ".join(packages)))
    name = "ceph-image-build-%d" % os.getpid()
    sh("docker", "run", "-d", "--name", name, "--entrypoint", "sleep", base, "infinity")
    try:
        sh("docker", "exec", name, "sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
           "--no-install-recommends %s && apt-get clean" % " ".join(packages))
        sh("docker", "commit", "-c", 'ENTRYPOINT ["/sbin/init"]', "-c", "LABEL org.llmfleet.recipe=ceph-lab", name, tag)
    finally:
        sh("docker", "rm", "-f", name, check=False)
    return tag


def create(inventory, lab):
    log = lambda m: print("lab_devices: " + m, flush=True)  # noqa: E731
    hosts = hosts_of(inventory)
    cache = paths.CACHE / "labs" / lab
    (cache / "loops").mkdir(parents=True, exist_ok=True)
    (cache / "devices").mkdir(parents=True, exist_ok=True)
    # the part of `llmfleet lab up`'s context that lab_container needs: names, log, where build times go
    ctx = SimpleNamespace(lab_name=lab, log=log, cache_dir=paths.CACHE)
    base = lab_container.ensure_image(ctx)
    lab_container.prepare(ctx, hosts)
    net = lab_container.network_name(ctx)
    for host, hv in sorted(hosts.items()):
        files = hv.get("llmfleet_lab_loop_files") or []
        if not files:
            continue
        cname = lab_container.container_name(ctx, host)
        if sh("docker", "inspect", cname, check=False).returncode == 0:
            log("%s exists; keeping it" % cname)
            continue
        devices, spare = [], []
        for i, spec in enumerate(files):
            img = cache / "loops" / ("%s-%d.img" % (host, i))
            img.unlink(missing_ok=True)
            with open(img, "wb") as f:
                f.truncate(int(spec["size_gb"]) << 30)
            if spec.get("mkfs"):
                sh("mkfs." + spec["mkfs"], "-q", "-F", "-L", "precious-data", str(img))
            dev = sh("losetup", "-f", "--show", str(img)).stdout.strip()
            (spare if spec.get("mkfs") else devices).append(dev)
        (cache / "devices" / (host + ".json")).write_text(json.dumps(devices) + "\n")
        (cache / "devices" / (host + "-spare.json")).write_text(json.dumps(spare) + "\n")
        image = ceph_image(base, hv.get("lab_ceph_image_packages") or [], log)
        args = ["docker"] + lab_container.run_args(cname, host, hv, net, lab)
        for dev in devices + spare:
            args += ["--device", "%s:%s" % (dev, dev)]
        sh(*args, image)
        log("%s: container with %s" % (host, ", ".join(devices + spare)))
    (cache / "lab-devices-created").write_text(str(time.time()) + "\n")


def destroy(inventory, lab):
    cache = paths.CACHE / "labs" / lab
    loops = cache / "loops"
    if not loops.is_dir():
        return
    attached = sh("losetup", "-a", "-O", "NAME,BACK-FILE", "-n", "-l", check=False).stdout.splitlines()
    for img in sorted(loops.glob("*.img")):
        for line in attached:
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[1].strip().replace(" (deleted)", "") == str(img):
                sh("losetup", "-d", parts[0], check=False)
                print("lab_devices: detached %s (%s)" % (parts[0], img.name))
        img.unlink()
    for f in (cache / "devices").glob("*.json"):
        f.unlink()


if __name__ == "__main__":
    {"create": create, "destroy": destroy}[sys.argv[1]](sys.argv[2], sys.argv[3])
