"""Reviewer reads: a subject's permissions and who holds a permission."""

from __future__ import annotations

from tests.service.conftest import TestClient


def test_role_and_user_permissions(client: TestClient) -> None:
    data = client.get("/v1/subjects/role/teller/permissions").json()
    held = {(p["info_class"], p["purpose"], p["action"]) for p in data["permissions"]}
    assert ("identity.id_number", "account_opening", "use") in held
    assert ("identity.biometric", "account_opening", "use") not in held  # denied
    user = client.get("/v1/subjects/user/u1/permissions").json()
    assert {(p["info_class"], p["purpose"], p["action"]) for p in user["permissions"]} == held
    assert user["policy_version"] == data["policy_version"]


def test_unknown_subject_is_404_and_bad_kind_422(client: TestClient) -> None:
    response = client.get("/v1/subjects/role/ghost/permissions")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_role"
    response = client.get("/v1/subjects/group/x/permissions")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "kind"


def test_who_can(client: TestClient) -> None:
    query = {"info_class": "identity.id_number", "purpose": "account_opening", "action": "use"}
    data = client.get("/v1/access", params=query).json()
    assert (data["roles"], data["users"]) == (["teller"], ["u1"])
    response = client.get("/v1/access", params={**query, "purpose": "nothing"})
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "purpose"
    response = client.get("/v1/access", params={"info_class": "identity"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "purpose"
