"""The page a local run leaves for a reader: ``report.html`` in the output directory, one self-contained file.

It shows what ``summary.json`` holds and what the run copied beside it: the headline (result, MSEs, model version,
wall time, a sample record and its prediction), each stage, the executed path of every state machine execution, the
pipeline's DAG with each step's time, predicted-vs-actual and residual plots of the scored test split, and the
monitoring run's drift report. Whatever a failed run did not reach is said to be missing, never left blank.

Self-contained: the CSS is inline, every figure is an SVG drawn here and embedded as a ``data:`` URI, and a
Content-Security-Policy forbids scripts and any network load, so the page opens offline, from a CI artefact or an
e-mail attachment alike. Every text taken from the run is escaped.

Inputs, from the output directory (see docs/local-twin.md):

``test.csv``          the test split, label first: ``rings,sex,length,...``, no header
``predictions.csv``   endpoint runs: one prediction per test row, in order
``transform/*.out``   batch runs: each input record followed by its prediction (``JoinSource=Input``)
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from local_twin.report import LOG_NAME, Summary

REPORT_NAME = "report.html"
# The artefacts the page links to, when the run left them (relative links: the page moves with its folder).
LINKED_FILES = (
    "summary.json",
    "evaluation.json",
    "test.csv",
    "predictions.csv",
    "approval-event.json",
    "constraint_violations.json",
    LOG_NAME,
)
MAX_OUTPUT_CHARS = 8_000  # an execution's output JSON, shown folded
MAX_TRACEBACK_CHARS = 20_000
MAX_LOOP = 4  # the longest repeated sequence of states folded into one "× n" group (a poll loop)

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
BLUE, ORANGE, GREEN, VERMILLION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#6b7280"


def write_report(
    summary: Summary | Mapping[str, Any], output_dir: Path, *, definition: Path | Mapping[str, Any] | None = None
) -> Path:
    """Write ``output_dir/report.html`` and return its path.

    ``definition``: the pipeline definition (its JSON file or the parsed document) for the DAG's real dependencies;
    without it (or if it cannot be read) the steps the run recorded are drawn in their order.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / REPORT_NAME
    path.write_text(render_report(summary, output_dir, definition=definition), encoding="utf-8")
    return path


def render_report(
    summary: Summary | Mapping[str, Any], output_dir: Path, *, definition: Path | Mapping[str, Any] | None = None
) -> str:
    """The page's HTML (:func:`write_report` without the file)."""
    data = _as_dict(summary)
    scores = read_scores(data, output_dir)
    sections = [
        _headline(data, scores),
        _stages(data),
        _executions(data),
        _pipeline(data, _load_definition(definition)),
        _predictions(data, scores),
        _monitoring(data),
        _account(data),
        _files(output_dir),
    ]
    title = f"make local: {'succeeded' if data.get('status') == 'succeeded' else 'failed'} ({data.get('target', '?')})"
    return _PAGE.format(title=_e(title), style=_STYLE, body="\n".join(sections))


def _as_dict(summary: Summary | Mapping[str, Any]) -> dict[str, Any]:
    """The summary as summary.json holds it (a dataclass or its dict alike)."""
    raw = asdict(summary) if isinstance(summary, Summary) else dict(summary)
    data: dict[str, Any] = json.loads(json.dumps(raw, default=str))
    return data


