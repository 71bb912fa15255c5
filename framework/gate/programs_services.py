"""More per-program rules (see framework.gate.programs), for the programs that manage shared state:
git history, clusters, cloud infrastructure, containers; and crontab, rsync, redis and mongo."""

from __future__ import annotations

import re
from collections.abc import Iterator

from framework.gate.programs import Finding, _scan, _texts
from framework.gate.shell import Invocation, Word, options

_FORCE_PUSH = frozenset("-f --force --force-with-lease --force-if-includes --mirror -d --delete".split())
_GIT_VALUE = frozenset("-C -c --git-dir --work-tree --namespace --exec-path --config-env".split())


def _git(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    rest, _, _ = options(args, _GIT_VALUE)
    if not rest:
        return
    sub, sub_args = rest[0].text, rest[1:]
    flags, ops = _scan(sub_args)
    words = _texts(ops)
    if sub == "push":
        if flags & {"-n", "--dry-run"}:
            return
        force = flags & _FORCE_PUSH
        refspecs = words[1:]
        forced = [r for r in refspecs if r.startswith(("+", ":"))]
        if force or forced or any(w.dynamic for w in ops):
            branches = [r.lstrip("+").split(":")[-1] for r in refspecs]
            how = sorted(force) + forced or ["an unknown argument"]
            yield Finding(
                "rewrites_git_history",
                prog,
                f"git push {' '.join(how)}",
                {
                    "remote": words[0] if words else None,
                    "refspecs": refspecs,
                    "branches": branches,
                    "flags": sorted(force),
                },
            )
    elif sub == "reset" and "--hard" in flags:
        yield Finding("rewrites_git_history", prog, "git reset --hard discards work", {"target": words[:1]})
    elif sub == "clean" and flags & {"-f", "--force"} and not flags & {"-n", "--dry-run"}:
        yield Finding("deletes_files", prog, f"git clean {' '.join(sorted(flags))}", {"flags": sorted(flags)})
    elif sub == "branch" and ("-D" in flags or flags & {"-d", "--delete"} and flags & {"-f", "--force"}):
        yield Finding("rewrites_git_history", prog, f"git branch -D {' '.join(words)}", {"branches": words})
    elif sub in ("filter-branch", "filter-repo"):
        yield Finding("rewrites_git_history", prog, f"git {sub}", {})


_KUBE_VALUE = frozenset(
    "-n --namespace --context --cluster --user --kubeconfig -s --server --token --as "
    "--as-group --request-timeout --kube-context -v --v --profile".split()
)


def _cluster(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    rest, _, values = options(args, _KUBE_VALUE)
    verb = rest[0].text if rest else ""
    if (prog in ("kubectl", "oc") and verb == "delete") or (
        prog == "helm" and verb in ("uninstall", "delete", "del", "un")
    ):
        _, ops = _scan(rest[1:])
        namespace = values.get("-n") or values.get("--namespace")
        yield Finding(
            "deletes_cluster_resources",
            prog,
            f"{prog} {verb} {' '.join(_texts(ops))}".strip(),
            {"resources": _texts(ops), "namespace": namespace},
        )


def _infrastructure(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    flags, ops = _scan(args)
    words = _texts(ops)
    why = ""
    if prog in ("terraform", "tofu", "terragrunt"):
        verb = words[0] if words else ""
        if verb == "destroy" or (prog == "terragrunt" and "destroy" in words):
            why = f"{prog} destroy"
        elif verb == "apply" and flags & {"-destroy", "--destroy", "-d"}:
            why = f"{prog} apply -destroy"
    elif prog in ("pulumi", "cdk", "cdktf", "serverless", "sls"):
        if words[:1] in (["destroy"], ["down"], ["remove"]):
            why = f"{prog} {words[0]}"
    elif prog == "aws":
        if words[:2] == ["s3", "rb"]:
            why = "aws s3 rb"
        elif words[:2] == ["s3", "rm"] and "--recursive" in flags:
            yield Finding("deletes_files", prog, "aws s3 rm --recursive", {"targets": words[2:]})
        elif len(words) > 1 and words[1].startswith(
            ("delete-", "terminate-", "remove-", "deregister-", "destroy-")
        ):
            why = f"aws {words[0]} {words[1]}"
    elif "delete" in words:  # gcloud, az
        why = f"{prog} {' '.join(words[: words.index('delete') + 1])}"
    if why:
        yield Finding("destroys_infrastructure", prog, why, {"args": words})


_DOCKER_VALUE = frozenset(
    "-H --host -c --context --config -l --log-level -f --file -p --project-name".split()
)


def _containers(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    rest, _, _ = options(args, _DOCKER_VALUE)
    flags, ops = _scan(rest)
    words = _texts(ops)
    if prog == "docker-compose" or words[:1] == ["compose"]:
        words = words[1:] if words[:1] == ["compose"] else words
        hit = words[:1] == ["down"] and bool(flags & {"-v", "--volumes", "--rmi"})
    else:
        sub, sub2 = (words + ["", ""])[:2]
        hit = (
            "prune" in (sub, sub2)
            or (sub == "volume" and sub2 in ("rm", "remove"))
            or (
                (sub == "rm" or (sub == "container" and sub2 in ("rm", "remove")))
                and bool(flags & {"-f", "--force", "-v", "--volumes"})
            )
        )
    if hit:
        yield Finding("prunes_containers", prog, f"{prog} {' '.join(_texts(rest))}".strip(), {"args": words})


def _misc(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    flags, ops = _scan(args)
    if prog == "crontab" and "-r" in flags:
        yield Finding("deletes_files", prog, "crontab -r removes every scheduled job", {})
    elif prog == "rsync" and any(f.startswith("--delete") or f == "--remove-source-files" for f in flags):
        yield Finding(
            "deletes_files", prog, "rsync --delete removes files at the destination", {"args": _texts(ops)}
        )
    elif prog == "redis-cli":
        said = " ".join(_texts(args) + ([inv.stdin.text] if inv.stdin and not inv.stdin.dynamic else []))
        if re.search(r"\bflush(?:all|db)\b", said, re.I):
            yield Finding("drops_data", prog, "redis FLUSHALL/FLUSHDB", {})
    elif prog in ("mongo", "mongosh"):
        said = " ".join(_texts(args) + ([inv.stdin.text] if inv.stdin and not inv.stdin.dynamic else []))
        if re.search(r"dropDatabase|\.drop\(\)|deleteMany\(\s*\{\s*\}\s*\)", said):
            yield Finding("drops_data", prog, "mongo drops a database or a collection", {})
