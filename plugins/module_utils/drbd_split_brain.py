# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Recovery from a DRBD split brain on the HA gateway pair (playbooks/drbd_split_brain.yml, docs/ha.md).

DRBD detects a split brain when two nodes that both wrote while disconnected connect again. With
``after-sb-1pri disconnect`` (the drbd role's setting) it throws nothing away: both nodes go StandAlone, the
split-brain handler marks the node and raises ``llmfleet_drbd_split_brain``. Recovery still has to pick one side's
blocks - the *victim* resyncs from the *survivor* (``drbdadm connect --discard-my-data``). Before that, the lines the
victim's audit log has and the survivor's lacks are saved and appended to the survivor's files: the gateway's audit
log is append-only JSON lines, so the exact-line union loses no record.

Pure functions: the plan from every node's DRBD state, and the lines to append per file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# connection states in which the two nodes are not exchanging data (DRBD 8.4 and 9 names)
DISCONNECTED = ("StandAlone", "WFConnection", "Connecting", "Unconnected", "Disconnecting", "NetworkFailure",
                "BrokenPipe", "Timeout", "ProtocolError", "TearDown")


def _role(value):
    """'Primary' / 'Secondary' / 'Unknown' from `drbdadm role` (8.4 prints 'Primary/Secondary', 9 'Primary')."""
    return str(value or "").strip().split("/", maxsplit=1)[0] or "Unknown"


def plan(nodes, victim=None, resource="gw"):
    """What to do about a split brain.

    ``nodes``: [{name, role, cstate, marker (bool)}] - `drbdadm role|cstate` of every node of the pair and whether
    its split-brain marker exists. ``victim``: the operator's choice (drbd_split_brain_victim), else the one
    Secondary. Returns {action: none|clear|recover, victim, survivor, violations, message}:
    none = connected and no marker; clear = connected, a stale marker (the split brain was resolved by hand);
    recover = victim and survivor both disconnected, victim Secondary, survivor Primary.
    """
    nodes = list(nodes or [])
    names = [n.get("name") for n in nodes]
    out = {"action": "none", "victim": None, "survivor": None, "violations": [], "message": ""}
    if len(nodes) != 2:
        out["violations"].append("cluster: a DRBD split brain is recovered on exactly 2 nodes, found %d (%s)"
                                 % (len(nodes), ", ".join(str(n) for n in names) or "none"))
        return out
    marked = [n["name"] for n in nodes if n.get("marker")]
    cstates = {n["name"]: str(n.get("cstate") or "").strip() for n in nodes}
    roles = {n["name"]: _role(n.get("role")) for n in nodes}
    if all(c == "Connected" for c in cstates.values()):
        if marked:
            out["action"] = "clear"
            out["message"] = ("%s: connected again, the split-brain marker of %s is stale (resolved by hand?): "
                              "clearing it" % (resource, ", ".join(marked)))
        else:
            out["message"] = "%s: no split brain (both nodes Connected, no marker)" % resource
        return out
    for name, cstate in sorted(cstates.items()):
        if cstate not in DISCONNECTED and cstate != "Connected":
            out["violations"].append("%s: drbdadm cstate %s is %r: not a DRBD connection state this playbook knows"
                                     % (name, resource, cstate))
    if any(c == "Connected" for c in cstates.values()):
        out["violations"].append("cluster: %s is Connected on one node only (%s): wait a moment and run again"
                                 % (resource, ", ".join("%s %s" % kv for kv in sorted(cstates.items()))))
    if "StandAlone" not in cstates.values() and not marked:
        out["violations"].append(
            "cluster: %s is disconnected (%s) but neither node is StandAlone nor marked: that is a broken "
            "replication link, not a split brain; repair the network (DRBD reconnects by itself)"
            % (resource, ", ".join("%s %s" % kv for kv in sorted(cstates.items()))))
    if out["violations"]:
        return out
    if victim:
        if victim not in names:
            out["violations"].append("cluster: drbd_split_brain_victim=%s is not a node of the pair (%s)"
                                     % (victim, ", ".join(names)))
            return out
    else:
        secondaries = [n for n in names if roles[n] == "Secondary"]
        if len(secondaries) != 1:
            out["violations"].append(
                "cluster: %s is %s: pick the node whose changes are discarded with -e drbd_split_brain_victim=<node> "
                "(its audit lines are still saved and merged; the other node must be Primary, e.g. "
                "crm_resource --resource llmfleet-gw-drbd-clone --promote on it)"
                % (resource, ", ".join("%s on %s" % (roles[n], n) for n in names)))
            return out
        victim = secondaries[0]
    survivor = [n for n in names if n != victim][0]
    if roles[victim] != "Secondary":
        out["violations"].append("%s: drbd_split_brain_victim: the victim must be Secondary, it is %s (move the "
                                 "gateway to %s first: crm_resource --resource llmfleet-gw-group --move --node %s)"
                                 % (victim, roles[victim], survivor, survivor))
    if roles[survivor] != "Primary":
        out["violations"].append("%s: the survivor must be Primary (it holds the volume the saved lines are merged "
                                 "into), it is %s" % (survivor, roles[survivor]))
    if out["violations"]:
        return out
    out.update(action="recover", victim=victim, survivor=survivor,
               message="%s: split brain; %s keeps its data, %s resyncs from it (its audit lines saved and merged first)"
               % (resource, survivor, victim))
    return out


def differing(victim_files, victim_root, survivor_files, survivor_root):
    """The files worth reading: paths (relative to the replicated file system) whose sha256 on the victim differs
    from the survivor's, or that the survivor lacks. ``*_files``: the ``files`` of ansible.builtin.find with
    ``checksum`` (sha256); ``*_root``: the directory each side's paths start with (the victim's save directory, the
    survivor's mount point). Days of audit log written before the split are the same on both sides and are never
    shipped to the controller."""
    def rel(files, root):
        root = str(root or "").rstrip("/")
        out = {}
        for f in files or []:
            path = str(f.get("path") or "")
            if root and path.startswith(root + "/"):
                out[path[len(root):]] = f.get("checksum")
        return out

    victim = rel(victim_files, victim_root)
    survivor = rel(survivor_files, survivor_root)
    return sorted(p for p, digest in victim.items() if digest is None or survivor.get(p) != digest)


def missing_lines(survivor_text, victim_text):
    """The victim's lines the survivor lacks, in the victim's order, each once, as text to append (every line
    ends in a newline). A survivor file that does not end in a newline gets one first."""
    have = set((survivor_text or "").splitlines())
    seen = set()
    out = []
    for line in (victim_text or "").splitlines():
        if not line.strip() or line in have or line in seen:
            continue
        seen.add(line)
        out.append(line)
    if not out:
        return ""
    lead = "\n" if survivor_text and not survivor_text.endswith("\n") else ""
    return lead + "\n".join(out) + "\n"


def merge(victim_files, survivor_files, victim="victim", survivor="survivor"):
    """Per file (path relative to the replicated file system): what to append on the survivor.

    ``victim_files`` / ``survivor_files``: {relative path: text}. Returns a list, sorted by path, of
    {path, victim_lines, append (text), appended (line count), new_file (bool), summary (one line for the
    operator)}; files the victim has that the survivor lacks are created with the victim's lines.
    """
    rows = []
    for path in sorted(victim_files or {}):
        vtext = victim_files[path] or ""
        stext = (survivor_files or {}).get(path)
        add = missing_lines(stext or "", vtext)
        row = {"path": path, "victim_lines": len([ln for ln in vtext.splitlines() if ln.strip()]),
               "append": add, "appended": len([ln for ln in add.splitlines() if ln.strip()]),
               "new_file": stext is None}
        row["summary"] = "%s: %d of %s's %d lines were missing on %s%s" % (
            path, row["appended"], victim, row["victim_lines"], survivor,
            (" - appended" + (" (a new file)" if row["new_file"] else "")) if row["appended"] else "")
        rows.append(row)
    return rows
