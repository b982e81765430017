"""Run a list of teacher (or judge) requests through a backend: cache first, then concurrency and retries.

For each :class:`Job` the runner returns the cached response when there is one and otherwise sends the
request: on HTTP backends from a thread pool of ``concurrency`` workers, each request retried per the
:class:`~mind.teacher.retry.RetryPolicy`; on a local model in batches. Every success is appended to the
:class:`~mind.teacher.cache.ResponseCache` the moment it arrives. A tqdm bar shows done / total, failures,
retries and the ETA.

The run stops with a one-line :class:`~mind.errors.BackendError` when the server answers 401/403/404, when
``max_consecutive_failures`` requests in a row fail after all their retries (an unreachable or broken
server), or when nothing at all succeeded. Ctrl-C cancels the requests not yet sent, waits for those in
flight (each bounded by the request timeout) so that their responses are cached too, and re-raises.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from mind.errors import BackendError
from mind.teacher.backends import ItemError
from mind.teacher.cache import CacheKey, ResponseCache
from mind.teacher.retry import FatalError, RetryPolicy, Stopped, TransientError, call_with_retries


@dataclass(frozen=True)
class Job:
    key: CacheKey  # (kind, problem id, perspective, model, prompt hash)
    messages: list


@dataclass
class RunStats:
    total: int = 0
    cached: int = 0  # answered from the cache, no request sent
    succeeded: int = 0  # new successful responses
    failed: int = 0  # gave up after retries (or refused per item)
    requests: int = 0  # HTTP requests / generations attempted in this run
    retries: Counter = field(default_factory=Counter)  # by error kind
    failures: Counter = field(default_factory=Counter)  # final failures by error kind
    prompt_tokens: int = 0  # this run's new responses only
    completion_tokens: int = 0

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["retries"] = dict(self.retries)
        d["failures"] = dict(self.failures)
        return d


class JobRunner:
    def __init__(self, backend, cache: ResponseCache, policy: RetryPolicy | None = None, concurrency: int = 8,
                 max_consecutive_failures: int = 25, progress: bool = True, desc: str = "teacher"):
        if concurrency < 1:
            raise BackendError(f"--concurrency {concurrency}: must be >= 1")
        self.backend = backend
        self.cache = cache
        self.policy = policy or RetryPolicy()
        self.concurrency = int(concurrency)
        self.max_consecutive_failures = int(max_consecutive_failures)
        self.progress = progress
        self.desc = desc
        self.stats = RunStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last_error = ""

    # -- bookkeeping -------------------------------------------------------------------------------------
    def _record_success(self, job: Job, comp) -> dict:
        rec = self.cache.put(job.key, comp.text, prompt_tokens=comp.prompt_tokens,
                             completion_tokens=comp.completion_tokens, finish_reason=comp.finish_reason)
        with self._lock:
            self.stats.succeeded += 1
            self.stats.prompt_tokens += comp.prompt_tokens
            self.stats.completion_tokens += comp.completion_tokens
        return rec

    def _where(self) -> str:
        return getattr(self.backend, "base_url", None) or self.backend.name

    def _abort_message(self, n: int) -> str:
        return (
            f"{self.desc} {self._where()} failed {n} requests in a row after {self.policy.max_retries} retries each "
            f"(last error: {self._last_error}); check that the server is running and --base-url. "
            f"Finished responses are kept in {self.cache.path}: rerun to continue"
        )

    # -- execution ---------------------------------------------------------------------------------------
    def run(self, jobs: list[Job]) -> tuple[dict[CacheKey, dict], dict[CacheKey, str]]:
        """Answer every job: returns ``(responses by key, failure kind by key)``."""
        from tqdm.auto import tqdm

        done: dict[CacheKey, dict] = {}
        pending: list[Job] = []
        for job in jobs:
            rec = self.cache.get(job.key)
            if rec is not None:
                done[job.key] = rec
            else:
                pending.append(job)
        self.stats.total += len(jobs)
        self.stats.cached += len(done)
        failed: dict[CacheKey, str] = {}
        bar = tqdm(total=len(jobs), initial=len(done), desc=self.desc, unit="req", disable=not self.progress,
                   dynamic_ncols=True)
        try:
            if getattr(self.backend, "concurrent", False):
                self._run_threads(pending, done, failed, bar)
            else:
                self._run_batches(pending, done, bar)
        finally:
            bar.close()
        if jobs and not done and failed:
            raise BackendError(self._abort_message(len(failed)))
        return done, failed

    def _send(self, job: Job):
        def once():
            with self._lock:
                self.stats.requests += 1
            return self.backend.complete(job.messages)

        def on_retry(exc):
            with self._lock:
                self.stats.retries[exc.kind] += 1

        comp, _ = call_with_retries(once, self.policy, self._stop, on_retry, random.Random())
        return self._record_success(job, comp)

    def _run_threads(self, pending, done, failed, bar) -> None:
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="mind-teacher")
        futures = {pool.submit(self._send, job): job for job in pending}
        consecutive = 0
        fatal: BaseException | None = None
        try:
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    done[job.key] = fut.result()
                    consecutive = 0
                except Stopped:
                    continue
                except FatalError as exc:
                    fatal = fatal or exc
                    self._stop.set()
                    continue
                except (TransientError, ItemError) as exc:
                    kind = getattr(exc, "kind", "error")
                    failed[job.key] = kind
                    consecutive += 1
                    with self._lock:
                        self.stats.failed += 1
                        self.stats.failures[kind] += 1
                    self._last_error = f"{kind}: {exc}"
                    if consecutive >= self.max_consecutive_failures > 0 and not self._stop.is_set():
                        self._stop.set()
                        fatal = BackendError(self._abort_message(consecutive))
                bar.update(1)
                bar.set_postfix(failed=self.stats.failed, retries=sum(self.stats.retries.values()), refresh=False)
        except BaseException:
            # Ctrl-C (or a bug): send nothing new, but let requests already on the wire finish and be cached
            # (each is bounded by the request timeout; a second Ctrl-C stops the wait).
            self._stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True, cancel_futures=True)
        if fatal is not None:
            raise fatal

    def _run_batches(self, pending, done, bar) -> None:
        size = max(1, int(getattr(self.backend, "batch_size", 1)))
        for start in range(0, len(pending), size):
            chunk = pending[start:start + size]
            with self._lock:
                self.stats.requests += len(chunk)
            comps = self.backend.generate([j.messages for j in chunk])
            for job, comp in zip(chunk, comps):
                done[job.key] = self._record_success(job, comp)
            bar.update(len(chunk))
