# -*- coding: utf-8 -*-
# Copyright: llmfleet
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NVIDIA version-compatibility logic (pure Python, no Ansible imports).

All data comes from nvidia_compat_data.py.  Every public function raises
CompatError (a ValueError) with a readable message for a malformed or unknown
version; nothing unknown is ever answered with a silent True/False.
See docs/compat.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.llmfleet.baremetal.plugins.module_utils import nvidia_compat_data as _data

__all__ = [
    "CompatError", "parse_version", "cuda_min_driver", "driver_supports_cuda", "cudnn_supports",
    "cudnn_min_driver", "cc_to_arch", "gpu_to_cc", "arch_cuda_range", "arch_supported_by_cuda",
    "kernel_module_flavors", "driver_branch_info", "fabric_manager_required", "fabric_manager_matches",
    "max_cuda_for_driver", "evaluate_stack",
]


class CompatError(ValueError):
    """A version is malformed, unknown to the data, or the question is undefined."""


_VERSION_RE = re.compile(r"^\d+(\.\d+)*$")
_MODES = ("toolkit", "mvc")
_FLAVORS = ("open", "proprietary")

_ARCH_LABELS = {
    "blackwell": "Blackwell", "jetson_thor": "Jetson Thor", "hopper": "Hopper", "grace_hopper": "Grace Hopper",
    "ada": "Ada Lovelace", "ampere": "Ampere", "turing": "Turing", "volta": "Volta", "pascal": "Pascal",
    "maxwell": "Maxwell", "kepler": "Kepler",
}
_ARCH_ALIASES = {
    "ada_lovelace": "ada", "lovelace": "ada", "blackwell_ultra": "blackwell", "gh200": "grace_hopper",
    "thor": "jetson_thor",
}

# ---------------------------------------------------------------------------
# indexes over the data
# ---------------------------------------------------------------------------
_CUDA_ROWS = _data.CUDA_TOOLKIT_DRIVERS
_CUDA_MINORS = {}
for _r in _CUDA_ROWS:
    _CUDA_MINORS.setdefault(_r["cuda"], []).append(_r)
_CUDA_NONEXISTENT = dict((r["cuda"], r) for r in _data.CUDA_NONEXISTENT)
_MVC = dict((r["major"], r) for r in _data.CUDA_MVC_FLOORS)
_CUDNN_COVERAGE = dict((r["cudnn"], r) for r in _data.CUDNN_COVERAGE)
_CC = dict((r["cc"], r) for r in _data.COMPUTE_CAPABILITIES)
_ARCH = dict((r["arch"], r) for r in _data.ARCHITECTURES)
_FLAVOR_ROWS = dict((r["arch"], r) for r in _data.KERNEL_MODULE_FLAVORS)
_BRANCHES = dict((r["branch"], r) for r in _data.DRIVER_BRANCHES)
_BRANCH_TYPE_NAMES = dict((r["type"], r["name"]) for r in _data.DRIVER_BRANCH_TYPES)
_FM_PLATFORMS = dict((r["platform"].lower(), r) for r in _data.FABRIC_MANAGER_PLATFORMS)
_KM_FACTS = dict((r["fact"], r) for r in _data.KERNEL_MODULE_FACTS)
_FM_RULES = dict((r["rule"], r) for r in _data.FABRIC_MANAGER_RULES)


def _tokens(text):
    return [t for t in re.split(r"[^a-z0-9]+", text.lower()) if t]


_PRODUCTS = sorted(
    ((_tokens(r["product"]), r) for r in _data.PRODUCTS), key=lambda x: (-len(x[0]), -len(x[1]["product"])))


# ---------------------------------------------------------------------------
# parsing helpers
# ---------------------------------------------------------------------------
def parse_version(value, what="version"):
    """Parse '535.104.05', '12.4', 12.4 (float) or 12 (int) into a tuple of ints."""
    if isinstance(value, bool) or value is None:
        raise CompatError("%s must be a version string like '12.4' or '535.104.05', got %r" % (what, value))
    if isinstance(value, float):
        text = repr(value)
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise CompatError("%s must be a version string, got %s %r" % (what, type(value).__name__, value))
    if not _VERSION_RE.match(text):
        raise CompatError("malformed %s %r: expected dot-separated numbers such as '12.4' or '535.104.05'"
                          % (what, value))
    return tuple(int(p) for p in text.split("."))


