"""The enrich worker loop: pull raw messages, enrich, append to rolling lake files, commit, and ack last.

    pull batch ─► enrich each message ─► append outcomes to rolling files (token = message)
         ▲                                   │ cut on count / bytes / age
         └── ack messages whose outputs ◄────┴─ commit files (create-only, retried with backoff)
             are all committed (listeners see them first: Micro store, metrics)

A message is acked only after every file holding one of its outputs (its pii_transformation events
included) is committed, so a crash at
any point loses nothing; after a crash the un-acked messages are redelivered and re-enriched
(duplicates carry the same `event_id` and fingerprint). Infrastructure errors never become bad
rows: `RegistryUnavailable` while enriching a message gives it back (nack) after a backoff; lake
write failures are retried until they succeed (or the worker stops, leaving messages un-acked).

Poison records (enrich/attempts.py): failed attempts are counted per record — raised, killed the
worker (found through the worker's marker), or outlasted the lease while a live worker was on it;
once `max_attempts` attempts failed the record is not processed again but becomes one
`generic_error` bad row carrying its bytes (base64), acked like any outcome. Its failed attempts
committed nothing (a message's outputs and its ack follow a successful enrich), so redelivery does
not multiply rows.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from core.badrows import GenericError
from core.badrows.processor import eventkit_processor
from core.errors import QueueUnavailable, RegistryUnavailable
from core.lake.port import Lake
from core.memory_tuning import release_free_memory
from core.queue.port import Delivery, Subscriber
from enrich.attempts import AttemptLog, delivery_key
from enrich.metrics import EnrichMetrics
from enrich.outcome import Good, Outcome
from enrich.outputs.commit import Backoff, commit_file
from enrich.outputs.lake_writer import LakeWriter
from enrich.outputs.rolling import CutPolicy, PendingFile
from enrich.pii_event import PiiEvent

__all__ = ["CommitListener", "CommittedMessage", "EnrichFn", "EnrichWorker", "WorkerConfig"]

log = structlog.get_logger("enrich.worker")

_RAISED_REMEMBERED = 10_000

EnrichFn = Callable[[bytes, int], list[Outcome]]  # (raw message bytes, etl_tstamp ms) -> outcomes


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Batch size, pull wait, file cutting, retries."""

    batch_size: int = 500
    pull_timeout_s: float = 0.5
    policy: CutPolicy = field(default_factory=CutPolicy)
    tsv: bool = False
    lake_backoff: Backoff = field(default_factory=Backoff)
    registry_backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=0.5, maximum_s=30.0))
    ack_backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=0.1, maximum_s=5.0))
    max_attempts: int = 3  # failed attempts after which a raw record becomes a generic_error bad row


@dataclass(slots=True)
class CommittedMessage:
    """A raw message whose outputs are all in the lake, with the outcomes enriched from it."""

    data: bytes
    outcomes: list[Outcome]


class CommitListener(Protocol):
    """Told about messages whose outputs are committed, just before they are acked (e.g. the Micro store)."""

    def committed(self, messages: Sequence[CommittedMessage]) -> None: ...


@dataclass(slots=True)
class _InFlight:
    delivery: Delivery
    outstanding: int
    outcomes: list[Outcome]
    collector_ms: int
    key: bytes  # the message's identity (enrich.attempts.delivery_key)
    counted: bool = False  # the attempt log holds failures of it (forgotten once acked)


def _good_labels(good: Good) -> tuple[str, str]:
    event = good.event
    schema = ""
    if event.event_vendor and event.event_name and event.event_format and event.event_version:
        schema = f"iglu:{event.event_vendor}/{event.event_name}/{event.event_format}/{event.event_version}"
    return event.event or "", schema


