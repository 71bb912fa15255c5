"""`framework bench ...`: benchmarks that print figures (never timed tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.group()
def bench() -> None:
    """Measure the runtime."""


@bench.command()
@click.option("--memories", default=1000, show_default=True, help="memories stored for the user first")
@click.option("--turns", default=300, show_default=True, help="turns measured")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def overhead(memories: int, turns: int, as_json: bool) -> None:
    """The runtime's own cost per turn (ScriptedModel, query embedding excluded), and --help time."""
    from framework.bench.overhead import measure

    result = measure(memories=memories, turns=turns)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"turn overhead with {memories} memories over {turns} turns "
        f"(ScriptedModel; query embedding excluded):"
    )
    r = result
    click.echo(
        f"  before the answer request leaves  p50 {r['before_request_p50_ms']:.2f} ms   "
        f"p95 {r['before_request_p95_ms']:.2f} ms   (target p50 <= 5 ms)"
    )
    click.echo(
        f"  until send returns                p50 {r['turn_overhead_p50_ms']:.2f} ms   "
        f"p95 {r['turn_overhead_p95_ms']:.2f} ms"
    )
    click.echo(
        f"  memory work after the answer      p50 {r['memory_work_p50_ms']:.2f} ms   "
        f"p95 {r['memory_work_p95_ms']:.2f} ms   (background)"
    )
    for step, ms in result["step_p50_ms"].items():
        click.echo(f"    {step:<11} p50 {ms:.2f} ms")
    click.echo(f"  `framework --help`: {result['help_s']:.3f} s (median of 5)")


@bench.command()
@click.option(
    "--locomo",
    "path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a LoCoMo-format JSON file (e.g. locomo10.json); read in place, never copied",
)
@click.option("--conversations", default=None, help="comma-separated sample ids (default: all)")
@click.option(
    "--embedder",
    type=click.Choice(["local", "hash"]),
    default="local",
    show_default=True,
    help="local = all-MiniLM-L6-v2 offline; hash = the deterministic test embedder",
)
@click.option(
    "--database-url",
    default=None,
    help="store the turns in this empty PostgreSQL database (postgresql://...), not a temporary SQLite file",
)
@click.option(
    "--cv",
    is_flag=True,
    help="leave-one-conversation-out cross-validation: tune the rank weights on all but one "
    "conversation, score the one held out, for each in turn (SQLite only; several minutes)",
)
@click.option(
    "--rewrite-model",
    default=None,
    help="widen each question with this litellm model's search hints first (the agents' optional "
    "query_rewrite: framework.memory.rewrite); one LLM call per question",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def retrieval(
    path: Path,
    conversations: str | None,
    embedder: str,
    database_url: str | None,
    cv: bool,
    rewrite_model: str | None,
    as_json: bool,
) -> None:
    """Turn-level recall on LoCoMo: each turn a memory, each question (categories 1-4) a recall
    query through the store's own hybrid search; any@k and all@k for k = 1, 5, 10. No LLM unless
    --rewrite-model. With --cv, the cross-validated figure: what tuning gives on a conversation it
    has not seen."""
    from framework.bench.retrieval import measure
    from framework.bench.tuning import cross_validate
    from framework.config import load_settings
    from framework.errors import FrameworkError
    from framework.memory.rewrite import QueryRewriter, rewriting_model

    if cv and database_url:
        raise click.UsageError("--cv runs on temporary SQLite stores of its own: leave out --database-url")
    only = {c.strip() for c in conversations.split(",") if c.strip()} if conversations else None
    try:
        rewriter = QueryRewriter(rewriting_model(rewrite_model, load_settings())) if rewrite_model else None
        result = (
            cross_validate(path, only, embedder, rewriter)
            if cv
            else measure(path, only, embedder, database_url, rewriter)
        )
    except FrameworkError as exc:
        raise click.ClickException(str(exc)) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"{path}: not a LoCoMo-format file or bad selection: {exc}") from exc
    if as_json:
        click.echo(json.dumps(result))
        return
    if cv:
        _print_cross_validation(result)
        _print_rewrites(result)
        return
    click.echo(
        f"LoCoMo turn-level recall: {result['questions']} questions scored, {result['skipped']} skipped "
        f"(no usable evidence), {result['evidence_dropped']} evidence ids dropped; "
        f"{result['memories']} memories in {len(result['conversations'])} conversations; "
        f"embedder {result['embedder']}"
    )
    _print_figures(result)
    click.echo(f"  recall p50 {result['recall_p50_ms']:.2f} ms; {result['seconds']:.1f} s in all")
    _print_rewrites(result)


