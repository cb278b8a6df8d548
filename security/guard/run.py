"""Run cfn-guard (Control Tower proactive controls + project rules) on the deployments the templates describe.

Inputs are the SAM-expanded template (security/sam_expand.py) and network.yaml. Each is specialised per deployment
scenario (cfn.template.specialise: conditions decided, parameters filled) because CloudFormation hooks, and so
the Control Tower controls, judge resolved properties. A failure names the scenario, the rule and the resource; waivers
(security/guard/control-tower.yaml) are per rule and resource, with a reason, and a stale waiver fails too.

Usage: python -m security.guard.run build/security/template.expanded.json network.yaml build/security/guard
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cfn import REPO_ROOT, load_template, specialise

GUARD_PACKAGE = REPO_ROOT / "node_modules" / "@cdklabs" / "cdk-validator-cfnguard"
GUARD_BINARY = GUARD_PACKAGE / "bin" / "ubuntu" / "x86_64" / "cfn-guard"
CONTROL_TOWER_RULES = GUARD_PACKAGE / "rules" / "control-tower" / "cfn-guard"
HERE = Path(__file__).resolve().parent
SELECTION = HERE / "control-tower.yaml"
PROJECT_RULES = HERE / "project.guard"

SAMPLE_NETWORK = {
    "PrivateSubnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
    "SecurityGroupIds": ["sg-0a1b2c3d4e5f60003"],
}
# The main stack's deployment scenarios: the key the stack creates, or an existing key (plus an e-mail subscription).
MAIN_SCENARIOS: dict[str, dict[str, Any]] = {
    "stack-key": {**SAMPLE_NETWORK},
    "existing-key": {
        **SAMPLE_NETWORK,
        "KmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd",
        "NotificationEmail": "ml-ops@example.com",
        "Environment": "prod",
    },
}


@dataclass(frozen=True)
class Finding:
    scenario: str
    rule: str
    control: str  # e.g. CT.SQS.PR.2 or PROJECT.SAGEMAKER.1
    resource: str
    message: str

    def __str__(self) -> str:
        return f"FAIL [{self.control} {self.rule}] {self.scenario}: {self.resource}: {self.message}"


@dataclass(frozen=True)
class Report:
    passed: int  # (scenario, rule) pairs that were compliant
    skipped: int  # (scenario, rule) pairs with no resource of the rule's type
    findings: tuple[Finding, ...]
    waived: tuple[Finding, ...]
    stale_waivers: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.findings and not self.stale_waivers


def selected_rules() -> list[Path]:
    """The Control Tower rule files the project applies, then the project's own rules."""
    selection = yaml.safe_load(SELECTION.read_text())
    rules = [CONTROL_TOWER_RULES / relative for relative in selection["rules"]]
    missing = [str(path) for path in rules if not path.exists()]
    if missing:
        raise FileNotFoundError(f"Control Tower rules not found (run `npm ci`): {', '.join(missing)}")
    return [*rules, PROJECT_RULES]


def waivers() -> dict[tuple[str, str], str]:
    selection = yaml.safe_load(SELECTION.read_text())
    return {(w["rule"], w["resource"]): w["reason"] for w in selection.get("waivers", [])}


def scenarios(expanded: Mapping[str, Any], network: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Scenario name -> the specialised template it deploys."""
    result = {f"template/{name}": specialise(expanded, parameters) for name, parameters in MAIN_SCENARIOS.items()}
    result["network/defaults"] = specialise(network, {})
    return result


def evaluate(documents: Mapping[str, Mapping[str, Any]], work_dir: Path) -> Report:
    """Run every selected rule on every document and apply the waivers."""
    rules = selected_rules()
    passed = skipped = 0
    findings: list[Finding] = []
    for scenario, document in documents.items():
        data = work_dir / f"{scenario.replace('/', '-')}.json"
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text(json.dumps(document, indent=1))
        report = _run_guard(rules, data)
        passed += len(report.get("compliant", []))
        skipped += len(report.get("not_applicable", []))
        findings.extend(_findings(scenario, report))
    allowed = waivers()
    waived = [f for f in findings if (f.rule, f.resource) in allowed]
    used = {(f.rule, f.resource) for f in waived}
    stale = tuple(
        f"waiver for {rule} on {resource} matches no failure: remove it"
        for rule, resource in allowed
        if (rule, resource) not in used
    )
    return Report(
        passed=passed,
        skipped=skipped,
        findings=tuple(f for f in findings if (f.rule, f.resource) not in allowed),
        waived=tuple(waived),
        stale_waivers=stale,
    )


def _run_guard(rules: list[Path], data: Path) -> dict[str, Any]:
    command = [str(GUARD_BINARY), "validate", "--structured", "-S", "none", "-o", "json", "-d", str(data)]
    for rule in rules:
        command += ["-r", str(rule)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    # cfn-guard exits 19 when a rule fails and 0 when all pass; anything else is an error of its own.
    if completed.returncode not in (0, 19):
        raise RuntimeError(f"cfn-guard failed (exit {completed.returncode}): {completed.stderr or completed.stdout}")
    reports: list[dict[str, Any]] = json.loads(completed.stdout)
    (report,) = reports
    return report


def _findings(scenario: str, report: Mapping[str, Any]) -> Iterator[Finding]:
    for entry in report.get("not_compliant", []):
        rule = entry["Rule"]
        message = _first_custom_message(rule) or rule["name"]
        control = re.search(r"\[([A-Z0-9.]+)\]", message)
        resources = sorted(set(re.findall(r"/Resources/([^/\"]+)", json.dumps(rule)))) or ["(template)"]
        summary = " ".join(line.strip() for line in message.strip().splitlines()[:1])
        for resource in resources:
            yield Finding(scenario, rule["name"], control.group(1) if control else "?", resource, summary)


def _first_custom_message(node: Any) -> str | None:
    children: list[Any]
    if isinstance(node, dict):
        custom = (node.get("messages") or {}).get("custom_message")
        if custom and custom.strip():
            return str(custom)
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _first_custom_message(child)
        if found:
            return found
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m security.guard.run <expanded.json> <network.yaml> <work dir>", file=sys.stderr)
        return 2
    expanded = json.loads(Path(argv[0]).read_text())
    network = load_template(Path(argv[1]))
    report = evaluate(scenarios(expanded, network), Path(argv[2]))
    for finding in report.findings:
        print(finding)
    for stale in report.stale_waivers:
        print(f"FAIL {stale}")
    for finding in report.waived:
        print(f"waived [{finding.control}] {finding.scenario}: {finding.resource} (security/guard/control-tower.yaml)")
    print(
        f"cfn-guard: {report.passed} rule evaluations passed, {len(report.findings)} failed, "
        f"{len(report.waived)} waived, {report.skipped} not applicable"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
