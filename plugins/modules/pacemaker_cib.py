#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pacemaker_cib
short_description: Keep llmfleet's objects in the Pacemaker CIB as declared, by diff and patch
version_added: "0.1.0"
author: llmfleet engineers (@llmfleet)
description:
  - Reads the live CIB with C(cibadmin --query), replaces the objects this module owns (every top-level child of
    C(crm_config), C(resources), C(constraints), C(rsc_defaults) and C(op_defaults) whose id is declared in
    O(config) or starts with O(owned_prefix)) by the declared ones, and compares owned objects only.
  - When they differ it computes a patch with C(crm_diff --cib) against the CIB it read and applies it with
    C(cibadmin --patch); Pacemaker refuses the patch when the CIB changed in between. Objects it does not own
    (for example the location constraint DRBD's C(crm-fence-peer) handler adds) are never touched.
  - Reports changed only when the owned objects really differ; check mode reports the difference without pushing.
options:
  config:
    description:
      - XML text of a C(<configuration>) element holding the declared objects in their sections.
    type: str
    required: true
  owned_prefix:
    description:
      - Live objects whose id starts with this prefix are owned too, so objects no longer declared are removed.
      - Empty means only the declared ids are owned.
    type: str
    default: llmfleet-
  wait_timeout:
    description:
      - After a change, wait up to this many seconds for the cluster to settle (C(crm_resource --wait)).
        C(0) does not wait.
    type: int
    default: 0
attributes:
  check_mode:
    description: Computes the difference and reports it without changing the CIB.
    support: full
  diff_mode:
    description: Shows the owned objects before and after as normalized XML.
    support: full
requirements:
  - pacemaker-cli-utils (cibadmin, crm_diff, crm_resource) on the target, the cluster running
notes:
  - Object ids must be unique in the CIB; declared objects replace live objects with the same id wholesale.
"""

EXAMPLES = r"""
- name: Declare the gateway resources
  llmfleet.baremetal.pacemaker_cib:
    config: "{{ lookup('ansible.builtin.template', 'cib.xml.j2') }}"
    owned_prefix: llmfleet-
  run_once: true
"""

RETURN = r"""
changed_ids:
  description: Ids of owned objects added, changed or removed.
  returned: always
  type: list
  elements: str
  sample: [llmfleet-gw-vip]
pushed:
  description: Whether a patch was applied to the live CIB.
  returned: always
  type: bool
  sample: true
"""

import os
import tempfile
import xml.etree.ElementTree as ET

from ansible.module_utils.basic import AnsibleModule

SECTIONS = ("crm_config", "resources", "constraints", "rsc_defaults", "op_defaults")


def canonical(elem):
    """A stable text form of an element: sorted attributes, children in order, whitespace-only text dropped."""
    attrs = " ".join('%s="%s"' % (k, elem.attrib[k]) for k in sorted(elem.attrib))
    inner = "".join(canonical(c) for c in elem)
    text = (elem.text or "").strip()
    return "<%s%s>%s%s</%s>" % (elem.tag, (" " + attrs) if attrs else "", text, inner, elem.tag)


def owned_children(section, ids, prefix):
    if section is None:
        return []
    return [c for c in section if c.get("id") in ids or (prefix and (c.get("id") or "").startswith(prefix))]


def plan(live_root, desired_conf, prefix):
    """(new CIB root, before text, after text, changed ids) for declared ``desired_conf`` on ``live_root``."""
    live_conf = live_root.find("configuration")
    if live_conf is None:
        raise ValueError("the live CIB has no <configuration> element")
    before, after, changed = [], [], []
    for name in SECTIONS:
        want = desired_conf.find(name)
        want_children = list(want) if want is not None else []
        ids = set(c.get("id") for c in want_children)
        if None in ids:
            raise ValueError("every declared object in <%s> needs an id" % name)
        section = live_conf.find(name)
        have = owned_children(section, ids, prefix)
        have_by_id = dict((c.get("id"), canonical(c)) for c in have)
        want_by_id = dict((c.get("id"), canonical(c)) for c in want_children)
        for oid in sorted(set(have_by_id) | set(want_by_id)):
            if have_by_id.get(oid) != want_by_id.get(oid):
                changed.append(oid)
        before += ["%s/%s %s" % (name, oid, have_by_id[oid]) for oid in sorted(have_by_id)]
        after += ["%s/%s %s" % (name, oid, want_by_id[oid]) for oid in sorted(want_by_id)]
        if not want_children and not have:
            continue
        if section is None:
            section = ET.SubElement(live_conf, name)
        for c in have:
            section.remove(c)
        for c in want_children:
            section.append(c)
    return live_root, "\n".join(before) + "\n", "\n".join(after) + "\n", changed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config=dict(type="str", required=True),
            owned_prefix=dict(type="str", default="llmfleet-"),
            wait_timeout=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )
    cibadmin = module.get_bin_path("cibadmin", required=True)
    try:
        desired = ET.fromstring(module.params["config"])
    except ET.ParseError as exc:
        module.fail_json(msg="config is not valid XML: %s" % exc)
    if desired.tag != "configuration":
        module.fail_json(msg="config must be a <configuration> element, got <%s>" % desired.tag)

    rc, out, err = module.run_command([cibadmin, "--query"])
    if rc != 0:
        module.fail_json(msg="cibadmin --query failed (is the cluster running?): %s" % (err or out).strip(), rc=rc)
    try:
        live_root = ET.fromstring(out)
        new_root, before, after, changed = plan(ET.fromstring(out), desired, module.params["owned_prefix"])
    except (ET.ParseError, ValueError) as exc:
        module.fail_json(msg="cannot plan the CIB change: %s" % exc)

    result = dict(changed=bool(changed), changed_ids=changed, pushed=False)
    if module._diff:
        result["diff"] = dict(before=before, after=after, before_header="cib (owned objects)",
                              after_header="cib (declared)")
    if not changed or module.check_mode:
        module.exit_json(**result)

    crm_diff = module.get_bin_path("crm_diff", required=True)
    tmpdir = tempfile.mkdtemp(prefix="llmfleet-cib-")
    live_file = os.path.join(tmpdir, "live.xml")
    new_file = os.path.join(tmpdir, "new.xml")
    patch_file = os.path.join(tmpdir, "patch.xml")
    # the patch must lead to a newer configuration: bump the epoch like cibadmin does for an admin change
    new_root.set("epoch", str(int(live_root.get("epoch", "0")) + 1))
    new_root.set("num_updates", "0")
    try:
        ET.ElementTree(live_root).write(live_file, encoding="utf-8")
        ET.ElementTree(new_root).write(new_file, encoding="utf-8")
        rc, patch, err = module.run_command([crm_diff, "--cib", "--original", live_file, "--new", new_file])
        if rc not in (0, 1) or not patch.strip():
            module.fail_json(msg="crm_diff failed (rc=%d): %s" % (rc, (err or patch).strip()), **result)
        with open(patch_file, "w") as fh:
            fh.write(patch)
        rc, out, err = module.run_command([cibadmin, "--patch", "--xml-file", patch_file])
        if rc != 0:
            module.fail_json(msg="cibadmin --patch failed (rc=%d): %s" % (rc, (err or out).strip()), **result)
        result["pushed"] = True
        if module.params["wait_timeout"] > 0:
            crm_resource = module.get_bin_path("crm_resource", required=True)
            rc, out, err = module.run_command([crm_resource, "--wait", "--timeout", "%ds" % module.params["wait_timeout"]])
            result["settled"] = rc == 0
    finally:
        for name in (live_file, new_file, patch_file):
            if os.path.exists(name):
                os.unlink(name)
        os.rmdir(tmpdir)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
