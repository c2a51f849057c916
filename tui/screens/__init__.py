"""Modal screens over the dashboard."""

from .confirm import ConfirmScreen
from .help import HelpScreen

__all__ = ["ConfirmScreen", "HelpScreen"]