def _print_rewrites(result: dict[str, Any]) -> None:
    r = result.get("rewrite")
    if r:
        click.echo(
            f"  query rewrite: {r['questions']} questions, {r['failed']} failed"
            + (f" (first: {r['first_failure']})" if r["first_failure"] else "")
            + f"; {r['prompt_tokens']} prompt + {r['completion_tokens']} completion tokens; "
            f"p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms"
        )


def _print_figures(result: dict[str, Any]) -> None:
    columns = ["any@1", "any@5", "any@10", "all@1", "all@5", "all@10"]
    click.echo(f"  {'':<12} {'n':>4}  " + "  ".join(f"{c:>6}" for c in columns))
    rows = [("overall", result["overall"], result["questions"])] + [
        (name, figures, result["by_category_questions"][name])
        for name, figures in result["by_category"].items()
    ]
    for name, figures, n in rows:
        click.echo(f"  {name:<12} {n:>4}  " + "  ".join(f"{figures[c]:>6.3f}" for c in columns))


def _print_cross_validation(result: dict[str, Any]) -> None:
    conversations = result["conversations"]
    click.echo(
        f"LoCoMo turn-level recall, leave-one-conversation-out over {len(conversations)} conversations "
        f"({', '.join(conversations)}); embedder {result['embedder']}"
    )
    click.echo("cross-validated (each conversation scored with weights tuned on the others):")
    _print_figures(result["cross_validated"])
    click.echo("folds:")
    for fold in result["folds"]:
        figures = fold["held_out_figures"]
        chosen = ", ".join(f"{k}={v:g}" for k, v in fold["weights"].items())
        click.echo(
            f"  {fold['held_out']:<12} any@5 {figures['any@5']:.3f} any@10 {figures['any@10']:.3f}  "
            f"tuned on the others: {chosen}"
        )
    majority = ", ".join(
        f"{k}={v:g}" if v is not None else f"{k}: no majority" for k, v in result["majority_weights"].items()
    )
    click.echo(f"chosen by most folds: {majority}")
    differ = result["defaults_differ_from_majority"]
    click.echo(
        "shipped defaults: "
        + (
            "the same"
            if not differ
            else "differ in " + ", ".join(f"{k} (shipped {a:g}, folds {b:g})" for k, (a, b) in differ.items())
        )
    )
    click.echo("shipped defaults on the same conversations (in-sample, not a measure of generalisation):")
    _print_figures(result["defaults_in_sample"])
    click.echo(f"  {result['assignments_asked']} weight assignments asked; {result['seconds']:.1f} s in all")


