"""``make bench``: every measurement group, repeated, summarised as median / min / max beside its goal.

Writes build/bench/results.json (``{"machine": {...}, "figures": [...]}``), build/bench/results.md (the same table in
Markdown, for docs/performance.md) and prints the table. A group that fails does not stop the others: its figures
that have a goal are listed as FAILED (``meets_goal: false``) and the exit code is 1. The exit code does not depend
on goals being met: a missed goal is a finding to read in the table, not a broken bench.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bench import endpoint, lambdas, render, transitions, twin
from bench.core import (
    Figure,
    FigureSpec,
    Measurement,
    Samples,
    figure_from_json,
    markdown_table,
    merge_figures,
    render_table,
    replace_table,
    write_results,
)
from bench.machine import describe_machine
from bench.paths import BUILD_DIR, REPO_ROOT, RESULTS_PATH, BenchError, run_timed

DOCS_PATH = REPO_ROOT / "docs" / "performance.md"  # holds the bench:table block

MAKE_TEST_GOAL_SECONDS = 300.0  # issue 16: five minutes on a 2-core machine
MAKE_TEST_SPEC = FigureSpec(
    "make_test.wall", "s", MAKE_TEST_GOAL_SECONDS, description="`make test`: lint, security gates, every test tier"
)


@dataclass
class Group:
    """A measurement group: ``measure(run_index)`` returns one run's measurements; ``headline()`` lists the figures
    that must appear in the results even when the group fails (those with a goal)."""

    name: str
    measure: Callable[[int], list[Measurement]]
    headline: Callable[[], Sequence[FigureSpec]]
    repeats: int | None = None  # None: the --runs value; a deterministic group runs once
    setup: Callable[[], None] | None = None
    after: Callable[[], list[str]] | None = None  # notes for under the table (a profile), once the runs are done
    notes: list[str] = field(default_factory=list)


def _lambda_group() -> Group:
    prepared: list[lambdas.LambdaBench] = []

    def setup() -> None:
        prepared[:] = [lambdas.LambdaBench.prepare()]

    def profile() -> list[str]:
        notes = []
        for logical_id, records in prepared[0].profile().items():
            top = ", ".join(f"{record.module} {record.self_us / 1000:.0f} ms" for record in records[:3])
            notes.append(f"{logical_id}: heaviest imports by own time: {top}")
        return notes

    def headline() -> list[FigureSpec]:
        from cfn import load_template

        names = lambdas.functions_in_template(load_template())
        specs = (lambdas.cold_import_spec, lambdas.size_spec, lambdas.size_limit_spec)
        return [spec(name) for name in names for spec in specs]

    return Group("lambda", lambda _: prepared[0].measure(), headline, setup=setup, after=profile)


def spec_of(figure: Figure) -> FigureSpec:
    """A kept figure's spec, for the table; the side of its goal follows from its value, goal and verdict."""
    direction: Literal["max", "min"] = "max"
    if figure.goal is not None and figure.value is not None and figure.meets_goal is not None:
        above = figure.value > figure.goal
        direction = "min" if above == figure.meets_goal and figure.value != figure.goal else "max"
    return FigureSpec(figure.name, figure.unit, figure.goal, direction)


def _make_test(_: int) -> list[Measurement]:
    log = BUILD_DIR / "make-test-output.txt"
    timed = run_timed(["make", "test"], log=log)
    if timed.returncode != 0:
        raise BenchError(f"`make test` failed (exit {timed.returncode}) after {timed.wall_seconds:.0f} s; see {log}")
    return [Measurement(MAKE_TEST_SPEC, timed.wall_seconds)]