def _load_definition(definition: Path | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if definition is None or isinstance(definition, Mapping):
        return definition
    try:
        loaded = json.loads(definition.read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, Mapping) else None


# --- scores: the test split joined with its predictions -------------------------------------------------------------
@dataclass(frozen=True)
class Score:
    label: float  # the test row's actual value (its first column)
    prediction: float

    @property
    def residual(self) -> float:
        return self.prediction - self.label


@dataclass
class Scores:
    points: list[Score]
    source: str  # where the predictions came from, relative to the output directory
    problems: list[str] = field(default_factory=list)  # rows that could not be paired, said on the page

    @property
    def mse(self) -> float | None:
        return sum(p.residual**2 for p in self.points) / len(self.points) if self.points else None


def read_scores(summary: Mapping[str, Any], output_dir: Path) -> Scores | None:
    """The test rows paired with their predictions, or None when the run left no predictions to pair.

    Endpoint runs: ``predictions.csv`` line i is test row i's prediction. Batch runs: each ``transform/*.out`` line is
    a raw record and its prediction, paired with the test row holding that record.
    """
    test_path = output_dir / "test.csv"
    if not test_path.is_file():
        return None
    problems: list[str] = []
    rows = list(_test_rows(test_path.read_text(), problems))
    outputs = sorted((output_dir / "transform").glob("*.out"))
    predictions_path = output_dir / "predictions.csv"
    batch = summary.get("target") == "batch" or not predictions_path.is_file()
    if batch and outputs:
        return _batch_scores(rows, outputs, output_dir, problems)
    if predictions_path.is_file():
        return _endpoint_scores(rows, predictions_path, problems)
    return None


def _test_rows(text: str, problems: list[str]) -> Iterator[tuple[float, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        label, _, record = line.partition(",")
        value = _number(label)
        if value is None:
            problems.append(f"test.csv line {number}: label {label!r} is not a number")
            continue
        yield value, record


def _endpoint_scores(rows: list[tuple[float, str]], path: Path, problems: list[str]) -> Scores:
    values = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(values) != len(rows):
        problems.append(f"predictions.csv has {len(values)} values for {len(rows)} test rows; paired in order")
    points = []
    for number, ((label, _), text) in enumerate(zip(rows, values, strict=False), start=1):
        prediction = _number(text)
        if prediction is None:
            problems.append(f"predictions.csv line {number}: {text[:40]!r} is not a number")
            continue
        points.append(Score(label, prediction))
    return Scores(points, "predictions.csv", problems)


def _batch_scores(rows: list[tuple[float, str]], outputs: list[Path], output_dir: Path, problems: list[str]) -> Scores:
    labels: dict[str, deque[float]] = defaultdict(deque)
    for label, record in rows:
        labels[record].append(label)
    points = []
    for path in outputs:
        name = path.relative_to(output_dir).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            record, _, text = line.strip().rpartition(",")
            prediction = _number(text)
            if prediction is None:
                problems.append(f"{name} line {number}: no prediction at the end of the line")
            elif not labels[record]:
                problems.append(f"{name} line {number}: the record is not a test row")
            else:
                points.append(Score(labels[record].popleft(), prediction))
    unscored = sum(len(queue) for queue in labels.values())
    if unscored:
        problems.append(f"{unscored} test rows have no prediction in the transform output")
    return Scores(points, ", ".join(path.relative_to(output_dir).as_posix() for path in outputs), problems)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# --- sections ---------------------------------------------------------------------------------------------------------
def _headline(data: Mapping[str, Any], scores: Scores | None) -> str:
    succeeded = data.get("status") == "succeeded"
    if succeeded:
        verdict = '<p class="verdict ok"><span aria-hidden="true">✓ </span>Succeeded</p>'
    else:
        verdict = (
            f'<p class="verdict bad"><span aria-hidden="true">✗ </span>Failed at '
            f"<strong>{_e(data.get('failed_stage') or 'an unknown stage')}</strong></p>"
            f'<p class="reason">{_e(data.get("failure_reason") or "no reason recorded")}</p>'
        )
        traceback = data.get("failure_traceback")
        if traceback:
            verdict += (
                f"<details><summary>Traceback</summary><pre>{_e(_clip(str(traceback), MAX_TRACEBACK_CHARS))}</pre>"
                "</details>"
            )
    version = data.get("model_package_version")
    approval = data.get("approval_status")
    facts: list[tuple[str, str | None]] = [
        ("Target", str(data.get("target") or "?")),
        ("Test MSE (evaluation)", _float(data.get("test_mse"))),
        ("Predictions MSE", _float(data.get("predictions_mse"))),
        ("Predictions", None if data.get("predictions_count") is None else str(data["predictions_count"])),
        ("Model version", None if version is None else f"{version}" + (f" ({approval})" if approval else "")),
        ("Wall time", f"{float(data.get('total_seconds') or 0):.1f} s"),
    ]
    cards = "".join(
        f'<div class="card"><dt>{_e(label)}</dt><dd>{_e(value) if value is not None else _none()}</dd></div>'
        for label, value in facts
    )
    sample = ""
    if data.get("sample_record"):
        sample = (
            '<p class="sample">Sample record <code>'
            f'{_e(data["sample_record"])}</code> <span aria-label="gives">→</span> '
            f"<code>{_e(_sample_prediction(data.get('sample_prediction')))}</code></p>"
        )
    return (
        f'<header><h1>make local <span class="muted">report</span></h1>{verdict}'
        f'<dl class="cards">{cards}</dl>{sample}</header>'
    )


def _sample_prediction(raw: Any) -> str:
    """The endpoint's JSON answer, shortened to its value when it has the usual shape."""
    if raw is None:
        return "no answer recorded"
    try:
        predictions = json.loads(str(raw))["predictions"]
        (only,) = predictions
        (value,) = only.values()
        return f"{float(value):.4f}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return str(raw)


def _stages(data: Mapping[str, Any]) -> str:
    stages = [stage for stage in data.get("stages") or [] if isinstance(stage, Mapping)]
    if not stages:
        return _section("stages", "Stages", "<p>No stage ran.</p>")
    longest = max((float(stage.get("seconds") or 0) for stage in stages), default=0.0) or 1.0
    rows = []
    for stage in stages:
        status = str(stage.get("status", "?"))
        seconds = float(stage.get("seconds") or 0)
        width = 100 * seconds / longest
        rows.append(
            f'<tr class="{_status_class(status)}"><th scope="row">{_e(stage.get("name", "?"))}</th>'
            f"<td>{_status_badge(status)}</td>"
            f'<td class="num">{"" if status == "skipped" else f"{seconds:.2f} s"}</td>'
            f'<td class="barcell"><span class="bar" style="width:{width:.1f}%"></span></td>'
            f"<td>{_e(stage.get('detail', ''))}</td></tr>"
        )
    table = (
        '<table><caption class="visually-hidden">Stages of the run</caption><thead><tr><th scope="col">Stage</th>'
        '<th scope="col">Status</th><th scope="col">Time</th><th scope="col"><span class="visually-hidden">'
        'Time, relative</span></th><th scope="col">Detail</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return _section("stages", "Stages", table)


def _executions(data: Mapping[str, Any]) -> str:
    executions = [execution for execution in data.get("executions") or [] if isinstance(execution, Mapping)]
    if not executions:
        return _section("executions", "State machine executions", "<p>No state machine execution ran in this run.</p>")
    parts = []
    for execution in executions:
        status = str(execution.get("status", "?"))
        states = [str(state) for state in execution.get("states") or []]
        output = execution.get("output")
        finish = output.get("Finish") if isinstance(output, Mapping) else None
        outcome = ""
        if isinstance(finish, Mapping) and finish.get("Outcome"):
            subject = f": {_e(finish['Subject'])}" if finish.get("Subject") else ""
            outcome = f"<p>Outcome <strong>{_e(finish['Outcome'])}</strong>{subject}</p>"
        folded = ""
        if output is not None:
            text = _clip(json.dumps(output, indent=2, default=str), MAX_OUTPUT_CHARS)
            folded = f"<details><summary>Execution output</summary><pre>{_e(text)}</pre></details>"
        parts.append(
            f'<article class="execution"><h3>{_e(execution.get("mode", "?"))} · '
            f'<span class="mono">{_e(execution.get("name", "?"))}</span> {_status_badge(status)}</h3>'
            f'{outcome}<p class="muted">{len(states)} states entered, in order; a poll loop is folded into '
            f"one group with its count.</p>{_state_path(states, status)}{folded}</article>"
        )
    return _section("executions", "State machine executions", "".join(parts))


def fold_states(states: Sequence[str]) -> list[tuple[tuple[str, ...], int]]:
    """Consecutive repeats of a sequence of states (a poll loop) as one ``(sequence, count)``; others count 1."""
    folded: list[tuple[tuple[str, ...], int]] = []
    i = 0
    while i < len(states):
        best_length, best_count = 1, 1
        for length in range(1, MAX_LOOP + 1):
            block = tuple(states[i : i + length])
            if len(block) < length:
                break
            count = 1
            while tuple(states[i + count * length : i + (count + 1) * length]) == block:
                count += 1
            if count > 1 and length * count > best_length * best_count:
                best_length, best_count = length, count
        folded.append((tuple(states[i : i + best_length]), best_count))
        i += best_length * best_count
    return folded


def _state_path(states: Sequence[str], status: str) -> str:
    """The states as boxes in order; the last one marked with the execution's status."""
    if not states:
        return "<p>No state entered.</p>"
    items = []
    groups = fold_states(states)
    for index, (block, count) in enumerate(groups):
        last = index == len(groups) - 1
        boxes = []
        for position, state in enumerate(block):
            end = last and position == len(block) - 1
            classes = "state" + (f" end {_status_class(status).replace(' ', '-')}" if end else "")
            boxes.append(f'<li><span class="{classes}">{_e(state)}</span></li>')
        if count == 1:
            items.extend(boxes)
        else:
            items.append(
                f'<li><span class="loop"><ol class="path">{"".join(boxes)}</ol>'
                f'<span class="times"><span class="visually-hidden">repeated </span>×{count}'
                '<span class="visually-hidden"> times</span></span></span></li>'
            )
    return f'<ol class="path" aria-label="Executed states, in order">{"".join(items)}</ol>'


@dataclass(frozen=True)
class PipelineNode:
    name: str
    type: str | None
    parents: tuple[tuple[str, str], ...]  # (parent step, edge label: "" or the condition's branch "if" / "else")
    status: str | None = None
    seconds: float | None = None
    failure_reason: str | None = None


def pipeline_nodes(
    steps: Sequence[Mapping[str, Any]], definition: Mapping[str, Any] | None = None
) -> list[PipelineNode]:
    """The pipeline's steps with their dependencies, in definition order, each with what the run recorded.

    From the definition: ``DependsOn``, every ``Steps.<name>...`` reference (data dependencies, property files), and
    a condition's branches. Without it, the recorded steps in their order, each after the one before.
    """
    recorded = {str(step.get("name")): step for step in steps}
    specs = list(_definition_steps(definition)) if definition is not None else []
    if not specs:
        names = list(recorded)
        specs = [(name, None, ((names[i - 1], ""),) if i else ()) for i, name in enumerate(names)]
    known = {name for name, _, _ in specs}
    specs += [(name, None, ()) for name in recorded if name not in known]  # recorded, yet not in the definition
    nodes = []
    for name, kind, parents in specs:
        step = recorded.get(name, {})
        seconds = step.get("seconds")
        nodes.append(
            PipelineNode(
                name=name,
                type=kind,
                parents=tuple((parent, label) for parent, label in parents if parent in known and parent != name),
                status=None if step.get("status") is None else str(step["status"]),
                seconds=None if seconds is None else float(seconds),
                failure_reason=None if step.get("failure_reason") is None else str(step["failure_reason"]),
            )
        )
    return nodes


_STEP_REFERENCE = re.compile(r"^Steps\.([^.\[]+)")


_StepSpec = tuple[str, str | None, tuple[tuple[str, str], ...]]  # name, type, (parent, edge label)...


def _definition_steps(definition: Mapping[str, Any]) -> Iterator[_StepSpec]:
    def visit(raw: Any, branch: tuple[str, str] | None) -> Iterator[_StepSpec]:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("Name"), str):
            return
        name, kind = raw["Name"], raw.get("Type")
        arguments: Mapping[str, Any] = raw["Arguments"] if isinstance(raw.get("Arguments"), Mapping) else {}
        own = dict(raw)
        if kind == "Condition":  # its branches are steps of their own
            own["Arguments"] = {k: v for k, v in arguments.items() if k not in ("IfSteps", "ElseSteps")}
        parents: dict[str, str] = {}
        if branch is not None:
            parents[branch[0]] = branch[1]
        for parent in raw.get("DependsOn") or []:
            parents.setdefault(str(parent), "")
        for reference in _references(own):
            parents.setdefault(reference, "")
        yield name, None if kind is None else str(kind), tuple(parents.items())
        if kind == "Condition":
            for nested in arguments.get("IfSteps") or []:
                yield from visit(nested, (name, "if"))
            for nested in arguments.get("ElseSteps") or []:
                yield from visit(nested, (name, "else"))

    for raw in definition.get("Steps") or []:
        yield from visit(raw, None)


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "Get" and isinstance(item, str) and (match := _STEP_REFERENCE.match(item)):
                yield match.group(1)
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _pipeline(data: Mapping[str, Any], definition: Mapping[str, Any] | None) -> str:
    steps = [step for step in data.get("pipeline_steps") or [] if isinstance(step, Mapping)]
    status = data.get("pipeline_status")
    if not steps:
        return _section("pipeline", "Pipeline", "<p>The pipeline did not run in this run.</p>")
    nodes = pipeline_nodes(steps, definition)
    how = "dependencies from the pipeline definition" if definition else "the steps in the order the run recorded"
    figure = (
        f'<figure><div class="scroll">{_img(dag_svg(nodes), _dag_alt(nodes))}</div>'
        f"<figcaption>Each step with its status and time; arrows: {how}.</figcaption></figure>"
    )
    rows = "".join(
        f'<tr class="{_status_class(node.status)}"><th scope="row" class="mono">{_e(node.name)}</th>'
        f"<td>{_e(node.type or '')}</td><td>{_status_badge(node.status or 'not run')}</td>"
        f'<td class="num">{"" if node.seconds is None else f"{node.seconds:.2f} s"}</td>'
        f"<td>{_e(_clip(node.failure_reason or '', 2_000))}</td></tr>"
        for node in nodes
    )
    table = (
        '<table><caption class="visually-hidden">Pipeline steps</caption><thead><tr><th scope="col">Step</th>'
        '<th scope="col">Type</th><th scope="col">Status</th><th scope="col">Time</th>'
        f'<th scope="col">Failure reason</th></tr></thead><tbody>{rows}</tbody></table>'
    )
    arn = data.get("pipeline_execution_arn")
    head = (
        f"<p>Execution {_status_badge(str(status or '?'))}"
        + (f' <span class="mono">{_e(arn)}</span>' if arn else "")
        + "</p>"
    )
    return _section("pipeline", "Pipeline", head + figure + table)


def _dag_alt(nodes: Sequence[PipelineNode]) -> str:
    steps = "; ".join(
        f"{node.name} {node.status or 'not run'}" + ("" if node.seconds is None else f" in {node.seconds:.1f} s")
        for node in nodes
    )
    return f"Pipeline DAG of {len(nodes)} steps: {steps}"


def _predictions(data: Mapping[str, Any], scores: Scores | None) -> str:
    if scores is None or not scores.points:
        stage = data.get("failed_stage")
        why = f" the run stopped at {stage} before scoring." if stage else " this run scored nothing."
        problems = "" if scores is None else _problems(scores.problems)
        return _section("predictions", "Predictions", f"<p>No predictions to plot:{_e(why)}</p>{problems}")
    n, mse = len(scores.points), scores.mse or 0.0
    mae = sum(abs(point.residual) for point in scores.points) / n
    bias = sum(point.residual for point in scores.points) / n
    stats = (
        f"<p>{n} test rows scored (from <code>{_e(scores.source)}</code>): MSE {mse:.4f}, RMSE {math.sqrt(mse):.4f}, "
        f"MAE {mae:.4f}, mean residual {bias:+.4f}. Residual = prediction − label.</p>"
    )
    scatter = _img(scatter_svg(scores.points), f"Predicted against actual value for {n} test rows, with the line y = x")
    residual = _img(residual_svg(scores.points), f"Residual (prediction minus label) against prediction, {n} rows")
    figures = (
        '<div class="plots">'
        f"<figure>{scatter}<figcaption>Predicted vs actual: on the dashed line a prediction is exact.</figcaption>"
        "</figure>"
        f"<figure>{residual}<figcaption>Residuals: above zero the model over-predicts.</figcaption></figure>"
        "</div>"
    )
    return _section("predictions", "Predictions", stats + figures + _problems(scores.problems))


def _problems(problems: Sequence[str]) -> str:
    if not problems:
        return ""
    items = "".join(f"<li>{_e(problem)}</li>" for problem in problems[:20])
    more = f"<li>… and {len(problems) - 20} more</li>" if len(problems) > 20 else ""
    return f'<div class="warn"><p>Not plotted:</p><ul>{items}{more}</ul></div>'


def _monitoring(data: Mapping[str, Any]) -> str:
    """The monitoring run: its facts (the drift alarm, the notification), each feature's baseline distance, and the
    violations (``summary.violations`` names the features; ``drift.constraint_violations`` has Model Monitor's
    entries)."""
    violations = data.get("violations")
    given = data.get("drift")
    drift: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    parts = []
    facts = {k: v for k, v in drift.items() if not isinstance(v, Mapping | list)}
    if facts:
        rows = "".join(
            f"<div><dt>{_e(str(key).replace('_', ' '))}</dt><dd>{_e(_text(value))}</dd></div>"
            for key, value in facts.items()
        )
        parts.append(f'<dl class="facts">{rows}</dl>')
    distances = drift.get("distances")
    if isinstance(distances, Mapping) and distances:
        rows = "".join(
            f'<tr><th scope="row" class="mono">{_e(name)}</th><td class="num">{_e(_text(value))}</td></tr>'
            for name, value in distances.items()
        )
        parts.append(
            '<table><caption>Baseline drift distance per feature</caption><thead><tr><th scope="col">Feature</th>'
            f'<th scope="col">Distance</th></tr></thead><tbody>{rows}</tbody></table>'
        )
    if violations is None:
        parts.append(
            "<p>No monitoring run in this run.</p>"
            if not parts
            else "<p>The monitoring run reported no violations file.</p>"
        )
    elif isinstance(violations, list) and not violations:
        parts.append('<p class="ok-text">No violation: the data met every constraint of the baseline.</p>')
    else:
        detailed = drift.get("constraint_violations")
        entries = [v for v in detailed if isinstance(v, Mapping)] if isinstance(detailed, list) else []
        if not entries and isinstance(violations, list):
            entries = [v if isinstance(v, Mapping) else {"feature_name": v} for v in violations]
        counts: dict[str, int] = defaultdict(int)
        for violation in entries:
            counts[str(violation.get("constraint_check_type", "?"))] += 1
        by_check = ", ".join(f"{check} × {count}" for check, count in sorted(counts.items()))
        rows = "".join(
            f'<tr><th scope="row" class="mono">{_e(violation.get("feature_name", ""))}</th>'
            f'<td class="mono">{_e(violation.get("constraint_check_type", ""))}</td>'
            f"<td>{_e(violation.get('description', ''))}</td></tr>"
            for violation in entries
        )
        parts.append(
            f'<p class="bad-text">{len(entries)} violation{"s" if len(entries) != 1 else ""}: {_e(by_check)}</p>'
            '<table><caption class="visually-hidden">Constraint violations</caption><thead><tr>'
            '<th scope="col">Feature</th><th scope="col">Check</th><th scope="col">Description</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    return _section("monitoring", "Monitoring: drift report", "".join(parts))


def _account(data: Mapping[str, Any]) -> str:
    resources = data.get("resources") or {}
    not_created = data.get("resources_not_created") or {}
    adjustments = data.get("provision_adjustments") or []
    if not (resources or not_created or adjustments):
        return ""
    skipped = "".join(f"<li><code>{_e(k)}</code>: {_e(v)}</li>" for k, v in dict(not_created).items())
    adjusted = "".join(f"<li>{_e(item)}</li>" for item in adjustments)
    created = "".join(
        f'<tr><th scope="row">{_e(k)}</th><td class="mono">{_e(v)}</td></tr>' for k, v in dict(resources).items()
    )
    body = (
        f"<details><summary>{len(resources)} resources created, {len(not_created)} not created, "
        f"{len(adjustments)} created differently</summary>"
        + (f"<h3>Not created</h3><ul>{skipped}</ul>" if skipped else "")
        + (f"<h3>Created differently</h3><ul>{adjusted}</ul>" if adjusted else "")
        + (f"<h3>Created</h3><table><tbody>{created}</tbody></table>" if created else "")
        + "</details>"
    )
    return _section("account", "Emulated account", body)


def _files(output_dir: Path) -> str:
    present = [name for name in LINKED_FILES if (output_dir / name).is_file()]
    if not present:
        return ""
    links = "".join(f'<li><a href="{_e(name)}">{_e(name)}</a></li>' for name in present)
    return f'<footer><h2>Files of this run</h2><ul class="files">{links}</ul></footer>'


# --- figures ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Scale:
    lo: float
    hi: float
    start: float  # pixels
    end: float

    def __call__(self, value: float) -> float:
        return self.start + (value - self.lo) / (self.hi - self.lo) * (self.end - self.start)


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values covering [lo, hi] (the first at or below lo, the last at or above hi)."""
    if not hi > lo:
        lo, hi = lo - 1, hi + 1
    raw = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    value = first
    while value < hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(value, 10))
    return ticks


PLOT_WIDTH, PLOT_HEIGHT = 440, 380
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 60, 16, 14, 48


def _axes(x_ticks: list[float], y_ticks: list[float], x_label: str, y_label: str) -> tuple[_Scale, _Scale, list[str]]:
    x = _Scale(x_ticks[0], x_ticks[-1], MARGIN_LEFT, PLOT_WIDTH - MARGIN_RIGHT)
    y = _Scale(y_ticks[0], y_ticks[-1], PLOT_HEIGHT - MARGIN_BOTTOM, MARGIN_TOP)
    parts = [f'<rect x="{x.start}" y="{y.end}" width="{x.end - x.start}" height="{y.start - y.end}" fill="#fff"/>']
    grid = []
    for tick in x_ticks:
        grid.append(f'<line x1="{x(tick):.1f}" y1="{y.start}" x2="{x(tick):.1f}" y2="{y.end}"/>')
        parts.append(f'<text x="{x(tick):.1f}" y="{y.start + 16}" text-anchor="middle">{_e(_tick(tick))}</text>')
    for tick in y_ticks:
        grid.append(f'<line x1="{x.start}" y1="{y(tick):.1f}" x2="{x.end}" y2="{y(tick):.1f}"/>')
        parts.append(f'<text x="{x.start - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_e(_tick(tick))}</text>')
    parts.append(f'<g stroke="#e5e7eb" stroke-width="1">{"".join(grid)}</g>')
    parts.append(
        f'<rect x="{x.start}" y="{y.end}" width="{x.end - x.start}" height="{y.start - y.end}" fill="none" '
        'stroke="#9ca3af"/>'
    )
    parts.append(
        f'<text x="{(x.start + x.end) / 2:.1f}" y="{PLOT_HEIGHT - 8}" text-anchor="middle" '
        f'font-weight="600">{_e(x_label)}</text>'
    )
    middle = (y.start + y.end) / 2
    parts.append(
        f'<text x="16" y="{middle:.1f}" text-anchor="middle" font-weight="600" '
        f'transform="rotate(-90 16 {middle:.1f})">{_e(y_label)}</text>'
    )
    return x, y, parts


def _points(xs: Sequence[float], ys: Sequence[float], x: _Scale, y: _Scale) -> str:
    circles = "".join(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="2.6"/>' for a, b in zip(xs, ys, strict=True))
    return f'<g class="points" fill="{BLUE}" fill-opacity="0.35" stroke="{BLUE}" stroke-width="0.6">{circles}</g>'


def scatter_svg(points: Sequence[Score]) -> str:
    """Predicted (y) against actual (x), on one scale for both, with the line of exact predictions."""
    values = [p.label for p in points] + [p.prediction for p in points]
    ticks = nice_ticks(min(values), max(values))
    x, y, parts = _axes(ticks, ticks, "actual (label)", "predicted")
    parts.append(
        f'<line x1="{x(ticks[0]):.1f}" y1="{y(ticks[0]):.1f}" x2="{x(ticks[-1]):.1f}" y2="{y(ticks[-1]):.1f}" '
        f'stroke="{VERMILLION}" stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    parts.append(_points([p.label for p in points], [p.prediction for p in points], x, y))
    return _svg(PLOT_WIDTH, PLOT_HEIGHT, "Predicted against actual", parts)


def residual_svg(points: Sequence[Score]) -> str:
    """Residual (prediction - label, y) against the prediction (x), around the zero line."""
    predictions = [p.prediction for p in points]
    residuals = [p.residual for p in points]
    reach = max((abs(r) for r in residuals), default=1.0) or 1.0
    x_ticks = nice_ticks(min(predictions), max(predictions))
    y_ticks = nice_ticks(-reach, reach)
    x, y, parts = _axes(x_ticks, y_ticks, "predicted", "residual (prediction − label)")
    parts.append(
        f'<line x1="{x.start}" y1="{y(0):.1f}" x2="{x.end}" y2="{y(0):.1f}" stroke="{VERMILLION}" '
        'stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    parts.append(_points(predictions, residuals, x, y))
    return _svg(PLOT_WIDTH, PLOT_HEIGHT, "Residuals against predictions", parts)


NAME_WRAP = 20  # characters of a step name on one line of its box
NAME_CHAR, CAPTION_CHAR = 7.9, 6.4  # estimated pixels per character: bold 12 px names, 11 px captions
LINE, PAD, ROW_GAP, COLUMN_GAP, LANE_GAP = 15, 10, 22, 46, 12
NAME_STYLE, CAPTION_STYLE = ' font-weight="600"', ' font-size="11" fill="#374151"'
STATUS_COLOURS = {  # fill, stroke
    "succeeded": ("#e6f4ef", GREEN),
    "failed": ("#fbe9e1", VERMILLION),
    "running": ("#fdf3dc", ORANGE),
    "not run": ("#f3f4f6", GREY),
}


@dataclass
class _Box:
    x: float
    y: float
    width: float
    column: int
    row: int
    rows: int  # in its column


def dag_svg(nodes: Sequence[PipelineNode]) -> str:
    """The steps left to right by depth (each after every step it depends on), an arrow per dependency.

    Arrows between neighbouring columns are curves; an arrow that skips columns runs in a lane above (or below) the
    boxes, so it never crosses a step it does not touch.
    """
    by_name = {node.name: node for node in nodes}
    depth: dict[str, int] = {}

    def level(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in depth:
            parents = [p for p, _ in by_name[name].parents if p in by_name and p not in seen]
            depth[name] = 1 + max((level(p, seen | {name}) for p in parents), default=-1)
        return depth[name]

    columns: dict[int, list[PipelineNode]] = defaultdict(list)
    for node in nodes:
        columns[level(node.name)].append(node)
    names = {node.name: _wrap(node.name) for node in nodes}
    captions = {node.name: _captions(node) for node in nodes}
    lines = max(len(names[n]) + len(captions[n]) for n in by_name)
    box_height = lines * LINE + 2 * PAD - 2
    rows = max(len(members) for members in columns.values())
    boxes: dict[str, _Box] = {}
    x = 0.0
    for column in sorted(columns):
        members = columns[column]
        width = 2 * PAD + max(
            max(
                max(len(line) for line in names[n.name]) * NAME_CHAR,
                max(len(c) for c in captions[n.name]) * CAPTION_CHAR,
            )
            for n in members
        )
        offset = (rows - len(members)) * (box_height + ROW_GAP) / 2
        for row, node in enumerate(members):
            boxes[node.name] = _Box(x, offset + row * (box_height + ROW_GAP), width, column, row, len(members))
        x += width + COLUMN_GAP
    edges, labels, lanes = _dag_edges(nodes, boxes, box_height)
    top = LANE_GAP * (1 + len(lanes["top"])) if lanes["top"] else 0
    bottom = LANE_GAP * (1 + len(lanes["bottom"])) if lanes["bottom"] else 0
    margin = 12
    height = margin * 2 + top + rows * box_height + (rows - 1) * ROW_GAP + bottom
    shapes = []
    for node in nodes:
        box = boxes[node.name]
        fill, stroke = STATUS_COLOURS[_status_class(node.status)]
        dashed = ' stroke-dasharray="4 3"' if node.status is None else ""
        name_lines = len(names[node.name])
        text = [
            f'<tspan x="{box.x + PAD:.1f}" dy="{0 if i == 0 else LINE}"'
            f"{NAME_STYLE if i < name_lines else CAPTION_STYLE}>{_e(line)}</tspan>"
            for i, line in enumerate([*names[node.name], *captions[node.name]])
        ]
        shapes.append(
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box_height}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"{dashed}/>'
            f'<text x="{box.x + PAD:.1f}" y="{box.y + PAD + 11:.1f}">{"".join(text)}</text>'
        )
    defs = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>'
    )
    body = [
        defs,
        f'<g transform="translate({margin} {margin + top})">',
        f'<g fill="none" stroke="#6b7280" stroke-width="1.4">{"".join(edges)}</g>',
        *shapes,
        f'<g font-size="11" fill="#374151">{"".join(labels)}</g>',
        "</g>",
    ]
    return _svg(round(x - COLUMN_GAP + 2 * margin), round(height), "Pipeline DAG", body)


def _dag_edges(
    nodes: Sequence[PipelineNode], boxes: Mapping[str, _Box], box_height: float
) -> tuple[list[str], list[str], dict[str, list[list[tuple[float, float]]]]]:
    """The arrows' paths, their labels, and the lanes (above and below the boxes) the long arrows run in.

    Long arrows are laid shortest first: the inner lanes and the ports nearest the gap, so they do not cross.
    """
    edges: list[str] = []
    labels: list[str] = []
    lanes: dict[str, list[list[tuple[float, float]]]] = {"top": [], "bottom": []}
    ports: dict[tuple[str, str], int] = defaultdict(int)  # (step, side) → arrows already attached there
    rows = max(box.rows for box in boxes.values())
    block_height = rows * box_height + (rows - 1) * ROW_GAP
    long: list[tuple[str, str, str]] = []
    for node in nodes:
        child = boxes[node.name]
        for parent_name, label in node.parents:
            parent = boxes[parent_name]
            if child.column - parent.column != 1:
                long.append((parent_name, node.name, label))
                continue
            x1, y1 = parent.x + parent.width, parent.y + box_height / 2
            x2, y2 = child.x - 2, child.y + box_height / 2
            bend = (x2 - x1) / 2
            edges.append(
                f'<path d="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} '
                f'{x2:.1f},{y2:.1f}"{_dash(label)} marker-end="url(#arrow)"/>'
            )
            labels.append(_edge_label(label, (x1 + x2) / 2, (y1 + y2) / 2 - 5))
    long.sort(key=lambda edge: abs(boxes[edge[1]].column - boxes[edge[0]].column))
    tracks: dict[tuple[int, str], int] = defaultdict(int)  # (gap after column, "out" | "in") → vertical tracks used
    for parent_name, child_name, label in long:
        parent, child = boxes[parent_name], boxes[child_name]
        if parent.row == 0 and child.row == 0:
            side = "top"  # from the parent's top, along a lane above every box, into the child's top
        elif parent.row == parent.rows - 1 and child.row == child.rows - 1:
            side = "bottom"
        else:  # through the gaps beside the columns, in at the child's left side
            side = "top" if not (_lower_half(parent) and _lower_half(child)) else "bottom"
            edges.append(_gap_route(parent, child, box_height, side, label, lanes, tracks, block_height, labels))
            continue
        x1 = parent.x + parent.width - 14 - 9 * ports[(parent_name, side)]
        x2 = child.x + 14 + 9 * ports[(child_name, side)]
        ports[(parent_name, side)] += 1
        ports[(child_name, side)] += 1
        lane = _lane(lanes[side], min(x1, x2), max(x1, x2))
        if side == "top":
            y1, y2 = parent.y, child.y - 2
            level: float = -LANE_GAP * (lane + 1)
        else:
            y1, y2 = parent.y + box_height, child.y + box_height + 2
            level = block_height + LANE_GAP * (lane + 1)
        r = 6 if x2 > x1 else -6
        v = 6 if level > y1 else -6
        edges.append(
            f'<path d="M{x1:.1f},{y1:.1f} V{level - v:.1f} Q{x1:.1f},{level:.1f} {x1 + r:.1f},{level:.1f} '
            f'H{x2 - r:.1f} Q{x2:.1f},{level:.1f} {x2:.1f},{level + v:.1f} V{y2:.1f}"{_dash(label)} '
            'marker-end="url(#arrow)"/>'
        )
        labels.append(_edge_label(label, (x1 + x2) / 2, level - 4))
    return edges, labels, lanes


def _gap_route(
    parent: _Box,
    child: _Box,
    box_height: float,
    side: str,
    label: str,
    lanes: dict[str, list[list[tuple[float, float]]]],
    tracks: dict[tuple[int, str], int],
    block_height: float,
    labels: list[str],
) -> str:
    """Out of the parent's right side into the gap after its column, along a lane, down (or up) the gap before the
    child's column, into its left side: for a step with other steps above and below it."""
    out_track, in_track = tracks[(parent.column, "out")], tracks[(child.column - 1, "in")]
    tracks[(parent.column, "out")] += 1
    tracks[(child.column - 1, "in")] += 1
    x1, y1 = parent.x + parent.width, parent.y + box_height / 2
    x2, y2 = child.x - 2, child.y + box_height / 2
    gap_out = x1 + 8 + 6 * (out_track % 4)
    gap_in = child.x - 10 - 6 * (in_track % 4)
    lane = _lane(lanes[side], min(gap_out, gap_in), max(gap_out, gap_in))
    level = -LANE_GAP * (lane + 1) if side == "top" else block_height + LANE_GAP * (lane + 1)
    labels.append(_edge_label(label, (gap_out + gap_in) / 2, level - 4))
    return (
        f'<path d="M{x1:.1f},{y1:.1f} H{gap_out:.1f} V{level:.1f} H{gap_in:.1f} V{y2:.1f} H{x2:.1f}"'
        f'{_dash(label)} stroke-linejoin="round" marker-end="url(#arrow)"/>'
    )


def _lower_half(box: _Box) -> bool:
    return box.rows > 1 and box.row >= (box.rows + 1) // 2


def _dash(label: str) -> str:
    return ' stroke-dasharray="5 3"' if label == "else" else ""


def _edge_label(label: str, x: float, y: float) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{_e(label)}</text>' if label else ""


def _lane(lanes: list[list[tuple[float, float]]], start: float, end: float) -> int:
    """The first lane free between start and end (a new one if none is), taken."""
    for index, taken in enumerate(lanes):
        if all(end + 8 < a or start - 8 > b for a, b in taken):
            taken.append((start, end))
            return index
    lanes.append([(start, end)])
    return len(lanes) - 1


def _captions(node: PipelineNode) -> list[str]:
    status = node.status or "not run"
    timing = "" if node.seconds is None else f" · {node.seconds:.2f} s"
    return [line for line in (node.type, f"{status}{timing}") if line]


def _wrap(name: str) -> list[str]:
    """A long step name on two lines, broken after a hyphen or before a capital near its middle."""
    if len(name) <= NAME_WRAP:
        return [name]
    breaks = [i + 1 for i, c in enumerate(name) if c == "-"] + [
        i for i in range(1, len(name)) if name[i].isupper() and name[i - 1].islower()
    ]
    if not breaks:
        return [name]
    cut = min(breaks, key=lambda i: abs(i - len(name) / 2))
    return [name[:cut], name[cut:]]


def _svg(width: int, height: int, title: str, parts: Sequence[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif" font-size="12" '
        f'fill="#111827"><title>{_e(title)}</title>{"".join(parts)}</svg>'
    )


def _img(svg: str, alt: str) -> str:
    """An SVG as an <img> with a data: URI (the page loads nothing), sized to its own width and height."""
    size = re.search(r'width="(\d+)" height="(\d+)"', svg)
    dimensions = f' width="{size.group(1)}" height="{size.group(2)}"' if size else ""
    encoded = base64.b64encode(svg.encode()).decode("ascii")
    return f'<img src="data:image/svg+xml;base64,{encoded}" alt="{_e(alt)}"{dimensions}>'


def svg_of(image_tag: str) -> str:
    """The SVG inside an <img> this module made (for tests and tools that read the page back)."""
    match = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', image_tag)
    if match is None:
        raise ValueError("not an <img> with an SVG data: URI")
    return base64.b64decode(match.group(1)).decode()


# --- small helpers ----------------------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


def _float(value: Any) -> str | None:
    return None if value is None else f"{float(value):.4f}"


def _tick(value: float) -> str:
    return f"{0.0 if abs(value) < 1e-9 else value:g}"


def _none() -> str:
    return '<span class="muted">—<span class="visually-hidden">not reached</span></span>'


def _section(anchor: str, title: str, body: str) -> str:
    heading = f'<h2 id="{anchor}-title">{_e(title)}</h2>'
    return f'<section id="{anchor}" aria-labelledby="{anchor}-title">{heading}{body}</section>'


def _status_class(status: str | None) -> str:
    """A status of any service (Succeeded, SUCCEEDED, succeeded, Failed, TIMED_OUT...) as one of four looks."""
    text = (status or "not run").lower()
    if text in ("succeeded", "completed", "inservice", "approved"):
        return "succeeded"
    if text in ("failed", "timed_out", "aborted", "stopped", "stopping") or "fail" in text:
        return "failed"
    if text in ("not run", "skipped", "none"):
        return "not run"
    return "running"


def _status_badge(status: str) -> str:
    look = _status_class(status)
    mark = {"succeeded": "✓", "failed": "✗", "not run": "–", "running": "…"}[look]
    return f'<span class="badge {look.replace(" ", "-")}"><span aria-hidden="true">{mark} </span>{_e(status)}</span>'


_STYLE = """
:root { --fg: #111827; --muted: #4b5563; --line: #d1d5db; --ok: #007a5a; --bad: #b42318; --bg-soft: #f9fafb; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 1.5rem; font: 15px/1.5 system-ui, -apple-system, "Segoe UI",
  Roboto, Helvetica, Arial, sans-serif; color: var(--fg); background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; } h2 { font-size: 1.25rem; margin: 2rem 0 .75rem;
  border-bottom: 1px solid var(--line); padding-bottom: .25rem; } h3 { font-size: 1rem; margin: 1rem 0 .5rem; }
.muted { color: var(--muted); font-weight: normal; }
.mono, code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em; }
code { background: var(--bg-soft); padding: .05rem .3rem; border-radius: 4px; word-break: break-all; }
pre { background: var(--bg-soft); border: 1px solid var(--line); padding: .75rem; overflow: auto; max-height: 28rem;
  white-space: pre-wrap; word-break: break-word; }
.verdict { font-size: 1.2rem; font-weight: 700; margin: .25rem 0; }
.verdict.ok, .ok-text { color: var(--ok); } .verdict.bad, .bad-text { color: var(--bad); }
.reason { border-left: 4px solid var(--bad); background: #fef3f2; padding: .5rem .75rem; margin: .5rem 0;
  white-space: pre-wrap; word-break: break-word; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: .5rem; margin: 1rem 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: .5rem .75rem; background: var(--bg-soft); }
.card dt { font-size: .8rem; color: var(--muted); } .card dd { margin: 0; font-size: 1.15rem; font-weight: 600; }
.sample { margin: .5rem 0; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid var(--line); }
thead th { background: var(--bg-soft); } td.num { text-align: right; white-space: nowrap; }
td.barcell { width: 18%; } .bar { display: block; height: .7rem; background: #56B4E9; border-radius: 2px;
  min-width: 1px; margin-top: .35rem; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .8rem; font-weight: 600;
  border: 1px solid currentColor; white-space: nowrap; }
.badge.succeeded { color: var(--ok); } .badge.failed { color: var(--bad); } .badge.running { color: #8a5a00; }
.badge.not-run { color: var(--muted); }
ol.path { list-style: none; display: flex; flex-wrap: wrap; align-items: center; gap: .35rem; padding: 0;
  margin: .5rem 0; }
ol.path > li { display: flex; align-items: center; gap: .35rem; }
ol.path > li + li::before { content: "→"; color: var(--muted); }
.state { border: 1px solid var(--line); border-radius: 6px; padding: .1rem .5rem; background: #fff;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .8rem; }
.state.end.succeeded { border: 2px solid var(--ok); } .state.end.failed { border: 2px solid var(--bad);
  background: #fef3f2; } .state.end.running { border: 2px solid #8a5a00; }
.loop { display: inline-flex; align-items: center; gap: .4rem; border: 1px dashed #9ca3af; border-radius: 8px;
  padding: .2rem .45rem; background: var(--bg-soft); }
.loop ol.path { margin: 0; } .times { font-weight: 700; color: var(--muted); font-size: .9rem; }
.execution { border: 1px solid var(--line); border-radius: 8px; padding: .25rem 1rem .75rem; margin: .75rem 0; }
figure { margin: .75rem 0; } figcaption { color: var(--muted); font-size: .85rem; }
.scroll { overflow-x: auto; } .plots { display: flex; flex-wrap: wrap; gap: 1rem; }
.plots img { max-width: 100%; height: auto; }
img { border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
.facts div { display: contents; } .facts dt { font-weight: 600; } .facts dd { margin: 0; word-break: break-word; }
.warn { border-left: 4px solid #E69F00; background: #fffbeb; padding: .25rem .75rem; }
details summary { cursor: pointer; color: #1d4ed8; } ul.files { columns: 2; }
a { color: #1d4ed8; }
footer { margin-top: 2rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
@media print { details { display: block; } .scroll { overflow: visible; } }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""
