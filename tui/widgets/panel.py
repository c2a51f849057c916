"""What every panel of the main screen is: a widget that shows each new `View`."""

from __future__ import annotations

from typing import ClassVar

from textual.widget import Widget

from ..model import View


class Panel(Widget):
    """A part of the main screen; the app pushes it every new `View`, and only that.

    Listed after the Textual widget it is, so that the widget's own look still
    applies (Textual takes CSS from the first base only)::

        class JobLog(RichLog, Panel):
            PANEL_ID = "jobs"
            DEFAULT_CSS = "JobLog { ... }"

            def show(self, view: View) -> None: ...

    ``PANEL_ID`` is the widget's id, and its name in ``tui.widgets.LAYOUT``.
    """

    PANEL_ID: ClassVar[str]

    def show(self, view: View) -> None:
        """Show `view`: the same view again must change nothing on screen."""
        raise NotImplementedError
