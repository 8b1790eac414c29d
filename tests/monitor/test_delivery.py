"""Alert delivery to a real local webhook and real syslog sockets; never blocking a decision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pdp.errors import ConfigError
from pdp.monitor.delivery import (
    AlertDelivery,
    DeliveryConfig,
    Syslog,
    SyslogChannel,
    Webhook,
    WebhookChannel,
    open_delivery,
)
from pdp.service.config import config_from_mapping
from tests.monitor.receivers import read_framed, tcp_receiver, udp_receiver, webhook


def alert(n: int) -> dict[str, Any]:
    return {
        "kind": "alert",
        "decision_id": f"{n:032x}",
        "time": "2026-12-07T18:30:00.000001Z",
        "reasons": ["break_glass_used"],
        "subject": "u9",
        "detail": {"message": f"alert {n}", "客户": "经理"},
    }


def test_a_webhook_gets_every_alert_in_order_as_json(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n", encoding="utf-8")
    with webhook("ok") as server:
        channel = WebhookChannel(Webhook(server.url, 5.0, str(token)))
        delivery = AlertDelivery([channel], queue_size=100)
        for n in range(20):
            assert delivery.submit(alert(n))
        delivery.close(timeout=30)
        assert server.bodies == [alert(n) for n in range(20)]
        assert server.headers[0]["authorization"] == "Bearer s3cret-token"
    assert delivery.delivered == {"webhook": 20}
    assert delivery.failed == {"webhook": 0} and delivery.overflow == 0


def test_a_failing_webhook_is_retried_a_bounded_number_of_times() -> None:
    with webhook("fail") as server:
        delivery = AlertDelivery([WebhookChannel(Webhook(server.url))], retries=2, backoff=0)
        delivery.submit(alert(1))
        delivery.submit(alert(2))
        delivery.close(timeout=30)
        assert [b["decision_id"] for b in server.bodies] == [alert(1)["decision_id"]] * 3 + [
            alert(2)["decision_id"]
        ] * 3
    assert delivery.failed == {"webhook": 2} and delivery.retried == {"webhook": 4}
    assert delivery.delivered == {"webhook": 0}


def test_a_hanging_webhook_fills_the_queue_and_overflow_is_counted_not_waited_on() -> None:
    with webhook("hang") as server:
        delivery = AlertDelivery([WebhookChannel(Webhook(server.url, 30.0))], queue_size=3)
        delivery.submit(alert(0))
        server.wait_for(1)  # the delivery thread is stuck in the first POST
        accepted = [delivery.submit(alert(n)) for n in range(1, 11)]
        assert accepted == [True] * 3 + [False] * 7
        assert delivery.overflow == 7 and delivery.queued == 3
        assert len(server.bodies) == 1
        server.release.set()
        delivery.close(timeout=30)


def test_syslog_over_udp_is_rfc_5424() -> None:
    with udp_receiver() as sock:
        port = sock.getsockname()[1]
        channel = SyslogChannel(Syslog("127.0.0.1", port, "udp", "local0", "pdp"))
        delivery = AlertDelivery([channel])
        delivery.submit(alert(1))
        delivery.submit(alert(2))
        first, _ = sock.recvfrom(65536)
        second, _ = sock.recvfrom(65536)
        delivery.close(timeout=30)
    header, _, body = first.partition(b"\xef\xbb\xbf")
    fields = header.decode("ascii").split(" ")
    assert fields[0] == "<132>1"  # local0 (16) * 8 + warning (4), version 1
    assert fields[1] == "2026-12-07T18:30:00.000001Z"
    assert fields[3:7] == ["pdp", fields[4], "break_glass_used", "-"] and fields[4].isdigit()
    assert json.loads(body) == alert(1)
    assert json.loads(second.partition(b"\xef\xbb\xbf")[2]) == alert(2)
    assert delivery.delivered == {"syslog": 2}


def test_syslog_over_tcp_is_octet_counted() -> None:
    with tcp_receiver() as listener:
        port = listener.getsockname()[1]
        delivery = AlertDelivery([SyslogChannel(Syslog("127.0.0.1", port, "tcp", "auth"))])
        for n in range(3):
            delivery.submit(alert(n))
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(30)
            messages = [read_framed(conn) for _ in range(3)]
        delivery.close(timeout=30)
    assert [m.startswith(b"<36>1 ") for m in messages] == [True] * 3  # auth (4) * 8 + 4
    assert [json.loads(m.partition(b"\xef\xbb\xbf")[2]) for m in messages] == [
        alert(n) for n in range(3)
    ]


def test_syslog_to_nobody_over_tcp_fails_and_is_counted() -> None:
    with tcp_receiver() as listener:
        port = listener.getsockname()[1]
    delivery = AlertDelivery(
        [SyslogChannel(Syslog("127.0.0.1", port, "tcp"))], retries=1, backoff=0
    )
    delivery.submit(alert(1))
    delivery.close(timeout=30)
    assert delivery.failed == {"syslog": 1} and delivery.retried == {"syslog": 1}


def test_delivery_is_read_from_the_config() -> None:
    config = config_from_mapping(
        {
            "alert_delivery": {
                "webhook": {"url": "https://siem.bank/pdp", "timeout": 1},
                "syslog": {"host": "127.0.0.1", "port": 6514, "protocol": "tcp"},
                "queue_size": 50,
                "retries": 0,
            }
        }
    ).alert_delivery
    assert config.webhook == Webhook("https://siem.bank/pdp", 1.0)
    assert config.syslog == Syslog("127.0.0.1", 6514, "tcp")
    assert (config.queue_size, config.retries, config.backoff) == (50, 0, 0.5)
    assert open_delivery(DeliveryConfig()) is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"webhook": {"url": "ftp://x"}}, "must be an http"),
        ({"webhook": {"timeout": -1, "url": "http://x"}}, "must be positive"),
        ({"syslog": {"host": "h", "protocol": "sctp"}}, "`udp` or `tcp`"),
        ({"syslog": {"host": "h", "facility": "local9"}}, "facility `local9`"),
        ({"syslog": {"port": 514}}, "must name the syslog receiver"),
        ({"queue_size": 0}, "at least 1"),
        ({"retries": -1}, "at least 0"),
        ({"email": {}}, "unknown key `alert_delivery.email`"),
    ],
)
def test_bad_delivery_settings_are_config_errors(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_mapping({"alert_delivery": section})
