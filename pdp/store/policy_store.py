"""The shared policy store on PostgreSQL: immutable versions, a hash-chained history, one active.

    store = PolicyStore.open("postgresql://pdp@db/pdp")
    pushed = store.push(texts, message="add the AML analyst")       # validated, activated
    store.push(texts, message="...", propose=True)                   # maker: a candidate
    store.approve(pushed.id)                                         # checker: someone else

Every change — push, proposal, approval, rollback — runs in one transaction
that first locks the active row, so concurrent changes serialise into one
clean history. It stores the version (when new), appends a chained event
(`pdp.audit.chain`'s scheme), and, when it activates a version, replaces the
`casbin_rule` table with that version's Casbin rules and announces the change
on two channels: `pdp_policy` (pdp replicas) and `casbin_role_watcher` (the
channel `casbin-postgresql-watcher` listens on). Identities are the database
roles the commands connect as (`current_user`): maker-checker holds as long
as each person connects as their own role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from pdp.audit.chain import (
    GENESIS,
    ChainProblem,
    ChainRow,
    VerifyResult,
    row_hash,
    verify_rows,
)
from pdp.audit.record import now_iso
from pdp.core.casbin_export import casbin_rules
from pdp.core.compile import CompiledPolicy
from pdp.errors import PolicyError, StorageError, StoreRefusedError
from pdp.store.bundle import manifest_of, sha256_hex
from pdp.store.db import store_engine
from pdp.store.schema import active, casbin_rule, events, versions
from pdp.store.source import LoadedSource, compile_texts

PDP_CHANNEL = "pdp_policy"
CASBIN_CHANNEL = "casbin_role_watcher"
EventKind = Literal["push", "propose", "approve", "rollback"]
ACTIVATING: frozenset[str] = frozenset({"push", "approve", "rollback"})


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One immutable version of the store: its files, manifest and who stored it."""

    id: int
    version: str
    parent_id: int | None
    author: str
    created: str
    message: str
    status: str
    manifest: tuple[dict[str, Any], ...]
    sources: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """The version without its file texts, as JSON."""
        return {
            "id": self.id,
            "version": self.version,
            "parent_id": self.parent_id,
            "author": self.author,
            "created": self.created,
            "message": self.message,
            "status": self.status,
            "files": list(self.manifest),
        }

    def load(self) -> LoadedSource:
        """Check and compile this version's files (never raises)."""
        return compile_texts("store", list(self.sources))


@dataclass(frozen=True, slots=True)
class StoreEvent:
    """One entry of the history: what happened to which version, who did it, when."""

    seq: int
    kind: str
    version_id: int
    policy_version: str
    actor: str
    time: str
    message: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "version_id": self.version_id,
            "policy_version": self.policy_version,
            "actor": self.actor,
            "time": self.time,
            "message": self.message,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ActiveVersion:
    """What replicas should serve: the active version and the event that activated it."""

    event_seq: int
    version: StoredVersion | None


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _event_of(seq: int, hash_: str, body: str) -> StoreEvent:
    data = json.loads(body)
    return StoreEvent(
        seq,
        data["kind"],
        data["version_id"],
        data["policy_version"],
        data["actor"],
        data["time"],
        data["message"],
        hash_,
    )


