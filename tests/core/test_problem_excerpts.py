"""A policy problem quotes at most a short snippet of what it found (never a whole file)."""

from __future__ import annotations

from pathlib import Path

from pdp.core.load import check_policy

SECRET = "\n".join(f"account{i}:x:{i}:{i}:secret-{i}:/home/a{i}:/bin/sh" for i in range(300))


def test_a_symlink_to_a_foreign_file_is_quoted_only_briefly(tmp_path: Path) -> None:
    outside = tmp_path / "passwd"
    outside.write_text(SECRET + "\n")
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "00-base.yaml").write_text("version: 1\nactions: [use]\n")
    (policy / "99-stray.yaml").symlink_to(outside)
    result = check_policy(policy)
    assert result.policy is None
    text = "\n".join(str(p) for p in result.problems)
    assert "99-stray.yaml" in text
    assert "secret-299" not in text and "secret-5" not in text
    assert all(len(str(p)) < 600 for p in result.problems)