@bench.command()
@click.option("--model", required=True, help="the agent's model: a litellm model string (openai/gpt-4o-mini)")
@click.option(
    "--dataset",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a LoCoMo-format JSON file (e.g. locomo10.json); read in place, never copied",
)
@click.option("--judge-model", default=None, help="the judge's model (default: --model)")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="the first N questions only")
@click.option("--resume", is_flag=True, help="continue --out: skip what it already holds")
@click.option(
    "--out",
    default="locomo-qa.jsonl",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="one JSON line per question; the run's memory store goes in <out>.memory/",
)
@click.option("--conversations", default=None, help="comma-separated sample ids (default: all)")
@click.option("--chunk", default=6, show_default=True, type=click.IntRange(min=1), help="turns per extract")
@click.option("--embedder", default=None, help="the agent's embedder (default: the settings')")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def qa(
    model: str,
    dataset: Path,
    judge_model: str | None,
    limit: int | None,
    resume: bool,
    out: Path,
    conversations: str | None,
    chunk: int,
    embedder: str | None,
    as_json: bool,
) -> None:
    """End-to-end LoCoMo QA with a real model: memory written by the agent's own pipeline, each
    question answered by the agent, graded by an LLM judge (prompts/qa_judge.j2); J, F1, BLEU-1
    by category, calls, tokens, latency and cost. See framework/bench/qa.py."""
    from framework.bench.qa import report, run
    from framework.errors import FrameworkError

    only = {c.strip() for c in conversations.split(",") if c.strip()} if conversations else None
    try:
        result = run(
            dataset,
            model,
            out,
            judge_model=judge_model,
            limit=limit,
            resume=resume,
            conversations=only,
            chunk=chunk,
            embedder=embedder,
            echo=lambda line: click.echo(line, err=True),
        )
    except (ValueError, FrameworkError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result))
        return
    for line in report(result):
        click.echo(line)


@bench.command()
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def governance(as_json: bool) -> None:
    """LLM calls and tokens spent on memory operations over a scripted 50-turn conversation."""
    from framework.bench.governance import measure

    result = measure()
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{result['turns']} turns ({result['trivial_turns']} trivial), ScriptedModel, metered tokens:")
    click.echo(
        f"  memory-op calls per non-trivial turn {result['calls_per_nontrivial_turn']}, "
        f"per trivial turn {result['calls_per_trivial_turn']}, tokens per turn {result['tokens_per_turn']}"
    )
    click.echo(
        f"  written {result['written']}, reinforced {result['reinforced']}, superseded "
        f"{result['superseded']}, forgotten {result['forgotten']}"
    )
    click.echo("  rejected: " + ", ".join(f"{k} {v}" for k, v in result["rejected"].items()))
    for error in result["errors"]:
        click.echo(f"  error: {error}")


@bench.command()
@click.option(
    "--memories",
    default="10000,100000",
    show_default=True,
    help="comma-separated store sizes, each measured in a fresh temporary store",
)
@click.option("--users", default=1, show_default=True, help="users the memories are spread over")
@click.option("--queries", default=200, show_default=True, help="recall queries timed per size")
@click.option(
    "--embedder",
    type=click.Choice(["hash", "local"]),
    default="hash",
    show_default=True,
    help="what times the query embedding (stored vectors are precomputed random unit vectors)",
)
@click.option(
    "--database-url",
    default=None,
    help="measure in this empty PostgreSQL database (postgresql://...) instead of a temporary SQLite file",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def scale(
    memories: str, users: int, queries: int, embedder: str, database_url: str | None, as_json: bool
) -> None:
    """Ingest throughput (embedding excluded), recall p50/p95, size on disk and peak RSS of the
    long-term store with N memories over U users."""
    from framework.bench.scale import measure
    from framework.errors import FrameworkError

    try:
        sizes = [int(n.replace("_", "")) for n in memories.split(",") if n.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"{memories!r}: expected sizes like 10000,100000") from exc
    if not sizes or min(sizes) < 1 or users < 1 or queries < 2:
        raise click.BadParameter("sizes and --users must be at least 1, --queries at least 2")
    try:
        result = measure(sizes, users, embedder, queries, database_url)
    except FrameworkError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"long-term store ({result['database']}) at scale over {users} user(s); "
        f"query embedder {result['embedder']}:"
    )
    click.echo(
        f"  {'memories':>10} {'ingest/s':>10} {'index s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'ANN r@10':>8} {'embed ms':>9} {'db MB':>8} {'RSS MB':>8}"
    )
    for r in result["results"]:
        click.echo(
            f"  {r['memories']:>10} {r['ingest_per_s']:>10.0f} {r['index_build_s']:>8.1f} "
            f"{r['recall_p50_ms']:>8.2f} {r['recall_p95_ms']:>8.2f} {r['ann_recall_at_10']:>8.3f} "
            f"{r['query_embed_ms']:>9.3f} {r['db_bytes'] / 1e6:>8.1f} {r['peak_rss_mb']:>8.1f}"
        )


