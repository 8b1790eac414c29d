"""Hot reload: by API and by watching files; invalid policies rejected; no mixed versions."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from pdp.service.reload import policy_signature
from tests.service.conftest import (
    TELLER_OPENING,
    TestClient,
    bearer,
    build_app,
    token_config,
)

ADMIN = bearer("admin-token")
APP = bearer("app-token")
CREDENTIAL = {**TELLER_OPENING, "info_class": "credential", "purpose": "risk_control"}


def without_credential(policy_dir: Path) -> None:
    """Rewrite the policy so the teller loses G-TELLER-CRED-OUTSIDE (a valid change)."""
    path = policy_dir / "policy.yaml"
    text = path.read_text()
    start = text.index("  - id: G-TELLER-CRED-OUTSIDE")
    end = text.index("  - id: G-ANALYST-ALL")
    path.write_text(text[:start] + text[end:])


def break_policy(policy_dir: Path) -> None:
    """Make the policy invalid (a grant naming an undeclared role)."""
    path = policy_dir / "policy.yaml"
    text = path.read_text().replace("roles: [analyst]\n", "roles: [ghost]\n")
    path.write_text(text)


def secured_app(policy_dir: Path, log_url: str, **config: Any) -> FastAPI:
    return build_app(policy_dir, log_url, tokens=token_config(), **config)


def test_reload_swaps_to_the_new_version(policy_dir: Path, log_url: str) -> None:
    with TestClient(secured_app(policy_dir, log_url)) as c:
        before = c.post("/v1/decisions", json=CREDENTIAL, headers=APP).json()
        assert before["allowed"] is True
        unchanged = c.post("/v1/policy/reload", headers=ADMIN).json()
        assert unchanged["changed"] is False
        without_credential(policy_dir)
        response = c.post("/v1/policy/reload", headers=ADMIN)
        assert response.status_code == 200
        data = response.json()
        assert data["changed"] is True and data["previous_version"] == before["policy_version"]
        after = c.post("/v1/decisions", json=CREDENTIAL, headers=APP).json()
        assert (after["allowed"], after["policy_version"]) == (False, data["version"])
        info = c.get("/v1/policy", headers=ADMIN).json()
        assert info["version"] == data["version"] and info["last_reload"]["ok"] is True


def test_invalid_policy_is_rejected_and_the_old_one_keeps_serving(
    policy_dir: Path, log_url: str
) -> None:
    app = secured_app(policy_dir, log_url)
    with TestClient(app) as c:
        version = c.get("/v1/policy", headers=ADMIN).json()["version"]
        break_policy(policy_dir)
        response = c.post("/v1/policy/reload", headers=ADMIN)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "policy_invalid"
        problem = error["problems"][0]
        assert problem["file"].endswith("policy.yaml") and problem["line"] > 0
        assert problem["code"] and "ghost" in problem["message"]
        decision = c.post("/v1/decisions", json=TELLER_OPENING, headers=APP).json()
        assert decision["allowed"] is True and decision["policy_version"] == version
        metrics = c.get("/metrics", headers=ADMIN).text
        assert "pdp_policy_reload_failures_total 1.0" in metrics
        assert f'pdp_policy_info{{version="{version}"}} 1.0' in metrics
        log = app.state.service.log
        log.flush()
        (event,) = [r for r in log.query() if r.kind == "policy"]
        assert event.caller == "ops" and event.allowed is False
        assert event.reasons == ("policy_invalid",)
        assert event.detail["problems"][0]["line"] == problem["line"]


def test_watcher_reloads_on_file_change(policy_dir: Path, log_url: str) -> None:
    app = build_app(policy_dir, log_url, watch=True, watch_interval=0.05)
    with TestClient(app) as c:
        version = c.get("/v1/policy").json()["version"]
        signature = policy_signature(policy_dir)
        without_credential(policy_dir)
        assert policy_signature(policy_dir) != signature
        deadline = time.monotonic() + 10
        while c.get("/v1/policy").json()["version"] == version and time.monotonic() < deadline:
            time.sleep(0.05)
        info = c.get("/v1/policy").json()
        assert info["version"] != version
        assert info["last_reload"]["trigger"] == "watch"


def test_reload_under_load_never_fails_or_mixes_versions(policy_dir: Path, log_url: str) -> None:
    original = (policy_dir / "policy.yaml").read_text()
    app = secured_app(policy_dir, log_url)
    failures: list[str] = []
    seen: list[str] = []
    stop = threading.Event()
    with TestClient(app) as c:
        version_a = c.get("/v1/policy", headers=ADMIN).json()["version"]

        def hammer(batch: bool) -> None:
            while not stop.is_set():
                if batch:
                    body = {"requests": [CREDENTIAL, TELLER_OPENING] * 50}
                    r = c.post("/v1/decisions/batch", json=body, headers=APP)
                    if r.status_code != 200:
                        failures.append(r.text)
                        continue
                    versions = {x["policy_version"] for x in r.json()["results"]}
                    if len(versions) != 1:
                        failures.append(f"mixed versions {versions}")
                    seen.extend(versions)
                else:
                    r = c.post("/v1/decisions", json=CREDENTIAL, headers=APP)
                    if r.status_code != 200:
                        failures.append(r.text)
                        continue
                    seen.append(r.json()["policy_version"])

        threads = [threading.Thread(target=hammer, args=(b,)) for b in (True, True, False, False)]
        for t in threads:
            t.start()
        try:
            versions = {version_a}
            for _ in range(6):
                without_credential(policy_dir)
                versions.add(c.post("/v1/policy/reload", headers=ADMIN).json()["version"])
                break_policy(policy_dir)
                assert c.post("/v1/policy/reload", headers=ADMIN).status_code == 422
                (policy_dir / "policy.yaml").write_text(original)
                assert c.post("/v1/policy/reload", headers=ADMIN).json()["version"] == version_a
        finally:
            stop.set()
            for t in threads:
                t.join()
    assert failures == []
    assert len(versions) == 2
    assert set(seen) <= versions
    assert len(seen) > 0
