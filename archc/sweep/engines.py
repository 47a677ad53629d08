"""Engines: where candidates are evaluated.  Each takes batches in sweep order and yields their
rows in the same order, so results and files are identical whichever engine ran them.

* ``inline`` (``workers=0``): in this process, one batch after another (debugging, tiny sweeps).
* ``local``: a process pool over the cores (default).  A worker that dies takes the pool down;
  the pool is rebuilt and the unfinished batches resubmitted, each up to :data:`MAX_ATTEMPTS`
  times, after which its candidates become error rows.
* ``ray``: Ray tasks of one batch each, on a local instance or a cluster (``archc[ray]``;
  see :mod:`archc.sweep.ray_engine`).
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from archc.errors import MissingDependencyError, UsageError
from archc.evaluate import Value
from archc.sweep.candidate import ERROR, Job, worker_evaluator

Batch = list[tuple[int, dict[str, Value]]]
Rows = list[dict[str, Any]]

MAX_ATTEMPTS = 3
ENGINES = ("local", "ray")


class Engine(Protocol):
    """Evaluates batches of candidates; yields each batch's rows, in the order given."""

    workers: int

    def run(self, job: Job, batches: Iterable[Batch]) -> Iterator[Rows]: ...


def died_rows(job: Job, batch: Batch, attempts: int) -> Rows:
    """Rows for candidates whose worker died ``attempts`` times: errors, not a crash."""
    rows = []
    for position, values in batch:
        row: dict[str, Any] = {"index": position, **values, **dict.fromkeys(job.metrics)}
        row["status"] = ERROR
        row["message"] = (
            f"the worker evaluating this candidate died {attempts} times "
            "(out of memory, or killed); it was not evaluated"
        )
        rows.append(row)
    return rows


class InlineEngine:
    """Evaluates in this process."""

    workers = 1

    def run(self, job: Job, batches: Iterable[Batch]) -> Iterator[Rows]:
        key = uuid.uuid4().hex
        evaluator = worker_evaluator(key, job)
        for batch in batches:
            yield evaluator.evaluate_batch(batch)


# --------------------------------------------------------------------------- local processes

_JOB: tuple[str, Job] | None = None


def _init_worker(key: str, job: Job) -> None:
    global _JOB
    _JOB = (key, job)


def _run_batch(batch: Batch) -> Rows:
    assert _JOB is not None
    key, job = _JOB
    return worker_evaluator(key, job).evaluate_batch(batch)


class LocalEngine:
    """A pool of ``workers`` processes (default: every core)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1

    def _pool(self, key: str, job: Job) -> ProcessPoolExecutor:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_init_worker,
            initargs=(key, job),
        )

    def run(self, job: Job, batches: Iterable[Batch]) -> Iterator[Rows]:
        key = uuid.uuid4().hex
        window = self.workers * 3
        source = iter(batches)
        pending: deque[tuple[Batch, int, Future[Rows] | None]] = deque()
        pool = self._pool(key, job)
        try:
            while True:
                while len(pending) < window:
                    batch = next(source, None)
                    if batch is None:
                        break
                    pending.append((batch, 1, _submit(pool, batch)))
                if not pending:
                    return
                _, _, future = pending[0]
                try:
                    if future is None:  # the pool was already broken when it was submitted
                        raise BrokenProcessPool
                    rows = future.result()
                except BrokenProcessPool:
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self._pool(key, job)
                    pending = self._resubmit(job, pool, pending)
                    continue
                pending.popleft()
                yield rows
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _resubmit(
        self,
        job: Job,
        pool: ProcessPoolExecutor,
        pending: deque[tuple[Batch, int, Future[Rows] | None]],
    ) -> deque[tuple[Batch, int, Future[Rows] | None]]:
        """After a worker died: every unfinished batch again, one attempt more."""
        again: deque[tuple[Batch, int, Future[Rows] | None]] = deque()
        for batch, attempts, future in pending:
            if (
                future is not None
                and future.done()
                and not future.cancelled()
                and future.exception() is None
            ):
                again.append((batch, attempts, future))  # finished before the pool broke
                continue
            if attempts >= MAX_ATTEMPTS and future is not None:
                done: Future[Rows] = Future()
                done.set_result(died_rows(job, batch, attempts))
                again.append((batch, attempts, done))
                continue
            tries = attempts if future is None else attempts + 1
            again.append((batch, tries, _submit(pool, batch)))
        return again


def _submit(pool: ProcessPoolExecutor, batch: Batch) -> Future[Rows] | None:
    """The batch's future, or None when the pool is already broken (a worker just died)."""
    try:
        return pool.submit(_run_batch, batch)
    except BrokenProcessPool:
        return None


def make_engine(name: str, workers: int | None = None, address: str | None = None) -> Engine:
    """The engine called ``name`` (``local`` or ``ray``); ``workers=0`` runs in this process."""
    if name == "local":
        if address is not None:
            raise UsageError("--address is for --engine ray")
        if workers == 0:
            return InlineEngine()
        return LocalEngine(workers)
    if name == "ray":
        try:
            from archc.sweep.ray_engine import RayEngine
        except ImportError:
            raise MissingDependencyError(
                "--engine ray needs Ray", None, ["pip install 'archc[ray]'"]
            ) from None
        return RayEngine(address=address, workers=workers)
    raise UsageError(f"unknown engine '{name}'", None, [f"engines: {', '.join(ENGINES)}"])
