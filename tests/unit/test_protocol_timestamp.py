"""utc_timestamp formats each second once and the milliseconds by hand: it must say what datetime says."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from services.protocol.events import utc_timestamp


def by_datetime(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def test_the_same_text_as_datetime_including_rounding_at_the_edges() -> None:
    chooser = random.Random(12)
    moments = [chooser.uniform(0, 4e9) for _ in range(20_000)]
    moments += [int(m) + fraction for m in moments[:2000] for fraction in (0.0, 0.9995, 0.9999995, 0.0005)]
    moments += [1795527514.0, 1795527514.999, 1795527514.9999996, 0.0]
    assert [utc_timestamp(m) for m in moments] == [by_datetime(m) for m in moments]


def test_now_by_default() -> None:
    before = by_datetime(datetime.now(UTC).timestamp())[:19]
    assert utc_timestamp()[:19] >= before and utc_timestamp().endswith("Z") and len(utc_timestamp()) == 24
