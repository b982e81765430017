"""Retries with exponential backoff and full jitter for teacher requests.

A backend raises :class:`TransientError` for failures worth retrying (HTTP 429 and 5xx, connection errors,
timeouts, malformed responses) and :class:`FatalError` for failures that no retry can fix (bad API key,
unknown model). :func:`call_with_retries` retries the first kind up to ``max_retries`` times, sleeping
``uniform(0, min(max_delay, base_delay * 2**attempt))`` between attempts (or the server's ``Retry-After``
when it sends one, capped at ``max_delay``), and re-raises the last error when the attempts run out.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from mind.errors import BackendError, ConfigError


class TransientError(Exception):
    """A failed attempt worth retrying; ``kind`` is a short label (``http_429``, ``timeout``, ...)."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class FatalError(BackendError):
    """A failure no retry can fix (401, 403, 404): the whole run stops with this one-line message."""


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5  # retries after the first attempt
    base_delay: float = 0.5  # seconds before the first retry (upper bound of its jitter)
    max_delay: float = 20.0  # cap on any single backoff sleep

    def __post_init__(self):
        if self.max_retries < 0:
            raise ConfigError(f"max_retries: {self.max_retries} is negative; use 0 or more")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ConfigError("retry delays must be >= 0; pass --retry-base-delay/--retry-max-delay >= 0")

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (0-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(self.max_delay, retry_after)
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * (2**attempt)))


class Stopped(Exception):
    """Raised inside a worker when the run is being cancelled (Ctrl-C, fatal error)."""


def call_with_retries(fn, policy: RetryPolicy, stop: threading.Event | None = None, on_retry=None,
                      rng: random.Random | None = None):
    """Call ``fn()`` until it returns, retrying :class:`TransientError` per ``policy``.

    ``on_retry(error)`` is called before each retry (for counting). Returns ``(result, attempts)``. Raises the
    last :class:`TransientError` when the retries run out, and :class:`Stopped` as soon as ``stop`` is set.
    """
    rng = rng or random.Random()
    attempt = 0
    while True:
        if stop is not None and stop.is_set():
            raise Stopped()
        try:
            return fn(), attempt + 1
        except TransientError as exc:
            if attempt >= policy.max_retries:
                raise
            if on_retry is not None:
                on_retry(exc)
            pause = policy.delay(attempt, rng, exc.retry_after)
            attempt += 1
            if stop is not None:
                if stop.wait(pause):
                    raise Stopped() from None
            else:
                threading.Event().wait(pause)