def _cmp(a, b):
    n = max(len(a), len(b))
    a = tuple(a) + (0,) * (n - len(a))
    b = tuple(b) + (0,) * (n - len(b))
    return (a > b) - (a < b)


def _vstr(t):
    return ".".join(str(p) for p in t)


def _parse_driver(driver):
    t = parse_version(driver, "driver version")
    if len(t) == 1:
        raise CompatError("driver version %r is a branch, not a driver version: give the full version, "
                          "e.g. '%d.xx.yy' as printed by nvidia-smi" % (driver, t[0]))
    if len(t) > 3:
        raise CompatError("malformed driver version %r: expected 2 or 3 parts such as 570.26 or 535.104.05" % (driver,))
    return t


def _driver_floor(row):
    """(tuple, text) of a CUDA row's toolkit driver, or of its branch floor."""
    if row.get("driver"):
        return parse_version(row["driver"]), row["driver"]
    return (int(row["branch_floor"]),), row["branch_floor"]


def _floor_text(text):
    return "R%s or later" % text if "." not in text else ">= %s" % text


def _known_cuda_minors():
    return sorted(_CUDA_MINORS, key=parse_version)


def _cuda_row(cuda):
    """Resolve a CUDA version to its toolkit-table row.

    'X.Y' (or a float) is the GA release of X.Y; 'X.Y.Z' must be a listed release
    (rows marked any_patch accept every Z).
    """
    t = parse_version(cuda, "CUDA version")
    if len(t) < 2:
        raise CompatError("CUDA version %r is ambiguous: give major.minor such as '%d.0'" % (cuda, t[0]))
    if len(t) > 3:
        raise CompatError("malformed CUDA version %r: expected X.Y or X.Y.Z" % (cuda,))
    minor = "%d.%d" % t[:2]
    if minor in _CUDA_NONEXISTENT:
        ne = _CUDA_NONEXISTENT[minor]
        raise CompatError("CUDA %s does not exist (%s; %s)" % (minor, ne["note"], ne["source"]))
    rows = _CUDA_MINORS.get(minor)
    if not rows:
        known = _known_cuda_minors()
        raise CompatError("unknown CUDA version %r: the compatibility table covers CUDA %s to %s (%s)"
                          % (cuda, known[0], known[-1], ", ".join(known)))
    if len(t) == 2:
        return [r for r in rows if r["ga"]][0]
    for r in rows:
        if parse_version(r["version"]) == t:
            return r
    for r in rows:
        if r.get("any_patch"):
            return r
    raise CompatError("unknown CUDA release %r: known %s releases are %s"
                      % (cuda, minor, ", ".join("%s (%s)" % (r["version"], r["release"])
                                                for r in sorted(rows, key=lambda r: parse_version(r["version"])))))


def _cuda_major_minor(cuda):
    row = _cuda_row(cuda)
    return parse_version(row["cuda"])


def _check_mode(mode):
    if mode not in _MODES:
        raise CompatError("mode must be one of %s, got %r" % ("/".join(_MODES), mode))


def _mvc_row(cuda, row):
    major = int(row["cuda"].split(".")[0])
    if major < _data.MVC_FIRST_MAJOR:
        raise CompatError("CUDA %s has no minor-version compatibility: MVC exists only from CUDA %d onwards (S3); "
                          "use mode='toolkit'" % (cuda, _data.MVC_FIRST_MAJOR))
    if major not in _MVC:
        raise CompatError("no minor-version-compatibility floor recorded for CUDA %d.x" % major)
    return _MVC[major]


# ---------------------------------------------------------------------------
# CUDA <-> driver
# ---------------------------------------------------------------------------
def cuda_min_driver(cuda, mode="toolkit"):
    """Minimum Linux x86_64 driver for a CUDA release.

    mode='toolkit': the driver packaged with that toolkit (all features).
    mode='mvc': the minor-version-compatibility floor of the CUDA major (CUDA >= 11).
    A bare branch number (e.g. '615') means "that branch or later": the exact
    minimum is not published (CUDA 13.3/13.4).
    """
    _check_mode(mode)
    row = _cuda_row(cuda)
    if mode == "mvc":
        return _mvc_row(cuda, row)["driver"]
    return _driver_floor(row)[1]


