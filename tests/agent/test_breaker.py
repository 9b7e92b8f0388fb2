"""The circuit breaker on its own, on a clock the test moves."""

from __future__ import annotations

import asyncio

import pytest

from agent.breaker import BreakerOpen, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Down(Exception):
    """The dependency failed."""


class Refused(Exception):
    """The dependency answered, with an error of the caller's making."""


def is_down(exc: BaseException) -> bool:
    return isinstance(exc, Down)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock) -> CircuitBreaker:
    return CircuitBreaker("provider", failures=3, cooldown=30, clock=clock)


async def call(breaker: CircuitBreaker, outcome: type[BaseException] | None = None) -> str:
    try:
        async with breaker.guard(counts=is_down):
            if outcome is not None:
                raise outcome()
    except BreakerOpen:
        return "refused"
    except (Down, Refused):
        return "failed"
    return "ok"


async def test_it_opens_after_failures_in_a_row_and_refuses_calls(breaker):
    outcomes = [await call(breaker, Down) for _ in range(3)]

    assert outcomes == ["failed"] * 3
    assert await call(breaker) == "refused"
    snapshot = breaker.snapshot()
    assert (snapshot.state, snapshot.rejected, snapshot.opened) == ("open", 1, 1)
    assert snapshot.retry_in_seconds == 30


async def test_a_success_or_an_answered_error_resets_the_count(breaker):
    for outcome in (Down, Down, None, Down, Down, Refused, Down, Down):
        await call(breaker, outcome)

    assert breaker.snapshot().state == "closed"


async def test_after_the_cool_down_one_trial_closes_it(breaker, clock):
    for _ in range(3):
        await call(breaker, Down)
    clock.now += 30

    assert await call(breaker) == "ok"
    assert breaker.snapshot().state == "closed"
    assert await call(breaker) == "ok"


async def test_a_failed_trial_reopens_it_for_another_cool_down(breaker, clock):
    for _ in range(3):
        await call(breaker, Down)
    clock.now += 31

    assert await call(breaker, Down) == "failed"  # the trial
    assert await call(breaker) == "refused"
    assert breaker.snapshot().retry_in_seconds == 30
    clock.now += 30
    assert await call(breaker) == "ok"


async def test_only_one_trial_runs_at_a_time_and_a_cancelled_one_frees_its_slot(breaker, clock):
    for _ in range(3):
        await call(breaker, Down)
    clock.now += 30
    started = asyncio.Event()

    async def slow_trial() -> None:
        async with breaker.guard(counts=is_down):
            started.set()
            await asyncio.Event().wait()

    trial = asyncio.create_task(slow_trial())
    await started.wait()
    during = await call(breaker)
    trial.cancel()
    await asyncio.gather(trial, return_exceptions=True)

    assert during == "refused"
    assert breaker.snapshot().state == "half_open"
    assert await call(breaker) == "ok"  # the next caller is the trial now
    assert breaker.snapshot().state == "closed"
