"""The history of a procedure file, from git: the commits behind each version."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from framework.errors import HistoryUnavailable


@dataclass(frozen=True)
class Commit:
    sha: str
    date: str
    author: str
    subject: str
    version: int | None  # the `version:` field of the file in that commit, when readable


def file_history(path: Path) -> list[Commit]:
    """The commits that touched `path` (following renames), newest first."""
    git = shutil.which("git")
    if git is None:
        raise HistoryUnavailable("git is not installed: no history for procedure files")
    folder = path.resolve().parent

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([git, "-C", str(folder), *args], capture_output=True, text=True, timeout=30)

    inside = run("rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise HistoryUnavailable(
            f"{folder} is not in a git repository, so {path.name} has no history; its versions are "
            "only what its version and changelog fields say (git init and commit the folder to keep one)"
        )
    log = run(
        "log",
        "--follow",
        "--name-only",
        "--date=short",
        "--format=%x1e%H%x1f%ad%x1f%an%x1f%s",
        "--",
        path.name,
    )
    if log.returncode != 0:
        raise HistoryUnavailable(f"git log failed for {path}: {log.stderr.strip()}")
    commits = []
    for record in log.stdout.split("\x1e")[1:]:
        header, _, names = record.partition("\n")
        sha, date, author, subject = header.split("\x1f", 3)
        touched = next((n for n in names.split("\n") if n.strip()), None)
        commits.append(Commit(sha, date, author, subject, _version_at(run, sha, touched)))
    return commits


def _version_at(run: Any, sha: str, repo_path: str | None) -> int | None:
    if repo_path is None:
        return None
    shown = run("show", f"{sha}:{repo_path}")
    try:
        data = yaml.safe_load(shown.stdout) if shown.returncode == 0 else None
    except yaml.YAMLError:
        return None
    version = data.get("version", 1) if isinstance(data, dict) else None
    return version if isinstance(version, int) else None
