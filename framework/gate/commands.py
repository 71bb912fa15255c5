"""What a shell command or a SQL text would destroy: the gate's classifier of guarded arguments.

`classify_shell(command)` reads the command as the shell will run it (framework.gate.shell:
quotes, escapes, `$IFS`, wrappers, nested shells, eval, base64 pipes...) and judges each program
that would run (framework.gate.judge, by the rules of framework.gate.programs); `classify_sql(text)`
judges SQL statements (framework.gate.sql). Both return a `CommandReport`: findings (kind, program,
reason, details) and `unparseable` (why some part could not be read, else None). Policies match the
kinds, which are stable names:

  deletes_files             rm -r/-f (any spelling), rm of a wildcard or unknown set, find -delete /
                            -exec rm, shred, rsync --delete, git clean -f, crontab -r, mv x /dev/null,
                            aws s3 rm --recursive, code that deletes (python -c shutil.rmtree ...)
  truncates_files           `: > f`, `> f`, `true > f` (a redirection that writes nothing), `>` over a
                            system file, truncate (except growing), cp /dev/null f
  wipes_disk                dd of=..., mkfs*, mke2fs, mkswap, wipefs -a, fdisk/sfdisk/parted/sgdisk that
                            write, blkdiscard, hdparm --security-erase, writes to a block device, ...
  fork_bomb                 a function calling itself twice, or once in the background; fork in a loop
  shuts_down                shutdown, reboot, halt, poweroff, init 0/6, systemctl poweroff|reboot|...,
                            kill 1 / kill -1, sysrq
  rewrites_git_history      git push --force / -f / --force-with-lease / +refspec / --delete / :branch /
                            --mirror, git reset --hard, git branch -D, git filter-branch; details name
                            the remote, refspecs and branches so a policy can protect some
  deletes_cluster_resources kubectl/oc delete, helm uninstall|delete
  destroys_infrastructure   terraform/tofu/terragrunt destroy, apply -destroy, pulumi destroy, cdk
                            destroy, aws/gcloud/az delete-* / terminate-* operations
  prunes_containers         docker/podman system|volume|... prune, volume rm, rm -f, compose down -v
  breaks_permissions        chmod/chown/chgrp -R on / or a top-level directory
  sql_drop, sql_truncate, sql_delete_all, sql_update_all, sql_alter_drop
                            SQL, given directly or through psql -c, mysql -e, sqlite3 db "...", sqlcmd
                            -Q, here-docs and pipes (see framework.gate.sql)
  drops_data                redis-cli FLUSHALL/FLUSHDB, mongo dropDatabase
  runs_remote_code          a shell or interpreter runs what another program prints (curl | sh,
                            bash <(curl ..), eval "$(..)", an undecodable payload | sh)
  dynamic_command           the program, or the code it runs, is in a variable the gate cannot see
                            (`$CMD -rf /`, `sh -c "$X"`), or is a glob (`/bin/r? -rf /`)
  unparseable               (CommandReport.unparseable) unbalanced quotes, over the size cap
                            (shell.MAX_CHARS), nested deeper than shell.MAX_DEPTH, SQL no dialect parses

Not flagged, by decision: rm of named files without -r/-f (`rm notes.txt`), `unlink f`, writing
real output into a file (`echo 'DROP TABLE' > notes.sql`: the gate cannot know the file existed),
running a script file (`bash deploy.sh`), SQL the text does not hold (`psql -f x.sql`, `psql -c "$Q"`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from framework.gate import sql
from framework.gate.judge import judge
from framework.gate.programs import Finding
from framework.gate.shell import read_shell

__all__ = ["KINDS", "SQL_KINDS", "CommandReport", "Finding", "classify_shell", "classify_sql"]

KINDS = tuple(
    "deletes_files truncates_files wipes_disk fork_bomb shuts_down rewrites_git_history "
    "deletes_cluster_resources destroys_infrastructure prunes_containers breaks_permissions sql_drop "
    "sql_truncate sql_delete_all sql_update_all sql_alter_drop drops_data runs_remote_code "
    "dynamic_command unparseable".split()
)
SQL_KINDS = ("sql_drop", "sql_truncate", "sql_delete_all", "sql_update_all", "sql_alter_drop")


@dataclass
class CommandReport:
    findings: list[Finding] = field(default_factory=list)
    unparseable: str | None = None

    @property
    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings} | ({"unparseable"} if self.unparseable else set())

    @property
    def flagged(self) -> bool:
        """True when the text would destroy something, or could not be read (fails closed)."""
        return bool(self.findings) or self.unparseable is not None

    def reasons(self) -> list[str]:
        out = [f"{f.kind}: {f.reason}" for f in self.findings]
        return out + ([f"unparseable: {self.unparseable}"] if self.unparseable else [])


def _report(findings: Iterable[Finding], problems: list[str]) -> CommandReport:
    unique: dict[tuple[str, str, str], Finding] = {}
    for f in findings:
        unique.setdefault((f.kind, f.program, f.reason), f)
    problem = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    return CommandReport(list(unique.values()), problem or None)


def classify_shell(command: str) -> CommandReport:
    """Findings for every program `command` would run (see the module docstring for the kinds)."""
    try:
        parsed = read_shell(command)
        problems = list(parsed.problems)
        findings = list(judge(parsed.invocations, problems))
    except Exception as e:  # a bug here must deny, not crash the gate or allow
        return CommandReport(unparseable=f"classifier error: {type(e).__name__}: {e}")
    return _report(findings, problems)


def classify_sql(text: str, dialect: str | None = None) -> CommandReport:
    """Findings for SQL text; `dialect` (sqlglot's name, e.g. "postgres") is tried first."""
    dialects = (dialect, *sql.DIALECTS) if dialect else sql.DIALECTS
    try:
        verdict = sql.classify(text, dialects)
    except Exception as e:  # as above: fail closed
        return CommandReport(unparseable=f"classifier error: {type(e).__name__}: {e}")
    findings = [Finding(i.kind, "sql", i.reason, i.details) for i in verdict.issues]
    return _report(findings, [verdict.unparseable] if verdict.unparseable else [])
