#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sysctl_apply
short_description: Persist and apply a named llmfleet sysctl profile with overrides
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Merges the named profile of C(plugins/module_utils/sysctl_profiles.py) with policy settings (O(extra)) and
    the site's O(overrides), validates every key against the running kernel (the key must exist under
    C(/proc/sys), the value must have the kernel's type) and fails with one message per invalid key.
  - Writes C(<dest>/60-llmfleet-<profile>.conf) with the reason and source of each key as comments, removes
    other C(60-llmfleet-*.conf) files (O(purge)), and writes a C(modules-load.d) file for the kernel modules
    the values need (C(tcp_bbr) for bbr, C(sch_fq) for fq), loading them with C(modprobe).
  - Applies each value live (writes C(/proc/sys)) only where the live value differs. Where C(/proc/sys) is
    read-only (a container) and O(apply_live=auto), the file is still written and RV(live_applied) is false
    with the reason in RV(live_reason).
  - Optionally sets the transparent hugepage mode (C(/sys/kernel/mm/transparent_hugepage/enabled) and
    C(defrag)) live; persisting it across boots is the caller's job (the role writes a tmpfiles.d entry).
options:
  profile:
    description: Name of the profile (a key of C(PROFILES) in C(sysctl_profiles.py)).
    type: str
    required: true
  overrides:
    description:
      - 'Site overrides merged last: C(key: value) or C(key: {value: v, reason: why}).'
      - A value is an int, a string, or a list of ints (written space-separated).
    type: dict
    default: {}
  overrides_var:
    description: Name of the variable the overrides come from, used in error messages.
    type: str
    default: sysctl_tuning_overrides
  extra:
    description:
      - 'Policy settings merged between the profile and the overrides: C(key: {value: v, reason: r, origin: var}).'
      - The role passes C(kernel.numa_balancing) here from C(sysctl_tuning_numa_balancing).
    type: dict
    default: {}
  apply_live:
    description:
      - C(auto) applies live where C(/proc/sys) is writable and otherwise only writes the file.
      - C(always) fails when the values cannot be applied live. C(never) only writes the files.
    type: str
    choices: [auto, always, never]
    default: auto
  thp:
    description: Transparent hugepage mode to set live, or C(unmanaged) to leave it alone.
    type: str
    choices: [madvise, always, never, unmanaged]
    default: unmanaged
  thp_defrag:
    description: THP defrag mode; default C(madvise) for O(thp=madvise) or O(thp=always), C(never) for O(thp=never).
    type: str
    choices: [always, defer, defer+madvise, madvise, never]
  dest:
    description: The sysctl.d directory.
    type: path
    default: /etc/sysctl.d
  purge:
    description: Remove C(60-llmfleet-*.conf) files of other profiles from O(dest).
    type: bool
    default: true
  modules_load_file:
    description: File listing the kernel modules the values need (removed when none are needed).
    type: path
    default: /etc/modules-load.d/llmfleet-sysctl.conf
  header:
    description: Comment lines put on top of the written files (e.g. C(ansible_managed)).
    type: str
    default: ""
  procfs_root:
    description: Where procfs is mounted (tests point this at a fake tree).
    type: path
    default: /proc
  sysfs_root:
    description: Where sysfs is mounted.
    type: path
    default: /sys
attributes:
  check_mode:
    description: Computes and reports every change without writing a file or a live value.
    support: full
  diff_mode:
    description: Shows the sysctl.d file before and after.
    support: full
notes:
  - Keys the kernel keeps out of a container's network namespace (C(net.core.default_qdisc) and other
    C(INIT_NETNS_ONLY) keys) are written to the file and listed in RV(skipped_keys) instead of failing there.
seealso:
  - module: ansible.posix.sysctl
"""

EXAMPLES = r"""
- name: Apply the llm_serving profile with one override
  llmfleet.baremetal.sysctl_apply:
    profile: llm_serving
    overrides:
      net.core.somaxconn: 32768
      net.ipv4.tcp_rmem: [4096, 131072, 134217728]
    extra:
      kernel.numa_balancing: {value: 0, reason: "pinned serving processes", origin: sysctl_tuning_numa_balancing}
    thp: madvise
  register: tuning

- name: Tell when a reboot is needed
  ansible.builtin.debug:
    msg: "{{ tuning.reboot_reasons }}"
  when: tuning.reboot_required
"""

RETURN = r"""
file:
  description: The sysctl.d file written.
  returned: always
  type: str
  sample: /etc/sysctl.d/60-llmfleet-llm_serving.conf
settings:
  description: Per key the wanted value, the live value before and after, reason, source and what happened live.
  returned: always
  type: dict
  sample: {"vm.swappiness": {"value": "10", "before": "60", "after": "10", "reason": "...", "source": "seed 000",
           "reboot": false, "origin": "profile llm_serving", "live": "applied"}}
live_applied:
  description: Whether values could be applied live (false in a container, with apply_live=never, in check mode).
  returned: always
  type: bool
live_reason:
  description: Why values were not applied live (empty when they were).
  returned: always
  type: str
  sample: "/proc/sys is read-only (EROFS, a container): written to /etc/sysctl.d only"
