"""The Ray engine: one Ray task per batch of candidates, on a local instance or a cluster.

The job (the parsed program and the settings) is put in Ray's object store once; each worker
process builds its evaluator on first use and keeps it.  Ray re-runs a task whose worker died
(``max_retries``); a batch that still fails becomes error rows.  At most a few batches per CPU
are in flight and results are collected in submission order, so rows arrive in sweep order.
Workers import archc: on a cluster, install it on every node (or ship it with
``runtime_env={"py_modules": [archc]}``).
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import ray

from archc.sweep.candidate import Job, worker_evaluator
from archc.sweep.engines import MAX_ATTEMPTS, Batch, Rows, died_rows


@ray.remote(max_retries=MAX_ATTEMPTS - 1)
def _evaluate(key: str, job: Job, batch: Batch) -> Rows:
    return worker_evaluator(key, job).evaluate_batch(batch)


class RayEngine:
    """Runs batches as Ray tasks; ``address`` joins an existing cluster (``auto``, ``ray://...``)."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address = address
        self._started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is None and workers:
                kwargs["num_cpus"] = workers
            ray.init(address=address, **kwargs)
            self._started = True
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        self.workers = int(resources.get("CPU", 1))

    def run(self, job: Job, batches: Iterable[Batch]) -> Iterator[Rows]:
        key = uuid.uuid4().hex
        job_ref = ray.put(job)
        window = max(2, self.workers * 3)
        source = iter(batches)
        pending: deque[tuple[Batch, Any]] = deque()
        while True:
            while len(pending) < window:
                batch = next(source, None)
                if batch is None:
                    break
                pending.append((batch, _evaluate.remote(key, job_ref, batch)))
            if not pending:
                return
            batch, ref = pending.popleft()
            try:
                rows = ray.get(ref)
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.TaskUnschedulableError):
                rows = died_rows(job, batch, MAX_ATTEMPTS)
            yield rows

    def close(self) -> None:
        if self._started:
            ray.shutdown()
