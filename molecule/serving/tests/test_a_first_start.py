"""No daemon ever ran with its distribution's default configuration (issue 16).

Asserts the cause, not a symptom that depends on when the test runs:
- the journal of each host reaches back past the package's installation (so the checks below can't pass vacuously);
- systemd never started the unit before dpkg had finished installing its package: a start from the package's
  maintainer script happens before dpkg logs "status installed"; llmfleet starts it tasks later, after writing
  its configuration;
- the exporter-toolkit daemons (Prometheus, node and blackbox exporters) never logged "TLS is disabled", which is
  how they run with Debian's defaults (no --web.config.file);
- Prometheus holds no series of a job or instance that its generated configuration doesn't define.
Runs first in the scenario (file order) and reads only.
"""

import datetime
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_serving import MON_ADDR, prom  # noqa: E402  (shared helpers of this scenario)

testinfra_hosts = ["ansible://srv-gpu1?force_ansible=True", "ansible://srv-mon1?force_ansible=True"]

# systemd's "Starting <unit>..." (SD_MESSAGE_UNIT_STARTING; not logged for Type=simple services) and "Started
# <unit>" (SD_MESSAGE_UNIT_STARTED) messages: at least one per start job, whoever asked for it.
UNIT_STARTING = "7d4958e842da4a758f6c1cdc7b36dcc5"
UNIT_STARTED = "39f53479d3a045ac8e11786248231fbf"
# (package, unit, speaks exporter-toolkit) per host of the lab
GUARDED = {
    "srv-gpu1": [("chrony", "chrony.service", False),
                 ("prometheus-node-exporter", "prometheus-node-exporter.service", True)],
    "srv-mon1": [("chrony", "chrony.service", False),
                 ("prometheus-node-exporter", "prometheus-node-exporter.service", True),
                 ("prometheus", "prometheus.service", True),
                 ("prometheus-blackbox-exporter", "prometheus-blackbox-exporter.service", True),
                 ("nginx-light", "nginx.service", False)],
}


def first_installed(dpkg_log, package):
    """Seconds since the epoch (UTC, dpkg.log's whole-second resolution) of the first 'status installed PACKAGE'
    line, or None."""
    for line in dpkg_log.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[2:4] == ["status", "installed"] and parts[4].split(":")[0] == package:
            stamp = datetime.datetime.strptime(" ".join(parts[:2]), "%Y-%m-%d %H:%M:%S")
            return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
    return None


def journal(host, *match):
    out = host.run("journalctl -q -o json --no-pager %s" % " ".join(match))
    assert out.rc == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def name(host):
    return host.backend.get_hostname()


@pytest.mark.parametrize("idx", range(4))
def test_no_daemon_started_before_its_package_was_installed(host, idx):
    rows = GUARDED[name(host)]
    if idx >= len(rows):
        pytest.skip("%s installs %d guarded packages" % (name(host), len(rows)))
    package, unit, _ = rows[idx]
    # the containers' clock and dpkg.log are UTC (common_timezone: Etc/UTC; the base image is UTC too)
    assert host.run("date +%z").stdout.strip() == "+0000"
    installed = first_installed(host.file("/var/log/dpkg.log").content_string, package)
    assert installed is not None, "%s: %s is not in /var/log/dpkg.log" % (name(host), package)
    oldest = float(host.check_output("journalctl -q -o short-unix --no-pager | head -n 1").split()[0])
    assert oldest <= installed, "%s: the journal starts after %s was installed: this test could not see" % (
        name(host), package)
    starts = [int(e["__REALTIME_TIMESTAMP"]) / 1e6
              for e in journal(host, "MESSAGE_ID=" + UNIT_STARTING, "MESSAGE_ID=" + UNIT_STARTED, "UNIT=" + unit)]
    assert starts, "%s: %s never started" % (name(host), unit)
    # dpkg.log truncates to the second: a start during the install is before installed + 1 s
    early = [datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat() for t in starts
             if t < installed + 1]
    assert not early, "%s: %s was started while its package installed (%s; installed %s): it ran with the " \
        "distribution's configuration" % (name(host), unit, early,
                                          datetime.datetime.fromtimestamp(installed, datetime.timezone.utc))


@pytest.mark.parametrize("idx", range(4))
def test_exporter_toolkit_daemons_never_served_without_tls(host, idx):
    rows = GUARDED[name(host)]
    if idx >= len(rows) or not rows[idx][2]:
        pytest.skip("not an exporter-toolkit daemon of %s" % name(host))
    unit = rows[idx][1]
    messages = [e.get("MESSAGE", "") for e in journal(host, "_SYSTEMD_UNIT=" + unit)]
    assert any("TLS is enabled" in m for m in messages), "%s: %s never logged TLS is enabled" % (name(host), unit)
    plain = [m for m in messages if "TLS is disabled" in m]
    assert not plain, "%s: %s served without TLS: %s" % (name(host), unit, plain)


def test_prometheus_holds_only_series_of_its_generated_targets(host):
    if name(host) != "srv-mon1":
        pytest.skip("the monitoring server is srv-mon1 (%s)" % MON_ADDR)
    config = host.file("/etc/prometheus/prometheus.yml").content_string
    targets = prom("/api/v1/targets?state=any")
    defined = {(t["labels"]["job"], t["labels"]["instance"]) for t in targets["activeTargets"]}
    assert defined and all(job in config for job, _ in defined), defined
    held = {(s.get("job"), s.get("instance")) for s in prom("/api/v1/series?match[]=up")}
    held |= {(s.get("job"), s.get("instance")) for s in prom("/api/v1/series?match[]=scrape_duration_seconds")}
    stray = sorted(held - defined)
    assert not stray, "Prometheus holds series of targets its generated configuration doesn't define: %s" % stray
