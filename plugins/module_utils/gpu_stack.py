# -*- coding: utf-8 -*-
# Copyright: llmfleet
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU software stack planning: NVIDIA driver (+ Fabric Manager), CUDA toolkit and cuDNN (pure Python).

Turns what the inventory wants, the host's GPU snapshot (llmfleet.gpu_snapshot/v1, live or replayed) and the
host's distribution into a *plan*: exact versions, package names, apt version globs, the hold/pin lists and
every violation found by the compatibility gate (nvidia_compat.evaluate_stack).  The roles only execute plans;
nothing here touches the host.  See docs/gpu-stack.md.

Every violation is a dict {host, component, expected, found, message, text}; ``text`` is one line naming the
host, the component and the versions, e.g.
``gpu-a01: driver (expected >= 580.65.06, found 535.261.03): CUDA 13.0 needs driver >= 580.65.06 ...``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.llmfleet.baremetal.plugins.module_utils import nvidia_compat as _compat

CompatError = _compat.CompatError

REPO_MODES = ("distribution", "nvidia", "mirror")
FLAVORS = ("auto", "open", "proprietary")
FM_MODES = ("auto", "present", "absent")

# ---------------------------------------------------------------------------
# Package naming per source (data; every row says where the name comes from).
# "versioned": True = the package's upstream version is the driver version (pinned to it and checked);
# False = own version (held, not pinned).  {branch} is the driver branch, {major}/{minor} CUDA's.
# ---------------------------------------------------------------------------
DRIVER_PACKAGES = {
    # Debian 12 non-free, source package nvidia-graphics-drivers 535.x (packages.debian.org/bookworm,
    # `apt-cache policy` in the lab image: 535.261.03-1); headless compute set, no Xorg.
    # nvidia-persistenced is its own source package (535.171.04-1~deb12u1 in bookworm).
    ("debian", "proprietary"): [("nvidia-kernel-dkms", True), ("firmware-nvidia-gsp", True), ("nvidia-smi", True),
                                ("libcuda1", True), ("nvidia-persistenced", False)],
    ("debian", "open"): [("nvidia-open-kernel-dkms", True), ("firmware-nvidia-gsp", True), ("nvidia-smi", True),
                         ("libcuda1", True), ("nvidia-persistenced", False)],
    # Ubuntu archive server drivers: nvidia-driver-<branch>-server[-open] (+ the DKMS package of the same name
    # scheme), packages.ubuntu.com.  Not exercised by the lab (no Ubuntu image).
    ("ubuntu", "proprietary"): [("nvidia-driver-{branch}-server", True), ("nvidia-dkms-{branch}-server", True)],
    ("ubuntu", "open"): [("nvidia-driver-{branch}-server-open", True), ("nvidia-dkms-{branch}-server-open", True)],
    # NVIDIA CUDA apt repository (and air-gapped mirrors of it): reference §5 / S10 (`nvidia-open-<branch>` for
    # the open flavor, `cuda-drivers-<branch>` metapackage for the proprietary one); nvidia-persistenced is
    # built from the same driver release there.
    ("nvidia", "open"): [("nvidia-open-{branch}", True), ("nvidia-persistenced", True)],
    ("nvidia", "proprietary"): [("cuda-drivers-{branch}", True), ("nvidia-persistenced", True)],
}
# Everything apt may pull in with the driver, pinned to the driver version by /etc/apt/preferences.d
# (dependencies are not held one by one; the pin keeps them on the same version).
DRIVER_PIN_GLOBS = {
    "debian": ["nvidia-*", "libnvidia-*", "libcuda1", "firmware-nvidia-gsp", "libnvcuvid1", "libnvidia*"],
    "ubuntu": ["nvidia-*", "libnvidia-*", "linux-modules-nvidia-*"],
    "nvidia": ["nvidia-*", "libnvidia-*", "cuda-drivers*", "libcuda*", "libxnvctrl*", "xserver-xorg-video-nvidia*"],
}
# Fabric Manager: reference §5 (S10: `nvidia-fabricmanager-<version>`, Debian/Ubuntu install through
# `cuda-drivers-fabricmanager-<branch>`; Ubuntu archive `nvidia-fabricmanager-<branch>`).  Debian 12's 535
# packaging ships none.
FABRIC_MANAGER_PACKAGES = {
    "debian": None,
    "ubuntu": "nvidia-fabricmanager-{branch}",
    "nvidia": "nvidia-fabricmanager-{branch}",
}
# CUDA toolkit: NVIDIA repo `cuda-toolkit-<major>-<minor>` (version X.Y.Z-N); Debian 12 non-free ships
# `nvidia-cuda-toolkit` 11.8 (packages.debian.org/bookworm), nvcc in /usr/bin.
CUDA_PACKAGES = {
    "nvidia": {"name": "cuda-toolkit-{major}-{minor}", "home": "/usr/local/cuda-{major}.{minor}"},
    "debian": {"name": "nvidia-cuda-toolkit", "home": "/usr", "cuda": "11.8"},
}
# cuDNN 9 in the NVIDIA repo: libcudnn9-cuda-<CUDA major> (runtime) and libcudnn9-dev-cuda-<CUDA major>
# (headers), versions X.Y.Z.B-N (cuDNN 9 install guide).  No distribution packages them.
CUDNN_PACKAGES = {
    9: ["libcudnn9-cuda-{cuda_major}", "libcudnn9-dev-cuda-{cuda_major}"],
}
# Where NVIDIA's repo installs the CUDA apt source: developer.download.nvidia.com/compute/cuda/repos/<dir>/x86_64/
NVIDIA_REPO_DIRS = {("debian", "12"): "debian12", ("ubuntu", "22.04"): "ubuntu2204", ("ubuntu", "24.04"): "ubuntu2404"}


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------
def deb_upstream_version(debver):
    """'1:535.261.03-1' -> '535.261.03'; '9.10.2.21-1' -> '9.10.2.21'; '' / None -> ''."""
    if not debver:
        return ""
    text = str(debver).strip()
    if ":" in text:
        text = text.split(":", 1)[1]
    if "-" in text:
        text = text.rsplit("-", 1)[0]
    return text


