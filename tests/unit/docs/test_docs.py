"""The documentation stays a front door plus pages that are reachable and true to the repository.

README.md is at most 200 lines and links every page of docs/; every relative link (and its #anchor, by GitHub's
heading slugs) in README.md, CONTRIBUTING.md and docs/*.md resolves; every `make <target>` they mention is a target of
the Makefile; every template parameter is documented in docs/configuration.md.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from cfn import load_template

REPO = Path(__file__).resolve().parents[3]
README = REPO / "README.md"
DOCS = REPO / "docs"
README_MAX_LINES = 200

PAGES = sorted(DOCS.glob("*.md"))
DOCUMENTS = [README, REPO / "CONTRIBUTING.md", *PAGES]

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target) and ![alt](target); the text may hold a code span, the target no spaces (an optional title follows).
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...
MAKE_MENTION = re.compile(r"\bmake\s+([a-z][A-Za-z0-9_.<>-]*)")  # `make build-<LogicalId>` is a pattern
MAKE_RULE = re.compile(r"^([^\s#:=$.][^:#=]*?)\s*::?(?!=)")


@dataclass(frozen=True)
class Markdown:
    """A Markdown file split into prose lines (code fences removed) and code (fences and inline spans)."""

    path: Path
    prose: list[str]
    code: list[str]

    @classmethod
    def read(cls, path: Path) -> Markdown:
        prose: list[str] = []
        code: list[str] = []
        fenced = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if FENCE.match(line):
                fenced = not fenced
                continue
            if fenced:
                code.append(line)
            else:
                prose.append(line)
                code.extend(match.group(2) for match in CODE_SPAN.finditer(line))
        return cls(path, prose, code)

    def anchors(self) -> set[str]:
        """The anchors GitHub gives this file's headings (a repeated slug gets -1, -2, ...)."""
        seen: dict[str, int] = {}
        anchors: set[str] = set()
        for line in self.prose:
            match = HEADING.match(line)
            if match is None:
                continue
            slug = github_slug(match.group(2))
            count = seen.get(slug, 0)
            anchors.add(slug if count == 0 else f"{slug}-{count}")
            seen[slug] = count + 1
        return anchors

    def links(self) -> list[str]:
        """Every link target in the prose, inline code spans excluded."""
        targets: list[str] = []
        for line in self.prose:
            targets.extend(match.group(1) for match in LINK.finditer(CODE_SPAN.sub("", line)))
        return targets


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: its rendered text, lower case, without punctuation, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = re.sub(r"[`*]|(?<!\w)_|_(?!\w)", "", text)  # code and emphasis markers
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def makefile_targets(makefile: Path) -> set[str]:
    """The targets of rules (``name:`` and ``a b:``), not variables (``NAME :=``) or targets built from variables."""
    targets: set[str] = set()
    for line in makefile.read_text(encoding="utf-8").splitlines():
        match = MAKE_RULE.match(line)
        if match is None:
            continue
        targets.update(name for name in match.group(1).split() if "$" not in name and "/" not in name)
    return targets


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO))


# --- the README ------------------------------------------------------------------------------------------------------
def test_the_readme_is_a_front_door_of_at_most_200_lines() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move details to docs/ (at most {README_MAX_LINES})"


def test_every_page_of_docs_is_linked_from_the_readme() -> None:
    linked = {
        (README.parent / target.split("#", 1)[0]).resolve()
        for target in Markdown.read(README).links()
        if not EXTERNAL.match(target) and not target.startswith("#")
    }
    unlinked = [_relative(page) for page in PAGES if page.resolve() not in linked]
    assert PAGES, "docs/ has no pages"
    assert not unlinked, f"pages not linked from README.md: {', '.join(unlinked)}"


# --- links -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("document", DOCUMENTS, ids=_relative)
def test_every_relative_link_resolves_to_a_file_and_heading(document: Path) -> None:
    markdown = Markdown.read(document)
    problems: list[str] = []
    for target in markdown.links():
        if EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        linked = (document.parent / path_part).resolve() if path_part else document.resolve()
        if not linked.exists():
            problems.append(f"{target}: {linked} does not exist")
            continue
        if anchor and linked.suffix == ".md" and anchor not in Markdown.read(linked).anchors():
            problems.append(f"{target}: no heading with the anchor #{anchor} in {_relative(linked)}")
    assert not problems, f"{_relative(document)}:\n" + "\n".join(problems)


def test_the_slug_rules_match_githubs() -> None:
    # GIVEN headings with code, punctuation and colons, as the pages have them
    # THEN their anchors are GitHub's
    assert github_slug("1. The network stack (`network.yaml`)") == "1-the-network-stack-networkyaml"
    assert github_slug("X-Ray SDK dropped: native tracing and opt-in OpenTelemetry") == (
        "x-ray-sdk-dropped-native-tracing-and-opt-in-opentelemetry"
    )
    assert github_slug("What a run leaves in `build/local-run/`") == "what-a-run-leaves-in-buildlocal-run"
    assert github_slug("Only the pipeline") == "only-the-pipeline"


# --- make targets ----------------------------------------------------------------------------------------------------
def test_the_makefile_parser_finds_rules_and_skips_variables() -> None:
    targets = makefile_targets(REPO / "Makefile")
    assert {"local", "test", "build", "bench", "build-SharedLayer"} <= targets
    assert not {"SHELL", "PYTHON", "VENV", "BUILT"} & targets


def test_make_test_sets_up_every_tier_it_runs() -> None:
    """A prerequisite is expanded when make reads the rule: a variable defined below the rule would expand to nothing
    and the tier it installs (the e2e tier's chromium, once) would be silently skipped on a fresh machine."""
    database = subprocess.run(["make", "-pnq", "-C", str(REPO)], capture_output=True, text=True, check=False).stdout
    rule = re.search(r"^test: (.*)$", database, re.MULTILINE)
    assert rule, "make's database has no rule for test"
    prerequisites = set(rule.group(1).split())
    assert {
        "lint",
        "build/pipeline-definition.json",
        ".aws-sam/build/.built",
        "build/lambda-runtime/.installed",
        "security",
        "/usr/bin/chromium",
    } <= prerequisites, prerequisites


@pytest.mark.parametrize("document", DOCUMENTS, ids=_relative)
def test_every_make_target_mentioned_exists(document: Path) -> None:
    targets = makefile_targets(REPO / "Makefile")
    code = Markdown.read(document).code
    mentioned = {match.group(1) for text in code for match in MAKE_MENTION.finditer(text) if "<" not in match.group(1)}
    missing = sorted(mentioned - targets)
    assert not missing, f"{_relative(document)} mentions make targets the Makefile lacks: {', '.join(missing)}"


# --- configuration ---------------------------------------------------------------------------------------------------
def test_every_template_parameter_is_documented_in_configuration() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    parameters = load_template()["Parameters"]
    undocumented = sorted(name for name in parameters if f"`{name}`" not in page)
    assert not undocumented, f"docs/configuration.md lacks template parameters: {', '.join(undocumented)}"
