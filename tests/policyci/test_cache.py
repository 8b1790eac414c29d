"""The compiled-policy cache: a hit is the fresh compile; anything doubtful is ignored."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from pdp.core.normalize import normalize
from pdp.policyci import cache as cache_module
from pdp.policyci.cache import CompiledCache, default_cache, load_source
from pdp.policyci.diff import diff_with_findings
from pdp.policyci.git import compile_texts
from tests.policyci.test_cli import BASE, WIDER, _run

ROOT = Path(__file__).parents[2]
TEXTS = sorted((str(p), p.read_text("utf-8")) for p in (ROOT / "policies").glob("*.yaml"))


@pytest.fixture
def cache(tmp_path: Path) -> CompiledCache:
    return CompiledCache(tmp_path / "compiled")


def entry_of(cache: CompiledCache, texts: list[tuple[str, str]]) -> Path:
    return cache.directory / f"{cache.entry_key(texts)}.compiled"


def test_a_hit_equals_a_fresh_compile(cache: CompiledCache) -> None:
    fresh = compile_texts(TEXTS)
    assert cache.get(TEXTS) is None
    cache.put(TEXTS, fresh)
    hit = cache.get(TEXTS)
    assert hit is not None and hit is not fresh
    assert hit.version == fresh.version
    assert normalize(hit.policy) == normalize(fresh.policy)
    assert hit.policy == fresh.policy and hit.grants == fresh.grants
    assert (hit.allow, hit.deny, hit.role_closure) == (fresh.allow, fresh.deny, fresh.role_closure)
    # What pdp diff reports from the cached versions is what it reports from fresh ones.
    wider = [("w.yaml", WIDER)]
    cache.put(wider, compile_texts(wider))
    cached_wider = cache.get(wider)
    assert cached_wider is not None
    base = compile_texts([("b.yaml", BASE)])
    assert (
        diff_with_findings(base, cached_wider).to_dict()
        == diff_with_findings(base, compile_texts(wider)).to_dict()
    )


def test_other_file_names_or_texts_miss(cache: CompiledCache) -> None:
    cache.put(TEXTS, compile_texts(TEXTS))
    renamed = [(f"elsewhere/{Path(n).name}", t) for n, t in TEXTS]
    assert cache.get(renamed) is None  # the same version, but findings cite other files
    edited = [*TEXTS[:-1], (TEXTS[-1][0], TEXTS[-1][1] + "\n# a comment\n")]
    assert cache.get(edited) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-100],  # truncated
        lambda data: data[:40] + bytes([data[40] ^ 1]) + data[41:],  # one bit flipped
        lambda data: b"",  # empty
        lambda data: os.urandom(len(data)),  # garbage
    ],
)
def test_a_corrupt_entry_is_ignored_and_replaced(cache: CompiledCache, damage: object) -> None:
    cache.put(TEXTS, compile_texts(TEXTS))
    entry = entry_of(cache, TEXTS)
    entry.write_bytes(damage(entry.read_bytes()))  # type: ignore[operator]
    assert cache.get(TEXTS) is None
    compiled = load_source(str(ROOT / "policies"), cache=cache)  # recompiles and refiles
    refiled = cache.get(TEXTS)
    assert refiled is not None and refiled.version == compiled.version


def test_a_foreign_entry_is_ignored_and_never_unpickled(
    cache: CompiledCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry written with another key (another user's cache, an attacker) is not read."""
    other = CompiledCache(tmp_path / "other")
    other.put(TEXTS, compile_texts(TEXTS))
    cache.put(TEXTS, compile_texts(TEXTS))
    entry_of(cache, TEXTS).write_bytes(entry_of(other, TEXTS).read_bytes())
    monkeypatch.setattr(pickle, "loads", lambda data: pytest.fail("unpickled a foreign entry"))
    assert cache.get(TEXTS) is None


def test_an_authentic_entry_claiming_another_version_is_ignored(cache: CompiledCache) -> None:
    cache.put(TEXTS, compile_texts([("b.yaml", BASE)]))  # filed under the wrong texts
    assert cache.get(TEXTS) is None


def test_a_directory_others_may_write_is_not_used(cache: CompiledCache) -> None:
    cache.put(TEXTS, compile_texts(TEXTS))
    cache.directory.chmod(0o777)
    fresh = CompiledCache(cache.directory)
    assert fresh.get(TEXTS) is None
    fresh.put(TEXTS, compile_texts(TEXTS))  # and nothing is written there either
    cache.directory.chmod(0o700)
    assert (cache.directory / "key").stat().st_mode & 0o077 == 0


def test_only_the_newest_entries_are_kept(
    cache: CompiledCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "MAX_ENTRIES", 2)
    for comment in range(4):
        texts = [("b.yaml", f"{BASE}# {comment}\n")]
        cache.put(texts, compile_texts(texts))
    assert len(list(cache.directory.glob("*.compiled"))) == 2


def test_the_cache_can_be_turned_off_and_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PDP_NO_CACHE", raising=False)
    monkeypatch.setenv("PDP_CACHE_DIR", str(tmp_path / "here"))
    found = default_cache()
    assert found is not None and found.directory == tmp_path / "here"
    assert default_cache(enabled=False) is None
    monkeypatch.setenv("PDP_NO_CACHE", "1")
    assert default_cache() is None


def test_pdp_diff_reads_both_versions_from_the_cache_the_second_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PDP_NO_CACHE", raising=False)
    monkeypatch.setenv("PDP_CACHE_DIR", str(tmp_path / "cache"))
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(BASE, "utf-8")
    new.write_text(WIDER, "utf-8")
    args = ("diff", str(old), str(new), "--format", "json", "--jobs", "1")
    first = _run(*args)

    def no_compiling(texts: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(cache_module, "compile_texts", no_compiling)
    assert _run(*args) == first
    assert _run(*args, "--no-cache")[0] != first[0]  # without the cache it compiles
