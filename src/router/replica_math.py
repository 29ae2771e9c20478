"""Pure parts of the `replicate` policy: quorum arithmetic, the combined multipart upload id, and
which target a read should ask first (EWMA latency with an injectable clock).

Nothing here touches the network or Redis, so every rule is unit-tested directly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "LatencyBook",
    "decode_upload_id",
    "encode_upload_id",
    "preference",
    "required_acks",
    "target_tag",
]

_UPLOAD_PREFIX = "r1."


def target_tag(identity: str) -> str:
    """10 hex of blake2b(target identity): names a target in upload ids and repair entries, so
    both survive a reordered target list (the same hash `balance` uses for its upload ids)."""
    return hashlib.blake2b(identity.encode("utf-8", "surrogatepass"), digest_size=5).hexdigest()


def required_acks(write_quorum: int | None, targets: int) -> int:
    """Acknowledgements a write needs: `write_quorum`, or every target when unset."""
    if targets < 1:
        raise ValueError("a replicated PBucket needs at least one target")
    if write_quorum is None:
        return targets
    if not 1 <= write_quorum <= targets:
        raise ValueError(f"write_quorum must be 1..{targets}, got {write_quorum}")
    return write_quorum


def encode_upload_id(entries: Sequence[tuple[str, str | None]]) -> str:
    """`r1.` + base64url(JSON [[tag, vendor upload id or null], ...]): every target's own upload
    id travels inside the one id the client holds, so no Redis lookup is needed to route a part.
    A null id marks a target whose CreateMultipartUpload failed (it is repaired at completion).
    JSON keeps any character a vendor puts in its ids; the encoding is deterministic."""
    doc = json.dumps([[t, v] for t, v in entries], separators=(",", ":"))
    raw = base64.urlsafe_b64encode(doc.encode("utf-8")).decode("ascii").rstrip("=")
    return _UPLOAD_PREFIX + raw


def decode_upload_id(upload_id: str) -> list[tuple[str, str | None]] | None:
    """The entries of an id from `encode_upload_id`, or None when it is not one."""
    if not upload_id.startswith(_UPLOAD_PREFIX):
        return None
    raw = upload_id[len(_UPLOAD_PREFIX) :]
    try:
        doc = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    if not isinstance(doc, list) or not doc:
        return None
    out: list[tuple[str, str | None]] = []
    for item in doc:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not isinstance(item[0], str)
            or not (item[1] is None or (isinstance(item[1], str) and item[1]))
        ):
            return None
        out.append((item[0], item[1]))
    return out


@dataclass(slots=True)
class _Sample:
    ewma: float
    at: float


class LatencyBook:
    """Per-target EWMA of read latency, measured on real requests.

    A failure counts as a slow sample (`penalty` seconds) so a failing target drops to the back
    at once. Without new samples a value decays towards zero (half-life `half_life`), so a
    target that was slow or failing a while ago is tried again and re-measured instead of being
    avoided forever; a target never measured reads as 0 and is therefore tried early.
    """

    def __init__(
        self,
        *,
        alpha: float = 0.3,
        penalty: float = 5.0,
        half_life: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < alpha <= 1 or penalty <= 0 or half_life <= 0:
            raise ValueError("need 0 < alpha <= 1, penalty > 0, half_life > 0")
        self.alpha = alpha
        self.penalty = penalty
        self.half_life = half_life
        self.clock = clock
        self._samples: dict[str, _Sample] = {}

    def now(self) -> float:
        return self.clock()

    def estimate(self, target: str) -> float:
        sample = self._samples.get(target)
        if sample is None:
            return 0.0
        age = max(0.0, self.clock() - sample.at)
        return sample.ewma * math.pow(0.5, age / self.half_life)

    def observe(self, target: str, seconds: float) -> None:
        seconds = max(0.0, seconds)
        sample = self._samples.get(target)
        now = self.clock()
        if sample is None:
            self._samples[target] = _Sample(seconds, now)
            return
        current = self.estimate(target)
        sample.ewma = current + self.alpha * (seconds - current)
        sample.at = now

    def failed(self, target: str) -> None:
        """A call that got no usable answer: a sample at least `penalty` seconds long."""
        self.observe(target, max(self.penalty, 2 * self.estimate(target)))


def preference(
    latencies: Sequence[float],
    *,
    down: Sequence[bool],
    near: Sequence[bool],
) -> list[int]:
    """Target indexes in the order a read asks them: targets whose breaker is open last, then
    targets in the node's region first, then lowest latency, then target order."""
    return sorted(
        range(len(latencies)),
        key=lambda i: (down[i], not near[i], latencies[i], i),
    )
