"""Line charts as inline SVG, drawn on the server (the console loads nothing from a CDN).

``line_chart`` takes named series of (time, value) points and returns one ``<svg>`` element with
axes, tick labels, a polyline per series and a legend. Every text is XML-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#455a64")
Point = tuple[datetime, float]


def _nice_max(value: float) -> float:
    """A round upper bound for the y axis: 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** len(str(int(value))) / 10 if value >= 1 else 1.0
    if value < 1:
        power = 0.1
        while power / 10 >= value:
            power /= 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _fmt(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _frame(chart_id: str, title: str, width: int, height: int, *, title_x: int) -> list[str]:
    """The opening of a chart: the ``<svg>`` element, a white ground, the title."""
    return [f'<svg id="{escape(chart_id)}" class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
            f'<text x="{title_x}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']


def line_chart(series: Mapping[str, Sequence[Point]], *, title: str, y_label: str, chart_id: str,
               width: int = 560, height: int = 220, y_max: float | None = None, percent: bool = False) -> str:
    """An SVG line chart; with no points it says so instead of drawing empty axes."""
    left, right, top, bottom = 64, 16, 28, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [p for values in series.values() for p in values]
    parts = _frame(chart_id, title, width, height, title_x=left)
    if not points:
        parts.append(f'<text class="no-data" x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="13" '
                     'fill="#888">暂无采样数据</text></svg>')
        return "".join(parts)
    t0 = min(t for t, _ in points).timestamp()
    t1 = max(t for t, _ in points).timestamp()
    span = max(t1 - t0, 1.0)
    top_value = y_max if y_max is not None else _nice_max(max(v for _, v in points))

    def x(t: datetime) -> float:
        return left + (t.timestamp() - t0) / span * plot_w

    def y(v: float) -> float:
        return top + plot_h - min(max(v, 0.0), top_value) / top_value * plot_h

    # axes, horizontal grid lines and y ticks
    parts.append(f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
                 'stroke="#333"/>')
    parts.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>')
    for i in range(5):
        value = top_value * i / 4
        ty = y(value)
        label = f"{value * 100:.0f}%" if percent else _fmt(value)
        parts.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11">{escape(label)}</text>')
    # x ticks: start, middle, end (local wall-clock time of the samples, UTC)
    same_day = datetime.fromtimestamp(t0).date() == datetime.fromtimestamp(t1).date()
    for i in range(3):
        t = t0 + span * i / 2
        when = datetime.fromtimestamp(t, tz=points[0][0].tzinfo)
        label = when.strftime("%H:%M:%S" if same_day else "%m-%d %H:%M")
        tx = left + plot_w * i / 2
        anchor = ("start", "middle", "end")[i]
        parts.append(f'<text x="{tx:.1f}" y="{top + plot_h + 16}" text-anchor="{anchor}" font-size="11">'
                     f'{escape(label)}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle" font-size="11" '
                 'fill="#555">时间（UTC）</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" font-size="11" fill="#555" '
                 f'transform="rotate(-90 14 {top + plot_h / 2})">{escape(y_label)}</text>')
    # one polyline per series, and the legend
    for n, (name, values) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        if values:
            coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in sorted(values))
            parts.append(f'<polyline class="series" data-series="{escape(name)}" fill="none" stroke="{colour}" '
                         f'stroke-width="2" points="{coords}"/>')
            if len(values) == 1:
                only_t, only_v = values[0]
                parts.append(f'<circle cx="{x(only_t):.1f}" cy="{y(only_v):.1f}" r="3" fill="{colour}"/>')
        lx = left + 8 + (n % 3) * 170
        ly = top + 12 + (n // 3) * 14
        parts.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="3" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{ly - 4}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, chart_id: str, width: int = 560,
              bar_height: int = 18) -> str:
    """Horizontal bars, one per (label, value), longest scale first; says so when there is nothing."""
    left, top = 200, 28
    height = top + max(len(bars), 1) * (bar_height + 6) + 12
    parts = _frame(chart_id, title, width, height, title_x=8)
    if not bars:
        parts.append(f'<text class="no-data" x="{width / 2}" y="{top + 14}" text-anchor="middle" font-size="13" '
                     'fill="#888">无</text></svg>')
        return "".join(parts)
    scale = _nice_max(max(v for _, v in bars))
    plot_w = width - left - 60
    for n, (label, value) in enumerate(bars):
        y = top + n * (bar_height + 6)
        w = max(value, 0.0) / scale * plot_w
        parts.append(f'<text x="{left - 6}" y="{y + bar_height - 5}" text-anchor="end" font-size="11">'
                     f'{escape(label[:40])}</text>')
        parts.append(f'<rect class="bar" data-label="{escape(label)}" x="{left}" y="{y}" width="{w:.1f}" '
                     f'height="{bar_height}" fill="{COLOURS[0]}"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + bar_height - 5}" font-size="11">{_fmt(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)
