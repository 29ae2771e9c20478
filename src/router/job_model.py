"""The record of one `rebalance` or `migrate` job: request, counters, checkpoint, timing; its
Redis document and its admin API form.

Counters by kind (each key listed adds to `scanned` and to one of the others; see
`router.job_steps`). A key rebalance moves to a target it walks later is listed, and counted in
`scanned`, there again (keeping the set of moved keys would cost memory per key):

    rebalance  misplaced (not on its owner), moved, dropped (the owner already had this or a
               newer version), skipped (gone meanwhile), bytes (moved), errors
    migrate    missing (on old, not on new), copied, present (new has it: new wins), skipped
               (gone meanwhile), bytes (copied), errors

The checkpoint is (`cursor`, `last_key`): every target before `walk[cursor]` is done, and on
that target every key up to `last_key`; `checkpoint` holds the counters at that point and
`ck_plan` the length of the dry-run plan, so a resumed job counts nothing twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from router.job_record import LOCK_TTL, iso

__all__ = [
    "COUNTERS",
    "KINDS",
    "PLAN_KEEP",
    "STALE_SECONDS",
    "Kind",
    "RouterJob",
    "State",
]

Kind = Literal["rebalance", "migrate"]
State = Literal["running", "done", "failed", "cancelled"]
#: job kind → the PBucket policy it works on
KINDS: dict[str, str] = {"rebalance": "balance", "migrate": "migrate"}
COUNTERS: dict[str, tuple[str, ...]] = {
    "rebalance": ("scanned", "misplaced", "moved", "dropped", "skipped", "bytes", "errors"),
    "migrate": ("scanned", "missing", "copied", "present", "skipped", "bytes", "errors"),
}
#: moves a dry run lists (it counts all of them)
PLAN_KEEP = 100
#: a `running` job whose heartbeat is this old lost its node (its lock has lapsed too)
STALE_SECONDS = LOCK_TTL


@dataclass(slots=True)
class RouterJob:
    job_id: str
    kind: str
    pbucket: str
    dry_run: bool
    parallel: int
    page_size: int
    node: str
    started: float
    updated: float
    #: the PBucket's targets when the job started (`router.job_steps.target_label`, weight):
    #: a change of targets stops the job, whose idea of each key's owner is then out of date
    targets: list[str]
    #: target indexes walked, in order (rebalance: all; migrate: old)
    walk: list[int]
    state: str = "running"
    error: str = ""
    last_error: str = ""
    finished: float = 0.0
    cursor: int = 0
    last_key: str = ""
    counters: dict[str, int] = field(default_factory=dict)
    checkpoint: dict[str, int] = field(default_factory=dict)
    plan: list[dict[str, str]] = field(default_factory=list)
    ck_plan: int = 0
    #: seconds run in earlier runs; the current run began at `run_started` (0: not running)
    elapsed: float = 0.0
    run_started: float = 0.0
    resumes: int = 0
    #: asked to stop by another node (kept beside the document, never inside it)
    cancel: bool = False

    def __post_init__(self) -> None:
        for name in COUNTERS[self.kind]:
            self.counters.setdefault(name, 0)
            self.checkpoint.setdefault(name, 0)

    # -- Redis ------------------------------------------------------------------------------------
    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        del doc["cancel"]
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any], *, cancel: bool = False) -> RouterJob:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known and k != "cancel"}, cancel=cancel)

    # -- timing -----------------------------------------------------------------------------------
    def seconds(self, clock: float) -> float:
        if self.run_started:
            return self.elapsed + max(0.0, clock - self.run_started)
        return self.elapsed

    def fold(self, clock: float) -> None:
        """The current run ended at `clock`: add it to `elapsed`."""
        self.elapsed, self.run_started = self.seconds(clock), 0.0

    def stale(self, now: float) -> bool:
        return self.state == "running" and now - self.updated > STALE_SECONDS

    def restore_checkpoint(self) -> None:
        """Counters and plan as at the checkpoint (what came after it is walked again)."""
        self.counters = dict(self.checkpoint)
        del self.plan[self.ck_plan :]
        if not self.counters.get("errors"):
            self.last_error = ""

    def take_checkpoint(self) -> None:
        self.checkpoint = dict(self.counters)
        self.ck_plan = len(self.plan)

    # -- the API record ---------------------------------------------------------------------------
    def remaining(self) -> int:
        """migrate: keys on old that new may still lack (a dry run: every missing key)."""
        return self.counters["missing"] if self.dry_run else self.counters["errors"]

    def to_json(self, now: float, *, local: bool) -> dict[str, Any]:
        state, error = self.state, self.error
        if not local and self.stale(now):
            state = "failed"
            error = (
                f"no heartbeat from node {self.node} for {int(now - self.updated)} s"
                " (did it stop?); resume the job"
            )
        walking = self.walk[self.cursor] if self.cursor < len(self.walk) else None
        seconds = self.seconds(now if local else self.updated)
        out: dict[str, Any] = {
            "job_id": self.job_id,
            "kind": self.kind,
            "pbucket": self.pbucket,
            "dry_run": self.dry_run,
            "parallel": self.parallel,
            "page_size": self.page_size,
            "state": state,
            **{name: self.counters[name] for name in COUNTERS[self.kind]},
            "error": error or None,
            "last_error": self.last_error or None,
            "target": None if walking is None else self.targets[walking].rpartition(" ")[0],
            "last_key": self.last_key or None,
            "planned": list(self.plan) if self.dry_run else None,
            "started": iso(self.started),
            "finished": iso(self.finished) if self.finished else None,
            "updated": iso(self.updated),
            "seconds": round(seconds, 3),
            "node": self.node,
            "resumes": self.resumes,
            "cancel_requested": self.cancel and state == "running",
        }
        if self.kind == "migrate":
            remaining = self.remaining()
            out["remaining"] = remaining
            out["retirable"] = (
                state == "done"
                and not self.dry_run
                and remaining == 0
                and self.counters["errors"] == 0
            )
        return out