def _show(title: str, result: dict[str, object], indent: int = 0) -> None:
    """A result as indented `name: value` lines (nested figures under their name)."""
    if title:
        click.echo(title)
    for name, value in result.items():
        if isinstance(value, dict):
            click.echo(f"{'  ' * (indent + 1)}{name}:")
            _show("", value, indent + 1)
        elif isinstance(value, list) and value and not isinstance(value[0], int | float):
            click.echo(f"{'  ' * (indent + 1)}{name}: {len(value)}")
            for item in value[:10]:
                click.echo(f"{'  ' * (indent + 2)}- {item}")
        else:
            click.echo(f"{'  ' * (indent + 1)}{name}: {value}")


@bench.command()
@click.option("--runs", default=20, show_default=True, help="timed classifications of each 1 MB argument")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def gate(runs: int, as_json: bool) -> None:
    """The policy gate's command classifier on its public corpus (framework/gate/corpus.yaml):
    destructive spellings stopped, benign look-alikes allowed, errors, and the p95 time to judge
    a 1 MB argument."""
    from framework.bench.gate import measure

    result = measure(runs=runs)
    if as_json:
        click.echo(json.dumps(result))
        return
    _show("policy gate: command classification on the public corpus", result)


@bench.command()
@click.option("--runs", default=3, show_default=True, help="timed scans of a 1 MB message")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def privacy(runs: int, as_json: bool) -> None:
    """Secrets and personal data on the public corpus (framework/bench/data/privacy_corpus.yaml):
    stored / tried by category and by mode (verbatim, paraphrased, split across turns, split
    across memories, said earlier), benign look-alikes rejected, and the scan time of 1 MB."""
    from framework.bench.privacy import measure

    result = measure(runs=runs)
    if as_json:
        click.echo(json.dumps(result))
        return
    _show("privacy: detection on the public corpus", result)


@bench.command()
@click.option("--processes", default=8, show_default=True, help="worker processes on one SQLite store")
@click.option("--seconds", default=60.0, show_default=True, help="how long each worker runs turns")
@click.option("--users", default=12, show_default=True, help="distinct users the workers talk as")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def concurrency(processes: int, seconds: float, users: int, as_json: bool) -> None:
    """Many processes, one SQLite store: real turns (ScriptedModel, hash embedder) from N processes
    for S seconds; failed turns, lost writes, StoreBusy and p50/p95 per operation."""
    from framework.bench.concurrency import measure

    result = measure(processes=processes, seconds=seconds, users=users)
    if as_json:
        click.echo(json.dumps(result))
        return
    _show(f"{processes} processes x {seconds:g} s on one SQLite store", result)


@bench.command()
@click.option("--latency-ms", default=300.0, show_default=True, help="the model server's time to first byte")
@click.option("--token-ms", default=20.0, show_default=True, help="the pause between streamed words")
@click.option("--pause-ms", default=500.0, show_default=True, help="the user's pause before each next line")
@click.option("--rounds", default=3, show_default=True, help="times the conversation is played")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def latency(latency_ms: float, token_ms: float, pause_ms: float, rounds: int, as_json: bool) -> None:
    """Time to the first word and to the memory work, against a bare streaming litellm loop."""
    from framework.bench.latency import measure

    r = measure(latency_ms=latency_ms, rounds=rounds, token_ms=token_ms, pause_ms=pause_ms)
    if as_json:
        click.echo(json.dumps(r))
        return
    click.echo(
        f"a fake model server on loopback: first byte after {latency_ms:g} ms, a word every {token_ms:g} ms; "
        f"{rounds} rounds, {pause_ms:g} ms between turns; medians"
    )
    click.echo(
        f"  {'kind':<16}{'requests':>9}{'before':>7}{'first word':>12}{'bare':>8}{'ratio':>7}"
        f"{'send':>9}{'bare':>8}{'memory after':>14}"
    )
    for kind, k in r["kinds"].items():
        click.echo(
            f"  {kind:<16}{k['llm_requests']:>9g}{k['requests_before_answer']:>7}"
            f"{k['first_token_ms']:>10.0f}ms{k['bare_first_token_ms']:>6.0f}ms{k['first_token_ratio']:>7.2f}"
            f"{k['send_returns_ms']:>7.0f}ms{k['bare_done_ms']:>6.0f}ms{k['memory_applied_after_answer_ms']:>12.0f}ms"
        )
    t = r["targets"]
    click.echo(
        f"  first-word ratio, worst kind: {r['first_token_ratio_max']:.2f} "
        f"(target <= {t['first_token_ratio_max']:.2f}); "
        f"memory applied after the answer, p95: {r['memory_applied_after_answer_ms_p95']:.0f} ms "
        f"(target <= {t['memory_applied_after_answer_ms_p95']:.0f} ms)"
    )