def _violation(host, component, expected, found, message):
    return {"host": host, "component": component, "expected": expected, "found": found, "message": message,
            "text": "%s: %s (expected %s, found %s): %s" % (host, component, expected, found, message)}


def _from_compat(host, v):
    return _violation(host, v["component"], v["expected"], v["found"], v["message"])


def _distro(distro):
    """Normalise {'id'|'distribution', 'version'|'major'} -> ('debian'|'ubuntu', version text)."""
    distro = distro or {}
    dist = str(distro.get("id") or distro.get("distribution") or "").strip().lower()
    version = str(distro.get("version") or distro.get("major") or "").strip()
    if dist == "debian":
        version = version.split(".", maxsplit=1)[0]
    return dist, version


def _branch(version):
    return int(str(version).split(".", maxsplit=1)[0])


def gpu_summary(snapshot):
    """What the plan needs from a GPU snapshot: archs, names, ccs, nvswitch, live, loaded driver, source."""
    snap = snapshot or {}
    gpus = snap.get("gpus") or []
    names, ccs, archs = [], [], []
    for g in gpus:
        if g.get("name") and g["name"] not in names:
            names.append(g["name"])
        cc = g.get("compute_capability")
        if cc and cc not in ccs:
            ccs.append(cc)
        arch = g.get("architecture")
        if arch and arch not in archs:
            archs.append(arch)
    nvswitch = any(int(g.get("nvlink_nvswitch_links") or 0) > 0 for g in gpus)
    nvswitch = nvswitch or any(((p.get("nvlink") or {}).get("via_nvswitch")) for p in snap.get("pairs") or [])
    nvswitch = nvswitch or any((g.get("fabric") or {}).get("state") in ("in_progress", "completed") for g in gpus)
    return {
        "names": names, "ccs": ccs, "archs": archs, "gpu_count": len(gpus), "nvswitch": bool(nvswitch),
        "source": snap.get("source") or ("nvml" if snap else "none"),
        "live": bool(snap.get("nvml_available")) and snap.get("source", "nvml") == "nvml",
        "nvml_available": bool(snap.get("nvml_available")),
        "loaded_driver": snap.get("driver_version"),
    }


def _gpu_items(summary, declared):
    """What evaluate_stack gets as archs: product names when known to the data, else CCs; else declared archs."""
    items = []
    for name in summary["names"]:
        try:
            _compat.gpu_to_cc(name)
            items.append(name)
        except CompatError:
            pass
    if not items:
        items = list(summary["ccs"])
    if not items:
        items = list(declared or [])
    return items


