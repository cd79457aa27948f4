"""roles/model_server/files/llmfleet-model-group: the /proc/net/tcp reading and the group check's decision."""

import importlib.machinery
import importlib.util
import json
import socket
import threading
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "roles" / "model_server" / "files" / "llmfleet-model-group"


@pytest.fixture(scope="module")
def helper():
    loader = importlib.machinery.SourceFileLoader("llmfleet_model_group", str(PATH))
    spec = importlib.util.spec_from_loader("llmfleet_model_group", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


# /proc/net/tcp of a leader host: listening on 8111, linked to 172.31.243.12:50052 (ESTABLISHED), a dead link
# to 172.31.243.13:50052 (CLOSE_WAIT, 08)
TABLE = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0BF31FAC:1FAF 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 1 1 0 100 0 0 10 0
   1: 0BF31FAC:A1B2 0CF31FAC:C384 01 00000000:00000000 00:00000000 00000000   999        0 2 1 0 20 4 30 10 -1
   2: 0BF31FAC:A1B3 0DF31FAC:C384 08 00000000:00000000 00:00000000 00000000   999        0 3 1 0 20 4 30 10 -1
"""
TABLE6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 0000000000000000FFFF00000100007F:1F40 0000000000000000FFFF00000100007F:D431 01 00000000:00000000
"""


def test_parse_proc_net_tcp(helper):
    rows = helper.parse_proc_net_tcp(TABLE)
    assert rows[0] == (("172.31.243.11", 8111), ("0.0.0.0", 0), "0A")
    assert rows[1][1] == ("172.31.243.12", 50052)
    assert helper.established(rows, "172.31.243.12", 50052)
    assert not helper.established(rows, "172.31.243.13", 50052)  # CLOSE_WAIT: the worker went away
    assert helper.listens(rows, 8111) and not helper.listens(rows, 50052)


def test_parse_ipv4_mapped_ipv6(helper):
    rows = helper.parse_proc_net_tcp(TABLE6)
    assert rows == [(("127.0.0.1", 8000), ("127.0.0.1", 54321), "01")]


def test_this_hosts_own_table_sees_a_live_connection(helper):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    try:
        rows = helper.read_tcp_table()
        assert helper.listens(rows, port)
        assert helper.established(rows, "127.0.0.1", port)
        assert helper.can_connect("127.0.0.1", port)
    finally:
        client.close()
        server.close()
    assert not helper.can_connect("127.0.0.1", port, timeout=0.5)


LINKED, UP, DOWN = {"linked": True, "up": True}, {"linked": False, "up": True}, {"linked": False, "up": False}


@pytest.mark.parametrize("workers, health, state, seconds, expect", [
    ([LINKED], 200, "active", 50, (True, None)),                # healthy
    ([DOWN], 200, "active", 50, (False, None)),                 # worker gone: down, wait for it
    ([UP], 200, "active", 50, (False, "restart")),              # worker back, leader not linked: restart
    ([UP], None, "active", 10, (False, None)),                  # leader still loading: let it connect
    ([UP], None, "active", 400, (False, "restart")),            # ... but not forever
    ([UP], None, "failed", 0, (False, "reset-start")),          # systemd gave up: reset and start
    ([DOWN], None, "failed", 0, (False, None)),                 # ... only once the worker is back
    ([UP], None, "inactive", 0, (False, None)),                 # stopped on purpose (rolling restart): hands off
    ([LINKED, UP], 200, "active", 50, (False, "restart")),      # one of two workers restarted
    ([], 200, "active", 5, (True, None)),                       # vLLM/SGLang leader: health only
    ([LINKED], 503, "active", 5, (False, None)),                # loading
])
def test_decide(helper, workers, health, state, seconds, expect):
    assert helper.decide(workers, health, state, seconds, grace=300) == expect


def test_textfile_is_written_atomically(helper, tmp_path):
    helper.write_textfile(str(tmp_path), [{"group": "split", "model": "tiny", "unit": "u.service", "up": 1,
                                           "workers": 1, "workers_up": 1, "recoveries_total": 2,
                                           "check_timestamp_seconds": "1.000"}])
    text = (tmp_path / "llmfleet_model_groups.prom").read_text()
    assert 'llmfleet_model_group_up{group="split",model="tiny",unit="u.service"} 1' in text
    assert "# TYPE llmfleet_model_group_recoveries_total counter" in text
    assert not list(tmp_path.glob("*.tmp"))
    helper.write_textfile(str(tmp_path / "absent"), [])  # no node_exporter directory: nothing, no error


def test_wait_returns_once_every_worker_listens(helper):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Timer(1.0, server.listen, args=(4,)).start()
    try:
        assert helper.main(["wait", "--timeout", "20", "127.0.0.1:%d" % port]) == 0
    finally:
        server.close()
    assert helper.main(["wait", "--timeout", "1", "127.0.0.1:%d" % port]) == 1


def test_check_with_no_groups_writes_state(helper, tmp_path):
    config = tmp_path / "groups.json"
    config.write_text(json.dumps({"groups": []}))
    assert helper.main(["check", "--config", str(config), "--state", str(tmp_path / "s.json"),
                        "--textfile-dir", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == {}
