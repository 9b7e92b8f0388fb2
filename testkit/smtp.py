"""A real SMTP server for tests: aiosmtpd on a free port, keeping what it receives."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller

from testkit.servers import free_port


class Inbox:
    """The aiosmtpd handler: stores every message; `fail_next` refuses that many with 451."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.fail_next = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 Try again later"
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def settings(self) -> dict[str, object]:
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_from": "todo@test"}
