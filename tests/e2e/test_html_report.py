"""report.html in a real browser: headless Debian Chromium (``make chromium`` installs it), driven by Playwright
without its own browser download. The page must render, load every image, show each section, and log no error."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.conftest import Run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium's own calls home fail on a closed network and log errors; these flags stop them (see docs/local-twin.md).
QUIET_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECTIONS = ("stages", "executions", "pipeline", "predictions", "monitoring")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=QUIET_FLAGS)
        yield launched
        launched.close()


def open_report(browser: Browser, run: Run) -> tuple[Any, list[str]]:
    """The report's page, and every console error and page error it raised while loading."""
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.goto((run.output_dir / "report.html").resolve().as_uri(), wait_until="load")
    return page, problems


@pytest.mark.parametrize("which", ["endpoint_run", "drift_run", "batch_run", "three_account_run"])
def test_the_report_renders_with_every_image_loaded_and_no_error(
    browser: Browser, which: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(which)
    page, problems = open_report(browser, run)
    try:
        images = page.eval_on_selector_all(
            "img", "images => images.map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))"
        )
        headings = page.eval_on_selector_all("section[id]", "sections => sections.map(s => s.id)")
        assert problems == []
        assert images, "the report has no image"
        assert all(image["complete"] and image["width"] > 0 for image in images), images
        assert all(image["alt"] for image in images)
        assert set(SECTIONS) <= set(headings)
        assert page.title().startswith("make local: succeeded")
    finally:
        page.close()


def test_the_drift_report_shows_the_violated_features(browser: Browser, drift_run: Run) -> None:
    page, problems = open_report(browser, drift_run)
    try:
        monitoring = page.inner_text("#monitoring")
        assert problems == []
        assert "violations: baseline_drift_check × 7" in monitoring
        for feature in drift_run.summary["violations"]:
            assert feature in monitoring
        assert "ALARM" in monitoring
    finally:
        page.close()


def test_the_state_machine_path_and_the_pipeline_steps_are_shown(browser: Browser, endpoint_run: Run) -> None:
    page, problems = open_report(browser, endpoint_run)
    try:
        executions = page.inner_text("#executions")
        pipeline = page.inner_text("#pipeline")
        assert problems == []
        assert "Monitor" in executions and "Verify" in executions
        for step in endpoint_run.summary["pipeline_steps"]:
            assert step["name"] in pipeline
    finally:
        page.close()