@bench.command()
@click.option("--workers", default=4, show_default=True, type=click.IntRange(min=1), help="uvicorn workers")
@click.option("--users", default=50, show_default=True, type=click.IntRange(min=1), help="users, a key each")
@click.option("--turns", default=500, show_default=True, type=click.IntRange(min=1), help="chat turns in all")
@click.option(
    "--concurrency", default=None, type=click.IntRange(min=1), help="turns in flight (default: --users)"
)
@click.option("--latency-ms", default=300.0, show_default=True, help="the model server's time to first byte")
@click.option("--token-ms", default=10.0, show_default=True, help="the pause between streamed words")
@click.option("--pause-ms", default=500.0, show_default=True, help="a user's pause before their next line")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def service(
    workers: int,
    users: int,
    turns: int,
    concurrency: int | None,
    latency_ms: float,
    token_ms: float,
    pause_ms: float,
    as_json: bool,
) -> None:
    """Load-test `framework serve` on real PostgreSQL + Redis: failed turns, lost memory writes,
    cross-user reads, and the latency the service adds over the fake model's."""
    from framework.bench.service import measure

    try:
        r = measure(workers, users, turns, concurrency, latency_ms, token_ms, pause_ms)
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(r))
        return
    click.echo(
        f"framework serve --workers {workers} on PostgreSQL + Redis: {turns} streamed turns from "
        f"{users} users, {r['concurrency']} in flight; fake model: first byte after {latency_ms:g} ms, "
        f"a word every {token_ms:g} ms; {pause_ms:g} ms between a user's turns"
    )
    click.echo(
        f"  failed turns {r['failed']}   lost memory writes {r['lost_writes']} of {r['facts']} facts   "
        f"cross-user reads {r['cross_user_reads']} ({r['recalls_checked']} recalls, "
        f"{r['other_user_paths_refused']} other-user paths refused)"
    )
    click.echo(
        f"  next turn missing the fact just stated {r['next_turn_recall_misses']}   "
        f"memory jobs {r['memory_jobs']}   queue settled {r['queue_settled_s']:.1f} s after the last answer"
    )
    click.echo(f"  {r['turns_per_s']:.1f} turns/s over {r['wall_s']:.1f} s")
    click.echo(
        f"  {'':<20}{'service p50':>12}{'p95':>8}{'bare p50':>10}{'p95':>8}{'added p50':>11}{'p95':>8}"
    )
    for name, label in (("first_token_ms", "first token"), ("total_ms", "whole turn")):
        s, b, a = r[name], r[f"bare_{name}"], r[f"added_{name}"]
        click.echo(
            f"  {label:<20}{s['p50']:>10.0f}ms{s['p95']:>6.0f}ms{b['p50']:>8.0f}ms{b['p95']:>6.0f}ms"
            f"{a['p50']:>9.0f}ms{a['p95']:>6.0f}ms"
        )
    for problem in r["failures"] + r["lost"] + r["cross_user"] + r["misses"]:
        click.echo(f"  ! {problem}")
    if r["failed"] or r["lost_writes"] or r["cross_user_reads"]:
        raise SystemExit(1)