def _pkg_spec(name, version_glob):
    return "%s=%s" % (name, version_glob) if version_glob else name


# ---------------------------------------------------------------------------
# driver + Fabric Manager
# ---------------------------------------------------------------------------
def resolve_driver_plan(wants, snapshot=None, distro=None, host="host", today=None):
    """Plan the NVIDIA driver (and Fabric Manager) of one host.

    wants keys: version (exact upstream driver version; '' = the distribution's candidate, distribution mode
    only), available_versions (upstream versions apt offers, distribution mode), flavor (auto|open|proprietary),
    repo_mode (distribution|nvidia|mirror), cuda (CUDA the driver must run; ''), cuda_mode (toolkit|mvc),
    gpu_archs (declared archs/products when the snapshot has no GPUs), platform (e.g. 'HGX H100'; ''),
    fabric_manager (auto|present|absent), fabric_manager_version ('' = the driver's), allow_eol_branch (bool),
    packages (override list of names; []), extra_packages ([]).
    """
    w = dict(wants or {})
    s = gpu_summary(snapshot)
    dist, dver = _distro(distro)
    mode = w.get("repo_mode") or "distribution"
    violations, warnings = [], []
    plan = {"host": host, "repo_mode": mode, "distro": dist, "distro_version": dver, "gpu_source": s["source"],
            "live": s["live"], "gpus": s["names"], "archs": s["archs"] or list(w.get("gpu_archs") or []),
            "version": None, "branch": None, "flavor": None, "flavor_reason": "", "packages": [], "install": [],
            "hold": [], "pin": {"packages": [], "version": None}, "repo_dir": None,
            "fabric_manager": {"required": False, "reason": "", "package": None, "version": None, "install": None},
            "violations": violations, "warnings": warnings}

    if mode not in REPO_MODES:
        violations.append(_violation(host, "repo_mode", "/".join(REPO_MODES), mode,
                                     "nvidia_driver_repo_mode must be one of %s" % ", ".join(REPO_MODES)))
        return plan
    if dist not in ("debian", "ubuntu"):
        violations.append(_violation(host, "os", "Debian 12 or Ubuntu 22.04/24.04", "%s %s" % (dist, dver),
                                     "the GPU stack roles support Debian and Ubuntu only"))
        return plan
    source = "nvidia" if mode in ("nvidia", "mirror") else dist
    if source == "nvidia":
        plan["repo_dir"] = NVIDIA_REPO_DIRS.get((dist, dver))
        if plan["repo_dir"] is None:
            violations.append(_violation(host, "repo", "one of %s" % ", ".join(
                "%s %s" % k for k in sorted(NVIDIA_REPO_DIRS)), "%s %s" % (dist, dver),
                "NVIDIA's CUDA repository has no directory known for %s %s" % (dist, dver)))

    # -- version
    version = str(w.get("version") or "").strip()
    available = [str(v) for v in (w.get("available_versions") or []) if v]
    if not version:
        if mode == "distribution" and available:
            version = available[0]
            warnings.append("%s: driver version not set; using the distribution's candidate %s" % (host, version))
        else:
            violations.append(_violation(
                host, "driver", "an exact driver version (nvidia_driver_version)", None,
                "nvidia_driver_version is empty and %s - set the exact driver version, e.g. 580.95.05"
                % ("the distribution offers no candidate (is non-free enabled?)" if mode == "distribution"
                   else "repo mode %s cannot be probed before the repository is configured" % mode)))
            return plan
    try:
        parsed = _compat.parse_version(version, "driver version")
        if len(parsed) < 2:
            raise CompatError("driver version %r is a branch: give the full version, e.g. %s.95.05" % (version, version))
    except CompatError as e:
        violations.append(_violation(host, "driver", "a full driver version such as 580.95.05", version, str(e)))
        return plan
    plan["version"] = version
    plan["branch"] = _branch(version)
    if mode == "distribution" and available and version not in available:
        violations.append(_violation(
            host, "driver", "a version the distribution offers (%s)" % ", ".join(available), version,
            "driver %s is not available from %s %s's repositories - use one of %s or repo mode nvidia/mirror"
            % (version, dist, dver, ", ".join(available))))

    # -- kernel-module flavor
    items = _gpu_items(s, w.get("gpu_archs"))
    flavor = w.get("flavor") or "auto"
    if flavor not in FLAVORS:
        violations.append(_violation(host, "kernel_module_flavor", "/".join(FLAVORS), flavor,
                                     "nvidia_driver_flavor must be auto, open or proprietary"))
        return plan
    if flavor == "auto":
        allowed = None
        for item in items:
            try:
                a = set(_compat.kernel_module_flavors(item))
            except CompatError as e:
                violations.append(_violation(host, "kernel_module_flavor", "a known GPU", item, str(e)))
                continue
            allowed = a if allowed is None else allowed & a
        first_open = 515  # nvidia_compat_data KERNEL_MODULE_FACTS open_flavor_first_branch (S9)
        if allowed is None:
            violations.append(_violation(
                host, "kernel_module_flavor", "GPUs in the snapshot or nvidia_driver_gpu_archs", "none",
                "flavor 'auto' needs the GPU architecture: NVML saw no GPU (%s) - set nvidia_driver_gpu_archs "
                "(e.g. [hopper]) or nvidia_driver_flavor" % s["source"]))
            return plan
        if not allowed:
            violations.append(_violation(
                host, "kernel_module_flavor", "one flavor all GPUs support", ", ".join(items),
                "the host's GPUs need different kernel-module flavors - split them across hosts"))
            return plan
        if "open" in allowed and plan["branch"] >= first_open:
            flavor, why = "open", "open kernel modules: supported by %s and recommended (S9)" % ", ".join(items)
        elif "proprietary" in allowed:
            flavor, why = "proprietary", "proprietary kernel modules: %s" % (
                "driver R%d predates the open flavor (R515)" % plan["branch"] if "open" in allowed
                else "%s need them" % ", ".join(items))
        else:
            flavor, why = "open", "open only for %s" % ", ".join(items)  # evaluate_stack reports the branch
        plan["flavor_reason"] = why
    else:
        plan["flavor_reason"] = "set by nvidia_driver_flavor"
    plan["flavor"] = flavor

    # -- Fabric Manager
    fm_mode = w.get("fabric_manager") or "auto"
    platform = str(w.get("platform") or "").strip() or None
    fm = plan["fabric_manager"]
    if fm_mode not in FM_MODES:
        violations.append(_violation(host, "fabric_manager", "/".join(FM_MODES), fm_mode,
                                     "nvidia_driver_fabric_manager must be auto, present or absent"))
        fm_mode = "auto"
    needed = False
    try:
        needed = _compat.fabric_manager_required(s["nvswitch"] if (s["gpu_count"] or platform is None) else None,
                                                 platform)
        fm["reason"] = ("NVSwitch seen by NVML (%s)" % s["source"]) if s["nvswitch"] else (
            "platform %s" % platform if needed and platform else "no NVSwitch")
    except CompatError as e:
        violations.append(_violation(host, "fabric_manager", "a known NVSwitch platform", platform, str(e)))
    if fm_mode == "present":
        needed, fm["reason"] = True, "nvidia_driver_fabric_manager: present"
    elif fm_mode == "absent" and needed:
        violations.append(_violation(
            host, "fabric_manager", "nvidia-fabricmanager %s" % version, "absent",
            "%s needs nvidia-fabricmanager but nvidia_driver_fabric_manager is absent" % fm["reason"]))
        needed = False
    fm["required"] = needed
    fm_version = str(w.get("fabric_manager_version") or "").strip() or version
    if needed:
        fm["version"] = fm_version
        tmpl = FABRIC_MANAGER_PACKAGES.get(source)
        if tmpl is None:
            violations.append(_violation(
                host, "fabric_manager", "nvidia-fabricmanager %s" % fm_version, "no package in %s %s" % (dist, dver),
                "%s needs nvidia-fabricmanager, which %s %s's driver packaging does not ship - use "
                "nvidia_driver_repo_mode nvidia or mirror" % (fm["reason"], dist, dver)))
        else:
            fm["package"] = tmpl.format(branch=plan["branch"])
            fm["install"] = _pkg_spec(fm["package"], "%s-*" % fm_version)

    # -- the compatibility gate
    stack = {"driver": version, "archs": items, "kernel_module_flavor": flavor,
             "cuda_mode": w.get("cuda_mode") or "toolkit", "today": today}
    if w.get("cuda"):
        stack["cuda"] = str(w["cuda"])
    if needed:
        stack["nvswitch"] = True
        stack["fabric_manager"] = fm_version
        if platform:
            stack["platform"] = platform
    try:
        found = _compat.evaluate_stack(stack)
    except CompatError as e:
        found = [{"component": "plan", "expected": "a valid plan", "found": None, "message": str(e)}]
    for v in found:
        if v["component"] == "driver_branch" and w.get("allow_eol_branch"):
            warnings.append("%s: %s (allowed by nvidia_driver_allow_eol_branch)" % (host, v["message"]))
            continue
        violations.append(_from_compat(host, v))

    # -- packages, pins, holds
    names = list(w.get("packages") or [])
    versioned = {}
    if not names:
        for tmpl, lockstep in DRIVER_PACKAGES[(source, flavor)]:
            n = tmpl.format(branch=plan["branch"])
            names.append(n)
            versioned[n] = lockstep
    else:
        versioned = dict((n, True) for n in names)
    names += [n for n in (w.get("extra_packages") or []) if n not in names]
    glob = "%s-*" % version
    plan["packages"] = names
    plan["install"] = [_pkg_spec(n, glob if versioned.get(n) else None) for n in names]
    plan["versioned"] = [n for n in names if versioned.get(n)]
    plan["hold"] = list(names) + ([fm["package"]] if fm["package"] else [])
    plan["pin"] = {"packages": list(DRIVER_PIN_GLOBS[source]), "version": glob}
    return plan


