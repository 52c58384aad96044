"""Process-wide tuning done once a process has started."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Move everything allocated at start-up (modules, the app, the model, the pool) out of
    the cyclic garbage collector's reach.

    Those objects live as long as the process, yet every full collection walked them all,
    which showed in the API's tail latency (figures in docs/performance.md). Collect
    first, so no garbage is frozen with them.
    """
    gc.collect()
    gc.freeze()
