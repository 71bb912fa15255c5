"""The background worker that applies queued memory work after the answers.

A few threads take users off a queue; one user's jobs are applied by one thread at a time, oldest
first (framework.memory.jobs claims them in the store, so this holds across processes too). Each
job's result is handed to the Future its turn waits on. `settle(user)` waits (bounded) until the
user's work queued in this process is applied: a user's next turn, their recall and their export
see what the previous turn taught. Work that is queued but not applied when the process stops is
kept in the store and applied on the next start (`MemoryManager.start_work` asks the store).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from framework.errors import FrameworkError

log = logging.getLogger("framework.memory")

RunUser = Callable[[str], dict[int, Any]]  # applies a user's waiting jobs: job id -> result


class NotApplied(FrameworkError):
    """A job that was queued but not applied in this run (an earlier job of its user failed and
    is kept to retry first, or the worker stopped): it stays in the store."""


class MemoryWorker:
    def __init__(self, run_user: RunUser, threads: int = 4) -> None:
        self.run_user = run_user
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._cond = threading.Condition()
        self._waiting: dict[str, int] = defaultdict(int)  # user -> triggers not yet handled
        self._futures: dict[int, tuple[str, Future[Any]]] = {}
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._threads = [
            threading.Thread(target=self._serve, name=f"framework-memory-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, user_id: str, job_id: int | None = None) -> Future[Any]:
        """Apply the user's waiting jobs soon; the Future resolves with `job_id`'s result."""
        future: Future[Any] = Future()
        with self._cond:
            if job_id is not None:
                self._futures[job_id] = (user_id, future)
            self._waiting[user_id] += 1
        self._queue.put(user_id)
        if job_id is None:
            future.set_result(None)
        return future

    def settle(self, user_id: str, timeout: float | None) -> bool:
        """Wait until the user's queued work is applied; False when `timeout` ran out first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._waiting.get(user_id), timeout)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until all queued work is applied."""
        with self._cond:
            return self._cond.wait_for(lambda: not any(self._waiting.values()), timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Apply what is queued (up to `timeout`), then stop. What is left stays in the store."""
        done = self.flush(timeout)
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=0 if not done else timeout)
        with self._cond:
            for _user, future in self._futures.values():
                if not future.done():
                    future.set_exception(NotApplied("memory work kept in the store: the worker stopped"))
            self._futures.clear()
        return done

    def _serve(self) -> None:
        while True:
            user_id = self._queue.get()
            if user_id is None:
                return
            results: dict[int, Any] = {}
            with self._locks[user_id]:
                try:
                    results = self.run_user(user_id)
                except BaseException as exc:  # a bug must not stop the worker: its turns hear of it
                    log.exception("memory work for a user failed")
                    results = {-1: exc}
            self._resolve(user_id, results)

    def _resolve(self, user_id: str, results: dict[int, Any]) -> None:
        crash = results.pop(-1, None)
        with self._cond:
            for job_id, result in results.items():
                _, future = self._futures.pop(job_id, (None, None))
                if future is not None:
                    (future.set_exception if isinstance(result, BaseException) else future.set_result)(result)
            self._waiting[user_id] -= 1
            if not self._waiting[user_id]:
                del self._waiting[user_id]
                for job_id, (owner, future) in list(self._futures.items()):
                    if owner == user_id:  # its turn's work was not reached: kept for later
                        del self._futures[job_id]
                        future.set_exception(
                            crash
                            if isinstance(crash, BaseException)
                            else NotApplied(
                                "memory work kept in the store to retry: an earlier job of this user failed"
                            )
                        )
            self._cond.notify_all()