# ---------------------------------------------------------------------------
# CUDA toolkit
# ---------------------------------------------------------------------------
def _cuda_triplet(cuda):
    t = _compat.parse_version(cuda, "CUDA version")
    if len(t) == 2:
        t = t + (0,)
    if len(t) != 3:
        raise CompatError("CUDA version %r: expected X.Y or X.Y.Z such as 12.8 or 12.8.1" % (cuda,))
    return t


def resolve_cuda_plan(wants, driver_version=None, distro=None, host="host", archs=None, today=None):
    """Plan the CUDA toolkit: wants {version, repo_mode, driver_mode (toolkit|mvc), packages}.

    driver_version: the driver the host will run (the driver plan's, else the loaded one).
    """
    w = dict(wants or {})
    dist, dver = _distro(distro)
    mode = w.get("repo_mode") or "nvidia"
    violations = []
    plan = {"host": host, "version": None, "minor": None, "repo_mode": mode, "packages": [], "install": [],
            "hold": [], "home": None, "bin_dir": None, "lib_dir": None, "driver": driver_version,
            "violations": violations}
    cuda = str(w.get("version") or "").strip()
    if mode not in REPO_MODES:
        violations.append(_violation(host, "cuda", "repo mode %s" % "/".join(REPO_MODES), mode,
                                     "cuda_repo_mode must be one of %s" % ", ".join(REPO_MODES)))
        return plan
    try:
        t = _cuda_triplet(cuda)
        _compat.cuda_min_driver("%d.%d.%d" % t if len(cuda.split(".")) == 3 else cuda)
    except CompatError as e:
        violations.append(_violation(host, "cuda", "a CUDA release in the compatibility data", cuda or None, str(e)))
        return plan
    full = "%d.%d.%d" % t
    plan["version"] = full
    plan["minor"] = "%d.%d" % t[:2]
    if not driver_version:
        violations.append(_violation(
            host, "cuda", "a known driver version", None,
            "CUDA %s: no driver is planned (nvidia_driver disabled) and NVML reports none - cannot check "
            "CUDA against the driver" % cuda))
    else:
        stack = {"driver": str(driver_version), "cuda": cuda, "cuda_mode": w.get("driver_mode") or "toolkit",
                 "archs": list(archs or []), "today": today}
        try:
            for v in _compat.evaluate_stack(stack):
                if v["component"] in ("driver_branch",):
                    continue  # the driver plan reports the branch lifecycle
                v = dict(v)
                if v["component"] == "driver":
                    v["component"] = "cuda/driver"
                violations.append(_from_compat(host, v))
        except CompatError as e:
            violations.append(_violation(host, "cuda", "a valid plan", cuda, str(e)))
    if mode == "distribution":
        row = CUDA_PACKAGES.get(dist)
        if row is None or row.get("cuda") != plan["minor"]:
            violations.append(_violation(
                host, "cuda", "CUDA %s from %s %s" % (row["cuda"], dist, dver) if row else "repo mode nvidia/mirror",
                cuda, "%s %s does not package CUDA %s - use cuda_repo_mode nvidia or mirror"
                % (dist, dver, plan["minor"])))
            return plan
        name, home, glob = row["name"], row["home"], None
    else:
        row = CUDA_PACKAGES["nvidia"]
        name = row["name"].format(major=t[0], minor=t[1])
        home = row["home"].format(major=t[0], minor=t[1])
        glob = "%s-*" % full
    names = list(w.get("packages") or []) or [name]
    plan["packages"] = names
    plan["install"] = [_pkg_spec(n, glob if n == name else None) for n in names]
    plan["hold"] = list(names)
    plan["home"] = home
    plan["bin_dir"] = home + "/bin"
    plan["lib_dir"] = home + ("/lib64" if home != "/usr" else "/lib/x86_64-linux-gnu")
    return plan


