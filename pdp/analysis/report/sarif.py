"""The SARIF 2.1.0 report, fit for code scanning: one result per rule and location.

A SARIF rule is a finding kind (`pdp/toxic_combination`, ...), the same ids
and tool name (`pdp`) as `pdp ci`'s SARIF. The findings of one kind, policy
rule (or grant) and location make one result, with its subjects in
`properties.subjects`: a bank's 144,783 findings become a few thousand
results. Should a review still give more than `MAX_RESULTS` (code scanning
takes at most 25,000 a run), the kinds with the most results are merged per
file, largest first, until it fits. A result whose every finding the risk
register accepts carries a `suppressions` entry; a partly accepted one lists
its accepted subjects. Severities map to SARIF levels: critical and high ->
`error`, medium -> `warning`, low and info -> `note`; `security-severity`
gives code-scanning UIs the numeric rank. Each rule carries help text and a
`helpUri` into the review's documentation: `docs/review.md#<kind>` relative
to the repository, or under the URL given as `docs_url` (`--docs-url`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

from pdp.analysis.finding import KINDS, SEVERITY_RANK, Finding, Pending
from pdp.analysis.register import Acceptance, Verdict
from pdp.analysis.report.stream import PLACEHOLDER, write_json
from pdp.analysis.report.triage import DESCRIPTIONS, DOCS_URL, Report
from pdp.analysis.report.wire import encode
from pdp.errors import Location

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL = "pdp"
MAX_RESULTS = 25_000
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}
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
    "break_glass_grant": "medium",
    "expired_access": "low",
    "expiring_access": "low",
    "sensitive_without_mfa": "high",
}
HELP = {
    "sod_violation": "A separation-of-duty rule allows a person at most `max` of its roles; "
    "this subject holds more. Remove a role, or accept the risk with a compensating control "
    "(a second approver) in the risk register.",
    "toxic_combination": "A toxic rule names permissions that must not meet in one person or "
    "role (for example ID numbers and transactions disclosed together). Split the duties, "
    "or accept the risk with its controls in the risk register.",
    "outside_duties": "A role holds permissions for purposes that are not among its duties "
    "(its own or inherited). Narrow the grant, or add the duty after a documented review.",
    "unused_permission": "A subject holds permissions it did not use in the usage window. "
    "Remove what is not needed (least privilege).",
    "over_broad_grant": "A grant reaches data of a higher sensitivity level than the classes it "
    "names, or uses `*` to reach top-level data. Name the classes the role needs.",
    "redundant_grant": "Every permission of this grant for this role is given by another grant. "
    "Removing the role from the grant changes nothing.",
    "equivalent_roles": "These roles hold exactly the same permissions: merge them or tell "
    "them apart.",
    "dormant_role": "No user holds this role, directly or through inheritance. Remove it or "
    "assign it.",
    "orphan_user": "This user has no roles. Remove the user or give it its roles.",
    "high_exposure": "This role or user holds far more top-level (most sensitive) data than its "
    "peers. Check that each permission is needed.",
    "break_glass_grant": "A break-glass grant gives emergency access with a ticket, and every use "
    "raises an alert. Check that the roles and users who can use it are the ones who should, "
    "and that its uses are reviewed.",
    "expired_access": "The window of this grant or role assignment has ended: it gives nothing "
    "any more. Remove it from the policy.",
    "expiring_access": "This grant or role assignment ends within 30 days. Renew it with its "
    "approval, or let it lapse.",
    "sensitive_without_mfa": "This grant reaches top-level (C3) or sensitive personal data "
    "without `when: {mfa: true}`. Ask for MFA, or accept the risk for a service account in the "
    "risk register.",
}


def docs_uri(base: str, page: str, anchor: str = "") -> str:
    """A page of the docs under a base URL (or repository-relative path), with an anchor."""
    uri = f"{base.rstrip('/')}/{page}" if base else page
    return f"{uri}#{anchor}" if anchor else uri


def rule(kind: str, docs: str = DOCS_URL) -> dict[str, Any]:
    """The SARIF rule of a finding kind (id `pdp/<kind>`), with help text and its docs URI.

    `helpUri` is the kind's section of `review.md` under `docs`.
    """
    severity = DEFAULT_SEVERITY[kind]
    description = DESCRIPTIONS[kind]
    return {
        "id": rule_id(kind),
        "name": "".join(part.capitalize() for part in kind.split("_")),
        "shortDescription": {"text": description[0].upper() + description[1:]},
        "fullDescription": {"text": HELP[kind]},
        "help": {"text": HELP[kind], "markdown": HELP[kind]},
        "helpUri": docs_uri(docs, "review.md", kind.replace("_", "-")),
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {"security-severity": SECURITY_SEVERITY[severity], "tags": ["security"]},
    }


def rule_id(kind: str) -> str:
    """The SARIF rule id of a finding kind, the same in `pdp review` and `pdp ci`."""
    return f"pdp/{kind}"


def suppression(acceptance: Acceptance) -> dict[str, Any]:
    """The SARIF suppression of a finding the risk register accepts."""
    return {
        "kind": "external",
        "status": "accepted",
        "justification": acceptance.reason,
        "properties": acceptance.to_dict(),
    }


@dataclass
class Bundle:
    """The findings of one result: one kind, rule and location (or one kind and file)."""

    kind: str
    rule_id: str | None
    location: Location | None
    entries: list[Pending] = field(default_factory=list)


def bundles(entries: Iterable[Pending], limit: int = MAX_RESULTS) -> list[Bundle]:
    """The findings bundled per kind, rule and location, merged per file to fit `limit`."""
    found: dict[tuple[Any, ...], Bundle] = {}
    for entry in entries:
        key = (entry.kind, entry.rule_id, entry.location)
        bundle = found.get(key)
        if bundle is None:
            bundle = found[key] = Bundle(entry.kind, entry.rule_id, entry.location)
        bundle.entries.append(entry)
    result = list(found.values())
    while len(result) > limit:
        per_kind: dict[str, int] = {}
        for b in result:
            if b.rule_id is not None or b.location is not None:
                per_kind[b.kind] = per_kind.get(b.kind, 0) + 1
        if not per_kind:
            break
        largest = max(per_kind, key=lambda k: per_kind[k])
        result = _merged_per_file(result, largest)
    return result


def _merged_per_file(found: list[Bundle], kind: str) -> list[Bundle]:
    """The bundles of one kind merged per file (rules and lines in the result's properties)."""
    merged: dict[str, Bundle] = {}
    rest: list[Bundle] = []
    for b in found:
        if b.kind != kind:
            rest.append(b)
            continue
        file = b.location.file if b.location is not None else ""
        target = merged.get(file)
        if target is None:
            first = Location(file, b.location.line, 0) if b.location is not None else None
            target = merged[file] = Bundle(kind, None, first if file else None)
        target.entries.extend(b.entries)
    return rest + list(merged.values())


def results(entries: Iterable[Pending], verdict: Verdict) -> Iterator[dict[str, Any]]:
    """The SARIF results of findings: one per bundle, most severe first."""
    index = {kind: i for i, kind in enumerate(KINDS)}
    found = bundles(entries)
    found.sort(key=lambda b: (-max(SEVERITY_RANK[e.severity] for e in b.entries), index[b.kind]))
    for bundle in found:
        yield _result(bundle, index[bundle.kind], verdict)


def render_sarif(report: Report) -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log (a JSON-ready mapping)."""
    log = _log(report)
    log["runs"][0]["results"] = list(results(report.entries(), report.verdict))
    return log


def write_sarif(report: Report, out: TextIO) -> None:
    """Write the SARIF log as indented JSON, a result a line (`render_sarif`'s document)."""
    log = _log(report)
    log["runs"][0]["results"] = PLACEHOLDER
    texts = (encode(r) for r in results(report.entries(), report.verdict))
    write_json(log, texts, out)


def sarif_log(
    run_results: list[dict[str, Any]], properties: dict[str, Any], docs: str = DOCS_URL
) -> dict[str, Any]:
    """A SARIF log of one run of `pdp`, with every finding kind's rule and these results.

    `docs` is the base of the rules' `helpUri`; the tool's `informationUri`,
    which SARIF wants absolute, is given only when `docs` is an absolute URL.
    """
    driver: dict[str, Any] = {"name": TOOL}
    if urlsplit(docs).scheme:
        driver["informationUri"] = docs_uri(docs, "review.md")
    driver["semanticVersion"] = _version()
    driver["rules"] = [rule(kind, docs) for kind in KINDS]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": run_results, "properties": properties}],
    }


def _log(report: Report) -> dict[str, Any]:
    """The SARIF log without its results (`results` is None, to be filled in)."""
    review = report.review
    log = sarif_log(
        [],
        {
            "policy_version": review.policy_version,
            "overview": report.overview,
            "summary": review.summary,
        },
        report.docs_url,
    )
    log["runs"][0]["automationDetails"] = {"id": f"pdp-review/{review.policy_version}"}
    return log


def _result(bundle: Bundle, rule_index: int, verdict: Verdict) -> dict[str, Any]:
    entries = bundle.entries
    severity = max((e.severity for e in entries), key=SEVERITY_RANK.__getitem__)
    subjects = [f"{e.subject_kind}:{e.subject_id}" for e in entries]
    accepted = [(e, verdict.acceptance_of(e)) for e in entries]
    accepted_subjects = [f"{e.subject_kind}:{e.subject_id}" for e, a in accepted if a]
    first = entries[0].build()
    rules = sorted({e.rule_id for e in entries if e.rule_id is not None})
    result: dict[str, Any] = {
        "ruleId": rule_id(bundle.kind),
        "ruleIndex": rule_index,
        "level": LEVELS[severity],
        "message": {"text": _message(bundle, first, rules)},
        "partialFingerprints": {"pdpResult/v1": _fingerprint(bundle)},
        "properties": {
            "severity": severity,
            "security-severity": SECURITY_SEVERITY[severity],
            "rule_id": bundle.rule_id,
            "rules": rules,
            "findings": len(entries),
            "subjects": subjects,
            "accepted_subjects": accepted_subjects,
        },
    }
    if len(entries) == 1:
        result["partialFingerprints"]["pdpFinding/v1"] = first.fingerprint
    if bundle.location is not None and bundle.location.file:
        result["locations"] = [_location(bundle.location)]
    if accepted and all(a is not None for _, a in accepted):
        result["suppressions"] = [suppression(a) for a in _distinct(a for _, a in accepted)]
    return result


def _message(bundle: Bundle, first: Finding, rules: list[str]) -> str:
    n = len(bundle.entries)
    if n == 1:
        return first.message.replace("`", "")
    names = [f"{e.subject_kind} {e.subject_id}" for e in bundle.entries[:5]]
    more = f" and {n - 5} more" if n > 5 else ""
    about = bundle.rule_id or (", ".join(rules[:3]) + (" …" if len(rules) > 3 else "") or "")
    head = f"{about}: " if about else ""
    return f"{head}{n} subjects {DESCRIPTIONS[bundle.kind]}: {', '.join(names)}{more}"


def _fingerprint(bundle: Bundle) -> str:
    loc = bundle.location
    parts = [
        bundle.kind,
        bundle.rule_id or "",
        loc.file if loc else "",
        str(loc.line if loc else 0),
    ]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _distinct(acceptances: Iterator[Acceptance | None]) -> list[Acceptance]:
    found: dict[int, Acceptance] = {}
    for a in acceptances:
        if a is not None:
            found.setdefault(a.number, a)
    return list(found.values())


def _location(location: Location) -> dict[str, Any]:
    region: dict[str, int] = {"startLine": max(location.line, 1)}
    if location.column:
        region["startColumn"] = location.column
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(location.file)},
            "region": region,
        }
    }


def artifact_uri(file: str) -> str:
    """A SARIF artifact URI: a relative path with `/`, or a `file://` URI when absolute."""
    path = Path(file)
    if path.is_absolute():
        return path.as_uri()
    return quote(path.as_posix())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for name in ("pdp-policy", "pdp"):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return "0.0.0"
