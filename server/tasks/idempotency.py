"""Idempotency keys on task creation, as the IETF Idempotency-Key draft has them.

A repeated key with the same request returns the task the first request created; with a
different request it is a 422 (the key names another request); while the first request
with the key is still running in this process, a 409. (On another replica the repeat waits
for the first one's transaction on the unique key, then replays or is refused the same way.)
The request is compared by a fingerprint of the fields the client sent, so a repeat from
either edge (REST or the add_task tool) is recognised.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager

from server.errors import Conflict, ValidationFailed
from server.tasks.models import Task, TaskCreate
from server.validation import no_nul

KEY_MAX = 200


def check_key(key: str) -> str:
    if not 1 <= len(key) <= KEY_MAX:
        raise ValidationFailed("idempotency_key", f"1-{KEY_MAX} characters")
    return no_nul("idempotency_key", key)


def fingerprint(data: TaskCreate) -> str:
    """A digest of what the client asked for (fields it sent; null ones are as if absent)."""
    fields = data.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def replayed(existing: Task, digest: str) -> Task:
    """The task a key created, if this request is the one that created it."""
    # Tasks keyed before fingerprints were stored have none: they replay as before.
    if existing.idempotency_fingerprint not in (None, digest):
        raise ValidationFailed(
            "idempotency_key",
            "was already used for a different request; send a new key for a new task",
        )
    return existing


class InFlight:
    """The keys whose first request is still running in this process."""

    def __init__(self) -> None:
        self._keys: set[tuple[int, str]] = set()

    @contextmanager
    def claim(self, user_id: int, key: str) -> Iterator[None]:
        slot = (user_id, key)
        if slot in self._keys:
            raise Conflict(
                "a request with this Idempotency-Key is still being processed; "
                "repeat it once that one has finished",
                details={"field": "idempotency_key", "rule": "still being processed"},
            )
        self._keys.add(slot)
        try:
            yield
        finally:
            self._keys.discard(slot)
