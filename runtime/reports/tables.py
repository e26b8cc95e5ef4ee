"""HTML tables of report.html: the monthly returns heatmap and the per-strategy/symbol PnL.

Plain table cells with an inline background, so the page stays one file with no script:
green for a gain, red for a loss, the stronger the larger (full at 10 % a month).
"""

from __future__ import annotations

import html
from typing import Any, Final

from atrium.runtime.reports.numbers import show_money, show_percent
from atrium.runtime.reports.timeticks import MONTHS

__all__ = ("breakdown_table", "heat_colour", "monthly_table")

#: A monthly return of this size or more gets the full colour.
_FULL: Final = 0.10


def heat_colour(value: float) -> str:
    """The cell colour of a monthly return: white at 0, towards green (gain) or red (loss)."""
    strength = min(abs(value) / _FULL, 1.0)
    fade = round(255 - 155 * strength)
    return f"rgb({fade},255,{fade})" if value >= 0 else f"rgb(255,{fade},{fade})"


def _year_return(months: list[Any]) -> float:
    growth = 1.0
    for value in months:
        if value is not None:
            growth *= 1.0 + value
    return growth - 1.0


def monthly_table(table: dict[str, list[Any]]) -> str:
    """Years down, months across, and the year's compounded return; '' with no data."""
    if not table:
        return ""
    head = "<tr><th>year</th>" + "".join(f"<th>{m}</th>" for m in MONTHS) + "<th>total</th></tr>"
    rows = []
    for year, months in table.items():
        cells = "".join(
            "<td></td>"
            if value is None
            else f'<td style="background:{heat_colour(value)}">{show_percent(value)}</td>'
            for value in months
        )
        total = _year_return(months)
        rows.append(
            f"<tr><th>{html.escape(year)}</th>{cells}"
            f'<td style="background:{heat_colour(total / 12)}"><b>{show_percent(total)}</b></td></tr>'
        )
    return (
        '<h2>Monthly returns</h2><div class="scroll"><table class="heatmap">'
        f"{head}{''.join(rows)}</table></div>"
    )


def breakdown_table(title: str, groups: dict[str, dict[str, Any]]) -> str:
    """Round trips, net PnL and win rate per strategy or symbol; '' with no round trip."""
    if not groups:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{figures['round_trips']:,}</td>"
        f"<td>{show_money(figures['net_pnl'])}</td>"
        f"<td>{show_percent(figures['win_rate'])}</td></tr>"
        for name, figures in groups.items()
    )
    return (
        f'<h2>{html.escape(title)}</h2><table class="grid"><tr><th></th><th>round trips</th>'
        f"<th>net PnL</th><th>win rate</th></tr>{rows}</table>"
    )
