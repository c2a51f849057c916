"""The dashboard's panels, one per module, placed on the main screen by LAYOUT.

A panel is a widget that is also a :class:`Panel`: it has a ``PANEL_ID`` and
shows each :class:`~tui.model.View` the app pushes to it. Every module here is
imported to find the panels, so adding one is writing its module (its look in
its DEFAULT_CSS) and naming its ``PANEL_ID`` in LAYOUT.
"""

from __future__ import annotations

import importlib
import pkgutil

from .panel import Panel

# The main screen from top to bottom, by PANEL_ID; the panels of one row sit side
# by side, each as tall as its own CSS says.
LAYOUT: tuple[tuple[str, ...], ...] = (
    ("instances", "throughput"),
    ("instance",),
    ("containers",),
    ("outcomes", "jobs"),
    ("connection",),
)


class LayoutError(Exception):
    """LAYOUT and the panels found do not match; the message says how."""


def panels() -> dict[str, type[Panel]]:
    """Every panel defined in this package, by PANEL_ID."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    found: dict[str, type[Panel]] = {}
    pending = list(Panel.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__module__.startswith(f"{__name__}."):
            continue  # a panel defined elsewhere (a test's) is not the screen's
        if cls.PANEL_ID in found:
            raise LayoutError(f"{cls.__name__} and {found[cls.PANEL_ID].__name__}: one id")
        found[cls.PANEL_ID] = cls
    return found


def layout() -> list[list[type[Panel]]]:
    """LAYOUT's rows of panels.

    Raises:
        LayoutError: LAYOUT names a panel there is not, or leaves one out.
    """
    found = panels()
    named = [panel for row in LAYOUT for panel in row]
    if twice := sorted({panel for panel in named if named.count(panel) > 1}):
        raise LayoutError(f"in LAYOUT more than once: {', '.join(twice)}")
    if unknown := [panel for panel in named if panel not in found]:
        raise LayoutError(f"no panel has the id {', '.join(unknown)}")
    if unplaced := sorted(set(found) - set(named)):
        raise LayoutError(f"not in LAYOUT: {', '.join(unplaced)}")
    return [[found[panel] for panel in row] for row in LAYOUT]
