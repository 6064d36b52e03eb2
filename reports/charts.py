"""Small server-rendered SVG charts: readable without JavaScript, described for screen readers.

Each chart is an `<svg role="img">` labelled by its `<title>` and `<desc>`; the page shows the
table behind it right below, so nothing is only in the picture. Colours come from classes in
`static/reports/reports.css` (the CSP refuses inline styles).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

ROW_HEIGHT = 22
LABEL_WIDTH = 104
BAR_AREA = 220
VALUE_WIDTH = 56
PAD = 8


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]


@dataclass(frozen=True)
class Chart:
    slug: str  # unique on the page: the SVG's title and desc ids
    title: str
    desc: str
    categories: list[str]
    series: list[Series]
    value_format: str = "{:,.0f}"
    category_label: str = "Category"  # the table's first column heading
    svg: SafeString = field(init=False, default=SafeString(""))

    def __post_init__(self) -> None:
        object.__setattr__(self, "svg", bar_chart_svg(self))

    @property
    def is_empty(self) -> bool:
        return not any(v for s in self.series for v in s.values)


def _fmt(chart: Chart, value: float) -> str:
    return chart.value_format.format(value)


def bar_chart_svg(chart: Chart) -> SafeString:
    """Horizontal grouped bars: one group per category, one bar per series (it fits a phone)."""
    uid = chart.slug
    per_group = max(len(chart.series), 1)
    group_height = ROW_HEIGHT * per_group + PAD
    legend_height = ROW_HEIGHT if len(chart.series) > 1 else 0
    height = legend_height + group_height * max(len(chart.categories), 1) + PAD
    width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH
    top = max((v for s in chart.series for v in s.values), default=0) or 1
    parts: list[SafeString] = []
    if legend_height:
        x = LABEL_WIDTH
        for i, series in enumerate(chart.series):
            parts.append(
                format_html(
                    '<rect class="bar s{}" x="{}" y="4" width="12" height="12"/>'
                    '<text class="legend" x="{}" y="15">{}</text>',
                    i % 6,
                    x,
                    x + 16,
                    series.name,
                )
            )
            x += 16 + 8 * len(series.name) + 16
    for g, category in enumerate(chart.categories):
        y0 = legend_height + g * group_height
        parts.append(
            format_html(
                '<text class="cat" x="{}" y="{}" text-anchor="end">{}</text>',
                LABEL_WIDTH - 6,
                y0 + (ROW_HEIGHT * per_group) / 2 + 5,
                category,
            )
        )
        for i, series in enumerate(chart.series):
            value = series.values[g] if g < len(series.values) else 0
            bar = BAR_AREA * (value / top) if value else 0
            y = y0 + i * ROW_HEIGHT
            parts.append(
                format_html(
                    '<rect class="bar s{}" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>'
                    '<text class="val" x="{}" y="{}">{}</text>',
                    i % 6,
                    LABEL_WIDTH,
                    y + 3,
                    f"{bar:.1f}",
                    ROW_HEIGHT - 6,
                    f"{category}, {series.name}" if len(chart.series) > 1 else category,
                    _fmt(chart, value),
                    f"{LABEL_WIDTH + bar + 4:.1f}",
                    y + ROW_HEIGHT - 7,
                    _fmt(chart, value),
                )
            )
    return format_html(
        '<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMinYMin meet"'
        ' aria-labelledby="chart-title-{id} chart-desc-{id}">'
        '<title id="chart-title-{id}">{title}</title><desc id="chart-desc-{id}">{desc}</desc>'
        '<line class="axis" x1="{lw}" y1="0" x2="{lw}" y2="{h}"/>{body}</svg>',
        w=width,
        h=height,
        id=uid,
        title=chart.title,
        desc=chart.desc,
        lw=LABEL_WIDTH,
        body=mark_safe("".join(parts)),  # noqa: S308 (each part was built with format_html)
    )


__all__ = ["Chart", "Series", "bar_chart_svg"]
