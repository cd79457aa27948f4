# -*- coding: utf-8 -*-
# Copyright (c) 2026 llmfleet engineers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alertmanager's configuration from the inventory, checked on the controller before any host changes.

Pure Python, no Ansible imports (issue 20, docs/monitoring.md). :func:`plan` takes ``monitoring_alert_receivers``
and ``monitoring_alert_route`` and returns ``{config, files}``:

* ``config``: Alertmanager 0.25's configuration (Debian 12's ``prometheus-alertmanager``) as a dict. Every secret is
  referenced by file (``password_file``, ``auth_password_file``), never written into it;
* ``files``: what the role copies to the Alertmanager host beside it, ``{src, dest, secret}``: each receiver's
  password (0640 root:prometheus) and its CA certificate.

A receiver is ``{name, webhook: {url, username, password_file, ca_file, send_resolved}}`` or ``{name, email: {to,
from, smarthost, username, password_file, require_tls}}``; paths are absolute paths on the controller. Every
violation is collected and raised together in :class:`AlertmanagerPlanError`, naming the variable and the
receiver. With no receiver, alerts stay in Alertmanager (its API and ``amtool``) and :func:`plan` says so in
``warnings``: nothing reaches a person.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DURATION_RE = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
HOSTPORT_RE = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$|^\[[0-9A-Fa-f:]+\]:[0-9]{1,5}$")
#: where the role puts receiver secrets on the Alertmanager host (0750 root:prometheus)
SECRET_DIR = "/etc/prometheus/alertmanager-secrets"
NULL_RECEIVER = "llmfleet-none"
ROUTE_DEFAULTS = {"group_by": ["alertname", "site", "instance"], "group_wait": "30s", "group_interval": "5m",
                  "repeat_interval": "4h"}
WEBHOOK_KEYS = {"url", "username", "password_file", "ca_file", "send_resolved", "max_alerts"}
EMAIL_KEYS = {"to", "from", "smarthost", "username", "password_file", "require_tls", "send_resolved", "ca_file"}
ROUTE_KEYS = set(ROUTE_DEFAULTS) | {"receiver", "routes"}


class AlertmanagerPlanError(ValueError):
    """Every violation of the receivers and the route, one per line."""


def _file_ok(path, exists):
    return isinstance(path, str) and os.path.isabs(path) and (exists is None or exists(path))


def _check_files(where, spec, problems, exists):
    for key in ("password_file", "ca_file"):
        if key in spec and not _file_ok(spec[key], exists):
            problems.append("%s.%s: %r is not an absolute path of a file on the controller"
                            % (where, key, spec[key]))
    if "password_file" in spec and not spec.get("username"):
        problems.append("%s: password_file needs a username" % where)


def _secret_files(name, spec):
    files, http = [], {}
    if spec.get("password_file"):
        dest = "%s/%s.pass" % (SECRET_DIR, name)
        files.append({"src": spec["password_file"], "dest": dest, "secret": True})
        http["password_file"] = dest
    if spec.get("ca_file"):
        dest = "%s/%s-ca.crt" % (SECRET_DIR, name)
        files.append({"src": spec["ca_file"], "dest": dest, "secret": False})
        http["ca_file"] = dest
    return files, http


def _webhook(name, spec, problems, exists):
    where = "monitoring_alert_receivers[%s].webhook" % name
    unknown = sorted(set(spec) - WEBHOOK_KEYS)
    if unknown:
        problems.append("%s: unknown keys %s (known: %s)" % (where, ", ".join(unknown), ", ".join(sorted(WEBHOOK_KEYS))))
    url = spec.get("url")
    if not isinstance(url, str) or not re.match(r"^https://[^/\s]+", url):
        problems.append("%s.url: %r must be an https:// URL (alerts name hosts and carry the site's labels)"
                        % (where, url))
    _check_files(where, spec, problems, exists)
    files, secret = _secret_files(name, spec)
    out = {"url": url, "send_resolved": bool(spec.get("send_resolved", True))}
    if spec.get("max_alerts") is not None:
        out["max_alerts"] = spec["max_alerts"]
    http = {}
    if spec.get("username"):
        http["basic_auth"] = {"username": spec["username"]}
        if "password_file" in secret:
            http["basic_auth"]["password_file"] = secret["password_file"]
    if "ca_file" in secret:
        http["tls_config"] = {"ca_file": secret["ca_file"], "min_version": "TLS12"}
    if http:
        out["http_config"] = http
    return {"name": name, "webhook_configs": [out]}, files


def _email(name, spec, problems, exists):
    where = "monitoring_alert_receivers[%s].email" % name
    unknown = sorted(set(spec) - EMAIL_KEYS)
    if unknown:
        problems.append("%s: unknown keys %s (known: %s)" % (where, ", ".join(unknown), ", ".join(sorted(EMAIL_KEYS))))
    for key in ("to", "from"):
        if not isinstance(spec.get(key), str) or not EMAIL_RE.match(spec[key]):
            problems.append("%s.%s: %r is not an e-mail address" % (where, key, spec.get(key)))
    if not isinstance(spec.get("smarthost"), str) or not HOSTPORT_RE.match(spec["smarthost"]):
        problems.append("%s.smarthost: %r must be host:port" % (where, spec.get("smarthost")))
    _check_files(where, spec, problems, exists)
    files, secret = _secret_files(name, spec)
    out = {"to": spec.get("to"), "from": spec.get("from"), "smarthost": spec.get("smarthost"),
           "require_tls": bool(spec.get("require_tls", True)), "send_resolved": bool(spec.get("send_resolved", True))}
    if spec.get("username"):
        out["auth_username"] = spec["username"]
    if "password_file" in secret:
        out["auth_password_file"] = secret["password_file"]
    if "ca_file" in secret:
        out["tls_config"] = {"ca_file": secret["ca_file"], "min_version": "TLS12"}
    return {"name": name, "email_configs": [out]}, files