# ---------------------------------------------------------------------------
# cuDNN
# ---------------------------------------------------------------------------
def resolve_cudnn_plan(wants, cuda_version=None, driver_version=None, host="host", today=None):
    """Plan cuDNN: wants {version ('9.10.2'), repo_mode, packages}; cuda_version: the host's CUDA."""
    w = dict(wants or {})
    mode = w.get("repo_mode") or "nvidia"
    violations = []
    plan = {"host": host, "version": None, "cuda": cuda_version, "repo_mode": mode, "packages": [], "install": [],
            "hold": [], "violations": violations}
    cudnn = str(w.get("version") or "").strip()
    if mode not in ("nvidia", "mirror"):
        violations.append(_violation(host, "cudnn", "repo mode nvidia or mirror", mode,
                                     "no distribution packages cuDNN: use cudnn_repo_mode nvidia or mirror"))
        return plan
    try:
        t = _compat.parse_version(cudnn, "cuDNN version")
        if len(t) != 3:
            raise CompatError("cuDNN version %r: give X.Y.Z such as 9.10.2" % (cudnn,))
    except CompatError as e:
        violations.append(_violation(host, "cudnn", "a cuDNN version X.Y.Z", cudnn or None, str(e)))
        return plan
    plan["version"] = cudnn
    if not cuda_version:
        violations.append(_violation(host, "cudnn", "a CUDA version (cuda role or cudnn_cuda_version)", None,
                                     "cuDNN %s: the host's CUDA version is unknown" % cudnn))
        return plan
    stack = {"cuda": str(cuda_version), "cudnn": cudnn, "today": today}
    if driver_version:
        stack["driver"] = str(driver_version)
    try:
        for v in _compat.evaluate_stack(stack):
            if v["component"] in ("driver_branch", "cuda"):
                continue  # reported by the driver / CUDA plans
            v = dict(v)
            if v["component"] == "driver":
                v["component"] = "cudnn/driver"
            violations.append(_from_compat(host, v))
    except CompatError as e:
        violations.append(_violation(host, "cudnn", "a valid plan", cudnn, str(e)))
    tmpls = CUDNN_PACKAGES.get(t[0])
    if tmpls is None:
        violations.append(_violation(host, "cudnn", "cuDNN 9.x package naming", cudnn,
                                     "package names for cuDNN %d are not in the data - set cudnn_packages" % t[0]))
        return plan
    cuda_major = _compat.parse_version(str(cuda_version))[0]
    names = list(w.get("packages") or []) or [x.format(cuda_major=cuda_major) for x in tmpls]
    plan["packages"] = names
    plan["install"] = [_pkg_spec(n, "%s.*" % cudnn) for n in names]
    plan["hold"] = list(names)
    return plan


