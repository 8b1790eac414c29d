"""The SARIF 2.1.0 report, for code-scanning tools: one rule per finding kind.

Each result points at the policy file and line of the grant, rule, role or
user behind the finding (relative paths as given to `pdp review`, absolute
ones as `file://` URIs) and carries the finding's fingerprint in
`partialFingerprints`. Severities map to SARIF levels: critical and high ->
`error`, medium -> `warning`, low and info -> `note`; `security-severity`
gives code-scanning UIs the numeric rank.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from pdp.analysis.finding import ENCODER, KINDS, Finding
from pdp.analysis.register import NO_VERDICT, Acceptance, Verdict
from pdp.analysis.report.stream import PLACEHOLDER, write_json
from pdp.analysis.review import Review

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}
DESCRIPTIONS = {
    "sod_violation": "Holds more roles of a separation-of-duty rule than it allows",
    "toxic_combination": "Holds a permission matching every pattern of a toxic rule",
    "outside_duties": "Holds permissions for purposes outside the role's duties",
    "unused_permission": "Holds permissions not exercised in the usage window",
    "over_broad_grant": "A grant reaches data of a higher level than the classes it names",
    "redundant_grant": "A grant gives nothing other grants do not already give",
    "equivalent_roles": "Roles holding exactly the same permissions",
    "dormant_role": "A role no user holds, directly or through inheritance",
    "orphan_user": "A user without roles",
    "high_exposure": "Reach of top-level data far above peers (robust outlier)",
}
DEFAULT_SEVERITY = {
    "sod_violation": "high",
    "toxic_combination": "high",
    "outside_duties": "medium",
    "unused_permission": "low",
    "over_broad_grant": "high",
    "redundant_grant": "low",
    "equivalent_roles": "low",
    "dormant_role": "low",
    "orphan_user": "low",
    "high_exposure": "medium",
}


def render_sarif(review: Review, verdict: Verdict = NO_VERDICT) -> dict[str, Any]:
    """The review as a SARIF 2.1.0 log (a JSON-ready mapping)."""
    log = _log(review)
    index = {kind: i for i, kind in enumerate(KINDS)}
    log["runs"][0]["results"] = [
        _result(f, index[f.kind], verdict.acceptance_of(f)) for f in review.findings
    ]
    return log


def write_sarif(review: Review, out: TextIO, verdict: Verdict = NO_VERDICT) -> None:
    """Write the SARIF log as indented JSON, a result at a time (`render_sarif`'s text)."""
    log = _log(review)
    log["runs"][0]["results"] = PLACEHOLDER
    index = {kind: i for i, kind in enumerate(KINDS)}
    results = (
        ENCODER.encode(_result(f, index[f.kind], verdict.acceptance_of(f))) for f in review.findings
    )
    write_json(log, results, out)


def _log(review: Review) -> dict[str, Any]:
    """The SARIF log without its results (`results` is None, to be filled in)."""
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pdp review",
                        "semanticVersion": _version(),
                        "rules": [_rule(kind) for kind in KINDS],
                    }
                },
                "automationDetails": {"id": f"pdp-review/{review.policy_version}"},
                "results": None,
                "properties": {
                    "policy_version": review.policy_version,
                    "summary": review.summary,
                },
            }
        ],
    }


def _rule(kind: str) -> dict[str, Any]:
    severity = DEFAULT_SEVERITY[kind]
    return {
        "id": kind,
        "name": "".join(part.capitalize() for part in kind.split("_")),
        "shortDescription": {"text": DESCRIPTIONS[kind]},
        "fullDescription": {"text": f"{DESCRIPTIONS[kind]} (pdp privilege review, docs/review.md)"},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {"security-severity": SECURITY_SEVERITY[severity], "tags": ["security"]},
    }


def _result(f: Finding, rule_index: int, acceptance: Acceptance | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.kind,
        "ruleIndex": rule_index,
        "level": LEVELS[f.severity],
        "message": {"text": f.message},
        "partialFingerprints": {"pdpFinding/v1": f.fingerprint},
        "properties": {
            "severity": f.severity,
            "security-severity": SECURITY_SEVERITY[f.severity],
            "rule_id": f.rule_id,
            "subject": dict(f.subject),
            "level": f.level,
            "evidence": [list(path) for path in f.evidence],
            "permissions": ["/".join(p) for p in f.permissions],
        },
    }
    if f.location is not None and f.location.file:
        region: dict[str, int] = {"startLine": max(f.location.line, 1)}
        if f.location.column:
            region["startColumn"] = f.location.column
        result["locations"] = [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(f.location.file)},
                    "region": region,
                }
            }
        ]
    if acceptance is not None:
        result["suppressions"] = [suppression(acceptance)]
    return result


def suppression(acceptance: Acceptance) -> dict[str, Any]:
    """The SARIF suppression of a finding the risk register accepts."""
    return {
        "kind": "external",
        "status": "accepted",
        "justification": acceptance.reason,
        "properties": acceptance.to_dict(),
    }


def artifact_uri(file: str) -> str:
    """A SARIF artifact URI: a relative path with `/`, or a `file://` URI when absolute."""
    path = Path(file)
    if path.is_absolute():
        return path.as_uri()
    return quote(path.as_posix())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pdp")
    except PackageNotFoundError:
        return "0.0.0"
