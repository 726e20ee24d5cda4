"""The drift report as one self-contained HTML page: a table of every column and, for each
column that is not stable, a small bar chart of its bins, training beside input.

The charts are inline SVG and the style is inline CSS: the page loads nothing from anywhere,
so it opens offline, from a mail attachment or a CI artifact, exactly as written.
"""

from __future__ import annotations

from html import escape

from regression_model.drift import ColumnDrift, DriftReport, Verdict

# The chart's geometry, in SVG user units (pixels at 100% zoom).
BAR_WIDTH = 9
BAR_GAP = 2
BIN_GAP = 8
CHART_HEIGHT = 120
LABEL_HEIGHT = 70
MARGIN = 30
TRAINING_COLOUR = "#7a8ca3"
INPUT_COLOUR = "#d9822b"
# The bin names under the bars are turned to fit; the full name is in each bar's tooltip.
LABEL_ANGLE_DEGREES = -45

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2733; }
table { border-collapse: collapse; }
th, td { padding: 0.2rem 0.7rem; text-align: right; border-bottom: 1px solid #dde3ea; }
th:first-child, td:first-child { text-align: left; }
.drifted { color: #b3261e; font-weight: 600; }
.moderate { color: #a15c00; }
figure { display: inline-block; margin: 1rem 1.5rem 1rem 0; }
.legend-training { color: #7a8ca3; } .legend-input { color: #d9822b; }
"""


def _percent(share: float) -> str:
    return f"{share:.1%}"


def column_chart(column: ColumnDrift) -> str:
    """An SVG bar chart of one column's bins: the training share beside the input share."""
    highest = max((max(b.training_share, b.input_share) for b in column.bins), default=0.0) or 1.0
    step = 2 * BAR_WIDTH + BAR_GAP + BIN_GAP
    width = 2 * MARGIN + step * len(column.bins)
    height = CHART_HEIGHT + LABEL_HEIGHT + MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(column.column)}: training and input share per bin">'
    ]
    for position, shares in enumerate(column.bins):
        left = MARGIN + position * step
        for offset, share, colour, side in (
            (0, shares.training_share, TRAINING_COLOUR, "training"),
            (BAR_WIDTH + BAR_GAP, shares.input_share, INPUT_COLOUR, "input"),
        ):
            bar_height = CHART_HEIGHT * share / highest
            top = MARGIN + CHART_HEIGHT - bar_height
            parts.append(
                f'<rect class="bar-{side}" x="{left + offset}" y="{top:.1f}" '
                f'width="{BAR_WIDTH}" height="{bar_height:.1f}" fill="{colour}">'
                f"<title>{escape(shares.bin)}: {side} {_percent(share)}</title></rect>"
            )
        label_x, label_y = left + BAR_WIDTH, MARGIN + CHART_HEIGHT + BIN_GAP
        parts.append(
            f'<text x="{label_x}" y="{label_y}" font-size="10" text-anchor="end" '
            f'transform="rotate({LABEL_ANGLE_DEGREES} {label_x} {label_y})">'
            f"{escape(shares.bin)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _row(column: ColumnDrift) -> str:
    cells = (
        escape(column.column),
        f"{column.psi:.4f}",
        _percent(column.outside_share),
        _percent(column.missing_share),
        _percent(column.training_missing_share),
        _percent(column.invalid_share),
        column.verdict.value,
    )
    return (
        f'<tr class="{column.verdict.value}" data-column="{escape(column.column)}">'
        + "".join(f"<td>{cell}</td>" for cell in cells)
        + "</tr>"
    )


def render_html(*, report: DriftReport, source: str) -> str:
    """The whole report as an HTML page.

    Parameters
    ----------
    report : DriftReport
        The comparison to show.
    source : str
        What was compared (a file name), for the title.
    """
    settings = report.settings
    shifted = [c for c in report.columns if c.verdict is not Verdict.STABLE]
    figures = "".join(
        f'<figure data-column="{escape(c.column)}"><figcaption>{escape(c.column)}: '
        f"PSI {c.psi:.3f}, {c.verdict.value}</figcaption>{column_chart(c)}</figure>"
        for c in shifted
    )
    header = "".join(
        f"<th>{name}</th>"
        for name in (
            "column",
            "PSI",
            "outside training",
            "missing",
            "missing in training",
            "invalid",
            "verdict",
        )
    )
    title = f"Input drift: {escape(source)}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{title}</h1>"
        f'<p id="summary">{report.rows:,} rows compared with {report.training_rows:,} training '
        f"rows: {len(shifted)} of {len(report.columns)} columns not stable "
        f"(PSI from {settings.psi_moderate:g} moderate, from {settings.psi_drifted:g} drifted, "
        f"or drifted with {_percent(settings.outside_share_drifted)} of values outside "
        f"training). Version {escape(report.version)}.</p>"
        f'<section id="charts"><h2>Columns that moved</h2>'
        f'<p><span class="legend-training">■ training</span> '
        f'<span class="legend-input">■ input</span></p>'
        f"{figures or '<p>None: every column is stable.</p>'}</section>"
        f'<section><h2>Every column</h2><table id="columns"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(_row(c) for c in report.columns)}</tbody></table></section>"
        "</body></html>\n"
    )
