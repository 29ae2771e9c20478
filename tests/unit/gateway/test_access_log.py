"""The access log's own formatter writes exactly what `logging` would, in order."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from collections.abc import Iterator

import pytest

from gateway import access_log

_OURS: list[logging.Handler] = []
LAYOUT = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO (worker=1 )?pcache\.access (?P<msg>.*)$"
)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.setLevel(logging.INFO)
    _OURS.append(handler)
    try:
        yield out
    finally:
        _OURS.clear()
        access_log.flush()
        access_log.configure_off()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def _sole_handler() -> None:
    # As `pcache serve` runs: one root handler (pytest's capture handlers set aside).
    logging.getLogger().handlers[:] = _OURS


def test_lines_match_logging_layout_and_keep_order_with_other_records(
    stream: io.StringIO,
) -> None:
    _sole_handler()
    access_log.configure()

    async def requests() -> None:
        access_log.record("A1", "GetObject", "pb", 200, 5, "hit", time.perf_counter(), "1.2.3.4")
        access_log.record("A2", "PutObject", "pb", 403, 0, "-", time.perf_counter(), None)
        assert stream.getvalue() == ""  # buffered until the loop pass ends ...
        logging.getLogger("pcache.s3").warning("between")  # ... or another record is written
        access_log.record("A3", "HeadObject", "pb", 404, 0, "-", time.perf_counter(), None)
        # Callbacks run in order: once this one has, the flush scheduled before it has too.
        passed = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(passed.set_result, None)
        await passed
        assert "request_id=A3" in stream.getvalue()

    asyncio.run(requests())
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    first = LAYOUT.match(lines[0])
    assert first is not None
    assert re.fullmatch(
        r"request_id=A1 op=GetObject pbucket=pb status=200 bytes=5 cache=hit "
        r"latency_ms=\d+\.\d remote=1\.2\.3\.4",
        first["msg"],
    )
    assert "request_id=A2" in lines[1] and lines[1].endswith("remote=-")
    assert lines[2].endswith("WARNING pcache.s3 between")
    assert "request_id=A3" in lines[3]


def test_the_handlers_own_layout_is_followed(stream: io.StringIO) -> None:
    """A worker's layout names its index: the fast lines carry it as logging would."""
    _sole_handler()
    _OURS[0].setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s worker=1 %(name)s %(message)s")
    )
    access_log.configure()
    access_log.write("request_id=W")  # no running loop: written at once
    logging.getLogger("pcache.access").warning("request_id=X")  # through logging itself
    lines = stream.getvalue().splitlines()
    fast, slow = LAYOUT.match(lines[0]), re.match(r"^\S+ \S+ WARNING (worker=1 )", lines[1])
    assert fast is not None and fast.group(1) == "worker=1 " and fast["msg"] == "request_id=W"
    assert slow is not None


def test_a_layout_not_led_by_the_time_stays_with_logging(stream: io.StringIO) -> None:
    _sole_handler()
    _OURS[0].setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    access_log.configure()

    async def one() -> None:
        access_log.write("request_id=L")
        assert stream.getvalue() == "INFO pcache.access request_id=L\n"  # not buffered

    asyncio.run(one())


def test_an_added_handler_gets_every_line_through_logging(stream: io.StringIO) -> None:
    _sole_handler()
    access_log.configure()
    seen: list[logging.LogRecord] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    catcher = Catch()
    access_log.logger.addHandler(catcher)
    try:
        access_log.write("request_id=X")
    finally:
        access_log.logger.removeHandler(catcher)
    assert [r.getMessage() for r in seen] == ["request_id=X"]
    assert "request_id=X" in stream.getvalue()  # propagated to the root handler as well


def test_nothing_is_written_below_info(stream: io.StringIO) -> None:
    _sole_handler()
    access_log.configure()
    logging.getLogger().setLevel(logging.WARNING)
    access_log.write("request_id=quiet")
    access_log.flush()
    assert stream.getvalue() == ""