def driver_supports_cuda(driver, cuda, mode="toolkit"):
    """True if the driver satisfies the CUDA release's minimum in the given mode."""
    _check_mode(mode)
    d = _parse_driver(driver)
    row = _cuda_row(cuda)
    if mode == "mvc":
        floor = parse_version(_mvc_row(cuda, row)["driver"])
    else:
        floor = _driver_floor(row)[0]
    return _cmp(d, floor) >= 0


def max_cuda_for_driver(driver, mode="toolkit"):
    """Newest CUDA the driver supports: 'X.Y' if every X.Y release is covered, else 'X.Y.Z'; None if none.

    In mvc mode the answer is 'X.x' (the newest CUDA major whose MVC floor the driver meets).
    """
    _check_mode(mode)
    d = _parse_driver(driver)
    if mode == "mvc":
        ok = [m for m, r in _MVC.items() if _cmp(d, parse_version(r["driver"])) >= 0]
        return "%d.x" % max(ok) if ok else None
    ok = [r for r in _CUDA_ROWS if _cmp(d, _driver_floor(r)[0]) >= 0]
    if not ok:
        return None
    best = max(ok, key=lambda r: parse_version(r["version"]))
    siblings = _CUDA_MINORS[best["cuda"]]
    if all(r in ok for r in siblings):
        return best["cuda"]
    return best["version"]


# ---------------------------------------------------------------------------
# cuDNN
# ---------------------------------------------------------------------------
def _cudnn_key(cudnn):
    t = parse_version(cudnn, "cuDNN version")
    if len(t) < 2:
        raise CompatError("cuDNN version %r is ambiguous: give X.Y.Z such as 9.10.2" % (cudnn,))
    t = (t + (0,))[:3] if len(t) == 2 else t[:3]
    key = _vstr(t)
    if key not in _CUDNN_COVERAGE:
        known = sorted(_CUDNN_COVERAGE, key=parse_version)
        raise CompatError("unknown cuDNN version %r: the support-matrix data covers %s" % (cudnn, ", ".join(known)))
    return key


def _cudnn_builds(key):
    return [b for b in _data.CUDNN_BUILDS if b["cudnn"] == key]


def cudnn_supports(cudnn, cuda):
    """True if the cuDNN release's support matrix lists the CUDA minor version."""
    key = _cudnn_key(cudnn)
    mm = _cuda_major_minor(cuda)
    minor = "%d.%d" % mm
    cov = _CUDNN_COVERAGE[key]
    if mm[0] not in cov["majors"]:
        raise CompatError("cuDNN %s with CUDA %d.x is not covered by the reference data (read: CUDA %s); "
                          "check the cuDNN support matrix and add a row" % (
                              key, mm[0], ", ".join("%d.x" % m for m in cov["majors"])))
    return any(minor in b["cuda"] for b in _cudnn_builds(key))


def cudnn_min_driver(cudnn, cuda):
    """Minimum Linux driver for a cuDNN build on a CUDA version (lowest matching row).

    Rows without a driver fall back to the per-CUDA branch the matrix lists,
    else to the CUDA release's own toolkit driver ("refer to CUDA Compatibility").
    """
    if not cudnn_supports(cudnn, cuda):
        raise CompatError("cuDNN %s does not support CUDA %s" % (cudnn, cuda))
    key = _cudnn_key(cudnn)
    minor = "%d.%d" % _cuda_major_minor(cuda)
    best = None
    for b in _cudnn_builds(key):
        if minor not in b["cuda"]:
            continue
        if b.get("driver"):
            cand = b["driver"]
        elif minor in b.get("cuda_branches", {}):
            cand = str(min(int(x.lstrip("Rr")) for x in b["cuda_branches"][minor]))
        else:
            cand = cuda_min_driver(cuda)
        if best is None or _cmp(parse_version(cand), parse_version(best)) < 0:
            best = cand
    return best


