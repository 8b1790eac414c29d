"""The review of the reference policy, pinned: kind, rule, subject, severity and level."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pdp.analysis.review import review
from pdp.core.compile import compile_policy
from pdp.core.load import load_policy
from tests.analysis.conftest import AT

ROOT = Path(__file__).resolve().parents[2]

PINNED = [
    ("critical", "sod_violation", "SOD-CREDIT-ORIGINATE-APPROVE", "user", "u1021", "C2"),
    ("critical", "toxic_combination", "TOX-REIDENTIFY", "role", "aml_analyst", "C2"),
    ("critical", "toxic_combination", "TOX-REIDENTIFY", "user", "u1009", "C2"),
    ("critical", "toxic_combination", "TOX-REIDENTIFY", "user", "u1020", "C2"),
    ("high", "sensitive_without_mfa", "G-AUTH-BIOMETRIC", "role", "authentication_service", "C3"),
    ("high", "sensitive_without_mfa", "G-AUTH-CREDENTIALS", "role", "authentication_service", "C3"),
    ("medium", "break_glass_grant", "G-BREAK-GLASS-FRAUD", "role", "fraud_investigator", "C2"),
    ("medium", "high_exposure", None, "role", "authentication_service", "C3"),
    ("medium", "high_exposure", None, "user", "svc-auth", "C3"),
    ("medium", "outside_duties", None, "role", "call_centre_supervisor", "C2"),
    ("medium", "outside_duties", None, "role", "customer_service_agent", "C2"),
    ("medium", "sensitive_without_mfa", "G-BACKUP-COPIES", "role", "backup_service", "C2"),
    ("medium", "sensitive_without_mfa", "G-RETENTION-DESTROY", "role", "retention_service", "C2"),
]


def test_the_temporary_cover_expires_and_its_sod_violation_with_it() -> None:
    compiled = compile_policy(load_policy(ROOT / "policies"))
    soon = review(compiled, at=datetime.fromisoformat("2027-01-15T02:00:00+00:00"))
    kinds = {(f.kind, f.subject_id) for f in soon.findings}
    assert {("sod_violation", "u1021"), ("expiring_access", "u1021")} <= kinds
    after = review(compiled, at=datetime.fromisoformat("2027-02-01T02:00:00+00:00"))
    kinds = {(f.kind, f.subject_id) for f in after.findings}
    assert ("sod_violation", "u1021") not in kinds
    assert ("expired_access", "u1021") in kinds


def test_reference_policy_review_is_pinned() -> None:
    result = review(compile_policy(load_policy(ROOT / "policies")), at=AT)
    got = [
        (f.severity, f.kind, f.rule_id, f.subject_kind, f.subject_id, f.level)
        for f in result.findings
    ]
    assert got == PINNED
    duties = {f.subject_id: f.permissions for f in result.findings if f.kind == "outside_duties"}
    assert duties["customer_service_agent"] == [
        ("account.wealth_products", "marketing.cross_sell", "use"),
        ("identity.name", "marketing.cross_sell", "use"),
    ]
    toxic = next(f for f in result.findings if f.kind == "toxic_combination")
    assert toxic.permissions == [
        ("account.transaction", "aml.reporting", "disclose"),
        ("identity.id_number", "aml.reporting", "disclose"),
    ]
    assert toxic.evidence[0] == (
        "role:aml_analyst",
        "grant:G-AML-REPORTING",
        "permission:account.transaction/aml.reporting/disclose",
    )
    assert result.summary["by_severity"] == {
        "critical": 4,
        "high": 2,
        "medium": 7,
        "low": 0,
        "info": 0,
    }