# ---------------------------------------------------------------------------
# verification helpers
# ---------------------------------------------------------------------------
def verify_driver(snapshot, installed_version=None, expected=None, host="host"):
    """Compare the driver NVML reports (loaded) with the installed package / expected version.

    Returns {ok, status, loaded, installed, expected, message}; status is one of ok, mismatch, not_loaded
    (NVML unavailable: no GPU, driver not loaded or a reboot pending), replay (recorded data: nothing live to
    compare), no_expectation.
    """
    snap = snapshot or {}
    installed = deb_upstream_version(installed_version) if installed_version else None
    want = str(expected).strip() if expected else installed
    loaded = snap.get("driver_version")
    out = {"host": host, "loaded": loaded, "installed": installed, "expected": want, "ok": False,
           "source": snap.get("source", "nvml")}
    if snap.get("source") == "replay":
        out.update(status="replay", message="%s: GPU data is a replay (%s): the loaded driver cannot be verified "
                   "on this host" % (host, (snap.get("replay_of") or {}).get("file")))
        return out
    if not snap.get("nvml_available"):
        out.update(status="not_loaded", message="%s: NVML unavailable (%s) - driver %s is not loaded"
                   % (host, snap.get("reason"), want))
        return out
    if not want:
        out.update(status="no_expectation", message="%s: NVML reports driver %s; nothing to compare with"
                   % (host, loaded))
        return out
    if installed and expected and installed != str(expected).strip():
        out.update(status="mismatch", message="%s: installed driver package %s != expected %s"
                   % (host, installed, expected))
        return out
    if loaded == want:
        out.update(ok=True, status="ok", message="%s: NVML reports driver %s = expected %s%s"
                   % (host, loaded, want, " (installed package %s)" % installed if installed else ""))
    else:
        out.update(status="mismatch", message="%s: NVML reports driver %s but %s is %s - reboot (or reload the "
                   "modules) so the installed driver is the loaded one" % (
                       host, loaded, "installed" if installed else "expected", want))
    return out


