"""The dashboard's widgets, one per module."""

from .connection_status import ConnectionStatus
from .containers_table import ContainersTable
from .instance_header import InstanceHeader
from .instance_list import InstanceList
from .job_log import JobLog
from .status_breakdown import StatusBreakdown
from .throughput_panel import ThroughputPanel

__all__ = [
    "ConnectionStatus",
    "ContainersTable",
    "InstanceHeader",
    "InstanceList",
    "JobLog",
    "StatusBreakdown",
    "ThroughputPanel",
]
