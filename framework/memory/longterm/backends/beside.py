"""Work a recall runs beside its connection: a vector search's part that needs no connection of
the caller's (a scan of vectors held in process memory; a query on a connection of its own) runs
in a worker thread while the caller's connection serves the lexical search (see
`Backend.begin_nearest`). Both sides spend their time outside the GIL (numpy's loops, a driver
waiting on its database), so the two overlap on two cores.

The threads are the process's own: a server that forks its workers after the parent has searched
gets new ones in each child (a child inherits the parent's pool object but none of its threads).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

WORKERS = 2
_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (process id, its threads)


def beside(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
    """`work(*args, **kwargs)` started in a worker thread of this process."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="recall-beside"))
        pool = _pool[1]
    return pool.submit(work, *args, **kwargs)