def parse_nvcc_version(text):
    """'Cuda compilation tools, release 12.8, V12.8.93' -> {'release': '12.8', 'build': '12.8.93'}."""
    m = re.search(r"release\s+(\d+\.\d+),\s*V(\d+(?:\.\d+)+)", text or "")
    if not m:
        raise CompatError("no 'release X.Y, VX.Y.Z' line in nvcc --version output: %r" % ((text or "")[-200:],))
    return {"release": m.group(1), "build": m.group(2)}


def parse_cudnn_header(text):
    """The CUDNN_MAJOR/MINOR/PATCHLEVEL defines of cudnn_version.h -> '9.10.2'."""
    parts = []
    for key in ("CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL"):
        m = re.search(r"^\s*#\s*define\s+%s\s+(\d+)\s*$" % key, text or "", re.M)
        if not m:
            raise CompatError("cudnn_version.h has no '#define %s N'" % key)
        parts.append(m.group(1))
    return ".".join(parts)


def parse_dkms_status(text):
    """`dkms status` lines -> [{module, version, kernel, arch, state}] (dkms 2.x and 3.x formats)."""
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or ":" not in line:
            continue
        head, state = line.rsplit(":", 1)
        parts = [p.strip() for p in re.split(r"[,/]", head)]
        if len(parts) < 2:
            continue
        entry = {"module": parts[0], "version": parts[1], "kernel": parts[2] if len(parts) > 2 else None,
                 "arch": parts[3] if len(parts) > 3 else None, "state": state.strip().split()[0] if state.strip() else ""}
        out.append(entry)
    return out


def dkms_missing(status_text, kernels, version):
    """[{module, version, kernel}] the driver version still lacks: every kernel needs an 'installed' entry."""
    entries = parse_dkms_status(status_text)
    mods = sorted(set(e["module"] for e in entries if e["version"] == version))
    if not mods:
        return [{"module": None, "version": version, "kernel": k} for k in kernels]
    missing = []
    for mod in mods:
        for k in kernels:
            if not any(e["module"] == mod and e["version"] == version and e["kernel"] == k
                       and e["state"] == "installed" for e in entries):
                missing.append({"module": mod, "version": version, "kernel": k})
    return missing


def violation_table(plans):
    """One text block of every violation of every plan (a list of plans or of lists of plans)."""
    lines = []
    for p in plans or []:
        for item in (p if isinstance(p, list) else [p]):
            for v in (item or {}).get("violations") or []:
                lines.append(v["text"] if isinstance(v, dict) else str(v))
    if not lines:
        return "GPU stack plan: no violations"
    return "GPU stack plan refused (%d violation(s)), nothing was changed:\n%s" % (
        len(lines), "\n".join("  - " + x for x in lines))