# ---------------------------------------------------------------------------
# architectures
# ---------------------------------------------------------------------------
def _parse_cc(cc):
    if isinstance(cc, bool) or cc is None:
        raise CompatError("compute capability must look like '9.0', 9.0 or 'sm_90', got %r" % (cc,))
    if isinstance(cc, float):
        text = repr(cc)
    elif isinstance(cc, str):
        text = cc.strip().lower()
    else:
        raise CompatError("compute capability must look like '9.0', 9.0 or 'sm_90', got %s %r"
                          % (type(cc).__name__, cc))
    m = re.match(r"^(?:sm|compute)_?(\d+)(\d)[af]?$", text)
    if m:
        return "%d.%d" % (int(m.group(1)), int(m.group(2)))
    m = re.match(r"^(\d+)\.(\d)$", text)
    if m:
        return "%d.%d" % (int(m.group(1)), int(m.group(2)))
    raise CompatError("malformed compute capability %r: expected 'X.Y' (e.g. '9.0') or 'sm_XY' (e.g. 'sm_90')"
                      % (cc,))


def _cc_row(cc):
    key = _parse_cc(cc)
    if key not in _CC:
        raise CompatError("unknown compute capability %s: known %s"
                          % (key, ", ".join(sorted(_CC, key=parse_version))))
    return _CC[key]


def cc_to_arch(cc):
    """Architecture id ('hopper', 'blackwell', ...) for a compute capability ('9.0', 9.0, 'sm_90')."""
    return _cc_row(cc)["arch"]


def gpu_to_cc(name):
    """Compute capability of a product name ('NVIDIA H100 80GB HBM3' -> '9.0')."""
    if not isinstance(name, str) or not name.strip():
        raise CompatError("GPU name must be a non-empty string, got %r" % (name,))
    row = _match_product(name)
    if row is None:
        raise CompatError("unknown GPU product %r: known %s" % (name, ", ".join(r["product"] for r in _data.PRODUCTS)))
    return row["cc"]


def _match_product(name):
    toks = _tokens(name)
    for ptoks, row in _PRODUCTS:
        n = len(ptoks)
        for i in range(len(toks) - n + 1):
            if toks[i:i + n] == ptoks:
                return row
    return None


def _resolve_gpu(item):
    """Arch name, compute capability or product name -> dict(label, arch, flavor_arch, cc_row)."""
    if isinstance(item, str):
        norm = re.sub(r"[\s\-]+", "_", item.strip().lower())
        norm = _ARCH_ALIASES.get(norm, norm)
        if norm in _ARCH:
            return {"label": _ARCH_LABELS[norm], "arch": norm, "flavor_arch": norm, "cc_row": None}
        if norm == "grace_hopper":
            return {"label": "Grace Hopper", "arch": "hopper", "flavor_arch": "grace_hopper", "cc_row": None}
    looks_cc = isinstance(item, float) or (
        isinstance(item, str) and re.match(r"^\s*((sm|compute)_?\d+[af]?|\d+\.\d+)\s*$", item.lower()))
    if looks_cc:
        row = _cc_row(item)
        return {"label": "%s (CC %s)" % (_ARCH_LABELS[row["arch"]], row["cc"]), "arch": row["arch"],
                "flavor_arch": row["arch"], "cc_row": row}
    if isinstance(item, str) and item.strip():
        prod = _match_product(item)
        if prod is not None:
            row = _CC[prod["cc"]]
            return {"label": "%s %s (CC %s)" % (_ARCH_LABELS[row["arch"]], prod["product"], row["cc"]),
                    "arch": row["arch"], "flavor_arch": prod.get("flavor_arch", row["arch"]), "cc_row": row}
    raise CompatError("unknown GPU architecture/product/compute capability %r: use an architecture (%s), a compute "
                      "capability such as '9.0'/'sm_90', or a product name such as 'H100'"
                      % (item, ", ".join(sorted(list(_ARCH) + ["grace_hopper"]))))


def _range_row(g):
    row = g["cc_row"] if g["cc_row"] is not None else _ARCH[g["arch"]]
    if not row.get("first_cuda"):
        raise CompatError("the reference states no CUDA range for %s" % g["label"])
    return row


def arch_cuda_range(arch):
    """(first CUDA 'X.Y', last CUDA 'N.x' or None if ongoing) for an arch, CC or product."""
    row = _range_row(_resolve_gpu(arch))
    last = row.get("last_cuda_major")
    return (row["first_cuda"], None if last is None else "%d.x" % last)


