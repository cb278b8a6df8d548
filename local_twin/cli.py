"""``make local``: its options and exit codes. The stages are :mod:`local_twin.flow`; what it prints,
:mod:`local_twin.report`.

Exit codes: 0 every stage succeeded; 1 a stage failed (summary.json names it and why); 2 a usage error.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from local_twin.flow import DEFAULT_DATA, DEFAULT_OUTPUT_DIR, REPO_ROOT, TARGETS, LocalRun, Options, run_flow
from local_twin.html_report import write_report
from local_twin.report import Reporter, UsageError, print_summary, write_summary

DATA_ENV_VAR = "ABALONE_DATA"
DEFINITION = REPO_ROOT / "build" / "pipeline-definition.json"  # the DAG the report draws


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make local",
        description=(
            "Train, approve and deploy the abalone model on this machine: the same template, state machines, "
            "functions and pipeline definition as in AWS, against an emulated AWS account (no account, no Docker)."
        ),
        epilog='Through make: make local ARGS="--target batch --param MseThreshold=7"',
    )
    parser.add_argument(
        "--target", choices=TARGETS, default="endpoint", help="deploy to a real-time endpoint or run a batch transform"
    )
    parser.add_argument(
        "--no-approve",
        dest="approve",
        action="store_false",
        help="stop when the model is registered and awaits approval (nothing is deployed)",
    )
    parser.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="K=V",
        help="a pipeline parameter for the training execution, e.g. MseThreshold=7 (repeatable)",
    )
    parser.add_argument(
        "--data", type=Path, default=None, help=f"the abalone CSV (default: ${DATA_ENV_VAR}, else data/abalone.csv)"
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="after the flow, keep the emulated account and the endpoint up for the AWS CLI, boto3 and curl (Ctrl-C)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="the emulated account's port (default: a free one; fix it for scripts)"
    )
    parser.add_argument(
        "--drift",
        action="store_true",
        help="send the monitored endpoint shifted records: the data-quality run reports the violated features and "
        "the drift alarm notifies",
    )
    parser.add_argument(
        "--accounts",
        type=int,
        choices=(1, 3),
        default=1,
        help="1: one account trains and deploys; 3: a registry account trains, a staging account deploys and "
        "verifies, a production account deploys the promoted version (--target endpoint only)",
    )
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="where summary.json is written")
    parser.add_argument("--region", default="us-east-1", help="the emulated AWS region")
    return parser


def parse_options(argv: Sequence[str] | None, environ: Mapping[str, str] | None = None) -> Options:
    """Parse the command line; a bad ``--param`` or a missing data file is a :class:`UsageError`."""
    args = _parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    if args.drift and args.target != "endpoint":
        raise UsageError("--drift monitors an endpoint: it cannot be combined with --target batch")
    if args.accounts == 3 and args.target != "endpoint":
        raise UsageError("--accounts 3 deploys to endpoints: it cannot be combined with --target batch")
    if args.accounts == 3 and args.drift:
        raise UsageError("--accounts 3 has no monitoring stage: it cannot be combined with --drift")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a TCP port (0 picks a free one)")
    return Options(
        target=args.target,
        approve=args.approve,
        pipeline_parameters=parse_params(args.params),
        data=resolve_data_path(args.data, environ),
        keep_running=args.keep_running,
        output_dir=args.output_dir,
        region=args.region,
        port=args.port,
        drift=args.drift,
        accounts=args.accounts,
    )


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    """``["K=V", ...]`` → ``{"K": "V"}``; names are checked against the pipeline's parameters when it exists."""
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--param {pair!r} is not NAME=VALUE (e.g. --param MseThreshold=7)")
        if name.strip() in params:
            raise UsageError(f"--param {name.strip()} is given twice")
        params[name.strip()] = value
    return params


def resolve_data_path(cli_value: Path | None, environ: Mapping[str, str]) -> Path:
    """``--data``, else ``$ABALONE_DATA``, else ``data/abalone.csv`` (shipped with the project)."""
    if cli_value is not None:
        path, origin = cli_value, f"--data {cli_value}"
    elif environ.get(DATA_ENV_VAR, "").strip():
        path, origin = Path(environ[DATA_ENV_VAR]), f"{DATA_ENV_VAR}={environ[DATA_ENV_VAR]}"
    else:
        path, origin = DEFAULT_DATA, str(DEFAULT_DATA.relative_to(REPO_ROOT))
    if not path.is_file():
        raise UsageError(
            f"the abalone data set was not found ({origin}: no such file). Give it one of three ways: "
            f'--data PATH (make local ARGS="--data PATH"), the {DATA_ENV_VAR} environment variable, '
            "or data/abalone.csv (shipped with the project; `make data` downloads it again from UCI)."
        )
    return path.resolve()


def keep_running_message(run: LocalRun) -> str:
    """The lines to paste into another terminal to drive the emulated account."""
    aws = run.aws
    lines = [
        f"\nThe emulated account is up at {aws.url} until Ctrl-C. In another terminal:",
        f"  export AWS_ENDPOINT_URL={aws.url} AWS_DEFAULT_REGION={aws.region} "
        "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
    ]
    if run.summary.model_package_arn:
        group = run.summary.model_package_arn.split("/")[-2]
        lines += [
            f"  aws sagemaker list-model-packages --model-package-group-name {group}",
            f"  aws sagemaker update-model-package --model-package-arn {run.summary.model_package_arn} "
            "--model-approval-status Approved",
            f"  aws stepfunctions start-execution --state-machine-arn {run.train_machine_arn} --input '{{}}'",
        ]
    record = run.summary.sample_record or "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
    for (account, name), container in sorted(run.serving.endpoints.items()):
        where = "" if account == aws.account_id else f" (account {account})"
        lines.append(
            f"  curl -s -H 'Content-Type: text/csv' -H 'Accept: application/json' --data-binary '{record}' "
            f"{container.url}/invocations   # {name}{where}"
        )
    return "\n".join(lines)


def wait_for_interrupt(run: LocalRun, reporter: Reporter) -> None:
    """Block until Ctrl-C or SIGTERM; the emulated account keeps serving meanwhile."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        reporter.console.print(keep_running_message(run), markup=False, soft_wrap=True)
        stop.wait()
        reporter.console.print("stopped", markup=False)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None, *, stream: TextIO | None = None, live: bool | None = None) -> int:
    """Run the flow; 0 on success, 1 if a stage failed, 2 for a usage error."""
    reporter = Reporter(stream, live=live)
    try:
        options = parse_options(argv)
    except UsageError as exc:
        reporter.console.print(f"make local: {exc}", markup=False, style="red")
        return 2

    def after(run: LocalRun) -> None:
        if options.keep_running:
            run.summary.stages = list(reporter.stages)
            run.summary.total_seconds = round(sum(stage.seconds for stage in reporter.stages), 3)  # so far
            write_summary(run.summary, options.output_dir)
            print_summary(run.summary, reporter.console, options.output_dir)
            wait_for_interrupt(run, reporter)

    summary = run_flow(options, reporter, after)
    summary.report_html = str(write_report(summary, options.output_dir, definition=DEFINITION))
    write_summary(summary, options.output_dir)
    if not options.keep_running:
        print_summary(summary, reporter.console, options.output_dir)
    reporter.console.print(f"summary: {options.output_dir / 'summary.json'}", markup=False)
    return 0 if summary.status == "succeeded" else 1
