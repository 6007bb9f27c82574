"""The process the crash test kills: `python -m tests.crash.child <home> <delivery-id>`.

It prints `ready` once imported and opened, then takes the delivery through `process_delivery`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gongyu.delivery.way import process_delivery
from gongyu.ground.settings import Settings
from gongyu.platform import Platform


def main(home: str, delivery_id: str) -> None:
    """Process one delivery of the workspace at `home`."""
    platform = Platform(Settings(home=Path(home)))
    platform.contract(platform.deliveries.get(delivery_id).dataset_id)  # load before the clock
    print("ready", flush=True)
    process_delivery(platform, delivery_id)
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