def arch_supported_by_cuda(arch, cuda):
    """True if the CUDA release supports the architecture/CC/product (first <= cuda <= last major)."""
    g = _resolve_gpu(arch)
    row = _range_row(g)
    mm = _cuda_major_minor(cuda)
    if _cmp(mm, parse_version(row["first_cuda"])) < 0:
        return False
    last = row.get("last_cuda_major")
    return last is None or mm[0] <= last


def kernel_module_flavors(arch):
    """Allowed kernel-module flavors (['open'], ['open', 'proprietary'] or ['proprietary'])."""
    g = _resolve_gpu(arch)
    if g["cc_row"] is not None and g["cc_row"].get("jetson"):
        raise CompatError("the reference states no kernel-module flavor for Jetson (%s)" % g["label"])
    row = _FLAVOR_ROWS.get(g["flavor_arch"])
    if row is None:
        raise CompatError("the reference states no kernel-module flavor for %s" % g["label"])
    return list(row["flavors"])


# ---------------------------------------------------------------------------
# driver branches
# ---------------------------------------------------------------------------
def _parse_today(today):
    if today is None:
        return datetime.date.today()
    if isinstance(today, datetime.datetime):
        return today.date()
    if isinstance(today, datetime.date):
        return today
    if isinstance(today, str):
        try:
            return datetime.datetime.strptime(today.strip(), "%Y-%m-%d").date()
        except ValueError:
            pass
    raise CompatError("today must be a date or 'YYYY-MM-DD', got %r" % (today,))


def _branch_of(driver):
    if isinstance(driver, str) and driver.strip()[:1] in ("R", "r"):
        t = parse_version(driver.strip()[1:], "driver branch")
        if len(t) != 1:
            raise CompatError("malformed driver branch %r: expected e.g. 'R535'" % (driver,))
        return str(t[0])
    t = parse_version(driver, "driver version")
    if len(t) > 3:
        raise CompatError("malformed driver version %r" % (driver,))
    return str(t[0])


def driver_branch_info(driver, today=None):
    """Lifecycle of a driver's branch: dict(branch, type, type_name, eol, is_eol, source, ...).

    driver: '535.247.01', 'R535' or '535'.  eol is 'YYYY-MM' (None when NVIDIA
    only lists the branch as end of life); is_eol counts the whole EOL month as
    end of life, because NVIDIA publishes a month, not a day.
    """
    branch = _branch_of(driver)
    row = _BRANCHES.get(branch)
    if row is None:
        raise CompatError("driver branch R%s: designation and end of life are not confirmed by an NVIDIA source "
                          "(not in the compatibility data); known branches: %s"
                          % (branch, ", ".join("R" + b for b in sorted(_BRANCHES, key=int))))
    day = _parse_today(today)
    if row.get("eol"):
        y, m = (int(x) for x in row["eol"].split("-"))
        is_eol = day >= datetime.date(y, m, 1)
    else:
        is_eol = bool(row.get("eol_listed"))
    info = {
        "branch": "R" + branch,
        "type": row.get("type"),
        "type_name": _BRANCH_TYPE_NAMES.get(row.get("type")),
        "eol": row.get("eol"),
        "eol_listed": bool(row.get("eol_listed")),
        "is_eol": is_eol,
        "max_cuda": row.get("max_cuda"),
        "source": row["source"],
    }
    if row.get("note"):
        info["note"] = row["note"]
    return info