class PolicyStore:
    """Versions, history and the active version of a shared policy, in PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, **options: Any) -> PolicyStore:
        """Connect to a store (lazily: the first operation opens a connection)."""
        return cls(store_engine(url, **options))

    def close(self) -> None:
        """Close the store's connections."""
        self.engine.dispose()

    def identity(self) -> str:
        """Who this store connection acts as: the database role (`current_user`)."""
        with self._connect() as conn:
            return str(conn.execute(select(func.current_user())).scalar_one())

    # -- changes ---------------------------------------------------------------------------

    def push(
        self, texts: list[tuple[str, str]], message: str = "", propose: bool = False
    ) -> StoredVersion:
        """Validate and store a new version; activate it unless `propose` (raises `PolicyError`)."""
        loaded = compile_texts("store", texts)
        if loaded.compiled is None:
            raise PolicyError(list(loaded.problems))
        compiled = loaded.compiled
        manifest = manifest_of(texts, compiled.version)
        files = tuple({"name": f.name, "sha256": f.sha256, "size": f.size} for f in manifest.files)
        with self._change() as conn:
            author = str(conn.execute(select(func.current_user())).scalar_one())
            parent = conn.execute(select(active.c.version_id).where(active.c.id == 1)).scalar()
            status = "proposed" if propose else "approved"
            row = {
                "version": compiled.version,
                "parent_id": parent,
                "author": author,
                "created": now_iso(),
                "message": message,
                "status": status,
                "manifest": json.dumps(files),
                "sources": json.dumps([list(t) for t in texts], ensure_ascii=False),
            }
            new_id = conn.execute(
                insert(versions).values(**row).returning(versions.c.id)
            ).scalar_one()
            stored = StoredVersion(
                new_id,
                compiled.version,
                parent,
                author,
                row["created"],
                message,
                status,
                files,
                tuple(texts),
            )
            self._append(conn, "propose" if propose else "push", stored, author, message, compiled)
            return stored

    def approve(self, ref: str, message: str = "") -> StoredVersion:
        """Activate a proposed version; only someone other than its author may."""
        with self._change() as conn:
            stored = self._find(conn, ref)
            actor = str(conn.execute(select(func.current_user())).scalar_one())
            if stored.status != "proposed":
                raise StoreRefusedError(
                    f"version {stored.id} is not a proposal (it is {stored.status})"
                )
            if actor == stored.author:
                raise StoreRefusedError(
                    f"`{actor}` proposed version {stored.id} and cannot approve it: "
                    "maker-checker needs a different identity"
                )
            compiled = self._compile(stored)
            conn.execute(
                update(versions).where(versions.c.id == stored.id).values(status="approved")
            )
            self._append(conn, "approve", stored, actor, message, compiled)
            return stored

    def rollback(self, ref: str, message: str = "") -> StoredVersion:
        """Activate an earlier approved version again."""
        with self._change() as conn:
            stored = self._find(conn, ref)
            actor = str(conn.execute(select(func.current_user())).scalar_one())
            if stored.status != "approved":
                raise StoreRefusedError(
                    f"version {stored.id} was never approved; approve it instead"
                )
            compiled = self._compile(stored)
            self._append(conn, "rollback", stored, actor, message, compiled)
            return stored

    # -- reads -------------------------------------------------------------------------------

    def active(self) -> ActiveVersion:
        """The active version and the event that activated it (version None in an empty store)."""
        with self._connect() as conn:
            row = conn.execute(select(active).where(active.c.id == 1)).one()
            if row.version_id is None:
                return ActiveVersion(row.event_seq, None)
            return ActiveVersion(row.event_seq, self._find(conn, str(row.version_id)))

    def active_seq(self) -> int:
        """The seq of the event that activated the active version (a cheap change check)."""
        with self._connect() as conn:
            return int(
                conn.execute(select(active.c.event_seq).where(active.c.id == 1)).scalar_one()
            )

    def version(self, ref: str) -> StoredVersion:
        """A stored version by id (`3`) or content-hash version or prefix (`sha256:ab12`)."""
        with self._connect() as conn:
            return self._find(conn, ref)

    def history(self) -> list[StoreEvent]:
        """Every event, oldest first."""
        return [_event_of(row.seq, row.hash, row.body) for row in self._event_rows()]

    def verify(self) -> VerifyResult:
        """Walk the history's hash chain and report the first break."""
        rows = self._event_rows()
        with self._connect() as conn:
            head_seq = conn.execute(select(active.c.event_seq).where(active.c.id == 1)).scalar_one()
        result = verify_rows(ChainRow(r.seq, r.prev_hash, r.hash, r.body) for r in rows)
        activated = self._activated_by(rows)
        if result.ok and activated != head_seq:
            problem = ChainProblem(
                head_seq,
                "edited",
                f"the active row names event {head_seq}, the history's last activation is "
                f"{activated}",
            )
            return VerifyResult(False, result.checked, problem, result.head)
        return result

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _activated_by(rows: list[Any]) -> int:
        last = 0
        for row in rows:
            if json.loads(row.body)["kind"] in ACTIVATING:
                last = row.seq
        return last

    def _event_rows(self) -> list[Any]:
        with self._connect() as conn:
            return list(conn.execute(select(events).order_by(events.c.seq)))

    def _connect(self) -> Any:
        try:
            return self.engine.connect()
        except OperationalError:
            raise StorageError("the policy store is unreachable") from None

    def _change(self) -> Any:
        return _Change(self.engine)

    @staticmethod
    def _find(conn: Connection, ref: str) -> StoredVersion:
        query = select(versions)
        ref = ref.strip().lstrip("#")
        if ref.isdigit():
            query = query.where(versions.c.id == int(ref))
        else:
            query = query.where(versions.c.version.startswith(ref, autoescape=True))
        rows = list(conn.execute(query.order_by(versions.c.id)))
        if not rows:
            raise StoreRefusedError(f"no stored version `{ref}`")
        if len({r.version for r in rows}) > 1:
            raise StoreRefusedError(
                f"`{ref}` names more than one version; give more of it or the id"
            )
        row = rows[-1]
        return StoredVersion(
            row.id,
            row.version,
            row.parent_id,
            row.author,
            row.created,
            row.message,
            row.status,
            tuple(json.loads(row.manifest)),
            tuple((name, text_) for name, text_ in json.loads(row.sources)),
        )

    @staticmethod
    def _compile(stored: StoredVersion) -> CompiledPolicy:
        loaded = stored.load()
        if loaded.compiled is None:
            raise PolicyError(list(loaded.problems))
        return loaded.compiled

    def _append(
        self,
        conn: Connection,
        kind: EventKind,
        stored: StoredVersion,
        actor: str,
        message: str,
        compiled: CompiledPolicy,
    ) -> None:
        last = conn.execute(
            select(events.c.seq, events.c.hash).order_by(events.c.seq.desc()).limit(1)
        ).first()
        seq, prev = (1, GENESIS) if last is None else (last.seq + 1, last.hash)
        body = _canonical(
            {
                "seq": seq,
                "kind": kind,
                "version_id": stored.id,
                "policy_version": stored.version,
                "manifest_sha256": sha256_hex(
                    _canonical({"files": list(stored.manifest)}).encode()
                ),
                "actor": actor,
                "time": now_iso(),
                "message": message,
            }
        )
        conn.execute(
            insert(events).values(
                seq=seq, prev_hash=prev, hash=row_hash(seq, prev, body), body=body
            )
        )
        if kind in ACTIVATING:
            conn.execute(
                update(active).where(active.c.id == 1).values(version_id=stored.id, event_seq=seq)
            )
            _write_casbin_rules(conn, compiled)
            payload = _canonical({"seq": seq, "version": stored.version, "version_id": stored.id})
            for channel in (PDP_CHANNEL, CASBIN_CHANNEL):
                conn.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": channel, "payload": payload},
                )


def _write_casbin_rules(conn: Connection, compiled: CompiledPolicy) -> None:
    """Replace `casbin_rule` with the rules of `compiled` (inside the change's transaction)."""
    conn.execute(delete(casbin_rule))
    rows = []
    for rule in casbin_rules(compiled):
        values = rule + [None] * (7 - len(rule))
        rows.append(dict(zip(("ptype", "v0", "v1", "v2", "v3", "v4", "v5"), values, strict=True)))
    for start in range(0, len(rows), 5000):
        conn.execute(insert(casbin_rule), rows[start : start + 5000])


class _Change:
    """A transaction that holds the active row's lock: changes to the store serialise here."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._context: Any = None

    def __enter__(self) -> Connection:
        try:
            self._context = self.engine.begin()
            conn: Connection = self._context.__enter__()
            conn.execute(select(active.c.id).where(active.c.id == 1).with_for_update())
            return conn
        except OperationalError:
            raise StorageError("the policy store is unreachable") from None

    def __exit__(self, *exc: Any) -> None:
        try:
            self._context.__exit__(*exc)
        except SQLAlchemyError:
            if exc[0] is None:
                raise StorageError("the policy store could not commit the change") from None
