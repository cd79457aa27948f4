#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault injection for the HA gateway lab (molecule/ha verify step).

Writes N audit records through the gateway (HTTPS to the VIP with the API key and an X-Request-Id each), then
  (b) kill -9 corosync on the primary (the survivor fences it: lab SSH reset),
  (c) cut of the DRBD replication port on the primary with iptables, more writes, heal, resync, then
  (a) standby of the primary: the switchover to the former peer, which must have every record,
  (d) a split brain (lab only: DRBD fencing off at runtime, Pacemaker in maintenance mode): both sides write while
      cut, DRBD detects it on reconnection and discards nothing, playbooks/drbd_split_brain.yml merges and resyncs.
After each fault: the VIP answers on the survivor, DRBD is Primary there and every request id written so far is in
the audit log on the DRBD volume (sha256 over the sorted ids compared).  Recovery time = fault injected until the
VIP answered an authenticated request again.  Requests are sent from inside a VM (the front network is only
between the VMs).  Prints a table and writes JSON to lab/cache/labs/ha/failover.json.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.environ.get("LLMFLEET_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEY = os.path.join(ROOT, "lab", "cache", "labs", "ha", "ssh", "id_ed25519")
PORTS = {"hagw1": 2361, "hagw2": 2362}
VIP = "10.99.1.100"
NAME = "gateway.ha.lab"
API_KEY = "AQBKMlJ4MiQ9l2Pta2D9sy8WUzcKNqB91th2EY2cpZDw"  # molecule/ha/inventory.yml
AUDIT = "/srv/llmfleet-gateway/audit/audit-*.jsonl"  # dated files (UTC), one JSON line per request
N = int(os.environ.get("HA_RECORDS", "40"))
# (a) standby runs as the switchover that ends (c): one fault fewer to wait for, the same checks
FAULTS = ("kill-9-corosync", "replication-cut", "split-brain")
TIMEOUT = int(os.environ.get("HA_FAULT_TIMEOUT", "600"))


def log(msg):
    print("[%7.1f] %s" % (time.time() - T0, msg), flush=True)


def ssh(host, cmd, timeout=60, check=True):
    argv = ["ssh", "-i", KEY, "-p", str(PORTS[host]), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "BatchMode=yes", "root@127.0.0.1", cmd]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        if check:
            raise RuntimeError("%s: timed out: %s" % (host, cmd))
        return 124, ""
    if check and proc.returncode != 0:
        raise RuntimeError("%s: rc=%d: %s\n%s%s" % (host, proc.returncode, cmd, proc.stdout, proc.stderr))
    return proc.returncode, proc.stdout


def other(host):
    return "hagw2" if host == "hagw1" else "hagw1"


def primary():
    """The node where the gateway group runs (asked on any node that answers)."""
    for host in PORTS:
        rc, out = ssh(host, "crm_resource --resource llmfleet-gw-nginx --locate 2>/dev/null", timeout=30, check=False)
        if rc == 0 and "is running on:" in out:
            return out.strip().split()[-1]
    return None


def curl_args(rid, max_time, write_out):
    """One authenticated request through the VIP, as curl options (``write_out``: curl's -w format)."""
    return ("-sS -o /dev/null -w '%s' --max-time %d --cacert /root/ha-lab-ca.crt --resolve %s:443:%s "
            "-H 'Authorization: Bearer %s' -H 'X-Request-Id: %s' https://%s/v1/models"
            % (write_out, max_time, NAME, VIP, API_KEY, rid, NAME))


def curl_cmd(rid, max_time=5):
    return "curl " + curl_args(rid, max_time, "%{http_code}")


def write_records(client, prefix, count):
    """count HTTPS requests through the VIP from client, one after another in one curl process (``--next``: one
    TLS connection, kept alive; a process per request cost about 0.5 s each in the TCG guest); returns the ids that
    got 200."""
    ids = ["%s-%04d" % (prefix, i) for i in range(count)]
    script = "curl " + " --next ".join(curl_args(rid, 40, rid + " %{http_code}\\n") for rid in ids)
    rc, out = ssh(client, script, timeout=600, check=False)
    ok = [line.split()[0] for line in out.splitlines() if line.endswith(" 200")]
    if len(ok) != count:
        raise RuntimeError("only %d of %d requests from %s got 200: %s" % (len(ok), count, client, out[-500:]))
    return ok


def wait_vip(client, deadline, label):
    """Poll an authenticated request until it answers 200; returns the seconds waited from the caller's start."""
    n = 0
    while time.time() < deadline:
        n += 1
        # counts only once the VIP is on the client (the survivor) itself: a killed node may keep serving meanwhile
        rc, out = ssh(client, "ip -o -4 addr show | grep -q ' %s/' && %s" % (VIP, curl_cmd("probe-%s-%d" % (label, n))),
                      timeout=20, check=False)
        if out.strip() == "200":
            return True
        time.sleep(0.5)
    return False


def check_state(node, ids, label):
    """DRBD Primary on node, the VIP on node, every id in the audit log; returns (present, checksum ok)."""
    rc, role = ssh(node, "drbdadm role gw")
    if not role.strip().startswith("Primary"):
        raise RuntimeError("%s: DRBD is %s on %s, expected Primary" % (label, role.strip(), node))
    rc, addr = ssh(node, "ip -o -4 addr show")
    if VIP not in addr:
        raise RuntimeError("%s: VIP %s is not on %s" % (label, VIP, node))
    rc, logged = ssh(node, "grep -ho '\"request_id\":\"[^\"]*\"' %s | cut -d'\"' -f4 | sort -u" % AUDIT, timeout=60)
    have = set(logged.split())
    missing = [i for i in ids if i not in have]
    want_sum = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
    got_sum = hashlib.sha256("\n".join(sorted(i for i in have if i in set(ids))).encode()).hexdigest()
    return missing, want_sum == got_sum, want_sum


def wait_until(pred, deadline, what):
    while time.time() < deadline:
        if pred():
            return
        time.sleep(1)
    raise RuntimeError("timed out waiting for %s" % what)


def drbd_synced(host):
    rc, out = ssh(host, "drbdadm dstate gw", check=False, timeout=20)
    return rc == 0 and out.strip() == "UpToDate/UpToDate"


def online_both():
    rc, out = ssh("hagw1", "crm_mon -1 --output-as=xml", check=False, timeout=30)
    return rc == 0 and out.count('online="true"') >= 2 and 'standby="true"' not in out


def row(fault, old, new, ids, missing, sum_ok, digest, recovery):
    return {"fault": fault, "old_primary": old, "new_primary": new, "records": len(ids), "lost": len(missing),
            "checksum_ok": sum_ok, "sha256": digest, "recovery_s": round(recovery, 1)}


def fault_standby(prim, surv):
    ssh(prim, "crm_attribute --node %s --name standby --update on" % prim)


def fault_kill(prim, surv):
    ssh(prim, "pkill -9 -x corosync", check=False, timeout=10)


def fault_cut(prim, surv):
    ssh(prim, "iptables -I INPUT -p tcp --dport 7789 -j DROP && iptables -I OUTPUT -p tcp --dport 7789 -j DROP "
              "&& iptables -I INPUT -p tcp --sport 7789 -j DROP && iptables -I OUTPUT -p tcp --sport 7789 -j DROP")


SB_MARKER = "/var/lib/llmfleet/drbd/split-brain-gw.json"
# run on the peer during the cut (sh -e): a second Primary writing audit lines in the gateway's format
PEER_WRITES = r"""
drbdadm primary --force gw
mkdir -p /mnt/sb
mount /dev/drbd0 /mnt/sb
f=$(ls /mnt/sb/audit/audit-*.jsonl | tail -n1)
line=$(tail -n1 "$f")
for id in %s; do
  printf '%%s\n' "$line" | sed "s/\"request_id\":\"[^\"]*\"/\"request_id\":\"$id\"/" >> "$f"
done
sync
umount /mnt/sb
drbdadm secondary gw
"""
SB_METRIC = "/var/lib/prometheus/node-exporter/llmfleet-drbd-split-brain-gw.prom"


def cstate(host):
    return ssh(host, "drbdadm cstate gw", check=False, timeout=20)[1].strip()


def recovery_playbook():
    """playbooks/drbd_split_brain.yml against the lab, as an operator runs it (molecule's Ansible settings:
    collections path, strategy, as the converge had them)."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                           os.path.join(ROOT, "molecule", "ha", "inventory.yml"),
                           os.path.join(ROOT, "playbooks", "drbd_split_brain.yml")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900, check=False)


def split_brain(ids):
    """(d) A real split brain, lab only: DRBD's fencing switched off at runtime and Pacemaker in maintenance mode
    (what a split brain needs: both sides writing while disconnected), the replication port cut, the peer promoted
    by hand and writing audit lines, the primary writing through the VIP; healed, DRBD finds the split brain and
    discards nothing (after-sb-1pri disconnect, both StandAlone), the handler marks both nodes and raises the
    metric; playbooks/drbd_split_brain.yml saves the peer's audit lines, merges them into the primary's log and
    resyncs the peer. Every line of both sides must be in the primary's audit log afterwards, each once."""
    prim = primary()
    peer = other(prim)
    t0 = time.time()
    ssh(prim, "crm_attribute --name maintenance-mode --update true")
    for host in PORTS:
        ssh(host, "drbdadm disk-options --fencing=dont-care gw")
    fault_cut(prim, peer)
    wait_until(lambda: cstate(peer) != "Connected" and cstate(prim) != "Connected", time.time() + 120,
               "both sides disconnected")
    # the peer becomes a second Primary and writes what a gateway there would: audit lines of today's file
    token = "sb%d" % int(t0)  # this run's lines (a lab kept up for another verify has the last run's too)
    peer_ids = ["%s-peer-%04d" % (token, i) for i in range(N // 4)]
    script = (PEER_WRITES % " ".join(peer_ids)).encode()
    ssh(peer, "echo %s | base64 -d | sh -e" % base64.b64encode(script).decode(), timeout=120)
    more = write_records(peer, token + "-primary", N // 4)
    log("split-brain: %d audit lines written on %s (forced Primary), %d through the VIP on %s"
        % (len(peer_ids), peer, len(more), prim))
    ssh(prim, "iptables -F INPUT && iptables -F OUTPUT")
    wait_until(lambda: all(ssh(h, "test -e %s" % SB_MARKER, check=False)[0] == 0 for h in PORTS),
               time.time() + 180, "the split-brain handler on both nodes")
    states = {h: cstate(h) for h in PORTS}
    metric = {h: ssh(h, "cat %s" % SB_METRIC, check=False)[1] for h in PORTS}
    journal = ssh(peer, "journalctl -t llmfleet-drbd --no-pager -q | tail -n 3", check=False)[1]
    detected = time.time() - t0
    log("split-brain: detected in %.1f s: %s; metric %s; journal: %s" % (
        detected, states, {h: "1" if 'llmfleet_drbd_split_brain{resource="gw"} 1' in m else m for h, m in metric.items()},
        journal.strip().splitlines()[-1:] if journal.strip() else "nothing"))
    if not all('llmfleet_drbd_split_brain{resource="gw"} 1' in m for m in metric.values()):
        raise RuntimeError("split-brain: llmfleet_drbd_split_brain is not 1 on both nodes: %s" % metric)
    if "DRBD split brain on resource gw" not in journal:
        raise RuntimeError("split-brain: the handler logged nothing on %s: %s" % (peer, journal))
    if "StandAlone" not in states.values():
        raise RuntimeError("split-brain: expected StandAlone after the split brain: %s" % states)
    for host in PORTS:
        ssh(host, "drbdadm disk-options --fencing=resource-and-stonith gw")
    ssh(prim, "crm_attribute --name maintenance-mode --delete")
    t1 = time.time()
    proc = recovery_playbook()
    told = [ln.strip().strip('",') for ln in proc.stdout.splitlines() if "SPLIT BRAIN" in ln or "lines were missing" in ln]
    log("split-brain: playbooks/drbd_split_brain.yml rc=%d in %.1f s: %s" % (proc.returncode, time.time() - t1, told))
    if proc.returncode != 0:
        raise RuntimeError("split-brain: the recovery playbook failed:\n%s" % (proc.stdout[-3000:] + proc.stderr[-1500:]))
    if not any(("%d of %s's" % (len(peer_ids), peer)) in ln for ln in told):
        raise RuntimeError("split-brain: the operator was not told %d of %s's lines were merged: %s"
                           % (len(peer_ids), peer, told))
    recovery = time.time() - t0
    wait_until(lambda: drbd_synced(prim), time.time() + TIMEOUT, "resync after the recovery")
    ids += more + peer_ids
    missing, sum_ok, digest = check_state(prim, ids, "split-brain")
    rc, dup = ssh(prim, "grep -ho '\"request_id\":\"%s-[^\"]*\"' %s | sort | uniq -d" % (token, AUDIT))
    after = {h: (ssh(h, "test -e %s" % SB_MARKER, check=False)[0] == 0, ssh(h, "cat %s" % SB_METRIC, check=False)[1])
             for h in PORTS}
    if missing or not sum_ok:
        raise RuntimeError("split-brain: %d records lost after the recovery, e.g. %s" % (len(missing), missing[:5]))
    if dup.strip():
        raise RuntimeError("split-brain: lines merged twice: %s" % dup.split()[:5])
    if any(marker or 'llmfleet_drbd_split_brain{resource="gw"} 0' not in m for marker, m in after.values()):
        raise RuntimeError("split-brain: marker or metric not cleared: %s" % after)
    log("split-brain: recovered, %d records on %s (the %d lines of %s merged, none twice), markers cleared, "
        "metric 0" % (len(ids), prim, len(peer_ids), peer))
    # run again on the healthy pair: it says so and changes nothing
    again = recovery_playbook()
    if again.returncode != 0 or "no split brain" not in again.stdout or re.search(r"changed=[1-9]", again.stdout):
        raise RuntimeError("split-brain: a second run of the recovery playbook on the healthy pair did not change "
                           "nothing:\n%s" % again.stdout[-2000:])
    log("split-brain: a second run of the playbook says no split brain, changed=0")
    return {"fault": "split-brain", "old_primary": prim, "new_primary": prim, "records": len(ids), "lost": 0,
            "checksum_ok": sum_ok, "sha256": digest, "recovery_s": round(recovery, 1),
            "detected_s": round(detected, 1), "merged_from_peer": len(peer_ids)}


def main():
    results = []
    ids = []
    deadline_all = time.time() + 1500
    wait_until(online_both, time.time() + TIMEOUT, "both nodes online")
    wait_until(lambda: drbd_synced("hagw1"), time.time() + TIMEOUT, "DRBD UpToDate/UpToDate")
    # HA_FAULTS: a comma-separated subset to run again on a lab that is still up (molecule verify), e.g. split-brain
    chosen = [f for f in os.environ.get("HA_FAULTS", ",".join(FAULTS)).split(",") if f]
    for fault in [f for f in FAULTS if f in chosen and f != "split-brain"]:
        prim = primary()
        if prim is None:
            raise RuntimeError("gateway not running before %s" % fault)
        surv = other(prim)
        ids += write_records(surv, fault, N)
        log("%s: wrote %d records through the VIP (total %d), primary %s" % (fault, N, len(ids), prim))
        t0 = time.time()
        if fault == "kill-9-corosync":
            fault_kill(prim, surv)
            if not wait_vip(surv, t0 + TIMEOUT, fault):
                raise RuntimeError("%s: the VIP did not answer within %d s" % (fault, TIMEOUT))
            recovery = time.time() - t0
            wait_until(lambda: primary() == surv, time.time() + 60, "gateway on %s" % surv)
            missing, sum_ok, digest = check_state(surv, ids, fault)
            results.append(row(fault, prim, surv, ids, missing, sum_ok, digest, recovery))
            if missing:
                raise RuntimeError("%s: %d records lost, e.g. %s" % (fault, len(missing), missing[:5]))
            # fenced (reset) by the survivor; it boots and rejoins by itself
            t3 = time.time()
            wait_until(online_both, t3 + 600, "%s back in the cluster after fencing" % prim)
            results[-1]["fenced_node_rejoined_s"] = round(time.time() - t3, 1)
        else:
            # writes go on during the cut (the peer is outdated through the CIB by crm-fence-peer), then heal, resync
            fault_cut(prim, surv)
            more = write_records(surv, "during-cut", N)
            ids += more
            recovery = time.time() - t0
            log("replication-cut: %d more records written on %s during the cut in %.1f s" % (N, prim, recovery))
            ssh(prim, "iptables -F INPUT && iptables -F OUTPUT")
            t1 = time.time()
            wait_until(lambda: drbd_synced(prim), t1 + TIMEOUT, "resync after the heal")
            log("replication-cut: healed, resynced in %.1f s" % (time.time() - t1))
            missing, sum_ok, digest = check_state(prim, ids, fault + " (before switchover)")
            results.append(row(fault, prim, prim, ids, missing, sum_ok, digest, recovery))
            if missing:
                raise RuntimeError("records missing on the primary after the cut: %s" % missing[:5])
            # (a) standby of the primary, which is also the proof that the former peer got every record of the cut
            t2 = time.time()
            fault_standby(prim, surv)
            if not wait_vip(surv, t2 + TIMEOUT, "standby"):
                raise RuntimeError("standby after the cut: the VIP did not answer")
            recovery = time.time() - t2
            wait_until(lambda: primary() == surv, time.time() + 60, "gateway on %s" % surv)
            missing, sum_ok, digest = check_state(surv, ids, "standby")
            results.append(row("standby", prim, surv, ids, missing, sum_ok, digest, recovery))
            ssh(prim, "crm_attribute --node %s --name standby --delete" % prim)
        r = results[-1]
        log("%s: primary now %s, %d records, %d lost, checksum %s, recovered in %.1f s"
            % (r["fault"], r["new_primary"], r["records"], r["lost"], "ok" if r["checksum_ok"] else "MISMATCH",
               r["recovery_s"]))
        if r["lost"]:
            raise RuntimeError("%s: %d records lost" % (r["fault"], r["lost"]))
        wait_until(online_both, time.time() + TIMEOUT, "both nodes online")
        wait_until(lambda: drbd_synced(surv), time.time() + TIMEOUT, "DRBD UpToDate/UpToDate")
        if time.time() > deadline_all:
            raise RuntimeError("fault tests ran past 25 minutes")
    if "split-brain" in chosen:
        results.append(split_brain(ids))
    print("\nfault              old->new       records  lost  checksum  recovery")
    for r in results:
        print("%-18s %-14s %7d %5d  %-8s  %6.1f s" % (r["fault"], r["old_primary"] + "->" + r["new_primary"], r["records"],
                                                    r["lost"], "ok" if r["checksum_ok"] else "BAD", r["recovery_s"]))
    out = os.path.join(ROOT, "lab", "cache", "labs", "ha", "failover.json")
    with open(out, "w") as fh:
        json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    T0 = time.time()
    try:
        sys.exit(main())
    except RuntimeError as exc:
        print("FAILOVER TEST FAILED: %s" % exc, flush=True)
        sys.exit(1)
