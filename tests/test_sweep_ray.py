"""archc sweep on Ray: a local instance started here gives exactly the local engine's rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archc.sweep.api import sweep
from tests.test_sweep import TINY, WIDTH_SPEC

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'archc[ray]')")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_engine_matches_local(local_ray: None, tmp_path: Path) -> None:
    spec = tmp_path / "tiny.arch"
    spec.write_text(TINY)
    axes = {"width": "4:32:4", "depth": "1:3:1", "resolution": "8,16,32"}
    options = {"where": "macs <= 3M", "pareto": "params,macs,depth:max"}
    local = sweep(spec, axes, workers=2, **options)
    on_ray = sweep(spec, axes, engine="ray", batch_size=7, **options)
    assert on_ray.rows == local.rows
    assert on_ray.front == local.front
    assert {r["status"] for r in on_ray.rows} == {"ok", "rejected", "error"}


@pytest.mark.slow
def test_ray_engine_streams_and_resumes(local_ray: None, tmp_path: Path) -> None:
    axes = {"width": "0.25:1.0:0.25", "resolution": "128,160,192,224"}
    out = tmp_path / "rows.jsonl"
    local = sweep(WIDTH_SPEC, axes, workers=0)
    on_ray = sweep(WIDTH_SPEC, axes, engine="ray", output=out)
    assert on_ray.rows == local.rows
    assert len(out.read_text().splitlines()) == len(local.rows)
    assert sweep(WIDTH_SPEC, axes, engine="ray", output=out).evaluated == 0