# ---------------------------------------------------------------------------
# Fabric Manager
# ---------------------------------------------------------------------------
def fabric_manager_required(nvswitch_present=None, platform=None):
    """True if nvidia-fabricmanager must run on the host.

    nvswitch_present: bool (or an NVSwitch count); platform: an S10 platform
    name such as 'HGX H100' or 'DGX B200'.  GPU names alone cannot decide
    (an H100 PCIe card has no NVSwitch), so one of the two is required.
    """
    from_platform = None
    if platform is not None:
        if not isinstance(platform, str):
            raise CompatError("platform must be a string such as 'HGX H100', got %r" % (platform,))
        row = _FM_PLATFORMS.get(re.sub(r"\s+", " ", platform.strip().lower()))
        if row is None:
            raise CompatError("unknown NVSwitch platform %r: known %s"
                              % (platform, ", ".join(r["platform"] for r in _data.FABRIC_MANAGER_PLATFORMS)))
        from_platform = bool(row["fm_required"])
    from_switch = None
    if nvswitch_present is not None:
        if isinstance(nvswitch_present, bool):
            from_switch = nvswitch_present
        elif isinstance(nvswitch_present, int) and nvswitch_present >= 0:
            from_switch = nvswitch_present > 0
        else:
            raise CompatError("nvswitch_present must be a bool or an NVSwitch count, got %r" % (nvswitch_present,))
    if from_platform is None and from_switch is None:
        raise CompatError("fabric_manager_required needs nvswitch_present (bool) or platform (e.g. 'HGX H100'); "
                          "GPU names alone cannot tell SXM/NVSwitch from PCIe systems")
    if from_platform is not None and from_switch is not None and from_platform != from_switch and from_platform:
        raise CompatError("platform %r is NVSwitch-based but nvswitch_present=%r" % (platform, nvswitch_present))
    return from_platform if from_platform is not None else from_switch


def fabric_manager_matches(driver, fm_version):
    """True only if the Fabric Manager version equals the driver version exactly (S10, S17, S18)."""
    d = _parse_driver(driver)
    f = parse_version(fm_version, "Fabric Manager version")
    if len(f) < 2:
        raise CompatError("Fabric Manager version %r is a branch, not a version: give e.g. '535.54.03'" % (fm_version,))
    return d == f


# ---------------------------------------------------------------------------
# whole-stack gate
# ---------------------------------------------------------------------------
_PLAN_KEYS = ("driver", "cuda", "cudnn", "archs", "kernel_module_flavor", "nvswitch", "fabric_manager",
              "platform", "cuda_mode", "today")


def _violation(component, expected, found, message):
    return {"component": component, "expected": expected, "found": found, "message": message}


def _supported_branches(day):
    out = []
    for b in sorted(_BRANCHES, key=int):
        row = _BRANCHES[b]
        if row.get("type") in ("LTSB", "PB") and not driver_branch_info(b, day)["is_eol"]:
            out.append("R%s (%s, EOL %s)" % (b, row["type"], row["eol"]))
    return out


