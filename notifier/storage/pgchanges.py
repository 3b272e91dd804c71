"""Which alert rows a PostgreSQL replica has still to read: the ones past the newest it read,
and the holes below it that a transaction still open may fill.

Every alert write takes its number from one sequence, but transactions commit in any order, so
a row numbered below the newest one read may still appear. A hole is watched for `settled`
seconds from the moment the replica first saw a row above it (that row's number was drawn
after the hole's, and no write commits later than `settled` seconds after drawing its
number), and not at all below a row written more than `settled` seconds ago. A read then asks
for the new rows and the watched holes, not for every row of the last `settled` seconds
again. With more than `MAX_HOLES` holes (a storm of writes in flight), reads go back to asking
for every row from the lowest possible hole up, until the holes are few again (the holes
then found are watched from that read on).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

MAX_HOLES = 10_000


class PickUp:
    def __init__(self, settled: float, clock: Callable[[], float] = time.monotonic):
        self.settled, self.clock = settled, clock
        self.top = 0  # the highest sequence number read
        self.holes: dict[int, float] = {}  # a number below `top` not read -> when first seen
        self.rescan: int | None = 1  # read every row from this number up (at first: all)

    def where(self) -> tuple[str, tuple]:
        """The next read's condition on `seq`, and its parameters."""
        if self.rescan is not None:
            return "seq >= %s", (self.rescan,)
        if not self.holes:
            return "seq > %s", (self.top,)
        listed = "{" + ",".join(map(str, self.holes)) + "}"
        return "(seq > %s OR seq = ANY(%s::bigint[]))", (self.top, listed)

    def read(self, rows: Sequence[tuple[int, bool]], asked: float) -> None:
        """What a read under `where()` returned: each row's (seq, written over `settled`
        seconds ago); `asked`: the clock before the read (its snapshot is no older)."""
        now = self.clock()
        # below a settled row, every number drawn earlier has committed or never will
        floor = max((seq for seq, settled in rows if settled), default=0)
        got = {seq for seq, _ in rows}
        old_top, self.top = self.top, max(self.top, max(got, default=0))
        if self.rescan is not None:  # every row from `rescan` up came back
            low = max(floor, self.rescan - 1)
            self.holes = {}
        else:
            for seq in got:
                self.holes.pop(seq, None)
            low = max(old_top, floor)
        missing = self.top - low - sum(1 for seq in got if seq > low)
        kept = {seq: at for seq, at in self.holes.items()
                if seq > floor and at > asked - self.settled}
        if len(kept) + missing > MAX_HOLES:
            self.rescan, self.holes = min([*kept, low + 1]), {}
            return
        self.rescan, self.holes = None, kept
        for seq in range(low + 1, self.top):
            if seq not in got:
                self.holes[seq] = now
