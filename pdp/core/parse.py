"""From located YAML data to policy elements: the structural checks of the format.

Parsing records every reference to a declared id as a `Ref`, so that the
validator can report an undeclared id at the exact line that names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import PurePath
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pdp.core.model import (
    FORMAT_VERSIONS,
    LEGAL_BASES,
    MINUTES_PER_DAY,
    SEVERITIES,
    WILDCARD,
    Assignment,
    Conditions,
    Grant,
    InfoClass,
    Pattern,
    Purpose,
    Role,
    SodRule,
    User,
)
from pdp.core.source import PathKey, Source
from pdp.errors import Location, Problem

RefKind = Literal["role", "class", "purpose", "action", "level", "relationship"]

DOTTED_ID = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
PLAIN_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@-]*$")
HOURS = re.compile(r"^([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})$")
DATE_ONLY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

TOP_KEYS = (
    "version",
    "timezone",
    "relationships",
    "actions",
    "levels",
    "classes",
    "purposes",
    "roles",
    "users",
    "grants",
    "separation_of_duties",
)
CLASS_KEYS = ("level", "sensitive", "label", "description")
PURPOSE_KEYS = ("legal_basis", "consent", "label", "description")
ROLE_KEYS = ("inherits", "duties", "label", "description")
USER_KEYS = ("roles", "disabled", "label", "description")
ASSIGNMENT_KEYS = ("role", "valid_from", "valid_until")
WHEN_KEYS = ("mfa", "ticket", "approver", "relationship", "max_records", "hours")
GRANT_KEYS = (
    "id",
    "effect",
    "roles",
    "classes",
    "purposes",
    "actions",
    "obligations",
    "description",
    "when",
    "break_glass",
    "valid_from",
    "valid_until",
)
RULE_KEYS = ("id", "roles", "max", "severity", "permissions", "description")
PATTERN_KEYS = ("classes", "purposes", "actions")
GRANT_FIELDS: tuple[tuple[str, RefKind], ...] = (
    ("roles", "role"),
    ("classes", "class"),
    ("purposes", "purpose"),
    ("actions", "action"),
)


@dataclass(frozen=True, slots=True)
class Ref:
    """The ids one list (or one scalar) of a file refers to, where, and whether `*` is allowed.

    Locations are computed only when a problem needs one: a bank-sized policy
    makes hundreds of thousands of references.
    """

    kind: RefKind
    values: tuple[str, ...]
    source: Source
    path: PathKey
    context: str
    wildcard_ok: bool = False
    indexes: tuple[int, ...] | None = None
    scalar: bool = False

    def location(self, position: int) -> Location:
        """The location of `values[position]`."""
        if self.scalar:
            return self.source.at(self.path)
        index = position if self.indexes is None else self.indexes[position]
        return self.source.at((*self.path, index))


@dataclass
class Parsed:
    """Everything the files declare, before cross-references are checked."""

    actions: list[tuple[str, Location]] | None = None
    levels: list[tuple[str, Location]] | None = None
    classes: dict[str, InfoClass] = field(default_factory=dict)
    class_levels: dict[str, str | None] = field(default_factory=dict)
    class_sensitive: dict[str, bool] = field(default_factory=dict)
    purposes: dict[str, Purpose] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    rules: list[SodRule] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    section_files: dict[str, str] = field(default_factory=dict)
    version: int = 1
    timezone: str | None = None
    relationships: list[tuple[str, Location]] | None = None


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"`{value}`"


class _FileParser:
    """Parses one source into the shared `Parsed` accumulator."""

    def __init__(self, source: Source, out: Parsed, problems: list[Problem]) -> None:
        self.src = source
        self.out = out
        self.problems = problems

    def problem(
        self,
        code: str,
        message: str,
        path: PathKey,
        id: str = "",
        hint: str = "",
        *,
        key: bool = False,
    ) -> None:
        where = self.src.key_at(path) if key else self.src.at(path)
        self.problems.append(Problem(code, message, where, id=id, hint=hint))

    def check_keys(
        self, data: dict[str, Any], allowed: tuple[str, ...], path: PathKey, what: str
    ) -> None:
        for key in data:
            if key not in allowed:
                self.problem(
                    "unknown_key",
                    f"unknown key `{key}` in {what}",
                    (*path, key),
                    id=str(key),
                    hint="allowed keys: " + ", ".join(allowed),
                    key=True,
                )

    def mapping(self, value: Any, path: PathKey, what: str) -> dict[str, Any] | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(
                "expected_mapping",
                f"{what} must be a mapping, found {_describe(value)}",
                path,
                hint="write `key: value` pairs, or `{}` for none",
            )
            return None
        return value

    def string(self, value: Any, path: PathKey, what: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(
                "expected_string", f"{what} must be a string, found {_describe(value)}", path
            )
            return None
        return str(value)

    def boolean(self, value: Any, path: PathKey, what: str, owner: str) -> bool:
        """A `true`/`false` value; a problem (and False) for anything else."""
        if isinstance(value, bool):
            return value
        self.problem(
            "expected_bool",
            f"{what} must be `true` or `false`, found {_describe(value)}",
            path,
            id=owner,
            hint="write `true` or `false`",
        )
        return False

    def moment(
        self, value: Any, path: PathKey, what: str, owner: str, *, end: bool
    ) -> datetime | None:
        """An ISO 8601 date or date-time as an aware UTC instant.

        A date is its start (00:00) for a window's start and its end (24:00,
        the next day's start) for a window's end; no offset means UTC.
        """
        moment = value
        if isinstance(value, str):
            try:
                moment = (
                    date.fromisoformat(value)
                    if DATE_ONLY.match(value)
                    else datetime.fromisoformat(value)
                )
            except ValueError:
                moment = None
        if isinstance(moment, datetime):
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        if isinstance(moment, date):
            start = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        self.problem(
            "invalid_date",
            f"{what} must be an ISO 8601 date or date-time, found {_describe(value)}",
            path,
            id=owner,
            hint="write `2026-12-31` or `2026-12-31T18:00:00+08:00`",
        )
        return None

    def window(
        self, body: dict[str, Any], path: PathKey, what: str, owner: str
    ) -> tuple[datetime | None, datetime | None]:
        """The `valid_from` and `valid_until` of a grant or an assignment, checked."""
        start = end = None
        if "valid_from" in body:
            start = self.moment(
                body["valid_from"],
                (*path, "valid_from"),
                f"`valid_from` of {what}",
                owner,
                end=False,
            )
        if "valid_until" in body:
            end = self.moment(
                body["valid_until"],
                (*path, "valid_until"),
                f"`valid_until` of {what}",
                owner,
                end=True,
            )
        if start is not None and end is not None and start >= end:
            self.problem(
                "invalid_window",
                f"`valid_from` of {what} is not before its `valid_until`, so it is never valid",
                (*path, "valid_from"),
                id=owner,
                hint="the window is [valid_from, valid_until): swap or fix the dates",
            )
        return start, end

    def string_items(self, value: Any, path: PathKey, what: str) -> list[tuple[int, str]]:
        """The index and text of each string item of a list; a problem for anything else."""
        if not isinstance(value, list):
            self.problem(
                "expected_list",
                f"{what} must be a list, found {_describe(value)}",
                path,
                hint=f"write `[{value}]`" if isinstance(value, str) else "write a yaml list",
            )
            return []
        if all(type(item) is str for item in value):
            return list(enumerate(value))
        items: list[tuple[int, str]] = []
        for i, item in enumerate(value):
            text = self.string(item, (*path, i), f"each item of {what}")
            if text is not None:
                items.append((i, text))
        return items

    def string_list(self, value: Any, path: PathKey, what: str) -> list[tuple[str, Location]]:
        """The string items of a list with their locations."""
        return [(text, self.src.at((*path, i))) for i, text in self.string_items(value, path, what)]

    def id_ok(
        self, value: str, pattern: re.Pattern[str], path: PathKey, what: str, *, key: bool = False
    ) -> bool:
        if pattern.match(value):
            return True
        self.problem(
            "invalid_id",
            f"`{value}` is not a valid {what} id",
            path,
            id=value,
            hint="use letters, digits, `_` and `-`"
            + (", dotted for the tree" if pattern is DOTTED_ID else ""),
            key=key,
        )
        return False

    def refs(
        self,
        kind: RefKind,
        value: Any,
        path: PathKey,
        context: str,
        *,
        wildcard_ok: bool = False,
        nonempty: bool = False,
    ) -> tuple[str, ...]:
        if nonempty and isinstance(value, list) and not value:
            self.problem(
                "empty_list",
                f"{context} is empty, so it matches nothing",
                path,
                hint='list at least one id, or `"*"` for all',
            )
        indexes = None
        if isinstance(value, list) and all(type(item) is str for item in value):
            values = tuple(value)
        else:
            items = self.string_items(value, path, context)
            values = tuple(text for _, text in items)
            indexes = tuple(i for i, _ in items)
        if values:
            self.out.refs.append(Ref(kind, values, self.src, path, context, wildcard_ok, indexes))
        return values if len(set(values)) == len(values) else tuple(dict.fromkeys(values))

    def section_once(self, name: str) -> bool:
        first = self.out.section_files.get(name)
        if first is not None:
            self.problem(
                "duplicate_key",
                f"`{name}` is already defined in `{first}`",
                (name,),
                id=name,
                hint="define it in one file only",
                key=True,
            )
            return False
        self.out.section_files[name] = self.src.file
        return True

    def parse(self) -> None:
        top = self.mapping(self.src.data, (), "a policy file")
        if top is None:
            return
        self.check_keys(top, TOP_KEYS, (), "the policy")
        if "version" in top:
            version = top["version"]
            if isinstance(version, bool) or version not in FORMAT_VERSIONS:
                self.problem(
                    "unsupported_version",
                    f"policy format version `{version}` is not supported",
                    ("version",),
                    hint="this pdp reads `version: 1` and `version: 2`",
                )
            else:
                self.out.version = max(self.out.version, version)
        if "timezone" in top and self.section_once("timezone"):
            self.parse_timezone(top["timezone"])
        if "relationships" in top and self.section_once("relationships"):
            items = self.string_list(top["relationships"], ("relationships",), "`relationships`")
            for i, (text, _) in enumerate(items):
                self.id_ok(text, PLAIN_ID, ("relationships", i), "relationship")
            self.out.relationships = items
        for name in ("actions", "levels"):
            if name in top and self.section_once(name):
                items = self.string_list(top[name], (name,), f"`{name}`")
                for i, (text, _) in enumerate(items):
                    self.id_ok(text, PLAIN_ID, (name, i), name.rstrip("s"))
                setattr(self.out, name, items)
        self.parse_tree("classes", top.get("classes"), self.parse_class)
        self.parse_tree("purposes", top.get("purposes"), self.parse_purpose)
        self.parse_tree("roles", top.get("roles"), self.parse_role)
        self.parse_tree("users", top.get("users"), self.parse_user)
        for name, parse_item in (
            ("grants", self.parse_grant),
            ("separation_of_duties", self.parse_rule),
        ):
            if name not in top:
                continue
            items = top[name]
            if not isinstance(items, list):
                self.problem(
                    "expected_list", f"`{name}` must be a list, found {_describe(items)}", (name,)
                )
                continue
            for i, item in enumerate(items):
                body = self.mapping(item, (name, i), f"each of `{name}`")
                if body is not None:
                    parse_item(body, (name, i), i)

    def parse_timezone(self, value: Any) -> None:
        zone = self.string(value, ("timezone",), "`timezone`")
        if zone is None:
            return
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(
                "invalid_timezone",
                f"timezone `{zone}` is not a known IANA time zone",
                ("timezone",),
                id=zone,
                hint="write an IANA zone such as `Asia/Shanghai` or `UTC`",
            )
            return
        self.out.timezone = zone

    def parse_tree(self, section: str, value: Any, parse_item: Any) -> None:
        if value is None:
            return
        body = self.mapping(value, (section,), f"`{section}`")
        if body is None:
            return
        known: dict[str, Any] = getattr(self.out, section)
        for key, item in body.items():
            path: PathKey = (section, key)
            pattern = DOTTED_ID if section in ("classes", "purposes") else PLAIN_ID
            if not self.id_ok(
                key, pattern, path, section.rstrip("s").replace("classe", "class"), key=True
            ):
                continue
            if key in known:
                self.problem(
                    "duplicate_id",
                    f"`{key}` is already declared in {section}",
                    path,
                    id=key,
                    hint=f"first at {known[key].location}",
                    key=True,
                )
                continue
            fields = self.mapping(item, path, f"`{key}`")
            if fields is not None:
                parse_item(key, fields, path)

    def parse_class(self, key: str, fields: dict[str, Any], path: PathKey) -> None:
        self.check_keys(fields, CLASS_KEYS, path, f"class `{key}`")
        level = None
        if "level" in fields:
            level = self.string(fields["level"], (*path, "level"), "`level`")
            if level is not None:
                self.out.refs.append(
                    Ref(
                        "level",
                        (level,),
                        self.src,
                        (*path, "level"),
                        f"the level of class `{key}`",
                        scalar=True,
                    )
                )
        self.out.class_levels[key] = level
        if "sensitive" in fields:
            self.out.class_sensitive[key] = self.boolean(
                fields["sensitive"], (*path, "sensitive"), f"`sensitive` of class `{key}`", key
            )
        self.out.classes[key] = InfoClass(
            key,
            level or "",
            str(fields.get("label", "")),
            str(fields.get("description", "")),
            self.src.key_at(path),
        )

    def parse_purpose(self, key: str, fields: dict[str, Any], path: PathKey) -> None:
        self.check_keys(fields, PURPOSE_KEYS, path, f"purpose `{key}`")
        basis = "other"
        if "legal_basis" in fields:
            basis = (
                self.string(fields["legal_basis"], (*path, "legal_basis"), "`legal_basis`") or ""
            )
            if basis not in LEGAL_BASES:
                self.problem(
                    "invalid_value",
                    f"legal basis `{basis}` of purpose `{key}` is unknown",
                    (*path, "legal_basis"),
                    id=key,
                    hint="one of " + ", ".join(LEGAL_BASES),
                )
        consent: Literal["separate"] | None = None
        if "consent" in fields:
            kind = self.string(fields["consent"], (*path, "consent"), "`consent`")
            if kind == "separate":
                consent = "separate"
            else:
                self.problem(
                    "invalid_value",
                    f"consent `{kind}` of purpose `{key}` is unknown",
                    (*path, "consent"),
                    id=key,
                    hint="`separate` (PIPL art. 23), or leave `consent` out for ordinary consent",
                )
        self.out.purposes[key] = Purpose(
            key,
            basis,
            str(fields.get("label", "")),
            str(fields.get("description", "")),
            self.src.key_at(path),
            consent,
        )

    def parse_role(self, key: str, fields: dict[str, Any], path: PathKey) -> None:
        self.check_keys(fields, ROLE_KEYS, path, f"role `{key}`")
        inherits = self.refs(
            "role", fields.get("inherits", []), (*path, "inherits"), f"the inherits of role `{key}`"
        )
        duties = self.refs(
            "purpose", fields.get("duties", []), (*path, "duties"), f"the duties of role `{key}`"
        )
        self.out.roles[key] = Role(
            key,
            inherits,
            duties,
            str(fields.get("label", "")),
            str(fields.get("description", "")),
            self.src.key_at(path),
        )

    def parse_user(self, key: str, fields: dict[str, Any], path: PathKey) -> None:
        self.check_keys(fields, USER_KEYS, path, f"user `{key}`")
        value = fields.get("roles", [])
        roles_path: PathKey = (*path, "roles")
        what = f"the roles of user `{key}`"
        assignments: tuple[Assignment, ...] = ()
        if isinstance(value, list) and any(isinstance(item, dict) for item in value):
            assignments = self.assignments(value, roles_path, key, what)
            roles = tuple(a.role for a in assignments)
        else:
            roles = self.refs("role", value, roles_path, what)
        disabled = False
        if "disabled" in fields:
            disabled = self.boolean(
                fields["disabled"], (*path, "disabled"), f"`disabled` of user `{key}`", key
            )
        self.out.users[key] = User(
            key,
            roles,
            str(fields.get("label", "")),
            str(fields.get("description", "")),
            self.src.key_at(path),
            assignments,
            disabled,
        )

    def assignments(
        self, value: list[Any], path: PathKey, user: str, what: str
    ) -> tuple[Assignment, ...]:
        """A user's roles written with windows: each item a role id or `{role, valid_*}`."""
        found: dict[str, Assignment] = {}
        ids: list[str] = []
        indexes: list[int] = []
        for i, item in enumerate(value):
            item_path: PathKey = (*path, i)
            if isinstance(item, dict):
                self.check_keys(item, ASSIGNMENT_KEYS, item_path, f"a role of user `{user}`")
                if "role" not in item:
                    self.problem(
                        "missing_key",
                        f"a role assignment of user `{user}` has no `role`",
                        item_path,
                        id=user,
                        hint="write `{role: ROLE, valid_until: DATE}`",
                    )
                    continue
                role = self.string(item["role"], (*item_path, "role"), f"each item of {what}")
                start, end = self.window(item, item_path, f"role `{role}` of user `{user}`", user)
            else:
                role = self.string(item, item_path, f"each item of {what}")
                start = end = None
            if role is None:
                continue
            ids.append(role)
            indexes.append(i)
            assignment = Assignment(role, start, end)
            if role in found and found[role] != assignment:
                self.problem(
                    "duplicate_assignment",
                    f"role `{role}` is assigned twice to user `{user}` with different windows",
                    item_path,
                    id=role,
                    hint="assign each role once, with one window",
                )
            found.setdefault(role, assignment)
        if ids:
            self.out.refs.append(
                Ref("role", tuple(ids), self.src, path, what, indexes=tuple(indexes))
            )
        return tuple(found.values())

    def item_id(
        self, body: dict[str, Any], path: PathKey, index: int, what: str
    ) -> tuple[str, bool]:
        if "id" in body:
            text = self.string(body["id"], (*path, "id"), f"the id of a {what}")
            if text is not None and self.id_ok(text, PLAIN_ID, (*path, "id"), what):
                return text, True
        suffix = "" if what == "grant" else "rule"
        return f"{PurePath(self.src.file).name}#{suffix}{index + 1}", False

    def parse_grant(self, body: dict[str, Any], path: PathKey, index: int) -> None:
        gid, explicit = self.item_id(body, path, index, "grant")
        self.check_keys(body, GRANT_KEYS, path, f"grant `{gid}`")
        for key in ("roles", "classes", "purposes", "actions"):
            if key not in body:
                self.problem(
                    "missing_key",
                    f"grant `{gid}` has no `{key}`",
                    path,
                    id=gid,
                    hint=f'add `{key}: [...]`, or `["*"]` for all',
                )
        effect = self.string(body.get("effect", "allow"), (*path, "effect"), "`effect`")
        if effect not in ("allow", "deny"):
            self.problem(
                "invalid_value",
                f"effect `{effect}` of grant `{gid}` is unknown",
                (*path, "effect"),
                id=gid,
                hint="`allow` or `deny`",
            )
            effect = "deny"
        parts = {
            key: self.refs(
                kind,
                body.get(key, []),
                (*path, key),
                f"`{key}` of grant `{gid}`",
                wildcard_ok=True,
                nonempty=True,
            )
            for key, kind in GRANT_FIELDS
        }
        when, break_glass = self.conditions(body, path, gid, effect == "deny")
        valid_from, valid_until = self.window(body, path, f"grant `{gid}`", gid)
        grant = Grant(
            id=gid,
            roles=parts["roles"],
            classes=parts["classes"],
            purposes=parts["purposes"],
            actions=parts["actions"],
            effect="deny" if effect == "deny" else "allow",
            obligations=tuple(
                sorted(
                    {
                        t
                        for t, _ in self.string_list(
                            body.get("obligations", []), (*path, "obligations"), "`obligations`"
                        )
                    }
                )
            ),
            description=str(body.get("description", "")),
            explicit_id=explicit,
            location=self.src.at(path),
            when=when,
            break_glass=break_glass,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        if grant.effect == "deny" and grant.obligations:
            self.problems.append(
                Problem(
                    "ignored_obligations",
                    f"deny grant `{gid}` has obligations, which are ignored",
                    self.src.at((*path, "obligations")),
                    id=gid,
                    hint="obligations come with an allow; remove them",
                    severity="warning",
                )
            )
        self.out.grants.append(grant)

    def conditions(
        self, body: dict[str, Any], path: PathKey, gid: str, deny: bool
    ) -> tuple[Conditions | None, bool]:
        """A grant's `when` and `break_glass`: its requirements (None for none) and the flag."""
        break_glass = False
        if "break_glass" in body:
            break_glass = self.boolean(
                body["break_glass"], (*path, "break_glass"), f"`break_glass` of grant `{gid}`", gid
            )
            if break_glass and deny:
                self.problem(
                    "break_glass_on_deny",
                    f"deny grant `{gid}` is marked `break_glass`",
                    (*path, "break_glass"),
                    id=gid,
                    hint="break-glass access is an allow; remove it or make the grant an allow",
                )
        if "when" in body and deny:
            self.problem(
                "when_on_deny",
                f"deny grant `{gid}` has conditions (`when`)",
                (*path, "when"),
                id=gid,
                hint="a deny applies unconditionally; narrow the allow grants instead",
                key=True,
            )
        when_path: PathKey = (*path, "when")
        fields = self.mapping(body.get("when"), when_path, f"`when` of grant `{gid}`") or {}
        self.check_keys(fields, WHEN_KEYS, when_path, f"`when` of grant `{gid}`")
        flags = {
            key: self.boolean(fields[key], (*when_path, key), f"`{key}` of grant `{gid}`", gid)
            for key in ("mfa", "ticket", "approver")
            if key in fields
        }
        relationship = None
        if "relationship" in fields:
            relationship = self.refs(
                "relationship",
                fields["relationship"],
                (*when_path, "relationship"),
                f"`relationship` of grant `{gid}`",
                nonempty=True,
            )
        max_records = None
        if "max_records" in fields:
            value = fields["max_records"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                self.problem(
                    "invalid_value",
                    f"`max_records` of grant `{gid}` must be a whole number >= 1",
                    (*when_path, "max_records"),
                    id=gid,
                )
            else:
                max_records = value
        hours = (
            self.hours(fields["hours"], (*when_path, "hours"), gid) if "hours" in fields else None
        )
        when = Conditions(
            mfa=flags.get("mfa", False),
            ticket=flags.get("ticket", False) or break_glass,
            approver=flags.get("approver", False),
            relationship=relationship,
            max_records=max_records,
            hours=hours,
        )
        return (None if when.empty or deny else when), break_glass and not deny

    def hours(self, value: Any, path: PathKey, gid: str) -> tuple[int, int] | None:
        """`HH:MM-HH:MM` as minutes after midnight; the end may be 24:00, never the start."""
        match = HOURS.match(value) if isinstance(value, str) else None
        if match is not None:
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            start, end = h1 * 60 + m1, h2 * 60 + m2
            in_day = start < MINUTES_PER_DAY and end <= MINUTES_PER_DAY
            if m1 < 60 and m2 < 60 and in_day and start != end % MINUTES_PER_DAY:
                return start, end
        self.problem(
            "invalid_hours",
            f"`hours` of grant `{gid}` must be `HH:MM-HH:MM` with distinct times, "
            f"found {_describe(value)}",
            path,
            id=gid,
            hint='write `"08:00-20:00"`; a start after the end wraps past midnight',
        )
        return None

    def parse_rule(self, body: dict[str, Any], path: PathKey, index: int) -> None:
        rid, explicit = self.item_id(body, path, index, "rule")
        self.check_keys(body, RULE_KEYS, path, f"rule `{rid}`")
        severity = self.string(body.get("severity", "high"), (*path, "severity"), "`severity`")
        if severity not in SEVERITIES:
            self.problem(
                "invalid_value",
                f"severity `{severity}` of rule `{rid}` is unknown",
                (*path, "severity"),
                id=rid,
                hint="one of " + ", ".join(SEVERITIES),
            )
            severity = "high"
        has_roles, has_perms = "roles" in body, "permissions" in body
        if has_roles == has_perms:
            self.problem(
                "invalid_rule",
                f"rule `{rid}` needs either `roles` or `permissions`",
                path,
                id=rid,
                hint="`roles` + `max` for separation of duties, "
                "`permissions` for a toxic combination",
            )
            return
        roles = self.refs(
            "role", body.get("roles", []), (*path, "roles"), f"`roles` of rule `{rid}`"
        )
        maximum = body.get("max", 1)
        if has_roles:
            if isinstance(maximum, bool) or not isinstance(maximum, int) or maximum < 1:
                self.problem(
                    "invalid_value",
                    f"`max` of rule `{rid}` must be a whole number >= 1",
                    (*path, "max"),
                    id=rid,
                )
                maximum = 1
            elif roles and maximum >= len(roles):
                self.problem(
                    "invalid_rule",
                    f"rule `{rid}` allows `max: {maximum}` of "
                    f"{len(roles)} roles, so it can never be broken",
                    (*path, "max"),
                    id=rid,
                    hint="lower `max` or list more roles",
                )
        elif "max" in body:
            self.problem(
                "unknown_key",
                f"`max` has no meaning in toxic rule `{rid}`",
                (*path, "max"),
                id=rid,
                hint="remove it",
                key=True,
            )
        patterns = (
            self.patterns(body.get("permissions"), (*path, "permissions"), rid) if has_perms else ()
        )
        self.out.rules.append(
            SodRule(
                rid,
                severity or "high",
                roles,
                maximum,
                patterns,
                str(body.get("description", "")),
                explicit,
                self.src.at(path),
            )
        )

    def patterns(self, value: Any, path: PathKey, rid: str) -> tuple[Pattern, ...]:
        if not isinstance(value, list) or not value:
            self.problem(
                "expected_list",
                f"`permissions` of rule `{rid}` must be a non-empty list, found {_describe(value)}",
                path,
                id=rid,
            )
            return ()
        result = []
        for i, item in enumerate(value):
            body = self.mapping(item, (*path, i), "a permission pattern")
            if body is None:
                continue
            self.check_keys(body, PATTERN_KEYS, (*path, i), f"a pattern of rule `{rid}`")
            parts = {
                key: self.refs(
                    kind,
                    body.get(key, [WILDCARD]),
                    (*path, i, key),
                    f"`{key}` of a pattern of rule `{rid}`",
                    wildcard_ok=True,
                    nonempty=True,
                )
                for key, kind in GRANT_FIELDS[1:]
            }
            result.append(Pattern(parts["classes"], parts["purposes"], parts["actions"]))
        return tuple(result)


def parse_sources(sources: list[Source]) -> tuple[Parsed, list[Problem]]:
    """Parse and merge the sources of one policy, in the order given."""
    out = Parsed()
    problems: list[Problem] = []
    for source in sources:
        _FileParser(source, out, problems).parse()
    return out, problems
