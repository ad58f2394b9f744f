"""A clock for a provider's waits: time moves only when slept on."""

from __future__ import annotations

from typing import Any

import pytest


class FakeClock:
    """Stands in for the ``time`` module where a test must not spend wall-clock time:
    ``monotonic()`` moves only when ``sleep(seconds)`` is called, by exactly ``seconds``.

    Patch it over the ``time`` attribute of the modules whose waits are under test, e.g.
    ``vertex_jobs.providers`` (delete's wait, create's wait and IAM retry) and
    ``google.api_core.retry.retry_unary``/``retry_base`` (the client's retry deadline):
    ``FakeClock().install(monkeypatch, providers, retry_unary, retry_base)``. The gRPC
    channel keeps the real clock, so an RPC's own timeout is still real."""

    def __init__(self, start: float = 1_000.0, *, limit_s: float | None = None) -> None:
        self.start = self.now = start
        self.limit_s = limit_s  # a wait past this fails the test rather than spinning on
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        if self.limit_s is not None and self.elapsed > self.limit_s:
            raise AssertionError(
                f"the code under test waited {self.elapsed:.0f}s (fake clock), past the "
                f"test's limit of {self.limit_s:.0f}s: is a bound missing?"
            )

    @property
    def elapsed(self) -> float:
        return self.now - self.start

    def install(self, monkeypatch: pytest.MonkeyPatch, *modules: Any) -> FakeClock:
        for module in modules:
            monkeypatch.setattr(module, "time", self)
        return self
