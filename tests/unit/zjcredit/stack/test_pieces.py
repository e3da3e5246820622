import socket
from pathlib import Path

import pytest

from base.endpoints import free_port
from base.errors import ServerStartError, ToolMissingError
from zjcredit.stack.kafka import find_java, kafka_version
from zjcredit.stack.process import log_tail


def test_free_port_keeps_a_free_preferred_port() -> None:
    port = free_port()
    assert free_port(port) == port


def test_free_port_moves_off_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        other = free_port(taken)
        assert other != taken
        assert other > 0


def test_kafka_version_comes_from_the_pom(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project><properties><kafka.version> 4.1.1 </kafka.version></properties>")
    assert kafka_version(pom) == "4.1.1"
    assert kafka_version().startswith("4.")


def test_missing_java_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError) as caught:
        find_java()
    message = str(caught.value)
    assert "Java 17" in message
    assert "KAFKA_BOOTSTRAP_SERVERS" in message


def test_log_tail_and_start_error_carry_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("\n".join(f"line {i}" for i in range(100)))
    tail = log_tail(log, lines=3)
    assert tail == "line 97\nline 98\nline 99"
    error = ServerStartError("broker died", tail)
    assert "broker died" in str(error)
    assert "line 99" in str(error)
    assert "no log" in log_tail(tmp_path / "absent.log")
