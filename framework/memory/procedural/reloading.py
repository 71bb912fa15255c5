"""Hot reload: the procedures of two folders, re-read only when a file changed; and the start-up
check (`require_loadable`) that refuses to start an agent with a skill or policy that does not load."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from framework.errors import DefinitionError
from framework.memory.procedural.loading import Procedures, assemble, files_in, folders, read_folders
from framework.memory.procedural.schema import Policy, Skill

RACY_NS = 2_000_000_000  # file systems keep mtimes to 1 ns at best, 2 s at worst (FAT)


class ProceduralMemory:
    """The skills and policies of two folders, reloaded when a file changes.

    `current()` costs one directory listing and one stat per file: it is called every turn.
    When an edit breaks a file that loaded before, the last valid version of that file stays in
    force (a policy must not vanish because of a typo) and the error says so.
    """

    def __init__(self, skills_dir: Path | None, policies_dir: Path | None) -> None:
        self.skills_dir, self.policies_dir = skills_dir, policies_dir
        self.loads = 0  # how many times the files were (re)read
        self._lock = threading.Lock()
        self._stamp: tuple[object, ...] | None = None
        self._procedures = Procedures()
        self._last_good: dict[Path, Skill | Policy] = {}

    def require_loadable(self) -> Procedures:
        """The procedures now, or a DefinitionError listing every blocking problem, one per line
        (`path:line: field X: what is wrong`, with the allowed values or the key meant).

        Called when an agent starts (MemoryManager): a policy that does not load at start-up has
        no earlier version to fall back on, so starting anyway would run its tools unchecked. Later
        edits are hot-reloaded as before: a file broken then keeps its last valid version."""
        procedures = self.current()
        problems = procedures.blocking
        if not problems:
            return procedures
        given = [f"--{k} {d}" for k, d in (("skills", self.skills_dir), ("policies", self.policies_dir)) if d]
        check = " ".join(["framework skills list", *given])
        if len(problems) == 1:
            raise DefinitionError(
                f"{problems[0]} — the agent does not start until this is fixed (check with: {check})"
            )
        listed = "\n".join(f"  {p}" for p in problems)
        raise DefinitionError(
            f"{len(problems)} skill/policy problems; the agent does not start until they are fixed "
            f"(check with: {check}):\n{listed}"
        )

    def current(self) -> Procedures:
        stamp, newest = self._fingerprint()
        with self._lock:
            if stamp != self._stamp:
                self._reload()
                # A file modified within the last RACY_NS may be modified again within the same
                # clock tick, keeping its mtime and size: until it is older, always re-read.
                self._stamp = None if time.time_ns() - newest < RACY_NS else stamp
            return self._procedures

    def _fingerprint(self) -> tuple[tuple[object, ...], int]:
        marks: list[object] = []
        newest = 0
        for folder, _ in folders(self.skills_dir, self.policies_dir):
            marks.append(str(folder))
            for path in files_in(folder) if folder.is_dir() else []:
                try:
                    st = path.stat()
                except OSError:  # removed between listing and stat: the next call sees it gone
                    continue
                marks.append((path.name, st.st_mtime_ns, st.st_size, st.st_ino))
                newest = max(newest, st.st_mtime_ns)
        return tuple(marks), newest

    def _reload(self) -> None:
        files, errors = read_folders(self.skills_dir, self.policies_dir)
        for f in files:
            previous = self._last_good.get(f.path)
            if f.item is None and previous is not None:
                f.item, f.doc = previous, None  # the lines of the broken file are not the item's
                f.errors.append(
                    f"{f.path}: still using {previous.label} as loaded before this edit, until the "
                    "file is fixed"
                )
        self._last_good = {f.path: f.item for f in files if f.item is not None}
        self._procedures = assemble(files, errors)
        self.loads += 1