reboot_required:
  description: True when a changed key is flagged reboot in the profile or the kernel refused it live.
  returned: always
  type: bool
reboot_reasons:
  description: One line per key that needs the reboot.
  returned: always
  type: list
  elements: str
skipped_keys:
  description: Keys not validated or applied live here, with the reason (container network namespace).
  returned: always
  type: dict
modules:
  description: Kernel modules the values need (listed in modules_load_file).
  returned: always
  type: list
  elements: str
thp:
  description: Transparent hugepage mode before and after (empty when unmanaged).
  returned: always
  type: dict
  sample: {"enabled": {"before": "always", "after": "madvise"}, "defrag": {"before": "madvise", "after": "madvise"}}
invalid:
  description: One message per invalid key (only on failure).
  returned: failed
  type: list
  elements: str
"""

import glob
import os
import platform
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmfleet.baremetal.plugins.module_utils import sysctl_profiles as sp

REFUSED = ("EBUSY", "EPERM", "EACCES", "EAGAIN")


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


class Applier(object):
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.changed = False
        self.diff = []
        self.warnings = []

    def fail(self, msg, **kw):
        self.module.fail_json(msg="%s: %s" % (platform.node(), msg), **kw)

    def put_file(self, path, content, mode=0o644):
        old = _read(path)
        if old == content:
            return False
        self.diff.append({"before_header": path, "after_header": path, "before": old or "", "after": content})
        if not self.module.check_mode:
            directory = os.path.dirname(path)
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            fd, tmp = tempfile.mkstemp(prefix=".llmfleet-", dir=directory)
            with os.fdopen(fd, "w") as f:
                f.write(content)
            os.chmod(tmp, mode)
            self.module.atomic_move(tmp, path)
        return True

    def remove_file(self, path):
        old = _read(path)
        if old is None:
            return False
        self.diff.append({"before_header": path, "after_header": "(absent)", "before": old, "after": ""})
        if not self.module.check_mode:
            os.unlink(path)
        return True

    def live_possible(self):
        if self.p["apply_live"] == "never":
            return False, "sysctl_tuning_apply_live=never: written to %s only" % self.p["dest"]
        procsys = os.path.join(self.p["procfs_root"], "sys")
        if sp.read_only(procsys):
            reason = "%s is read-only (EROFS, a container): written to %s only" % (procsys, self.p["dest"])
            if self.p["apply_live"] == "always":
                self.fail("apply_live=always but " + reason)
            return False, reason
        return True, ""

    def load_modules(self, modules, can_live):
        """modprobe what the values need when the kernel does not offer them yet."""
        loaded = []
        if not modules or not can_live or self.module.check_mode:
            return loaded
        modprobe = self.module.get_bin_path("modprobe")
        for mod in modules:
            if os.path.isdir(os.path.join(self.p["sysfs_root"], "module", mod)):
                continue
            if modprobe is None:
                self.warnings.append("modprobe not found: cannot load %s" % mod)
                continue
            rc, out, err = self.module.run_command([modprobe, mod])
            if rc != 0:
                self.warnings.append("modprobe %s failed (rc %d): %s" % (mod, rc, (err or out).strip()))
            else:
                loaded.append(mod)
        return loaded

    def run(self):
        p = self.p
        try:
            settings = sp.merge_profile(p["profile"], p["overrides"], p["extra"], p["overrides_var"])
        except sp.ProfileError as exc:
            self.fail(str(exc), invalid=[str(exc)])
        can_live, live_reason = self.live_possible()
        modules = sp.modules_needed(settings)
        loaded = self.load_modules(modules, can_live)
        errors, skipped, live = sp.validate(settings, p["procfs_root"], p["overrides_var"])
        for msg in sp.unavailable_values(settings, p["procfs_root"]):
            if can_live and not self.module.check_mode:
                errors.append(msg + ": is the module installed for this kernel?")
            else:
                self.warnings.append(msg + " (not loaded here; the module is loaded at boot)")
        if errors:
            self.fail("%d invalid sysctl setting(s) for profile %s: %s" % (len(errors), p["profile"], "; ".join(errors)),
                      invalid=errors)

        # Files first: they are the persistent truth even when nothing can be applied live.
        conf = os.path.join(p["dest"], "60-llmfleet-%s.conf" % p["profile"])
        self.changed |= self.put_file(conf, sp.render_conf(p["profile"], settings, p["header"]))
        if p["purge"]:
            for other in sorted(glob.glob(os.path.join(p["dest"], "60-llmfleet-*.conf"))):
                if other != conf:
                    self.changed |= self.remove_file(other)
        if modules:
            self.changed |= self.put_file(p["modules_load_file"], sp.render_modules(modules, p["header"]))
        else:
            self.changed |= self.remove_file(p["modules_load_file"])
        self.changed |= bool(loaded)

        result_settings, reboot_reasons, rejected = {}, [], []
        live_before, live_after = [], []
        for key in sorted(settings):
            entry = dict(settings[key])
            want = entry["value"]
            before = live.get(key)
            entry.update(before=before, after=before)
            if key in skipped:
                entry["live"] = "skipped: " + skipped[key]
            elif before == want:
                entry["live"] = "unchanged"
            elif not can_live:
                entry["live"] = "not applied: " + live_reason
            elif self.module.check_mode:
                entry.update(live="would apply", after=want)
                self._note_live(key, before, want, live_before, live_after)
                if entry["reboot"]:
                    reboot_reasons.append("%s: %s -> %s (%s)" % (key, before, want, entry["reason"]))
            else:
                err = sp.write_live(key, want, p["procfs_root"])
                after = sp.read_live(key, p["procfs_root"])
                entry["after"] = after
                if err == "EROFS":
                    can_live, live_reason = False, "%s/sys is read-only (EROFS)" % p["procfs_root"]
                    if p["apply_live"] == "always":
                        self.fail("apply_live=always but %s could not be written: EROFS" % key)
                    entry["live"] = "not applied: " + live_reason
                elif err in REFUSED or (err is None and after != want):
                    entry["live"] = "refused live (%s), the kernel keeps %r" % (err or "value not taken", after)
                    reboot_reasons.append("%s: kernel refused %s live (%s)" % (key, want, err or "kept %s" % after))
                    self.changed = True
                elif err is not None:
                    rejected.append("sysctl %s=%s rejected by the kernel (%s)" % (key, want, err))
                    entry["live"] = "rejected (%s)" % err
                else:
                    entry["live"] = "applied"
                    self.changed = True
                    self._note_live(key, before, want, live_before, live_after)
                    if entry["reboot"]:
                        reboot_reasons.append("%s: %s -> %s (%s)" % (key, before, want, entry["reason"]))
            result_settings[key] = entry
        if live_before:
            self.diff.append({"before_header": "live /proc/sys", "after_header": "live /proc/sys",
                              "before": "".join(live_before), "after": "".join(live_after)})
        if rejected:
            self.fail("%d sysctl value(s) rejected live: %s" % (len(rejected), "; ".join(rejected)),
                      invalid=rejected, settings=result_settings)

        thp = self.apply_thp()
        if can_live and self.module.check_mode:
            live_reason = "check mode"
        for warning in self.warnings:
            self.module.warn(warning)
        self.module.exit_json(
            changed=self.changed, file=conf, settings=result_settings,
            live_applied=can_live and not self.module.check_mode, live_reason=live_reason,
            reboot_required=bool(reboot_reasons), reboot_reasons=reboot_reasons, skipped_keys=skipped, modules=modules,
            modules_loaded=loaded, thp=thp, diff=self.diff)

    @staticmethod
    def _note_live(key, before, want, live_before, live_after):
        live_before.append("%s = %s\n" % (key, before))
        live_after.append("%s = %s\n" % (key, want))

    def apply_thp(self):
        p = self.p
        if p["thp"] == "unmanaged":
            return {}
        base = os.path.join(p["sysfs_root"], "kernel", "mm", "transparent_hugepage")
        defrag = p["thp_defrag"] or ("never" if p["thp"] == "never" else "madvise")
        want = {"enabled": p["thp"], "defrag": defrag}
        can_live = p["apply_live"] != "never" and not sp.read_only(base)
        if p["apply_live"] == "always" and not can_live:
            self.fail("apply_live=always but %s is read-only" % base)
        out = {}
        for name in ("enabled", "defrag"):
            path = os.path.join(base, name)
            before = sp.thp_selected(_read(path)) if os.path.exists(path) else None
            out[name] = {"before": before, "after": before}
            if before is None or before == want[name] or not can_live:
                continue
            self.diff.append({"before_header": path, "after_header": path, "before": before + "\n", "after": want[name] + "\n"})
            self.changed = True
            if self.module.check_mode:
                out[name]["after"] = want[name]
                continue
            try:
                with open(path, "w") as f:
                    f.write(want[name])
            except (IOError, OSError) as exc:
                self.fail("cannot set %s to %s: %s" % (path, want[name], exc))
            out[name]["after"] = sp.thp_selected(_read(path))
        return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            profile=dict(type="str", required=True),
            overrides=dict(type="dict", default={}),
            overrides_var=dict(type="str", default="sysctl_tuning_overrides"),
            extra=dict(type="dict", default={}),
            apply_live=dict(type="str", choices=["auto", "always", "never"], default="auto"),
            thp=dict(type="str", choices=["madvise", "always", "never", "unmanaged"], default="unmanaged"),
            thp_defrag=dict(type="str", choices=["always", "defer", "defer+madvise", "madvise", "never"]),
            dest=dict(type="path", default="/etc/sysctl.d"),
            purge=dict(type="bool", default=True),
            modules_load_file=dict(type="path", default="/etc/modules-load.d/llmfleet-sysctl.conf"),
            header=dict(type="str", default=""),
            procfs_root=dict(type="path", default="/proc"),
            sysfs_root=dict(type="path", default="/sys"),
        ),
        supports_check_mode=True,
    )
    Applier(module).run()


if __name__ == "__main__":
    main()