def groups() -> list[Group]:
    return [
        Group("render", lambda _: render.run_render(), lambda: (render.WALL_SPEC, render.ATTEMPTS_SPEC)),
        _lambda_group(),
        Group(
            "transitions",
            transitions.run_transitions,
            lambda: (transitions.WITHOUT_POLLS_SPEC, transitions.UPDATE_SPEC, transitions.BATCH_SPEC),
            repeats=1,
        ),
        Group(
            "local_twin_endpoint",
            lambda _: twin.run_local_twin("endpoint"),
            lambda: (twin.end_to_end_spec("endpoint"), twin.TEST_MSE_SPEC),
        ),
        Group("local_twin_batch", lambda _: twin.run_local_twin("batch"), lambda: (twin.end_to_end_spec("batch"),)),
        Group(
            "endpoint",
            lambda _: endpoint.run_endpoint(),
            lambda: (endpoint.P50_SPEC, endpoint.THROUGHPUT_SPEC),
            after=endpoint.notes,
        ),
        Group("make_test", _make_test, lambda: (MAKE_TEST_SPEC,), repeats=1),
    ]


DEFAULT_GROUPS = ("render", "lambda", "transitions", "local_twin_endpoint", "local_twin_batch", "endpoint")


def _parser(names: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (default 3)")
    parser.add_argument(
        "--only", default=",".join(DEFAULT_GROUPS), help=f"comma-separated groups to run, from: {', '.join(names)}"
    )
    parser.add_argument("--make-test", action="store_true", help="also time `make test` once (slow)")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help="where results.json is written")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the figures of the existing results.json that this run does not measure (e.g. --only make_test)",
    )
    parser.add_argument(
        "--update-docs",
        type=Path,
        nargs="?",
        const=DOCS_PATH,
        default=None,
        help=f"also put the table into a document's bench:table block (default {DOCS_PATH.relative_to(REPO_ROOT)})",
    )
    return parser


def select(all_groups: Sequence[Group], only: str, make_test: bool) -> list[Group]:
    """The groups asked for, in the bench's order (the endpoint group serves the model the twin group trained)."""
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    known = {group.name for group in all_groups}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise SystemExit(f"make bench: unknown group(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if make_test and "make_test" not in wanted:
        wanted.append("make_test")
    return [group for group in all_groups if group.name in wanted]


def run_group(group: Group, runs: int, samples: Samples, failures: list[str]) -> None:
    repeats = group.repeats or runs
    print(f"[bench] {group.name}: {repeats} run(s)", file=sys.stderr, flush=True)
    try:
        if group.setup is not None:
            group.setup()
        for index in range(repeats):
            started = time.perf_counter()
            samples.add(group.measure(index))
            print(f"[bench]   run {index + 1}/{repeats}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        if group.after is not None:
            group.notes.extend(group.after())
    except BenchError as exc:
        failures.append(f"{group.name}: {exc}")
        for spec in group.headline():
            if spec.goal is not None:
                samples.add_failed(spec)


def main(argv: Sequence[str] | None = None) -> int:
    all_groups = groups()
    args = _parser([group.name for group in all_groups]).parse_args(argv)
    if args.runs < 1:
        raise SystemExit("make bench: --runs must be at least 1")
    chosen = select(all_groups, args.only, args.make_test)
    machine = describe_machine()
    samples = Samples()
    failures: list[str] = []
    for group in chosen:
        run_group(group, args.runs, samples, failures)
    figures = samples.figures()
    specs = dict(samples.specs)
    if args.merge and args.output.exists():
        previous = [figure_from_json(item) for item in json.loads(args.output.read_text())["figures"]]
        figures = merge_figures(previous, figures)
        for figure in previous:  # the table needs a spec (goal direction) for the figures kept from before
            specs.setdefault(figure.name, spec_of(figure))
        machine["merged_into"] = str(args.output)
    write_results(args.output, machine, figures)
    table = markdown_table(figures, specs)
    (args.output.parent / "results.md").write_text(table + "\n")
    if args.update_docs is not None:
        args.update_docs.write_text(replace_table(args.update_docs.read_text(), table))
    print(render_table(figures, specs))
    print(
        f"\nmachine: {machine['cpu_model']}, {machine['cpus_usable']} CPUs, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, load average at start {machine['load_average_at_start']}"
    )
    for group in chosen:
        for note in group.notes:
            print(f"note: {note}")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(f"results: {args.output}")
    return 1 if failures else 0
