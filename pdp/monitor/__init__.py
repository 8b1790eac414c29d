"""Abnormal-access monitoring over the decision stream (seed §3.3), pure Python.

    monitor = Monitor(AlertConfig(), compiled)
    for alert in monitor.observe(Observation(caller, "role", "teller", cls, purpose, action, ok)):
        ...

Three rules: denial bursts per caller and per subject; a subject reaching many
more distinct classes than its usual; an allowed use of a sensitive (C3) class
outside the subject's duties.
"""

from pdp.monitor.duties import DutyIndex, effective_duties
from pdp.monitor.monitor import Monitor
from pdp.monitor.rules import (
    CLASS_SPREAD,
    DENIAL_BURST,
    RULES,
    SENSITIVE_OUTSIDE_DUTIES,
    Alert,
    Observation,
)
from pdp.monitor.thresholds import AlertConfig, ClassSpread, DenialBurst, SensitiveOutsideDuties

__all__ = [
    "CLASS_SPREAD",
    "DENIAL_BURST",
    "RULES",
    "SENSITIVE_OUTSIDE_DUTIES",
    "Alert",
    "AlertConfig",
    "ClassSpread",
    "DenialBurst",
    "DutyIndex",
    "Monitor",
    "Observation",
    "SensitiveOutsideDuties",
    "effective_duties",
]