def _route(route, names, problems):
    route = dict(route or {})
    unknown = sorted(set(route) - ROUTE_KEYS)
    if unknown:
        problems.append("monitoring_alert_route: unknown keys %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(ROUTE_KEYS))))
    out = dict(ROUTE_DEFAULTS, **{k: v for k, v in route.items() if k in ROUTE_DEFAULTS})
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if not isinstance(out[key], str) or not DURATION_RE.match(out[key]):
            problems.append("monitoring_alert_route.%s: %r is not a duration (e.g. 30s, 5m, 4h)" % (key, out[key]))
    if not isinstance(out["group_by"], list) or not all(isinstance(x, str) and LABEL_RE.match(x) for x in out["group_by"]):
        problems.append("monitoring_alert_route.group_by: %r must be a list of label names" % (out["group_by"],))
    receiver = route.get("receiver", names[0] if names else NULL_RECEIVER)
    if receiver not in names + [NULL_RECEIVER]:
        problems.append("monitoring_alert_route.receiver: %r is no receiver of monitoring_alert_receivers (%s)"
                        % (receiver, ", ".join(names) or "none"))
    out["receiver"] = receiver
    subs = []
    for idx, sub in enumerate(route.get("routes") or []):
        where = "monitoring_alert_route.routes[%d]" % idx
        if not isinstance(sub, dict) or set(sub) - {"receiver", "matchers", "continue"}:
            problems.append("%s: must be {receiver, matchers, continue}" % where)
            continue
        if sub.get("receiver") not in names:
            problems.append("%s.receiver: %r is no receiver of monitoring_alert_receivers" % (where, sub.get("receiver")))
        matchers = sub.get("matchers")
        if not isinstance(matchers, list) or not matchers or not all(
                isinstance(m, str) and re.match(r'^[A-Za-z_][A-Za-z0-9_]*\s*(=|!=|=~|!~)\s*"[^"]*"$', m) for m in matchers):
            problems.append('%s.matchers: %r must be a list like [\'severity="critical"\']' % (where, matchers))
        subs.append({k: sub[k] for k in ("receiver", "matchers", "continue") if k in sub})
    if subs:
        out["routes"] = subs
    return out


def plan(receivers, route=None, exists=None):
    """``{config, files, warnings}`` for Alertmanager, or :class:`AlertmanagerPlanError` with every violation.

    ``exists(path)`` says whether a controller file exists (the filter passes ``os.path.isfile``); None skips it.
    """
    problems, out, files, names = [], [], [], []
    if not isinstance(receivers, (list, tuple)):
        raise AlertmanagerPlanError("monitoring_alert_receivers must be a list, got %s" % type(receivers).__name__)
    for idx, rcv in enumerate(receivers):
        if not isinstance(rcv, dict):
            problems.append("monitoring_alert_receivers[%d]: must be a dict with name and webhook or email" % idx)
            continue
        name = rcv.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name) or name == NULL_RECEIVER:
            problems.append("monitoring_alert_receivers[%d].name: %r must be a plain name (letters, digits, . _ -)"
                            % (idx, name))
            continue
        if name in names:
            problems.append("monitoring_alert_receivers[%s]: the name is used twice" % name)
            continue
        names.append(name)
        kinds = [k for k in ("webhook", "email") if k in rcv]
        extra = sorted(set(rcv) - {"name", "webhook", "email"})
        if len(kinds) != 1 or extra:
            problems.append("monitoring_alert_receivers[%s]: needs exactly one of webhook or email%s"
                            % (name, " (unknown keys: %s)" % ", ".join(extra) if extra else ""))
            continue
        if not isinstance(rcv[kinds[0]], dict):
            problems.append("monitoring_alert_receivers[%s].%s: must be a dict" % (name, kinds[0]))
            continue
        built, rfiles = (_webhook if kinds[0] == "webhook" else _email)(name, rcv[kinds[0]], problems, exists)
        out.append(built)
        files.extend(rfiles)
    routed = _route(route, names, problems)
    if problems:
        raise AlertmanagerPlanError("\n".join(problems))
    warnings = []
    if not names:
        out.append({"name": NULL_RECEIVER})
        warnings.append("monitoring_alert_receivers is empty: alerts reach Alertmanager but no person "
                        "(set a webhook or email receiver)")
    config = {"route": routed, "receivers": out,
              # a node that is down should not also page for each of its exporters
              "inhibit_rules": [{"source_matchers": ['alertname="NodeDown"'],
                                 "target_matchers": ['severity=~"warning|info"'], "equal": ["instance"]}]}
    return {"config": config, "files": files, "warnings": warnings}
