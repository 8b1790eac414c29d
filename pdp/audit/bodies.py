"""The service's fast path to canonical JSON: a decision's encoding cached around its id and time.

    before, after = decision_parts(caller, request, decision)
    body = f'{before}"{decision_id}"{after}{encode_basestring(time)}}}'

equals `canonical_json(decision_record(request, decision, caller, decision_id,
time))` for a decision id that needs no escaping (the service's are hex). The
parts come from `record.canonical_json` itself — a record with empty id and time,
cut at those two keys (sorted, `decision_id` is the fourth and `time` the last;
a quote inside a value is always escaped, so the cut cannot fall inside one) —
and are cached by the fields that repeat across decisions. This is a cache over
the one encoder, not a second one: `tests/audit/test_bodies.py` checks them equal.
"""

from __future__ import annotations

from dataclasses import replace

from pdp.audit.record import canonical_json, decision_record
from pdp.core.decision import Decision, Request

ID_KEY = ',"decision_id":'
TIME_KEY = ',"time":'
CACHE_LIMIT = 4096

_Key = tuple[str, str, str, str, str, str, bool, tuple[str, ...], tuple[str, ...], str]
_cache: dict[_Key, tuple[str, str]] = {}


def decision_parts(caller: str, request: Request, decision: Decision) -> tuple[str, str]:
    """The canonical JSON of a decision record before its id's value and before its time's."""
    r = request
    key: _Key = (
        caller,
        r.subject_kind,
        r.subject,
        r.info_class,
        r.purpose,
        r.action,
        decision.allowed,
        decision.reasons,
        decision.obligations,
        decision.policy_version,
    )
    parts = _cache.get(key)
    if parts is None:
        parts = _cut(caller, request, decision)
        if len(_cache) >= CACHE_LIMIT:
            _cache.clear()
        _cache[key] = parts
    return parts


def _cut(caller: str, request: Request, decision: Decision) -> tuple[str, str]:
    template = replace(decision_record(request, decision, caller), decision_id="", time="")
    body = canonical_json(template)
    at = body.index(ID_KEY + '""') + len(ID_KEY)
    end = body.rindex(TIME_KEY + '""}') + len(TIME_KEY)
    return body[:at], body[at + 2 : end]
