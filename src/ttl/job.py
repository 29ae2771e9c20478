"""A lifecycle job's record: request, counters, checkpoint, outcome; stored as a Redis hash.

Counters are cumulative over every resumption of one job and written together with the
checkpoint (`last_key`, `upload_key`/`upload_id` for the multipart phase), so a resumed job
never counts a page twice. `rules` holds per-rule counts, `planned` a dry run's would-be
actions (capped; the counters count all of them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

__all__ = ["ACTIONS", "JobRecord", "State"]

State = Literal["running", "succeeded", "failed"]
#: the counters kept per rule, in the order they are shown
ACTIONS = ("expired", "transitioned", "aborted")
_JSON_FIELDS = ("rules", "planned")


@dataclass(slots=True)
class JobRecord:
    job_id: str
    pbucket: str
    dry_run: bool
    node: str
    #: ISO-8601 UTC, from the job's clock
    started: str
    #: the time rules were evaluated at (the clock at the start of the current run)
    evaluated_at: str
    state: State = "running"
    finished: str = ""
    fence: int = 0
    #: "objects", then "uploads" (AbortIncompleteMultipartUpload), then "done"
    phase: str = "objects"
    last_key: str = ""
    upload_key: str = ""
    upload_id: str = ""
    scanned: int = 0
    expired: int = 0
    transitioned: int = 0
    aborted: int = 0
    #: objects a due transition left alone (in the target class already, or changed meanwhile)
    skipped: int = 0
    byte_count: int = 0
    errors: int = 0
    last_error: str = ""
    #: why the job failed ("" otherwise)
    error: str = ""
    resumes: int = 0
    rules: dict[str, dict[str, int]] = field(default_factory=dict)
    planned: list[dict[str, str]] = field(default_factory=list)
    planned_total: int = 0

    def count(self, rule_id: str, action: str) -> None:
        per = self.rules.setdefault(rule_id, dict.fromkeys(ACTIONS, 0))
        per[action] = per.get(action, 0) + 1

    def to_doc(self) -> dict[str, str]:
        doc: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _JSON_FIELDS:
                doc[f.name] = json.dumps(value, separators=(",", ":"))
            elif isinstance(value, bool):
                doc[f.name] = "1" if value else "0"
            else:
                doc[f.name] = str(value)
        return doc

    @classmethod
    def from_doc(cls, raw: Mapping[bytes | str, bytes | str]) -> JobRecord:
        doc = {_text(k): _text(v) for k, v in raw.items()}
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in doc:
                continue
            text, kind = doc[f.name], str(f.type)
            if f.name in _JSON_FIELDS:
                values[f.name] = json.loads(text)
            elif kind == "bool":
                values[f.name] = text == "1"
            elif kind == "int":
                values[f.name] = int(text)
            else:
                values[f.name] = text
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The admin API's view."""
        return {
            "job_id": self.job_id,
            "pbucket": self.pbucket,
            "dry_run": self.dry_run,
            "state": self.state,
            "started": self.started,
            "finished": self.finished or None,
            "evaluated_at": self.evaluated_at,
            "node": self.node,
            "fence": self.fence,
            "phase": self.phase,
            "last_key": self.last_key or None,
            "scanned": self.scanned,
            "expired": self.expired,
            "transitioned": self.transitioned,
            "aborted": self.aborted,
            "skipped": self.skipped,
            "bytes": self.byte_count,
            "errors": self.errors,
            "last_error": self.last_error or None,
            "error": self.error or None,
            "resumes": self.resumes,
            "rules": self.rules,
            "planned": self.planned if self.dry_run else None,
            "planned_total": self.planned_total if self.dry_run else None,
        }


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