class EnrichWorker:
    """One consumer on the raw subscription writing to the lake; `run()` until `stop` is set, then flush."""

    def __init__(
        self,
        subscriber: Subscriber,
        lake: Lake,
        enrich: EnrichFn,
        config: WorkerConfig | None = None,
        *,
        listeners: Sequence[CommitListener] = (),
        metrics: EnrichMetrics | None = None,
        clock_ms: Callable[[], int] = _now_ms,
        stop: threading.Event | None = None,
        attempts: AttemptLog | None = None,
    ) -> None:
        self.subscriber = subscriber
        self.lake = lake
        self.enrich = enrich
        self.config = config if config is not None else WorkerConfig()
        self.listeners = tuple(listeners)
        self.metrics = metrics if metrics is not None else EnrichMetrics()
        self.clock_ms = clock_ms
        self.stop = stop if stop is not None else threading.Event()
        self.writer = LakeWriter(self.config.policy, tsv=self.config.tsv, on_nulled=self._nulled)
        self.attempts = attempts
        self._marker = attempts.marker() if attempts is not None else None
        self._processor = eventkit_processor("enrich")
        self._inflight: dict[int, _InFlight] = {}
        self._tokens: dict[bytes, int] = {}  # message key -> its in-flight token
        self._raised: dict[bytes, int] = {}  # record key -> failures raised here (without a log, the only count)
        self._next_token = 0
        self._registry_delays = self.config.registry_backoff.delays()

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        """Process until `stop` is set, then commit what is buffered and ack it."""
        log.info("enrich worker started", writer=self.writer.namer.writer_id)
        self._wait_for_queue()
        try:
            while not self.stop.is_set():
                self.step()
        finally:
            self.flush()
            if self._marker is not None:
                self._marker.close()
            log.info("enrich worker stopped", writer=self.writer.namer.writer_id)

    def _wait_for_queue(self) -> None:
        """Prove the subscription reachable (Pub/Sub creates it here) before pulling with short waits."""
        check = getattr(self.subscriber, "check", None)
        if check is None:
            return
        delays = self.config.ack_backoff.delays()
        while not self.stop.is_set():
            try:
                check()
                return
            except QueueUnavailable as e:
                log.warning("raw queue unavailable; retrying", error=str(e))
                self.metrics.retry("queue")
                self.stop.wait(delays.next())

    def step(self) -> int:
        """One pull (waiting at most until the next file is due), enrich, cut what is due, commit, ack."""
        timeout = self.config.pull_timeout_s
        deadline = self.writer.next_deadline_ms()
        if deadline is not None:
            timeout = max(0.0, min(timeout, (deadline - self.clock_ms()) / 1000))
        try:
            deliveries = self.subscriber.pull(self.config.batch_size, timeout)
        except QueueUnavailable as e:
            log.warning("pull failed; retrying", error=str(e))
            self.metrics.retry("pull")
            deliveries = []
            self.stop.wait(min(1.0, self.config.pull_timeout_s))
        if deliveries:
            self.process(deliveries)
        self.commit(self.writer.cut_due(self.clock_ms()))
        return len(deliveries)

    def process(self, deliveries: Sequence[Delivery]) -> None:
        """Enrich each message and append its outcomes; a registry outage gives the rest of the batch back."""
        etl_ms = self.clock_ms()
        for i, delivery in enumerate(deliveries):
            key = delivery_key(delivery)
            if delivery.attempt > 1 and self._relet(key, delivery):
                continue
            failed = self._failures(key, delivery)
            if failed >= self.config.max_attempts:
                log.error("raw record failed every attempt; written as a generic_error bad row", attempts=failed)
                self.metrics.retry("poison")
                self._append(delivery, [self._poison(delivery, failed, etl_ms)], etl_ms, key, counted=True)
                continue
            if self._marker is not None:
                self._marker.on(key)  # a crash from here on names this record
            try:
                outcomes = self.enrich(delivery.data, etl_ms)
            except RegistryUnavailable as e:
                self._idle()
                rest = [d.ack_id for d in deliveries[i:]]
                delay = self._registry_delays.next()
                log.warning("registry unavailable; giving messages back", error=str(e), messages=len(rest), delay=delay)
                self.metrics.retry("registry")
                self.stop.wait(delay)
                self._nack(rest)
                return
            except Exception:
                # A bug, not bad input (bad input is a bad row): never ack, never drop; give the message
                # back after a pause so one poison message cannot spin the worker, count the failure
                # towards max_attempts, and keep going.
                self._idle()
                log.exception("enrich failed unexpectedly; the message is given back", attempt=delivery.attempt)
                self.metrics.retry("crash")
                self._count_failure(key)
                self.stop.wait(self._registry_delays.next())
                self._nack([delivery.ack_id])
                continue
            self._idle()
            self._registry_delays = self.config.registry_backoff.delays()
            self._append(delivery, outcomes, etl_ms, key, counted=failed > 0)

    def _idle(self) -> None:
        """Enrich is done with the record (cleared before any wait, so a kill then blames nothing)."""
        if self._marker is not None:
            self._marker.off()

    def _relet(self, key: bytes, delivery: Delivery) -> bool:
        """A record this worker already holds came back (its lease ran out while its outputs waited for a file
        cut): keep the outputs, take the new lease for the ack, and do not enrich it twice."""
        token = self._tokens.get(key)
        flight = self._inflight.get(token) if token is not None else None
        if flight is None:
            return False
        flight.delivery = delivery
        return True

    def _failures(self, key: bytes, delivery: Delivery) -> int:
        """The record's failed attempts so far.

        A first delivery the transport vouches for (durable attempt number) has none, and the log is
        not read. Otherwise the markers of dead workers are reaped first (a crash on this record then
        counts), and a live worker still on the record counts as one timed-out attempt.
        """
        if delivery.attempt_durable and delivery.attempt <= 1:
            return 0
        if self.attempts is None:  # no log: only the failures this worker saw raise
            return self._raised.get(key, 0)
        try:
            self.attempts.reap()
            if self.attempts.held_elsewhere(key):
                log.warning("a redelivered record is still being enriched elsewhere: its lease ran out")
                return self.attempts.failed(key)
            return self.attempts.failures(key)
        except (sqlite3.Error, OSError) as e:
            # Never stall on the log: the record is processed uncounted (a poison one then retries while it is down).
            log.warning("attempt log unavailable; processing the record uncounted", error=str(e))
            return self._raised.get(key, 0)

    def _count_failure(self, key: bytes) -> None:
        self._raised[key] = self._raised.pop(key, 0) + 1
        while len(self._raised) > _RAISED_REMEMBERED:
            del self._raised[next(iter(self._raised))]
        if self.attempts is None:
            return
        try:
            self.attempts.failed(key)
        except sqlite3.Error as e:
            log.warning("attempt log write failed", error=str(e))

    def _poison(self, delivery: Delivery, failed: int, etl_ms: int) -> GenericError:
        message = (
            f"enrich gave up on this raw record after {failed} failed attempts (processing raised, or the worker "
            "died or ran out of its lease on it); the payload is the record's bytes in base64"
        )
        return GenericError(self._processor, etl_ms, (message,), base64.b64encode(delivery.data).decode("ascii"))

    def _append(
        self, delivery: Delivery, outcomes: list[Outcome], now_ms: int, key: bytes, *, counted: bool = False
    ) -> None:
        token = self._next_token
        self._next_token += 1
        collector_ms = next(
            (o.event.collector_tstamp for o in outcomes if isinstance(o, Good) and o.event.collector_tstamp),
            delivery.publish_time_ms,
        )
        size = max(1, len(delivery.data) // max(1, len(outcomes)))
        outstanding = 0
        for outcome in outcomes:
            if isinstance(outcome, Good):
                outstanding += self.writer.add_good(outcome.event, token, size, now_ms)
                pii = outcome.pii
                if isinstance(pii, PiiEvent):
                    outstanding += self.writer.add_pii(pii, token, size, now_ms)
                elif pii is not None:  # the pii event failed validation: a bad row of its own
                    outstanding += self.writer.add_bad(pii.type_name, pii.encode(), token, now_ms, collector_ms)
            else:
                outstanding += self.writer.add_bad(outcome.type_name, outcome.encode(), token, now_ms, collector_ms)
        self._inflight[token] = _InFlight(delivery, outstanding, outcomes, collector_ms, key, counted)
        self._tokens[key] = token
        if outstanding == 0:  # a record holding no event (e.g. an empty POST batch): nothing to write
            self._settle([token])
        # A full file is cut at once, whatever its age, to bound memory.
        if self.writer.good.full or (self.writer.pii is not None and self.writer.pii.full):
            self.commit(self.writer.cut_due(self.clock_ms()))

    def _outcome_metrics(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Good):
                event, schema = _good_labels(outcome)
                self.metrics.good(event, schema)
                pii = outcome.pii
                if pii is not None and not isinstance(pii, PiiEvent):  # a pii event that became a bad row
                    self.metrics.bad(pii.type_name, pii.schema.uri)
            else:
                self.metrics.bad(outcome.type_name, outcome.schema.uri)

    # -- commit and ack -------------------------------------------------------------------------

    def commit(self, files: Sequence[PendingFile]) -> bool:
        """Create each file in the lake, then ack every message that has nothing left to commit."""
        done: list[int] = []
        ok = True
        for pending in files:
            committed = commit_file(
                self.lake,
                pending,
                self.writer.namer,
                backoff=self.config.lake_backoff,
                should_stop=self.stop.is_set,
                sleep=self.stop.wait,
                on_retry=self._lake_retry,
            )
            if not committed:
                ok = False
                continue
            now = self.clock_ms()
            self.metrics.file_committed(pending.root.split("/", 1)[0])
            for collector_ms in pending.collector_ms:
                if collector_ms:
                    self.metrics.latency(max(0.0, (now - collector_ms) / 1000))
            for token, n in pending.tokens.items():
                flight = self._inflight.get(token)
                if flight is None:
                    continue
                flight.outstanding -= n
                if flight.outstanding <= 0:
                    done.append(token)
        if done:
            self._settle(done)
        return ok

    def _nulled(self, column: str) -> None:
        log.warning("a value Parquet cannot hold was written as null (the TSV output keeps it)", column=column)
        self.metrics.nulled(column)

    def _lake_retry(self, name: str, error: Exception) -> None:
        log.warning("lake write failed; retrying", object=name, error=str(error))
        self.metrics.retry("lake")

    def _settle(self, tokens: list[int]) -> None:
        """Tell listeners, then ack (the ack is the last step)."""
        flights = [self._inflight.pop(t) for t in tokens]
        settled = set(tokens)
        for flight in flights:
            if self._tokens.get(flight.key) in settled:
                del self._tokens[flight.key]
        for flight in flights:
            self._outcome_metrics(flight.outcomes)
        if self.listeners:
            committed = [CommittedMessage(f.delivery.data, f.outcomes) for f in flights]
            for listener in self.listeners:
                try:
                    listener.committed(committed)
                except Exception:
                    # The lake is the record; a failing side view (e.g. the Micro store) must not
                    # stop acks, or every message would be redelivered and duplicated in the lake.
                    log.exception("commit listener failed", listener=type(listener).__name__)
                    self.metrics.retry("listener")
        self._ack([f.delivery.ack_id for f in flights])
        for flight in flights:
            self._raised.pop(flight.key, None)
        self._forget([f.key for f in flights if f.counted])
        release_free_memory()  # a file's events and its encoding were the worker's peak; its heap keeps the space

    def _forget(self, keys: list[bytes]) -> None:
        if self.attempts is None or not keys:
            return
        try:
            self.attempts.forget(keys)
        except sqlite3.Error as e:  # a leftover count only remembers failures of a record that will not come back
            log.warning("attempt log write failed", error=str(e))

    def _ack(self, ack_ids: list[str]) -> None:
        delays = self.config.ack_backoff.delays()
        for _ in range(5):
            try:
                self.subscriber.ack(ack_ids)
                self.metrics.acked(len(ack_ids))
                return
            except QueueUnavailable as e:
                log.warning("ack failed; retrying", error=str(e), messages=len(ack_ids))
                self.metrics.retry("ack")
                self.stop.wait(delays.next())
        # The outputs are committed; an un-acked message is redelivered and written again (duplicate, no loss).
        log.error("ack failed repeatedly; messages will be redelivered", messages=len(ack_ids))

    def _nack(self, ack_ids: list[str]) -> None:
        try:
            self.subscriber.nack(ack_ids)
        except QueueUnavailable as e:  # the lease expires instead; redelivery is only later
            log.warning("nack failed; messages return when their lease expires", error=str(e))

    def flush(self) -> bool:
        """Cut and commit every open file and ack what that completes (graceful shutdown)."""
        files = self.writer.cut_all()
        if not files:
            return True
        stop = self.stop
        # Flushing must still retry the lake for a while even though `stop` is set.
        self.stop = threading.Event()
        timer = threading.Timer(30.0, self.stop.set)
        timer.daemon = True
        timer.start()
        try:
            return self.commit(files)
        finally:
            timer.cancel()
            self.stop = stop

    @property
    def in_flight(self) -> int:
        """Messages pulled but not yet acked."""
        return len(self._inflight)
