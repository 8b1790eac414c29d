"""Thresholds of the abnormal-access rules, read from the service configuration."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class DenialBurst:
    """Alert when a caller or a subject collects `threshold` denials within the window."""

    window_seconds: float = 60.0
    threshold: int = 20


@dataclass(frozen=True, slots=True)
class ClassSpread:
    """Alert when a subject reaches many more distinct classes in a window than its baseline."""

    window_seconds: float = 300.0
    factor: float = 3.0
    min_classes: int = 5
    baseline_weight: float = 0.2


@dataclass(frozen=True, slots=True)
class SensitiveOutsideDuties:
    """Alert on an allowed use of a class at one of `levels` for a purpose outside duties."""

    enabled: bool = True
    levels: tuple[str, ...] = ("C3",)
    window_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """Thresholds of the abnormal-access rules of `pdp.monitor`."""

    denial_burst: DenialBurst = field(default_factory=DenialBurst)
    class_spread: ClassSpread = field(default_factory=ClassSpread)
    sensitive_outside_duties: SensitiveOutsideDuties = field(default_factory=SensitiveOutsideDuties)
    max_tracked_keys: int = 100_000
