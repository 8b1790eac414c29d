"""Abnormal-access monitoring over the decision stream (seed §3.3), pure Python.

    monitor = Monitor(AlertConfig(), compiled)
    for alert in monitor.observe(Observation(caller, "role", "teller", cls, purpose, action, ok)):
        ...

Six rules: denial bursts per caller and per subject; a subject reaching many
more distinct classes than its usual; an allowed use of a sensitive (C3) class
outside the subject's duties; every break-glass allow; bulk access (customers'
records per caller and per subject in a window); an allowed use of a class at
C2 or above outside office hours. `delivery` sends alerts to a webhook or
syslog without ever blocking a decision.
"""

from pdp.monitor.duties import DutyIndex, effective_duties
from pdp.monitor.monitor import Monitor
from pdp.monitor.rules import (
    BREAK_GLASS_USED,
    BULK_ACCESS,
    CLASS_SPREAD,
    DENIAL_BURST,
    OFF_HOURS,
    RULES,
    SENSITIVE_OUTSIDE_DUTIES,
    Alert,
    Observation,
)
from pdp.monitor.thresholds import (
    AlertConfig,
    BreakGlass,
    BulkAccess,
    ClassSpread,
    DenialBurst,
    OffHours,
    SensitiveOutsideDuties,
)

__all__ = [
    "BREAK_GLASS_USED",
    "BULK_ACCESS",
    "CLASS_SPREAD",
    "DENIAL_BURST",
    "OFF_HOURS",
    "RULES",
    "SENSITIVE_OUTSIDE_DUTIES",
    "Alert",
    "AlertConfig",
    "BreakGlass",
    "BulkAccess",
    "ClassSpread",
    "DenialBurst",
    "DutyIndex",
    "Monitor",
    "Observation",
    "OffHours",
    "SensitiveOutsideDuties",
    "effective_duties",
]