def evaluate_stack(plan):
    """Check a planned GPU software stack; return a list of violations (empty = compatible).

    plan keys (all optional): driver, cuda, cudnn, archs (list of arch names,
    compute capabilities or product names), kernel_module_flavor
    ('open'|'proprietary'), nvswitch (bool), fabric_manager (version or None),
    platform (S10 platform such as 'HGX H100'), cuda_mode ('toolkit'|'mvc'),
    today ('YYYY-MM-DD', for branch end of life).  Unknown or malformed
    versions are reported as violations; a malformed plan raises CompatError.
    Each violation: {component, expected, found, message}.
    """
    if not isinstance(plan, dict):
        raise CompatError("plan must be a dict, got %s" % type(plan).__name__)
    extra = sorted(set(plan) - set(_PLAN_KEYS))
    if extra:
        raise CompatError("unknown plan key(s) %s; allowed: %s" % (", ".join(extra), ", ".join(_PLAN_KEYS)))
    mode = plan.get("cuda_mode") or "toolkit"
    _check_mode(mode)
    day = _parse_today(plan.get("today"))
    archs = plan.get("archs") or []
    if isinstance(archs, (str, float)):
        archs = [archs]
    if not isinstance(archs, (list, tuple)):
        raise CompatError("plan archs must be a list, got %s" % type(archs).__name__)

    out = []
    driver = plan.get("driver")
    cuda = plan.get("cuda")
    cudnn = plan.get("cudnn")
    flavor = plan.get("kernel_module_flavor")
    fm = plan.get("fabric_manager")

    # -- driver version and branch lifecycle
    d_ok = False
    branch = None
    if driver is not None:
        try:
            _parse_driver(driver)
            d_ok = True
            branch = int(_branch_of(driver))
        except CompatError as e:
            out.append(_violation("driver", "a full driver version such as 580.95.05", driver, str(e)))
    if d_ok:
        try:
            info = driver_branch_info(driver, day)
            if info["is_eol"]:
                when = ("reached end of life %s" % info["eol"]) if info["eol"] else "is listed as end of life"
                out.append(_violation(
                    "driver_branch", "a driver branch that is not end of life", "%s (%s)" % (info["branch"], driver),
                    "driver %s is on branch %s%s which %s (%s) - move to a supported branch: %s"
                    % (driver, info["branch"], " (%s)" % info["type"] if info["type"] else "", when, info["source"],
                       ", ".join(_supported_branches(day)) or "none recorded")))
        except CompatError as e:
            out.append(_violation("driver_branch", "a branch with a confirmed lifecycle", driver,
                                  "%s - prefer a production/LTS branch: %s"
                                  % (e, ", ".join(_supported_branches(day)) or "none recorded")))

    # -- CUDA vs driver
    c_ok = False
    if cuda is not None:
        try:
            row = _cuda_row(cuda)
            if mode == "mvc":
                _mvc_row(cuda, row)
            c_ok = True
        except CompatError as e:
            out.append(_violation("cuda", "a CUDA release listed in the compatibility data", cuda, str(e)))
    if c_ok and d_ok and not driver_supports_cuda(driver, cuda, mode):
        need = cuda_min_driver(cuda, mode)
        alt = max_cuda_for_driver(driver, mode)
        out.append(_violation(
            "driver", ">= %s" % need if "." in need else "R%s or later" % need, driver,
            "CUDA %s needs driver %s (%s); host plans driver %s - install a %s+ branch driver or %s"
            % (cuda, _floor_text(need), mode, driver, need.split(".")[0],
               "choose CUDA <= %s" % alt if alt else "choose an older CUDA (none in the data runs on it)")))

    # -- cuDNN
    if cudnn is not None:
        try:
            _cudnn_key(cudnn)
            if c_ok:
                if not cudnn_supports(cudnn, cuda):
                    minor = "%d.%d" % _cuda_major_minor(cuda)
                    listed = sorted(set(m for b in _cudnn_builds(_cudnn_key(cudnn)) for m in b["cuda"]),
                                    key=parse_version)
                    alts = [k for k in sorted(_CUDNN_COVERAGE, key=parse_version, reverse=True)
                            if any(minor in b["cuda"] for b in _cudnn_builds(k))]
                    out.append(_violation(
                        "cudnn", "a cuDNN build listing CUDA %s" % minor, cudnn,
                        "cuDNN %s has no build for CUDA %s (its support matrix lists CUDA %s) - %s"
                        % (cudnn, minor, ", ".join(listed),
                           "choose cuDNN %s or change CUDA" % " / ".join(alts[:3]) if alts
                           else "change CUDA; no cuDNN in the data lists CUDA %s" % minor)))
                elif d_ok:
                    need = cudnn_min_driver(cudnn, cuda)
                    # not repeated when the CUDA check above already asks for at least as much
                    cuda_need = parse_version(cuda_min_driver(cuda, mode))
                    already = (not driver_supports_cuda(driver, cuda, mode)
                               and _cmp(cuda_need, parse_version(need)) >= 0)
                    if not already and _cmp(_parse_driver(driver), parse_version(need)) < 0:
                        out.append(_violation(
                            "driver", ">= %s" % need if "." in need else "R%s or later" % need, driver,
                            "cuDNN %s for CUDA %s needs driver %s; host plans driver %s - install a %s+ branch driver"
                            % (cudnn, cuda, _floor_text(need), driver, need.split(".")[0])))
        except CompatError as e:
            out.append(_violation("cudnn", "a cuDNN release listed in the compatibility data", cudnn, str(e)))

    # -- architectures: CUDA range, last driver branch, kernel-module flavor
    if flavor is not None and flavor not in _FLAVORS:
        out.append(_violation("kernel_module_flavor", "open or proprietary", flavor,
                              "kernel_module_flavor must be 'open' or 'proprietary', got %r" % (flavor,)))
        flavor = None
    if flavor == "open" and branch is not None:
        first_open = int(_KM_FACTS["open_flavor_first_branch"]["value"])
        if branch < first_open:
            out.append(_violation(
                "kernel_module_flavor", "proprietary (driver < R%d)" % first_open, flavor,
                "open kernel modules ship only from the R%d series (%s); driver %s is R%d - use the proprietary "
                "flavor or a newer driver" % (first_open, _KM_FACTS["open_flavor_first_branch"]["source"], driver,
                                              branch)))
    for item in archs:
        try:
            g = _resolve_gpu(item)
        except CompatError as e:
            out.append(_violation("archs", "a known architecture, compute capability or product", item, str(e)))
            continue
        if c_ok:
            try:
                if not arch_supported_by_cuda(item, cuda):
                    first, last = arch_cuda_range(item)
                    if _cmp(_cuda_major_minor(cuda), parse_version(first)) < 0:
                        out.append(_violation(
                            "cuda", ">= %s" % first, cuda,
                            "%s needs CUDA >= %s; plan has CUDA %s - choose CUDA %s or newer"
                            % (g["label"], first, cuda, first)))
                    else:
                        out.append(_violation(
                            "cuda", "<= %s" % last, cuda,
                            "%s is supported only up to CUDA %s; plan has CUDA %s - choose CUDA %s or replace "
                            "the GPUs" % (g["label"], last, cuda, last)))
            except CompatError as e:
                out.append(_violation("cuda", "a CUDA range for %s" % g["label"], cuda, str(e)))
        if branch is not None:
            row = g["cc_row"] if g["cc_row"] is not None else _ARCH[g["arch"]]
            last_b = row.get("last_driver_branch")
            if last_b and branch > int(last_b):
                out.append(_violation(
                    "driver", "R%s or older" % last_b, driver,
                    "%s is supported only up to driver branch R%s (%s); host plans driver %s - install an R%s driver"
                    % (g["label"], last_b, row["source"], driver, last_b)))
        if flavor is not None:
            try:
                allowed = kernel_module_flavors(item)
                if flavor not in allowed:
                    src = _FLAVOR_ROWS[g["flavor_arch"]]["source"]
                    out.append(_violation(
                        "kernel_module_flavor", " or ".join(allowed), flavor,
                        "%s supports only the %s kernel modules (%s); plan uses '%s' - set kernel_module_flavor: %s"
                        % (g["label"], " / ".join(allowed), src, flavor, allowed[0])))
            except CompatError as e:
                out.append(_violation("kernel_module_flavor", "a known flavor rule", flavor, str(e)))

    # -- Fabric Manager
    nvswitch = plan.get("nvswitch")
    platform = plan.get("platform")
    fm_needed = None
    if nvswitch is not None or platform is not None:
        try:
            fm_needed = fabric_manager_required(nvswitch, platform)
        except CompatError as e:
            out.append(_violation("fabric_manager", "a known NVSwitch platform", platform, str(e)))
    if fm_needed:
        if fm is None or fm == "":
            target = driver if d_ok else "<driver version>"
            out.append(_violation(
                "fabric_manager", "== %s" % target, None,
                "NVSwitch system needs nvidia-fabricmanager at exactly the driver version (%s) - install "
                "nvidia-fabricmanager%s pinned to %s and enable the nvidia-fabricmanager service"
                % (_FM_RULES["required_on_nvswitch"]["source"], "-%d" % branch if branch else "", target)))
        if branch is not None:
            min_b = int(_FM_RULES["min_driver_branch"]["value"])
            prow = _FM_PLATFORMS.get(re.sub(r"\s+", " ", platform.strip().lower())) if platform else None
            if prow and prow.get("min_branch"):
                min_b = max(min_b, int(prow["min_branch"]))
            if branch < min_b:
                out.append(_violation(
                    "driver", "R%d or later" % min_b, driver,
                    "Fabric Manager%s needs a data-center driver R%d or later (S10); host plans driver %s"
                    % (" on %s" % prow["platform"] if prow else "", min_b, driver)))
    if fm not in (None, "") and d_ok:
        try:
            if not fabric_manager_matches(driver, fm):
                out.append(_violation(
                    "fabric_manager", "== %s" % driver, fm,
                    "Fabric Manager %s does not match driver %s: the nvidia-fabricmanager service aborts unless "
                    "both versions are identical (%s) - pin nvidia-fabricmanager to %s"
                    % (fm, driver, _FM_RULES["exact_version_match"]["source"], driver)))
        except CompatError as e:
            out.append(_violation("fabric_manager", "== %s" % driver, fm, str(e)))
    return out
