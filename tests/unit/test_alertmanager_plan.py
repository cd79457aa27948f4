# -*- coding: utf-8 -*-
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: Apache-2.0
"""plugins/module_utils/alertmanager.py: Alertmanager's configuration from the inventory (issue 20). Receivers
become webhook/e-mail configurations whose secrets are referenced by file only; every violation is named with its
variable and receiver; an empty receiver list warns that alerts reach no one."""

from __future__ import annotations

import os
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.llmfleet.baremetal.plugins.module_utils import alertmanager as am  # noqa: E402

PASSWORD = "/ctl/secrets/oncall.pass"
CA = "/ctl/tls/hooks-ca.crt"
WEBHOOK = {"name": "oncall",
           "webhook": {"url": "https://hooks.example.org/alerts", "username": "am", "password_file": PASSWORD,
                       "ca_file": CA}}
EMAIL = {"name": "ops-mail", "email": {"to": "ops@example.org", "from": "alerts@example.org",
                                       "smarthost": "smtp.example.org:587", "username": "alerts",
                                       "password_file": PASSWORD}}


def exists(path):
    return path in (PASSWORD, CA)


def refused(receivers, route=None):
    with pytest.raises(am.AlertmanagerPlanError) as exc:
        am.plan(receivers, route, exists=exists)
    return str(exc.value)


def test_webhook_receiver_references_its_secrets_by_file():
    out = am.plan([WEBHOOK], exists=exists)
    (rcv,) = out["config"]["receivers"]
    hook = rcv["webhook_configs"][0]
    assert hook["url"] == "https://hooks.example.org/alerts"
    assert hook["http_config"]["basic_auth"] == {"username": "am",
                                                 "password_file": am.SECRET_DIR + "/oncall.pass"}
    assert hook["http_config"]["tls_config"]["ca_file"] == am.SECRET_DIR + "/oncall-ca.crt"
    assert hook["send_resolved"] is True
    assert out["files"] == [{"src": PASSWORD, "dest": am.SECRET_DIR + "/oncall.pass", "secret": True},
                            {"src": CA, "dest": am.SECRET_DIR + "/oncall-ca.crt", "secret": False}]
    assert out["warnings"] == []
    # the default route goes to the first receiver
    assert out["config"]["route"]["receiver"] == "oncall"


def test_email_receiver_uses_auth_password_file():
    out = am.plan([EMAIL], exists=exists)
    mail = out["config"]["receivers"][0]["email_configs"][0]
    assert mail["auth_username"] == "alerts"
    assert mail["auth_password_file"] == am.SECRET_DIR + "/ops-mail.pass"
    assert mail["require_tls"] is True
    assert "auth_password" not in mail


def test_no_secret_value_is_ever_in_the_configuration(tmp_path):
    """The password file's content never reaches the configuration: only its path on the host."""
    secret = tmp_path / "pw"
    secret.write_text("s3cr3t-value\n")
    receivers = [dict(WEBHOOK, webhook=dict(WEBHOOK["webhook"], password_file=str(secret), ca_file=str(secret)))]
    out = am.plan(receivers, exists=os.path.isfile)
    assert "s3cr3t-value" not in yaml.safe_dump(out["config"])


def test_empty_receivers_warn_and_route_to_a_null_receiver():
    out = am.plan([], exists=exists)
    assert out["config"]["receivers"] == [{"name": am.NULL_RECEIVER}]
    assert out["config"]["route"]["receiver"] == am.NULL_RECEIVER
    assert "reach Alertmanager but no person" in out["warnings"][0]


def test_route_defaults_and_overrides():
    out = am.plan([WEBHOOK, EMAIL], {"group_wait": "1s", "receiver": "ops-mail",
                                     "routes": [{"receiver": "oncall", "matchers": ['severity="critical"'],
                                                 "continue": True}]}, exists=exists)
    route = out["config"]["route"]
    assert route["group_wait"] == "1s" and route["group_interval"] == "5m" and route["repeat_interval"] == "4h"
    assert route["receiver"] == "ops-mail"
    assert route["routes"] == [{"receiver": "oncall", "matchers": ['severity="critical"'], "continue": True}]


@pytest.mark.parametrize("receivers, route, expected", [
    ([dict(WEBHOOK, webhook=dict(WEBHOOK["webhook"], url="http://hooks.example.org/"))], None,
     "monitoring_alert_receivers[oncall].webhook.url"),
    ([dict(WEBHOOK, webhook=dict(WEBHOOK["webhook"], password_file="/nowhere"))], None,
     "monitoring_alert_receivers[oncall].webhook.password_file: '/nowhere' is not an absolute path of a file"),
    ([dict(WEBHOOK, webhook=dict(WEBHOOK["webhook"], password_file="relative.pass"))], None,
     "webhook.password_file: 'relative.pass'"),
    ([dict(WEBHOOK, webhook={"url": "https://h/", "password_file": PASSWORD})], None,
     "monitoring_alert_receivers[oncall].webhook: password_file needs a username"),
    ([dict(WEBHOOK, webhook=dict(WEBHOOK["webhook"], password="inline"))], None,
     "monitoring_alert_receivers[oncall].webhook: unknown keys password"),
    ([WEBHOOK, WEBHOOK], None, "monitoring_alert_receivers[oncall]: the name is used twice"),
    ([{"name": "x y", "webhook": {"url": "https://h/"}}], None, "monitoring_alert_receivers[0].name"),
    ([{"name": "both", "webhook": {"url": "https://h/"}, "email": {}}], None, "needs exactly one of webhook or email"),
    ([dict(EMAIL, email=dict(EMAIL["email"], to="not-an-address"))], None,
     "monitoring_alert_receivers[ops-mail].email.to: 'not-an-address' is not an e-mail address"),
    ([dict(EMAIL, email=dict(EMAIL["email"], smarthost="smtp.example.org"))], None,
     "monitoring_alert_receivers[ops-mail].email.smarthost"),
    ([WEBHOOK], {"receiver": "pager"}, "monitoring_alert_route.receiver: 'pager' is no receiver"),
    ([WEBHOOK], {"group_wait": "soon"}, "monitoring_alert_route.group_wait: 'soon' is not a duration"),
    ([WEBHOOK], {"routes": [{"receiver": "oncall", "matchers": ["severity=critical"]}]},
     "monitoring_alert_route.routes[0].matchers"),
    ([WEBHOOK], {"colour": "red"}, "monitoring_alert_route: unknown keys colour"),
])
def test_refusals_name_the_variable_and_receiver(receivers, route, expected):
    assert expected in refused(receivers, route)


def test_every_violation_is_listed_at_once():
    message = refused([dict(WEBHOOK, webhook=dict(WEBHOOK["webhook"], url="ftp://x")),
                       dict(EMAIL, email=dict(EMAIL["email"], to="nobody"))], {"group_wait": "later"})
    assert len(message.splitlines()) == 3


def test_receivers_must_be_a_list():
    with pytest.raises(am.AlertmanagerPlanError, match="must be a list"):
        am.plan({"name": "oncall"})
