"""The enrich metrics of several worker processes as one: each worker writes snapshots, a reader adds them up.

`eventkit up` serves `/metrics/enrich` from its server process while enrich runs in worker processes.
Each worker's `SnapshotWriter` writes its registry's Prometheus text to a file of its own
(`<folder>/enrich-<pid>.prom`, replaced atomically, at most every `interval_s` when something
changed and once more when the worker stops); `render_sum(folder)` adds the samples of every file:
counters and histogram buckets, sums and counts add up across processes, a `_created` timestamp is
the earliest. The file of a worker that died stays and keeps counting until the folder is cleared
(when `up` starts), so a restarted worker never makes a counter go backwards; only what a killed
worker counted after its last snapshot is missing from the metrics (never from the lake).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from enrich.metrics import EnrichMetrics

__all__ = ["SnapshotWriter", "clear_snapshots", "render_sum"]

SUFFIX = ".prom"
log = structlog.get_logger("enrich.metrics_snapshots")


class SnapshotWriter:
    """Writes one worker's metrics to `path` in a background thread until `stop()` (which writes a last time)."""

    def __init__(self, metrics: EnrichMetrics, path: Path, interval_s: float = 0.25) -> None:
        self.metrics = metrics
        self.path = path
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._last = b""
        self._failed = False
        self._thread = threading.Thread(target=self._loop, name="metrics-snapshots", daemon=True)

    def start(self) -> None:
        self.write()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        self.write()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.write()

    def write(self) -> None:
        """Replace the snapshot file if the metrics changed (a full disk costs the snapshot, never the worker)."""
        text = self.metrics.render()
        if text == self._last:
            return
        partial = self.path.with_name(f".{self.path.name}.partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(text)
            os.replace(partial, self.path)
        except OSError as e:
            if not self._failed:
                log.warning("cannot write the enrich metrics snapshot", path=str(self.path), error=str(e))
            self._failed = True
            return
        self._failed = False
        self._last = text


def clear_snapshots(folder: Path) -> None:
    """Forget the snapshots of earlier runs (the sum starts from zero, as each worker's metrics do)."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name.endswith(SUFFIX) or path.name.endswith(".partial"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


class _Families:
    """A registry collector handing out already-built metric families."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def render_sum(folder: Path) -> bytes:
    """The Prometheus text of every snapshot in `folder` added up (an idle worker's zeros if there is none)."""
    texts = []
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        with contextlib.suppress(FileNotFoundError):
            texts.append(path.read_text(errors="replace"))
    if not texts:
        return EnrichMetrics().render()
    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name not in families:
                families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
                values[family.name] = {}
            samples = values[family.name]
            earliest = family.name.endswith("_created")
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                if key not in samples:
                    samples[key] = sample.value
                elif earliest:
                    samples[key] = min(samples[key], sample.value)
                else:
                    samples[key] += sample.value
    for name, family in families.items():
        for (sample_name, labels), value in values[name].items():
            family.add_sample(sample_name, dict(labels), value)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(list(families.values())))
    return generate_latest(registry)
