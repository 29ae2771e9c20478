"""Pure parts of `replicate`: quorum arithmetic, the combined upload id, read preference."""

from __future__ import annotations

import pytest

from router.replica_math import (
    LatencyBook,
    decode_upload_id,
    encode_upload_id,
    preference,
    required_acks,
    target_tag,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("quorum", "targets", "need"), [(None, 3, 3), (2, 3, 2), (1, 3, 1), (3, 3, 3), (None, 1, 1)]
)
def test_required_acks__default_is_every_target(
    quorum: int | None, targets: int, need: int
) -> None:
    assert required_acks(quorum, targets) == need


@pytest.mark.parametrize(("quorum", "targets"), [(0, 3), (4, 3), (-1, 2), (1, 0)])
def test_required_acks__out_of_range_is_refused(quorum: int, targets: int) -> None:
    with pytest.raises(ValueError):
        required_acks(quorum, targets)


def test_upload_id__round_trips_any_vendor_id_and_failed_targets() -> None:
    entries = [
        (target_tag("a"), "2~x/y+z=="),
        (target_tag("b"), None),
        (target_tag("c"), "ünï.cöde\"'<>"),
    ]
    upload_id = encode_upload_id(entries)
    assert upload_id.startswith("r1.")
    assert all(c.isalnum() or c in "-_." for c in upload_id)  # safe in a query string
    assert decode_upload_id(upload_id) == entries
    assert encode_upload_id(entries) == upload_id  # deterministic


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-ours",
        "r1.",
        "r1.!!!",
        "r1." + "W10",  # []
        encode_upload_id([("t", "v")])[:-3],  # truncated
        "r2." + encode_upload_id([("t", "v")])[3:],
    ],
)
def test_upload_id__foreign_or_damaged_ids_decode_to_none(bad: str) -> None:
    assert decode_upload_id(bad) is None


def test_target_tag__stable_and_distinct() -> None:
    # Pinned: a change would orphan every open upload and queued repair.
    assert target_tag("5:weed-16:bucket0:") == target_tag("5:weed-16:bucket0:")
    assert len(target_tag("x")) == 10
    assert target_tag("a") != target_tag("b")


def test_latency_book__ewma_follows_samples() -> None:
    clock = FakeClock()
    book = LatencyBook(alpha=0.5, clock=clock)
    assert book.estimate("a") == 0.0  # never measured: tried early
    book.observe("a", 0.100)
    assert book.estimate("a") == pytest.approx(0.100)
    book.observe("a", 0.200)
    assert book.estimate("a") == pytest.approx(0.150)


def test_latency_book__failure_sends_a_target_back_then_it_decays() -> None:
    clock = FakeClock()
    book = LatencyBook(penalty=5.0, half_life=10.0, clock=clock)
    book.observe("a", 0.010)
    book.observe("b", 0.020)
    book.failed("a")
    assert book.estimate("a") > book.estimate("b")
    before = book.estimate("a")
    clock.now += 10.0  # one half-life without samples
    assert book.estimate("a") == pytest.approx(before / 2)
    clock.now += 100.0  # long idle: back in front of b's old (also decayed) value? both ~0
    assert book.estimate("a") < 0.01


def test_preference__open_breakers_last_region_first_then_latency() -> None:
    lat = [0.05, 0.01, 0.02, 0.03]
    assert preference(lat, down=[False] * 4, near=[False] * 4) == [1, 2, 3, 0]
    assert preference(lat, down=[False, True, False, False], near=[False] * 4) == [2, 3, 0, 1]
    assert preference(lat, down=[False] * 4, near=[True, False, False, True]) == [3, 0, 1, 2]
    # An open breaker beats region affinity: a near target that is down is asked last.
    assert preference(lat, down=[True, False, False, False], near=[True, False, False, False]) == [
        1,
        2,
        3,
        0,
    ]
    # Ties keep target order.
    assert preference([0.0] * 3, down=[False] * 3, near=[False] * 3) == [0, 1, 2]


def test_preference__with_a_fake_clock_a_slow_target_is_retried_after_it_decays() -> None:
    clock = FakeClock()
    book = LatencyBook(half_life=5.0, clock=clock)
    book.observe("fast", 0.010)
    book.failed("slow")
    order = lambda: preference(  # noqa: E731
        [book.estimate("slow"), book.estimate("fast")], down=[False, False], near=[False, False]
    )
    assert order() == [1, 0]
    clock.now += 60.0
    book.observe("fast", 0.010)  # fast keeps being measured; slow only decays
    assert order() == [0, 1]
