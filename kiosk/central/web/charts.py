"""Server-rendered SVG bar charts (pure: data in, SVG text out; no JavaScript)."""

from __future__ import annotations

from html import escape

PALETTE = ("#1f5fa8", "#d9822b", "#2f9e44", "#c92a2a", "#7048e8", "#0c8599", "#e8590c", "#5c940d")


def _nice(top: float) -> float:
    if top <= 0:
        return 1.0
    for mag in range(0, 12):
        for step in (1, 2, 4, 5, 8):
            v = step * 10 ** mag
            if v >= top:
                return float(v)
    return float(top)


def bar_chart(title: str, labels: list[str], series: list[tuple[str, list[float]]], *,
              percent: bool = False, width: int = 640, height: int = 240, unit: str = "") -> str:
    """A stacked bar chart: one bar per label, one coloured segment per series, a legend, a
    y axis with four gridlines, and every bar with a <title> (hover) naming its numbers."""
    left, right, top, bottom = 44, 8, 28, 34
    legend_h = 18 * ((len(series) + 2) // 3) if len(series) > 1 else 0
    h = height + legend_h
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(labels))
    sums = [sum(s[1][i] for s in series) for i in range(len(labels))]
    ymax = 100.0 if percent else _nice(max(sums or [0]))
    bw = plot_w / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" class="chart" role="img" '
             f'aria-label="{escape(title)}">',
             f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>']
    for k in range(5):
        v = ymax * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        text = f"{v:.0f}%" if percent else (f"{v:.0f}" if v >= 10 or v == 0 else f"{v:.1f}")
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" class="axis">{text}</text>')
    for i, label in enumerate(labels):
        x = left + i * bw
        y = top + plot_h
        tip = [label] + [f"{name}: {vals[i]:.0f}{'%' if percent else unit}" for name, vals in series]
        parts.append(f'<g><title>{escape(" – ".join(tip))}</title>')
        for j, (name, vals) in enumerate(series):
            v = vals[i]
            if v <= 0:
                continue
            bh = plot_h * min(v, ymax) / ymax
            y -= bh
            parts.append(f'<rect x="{x + bw * 0.12:.1f}" y="{y:.1f}" width="{max(1.0, bw * 0.76):.1f}" '
                         f'height="{bh:.1f}" fill="{PALETTE[j % len(PALETTE)]}"/>')
        parts.append("</g>")
    every = max(1, round(n / 8))
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(f'<text x="{left + i * bw + bw / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                         f'class="axis">{escape(label)}</text>')
    if len(series) > 1:
        for j, (name, _) in enumerate(series):
            lx = left + (j % 3) * (plot_w / 3)
            ly = height + 4 + 18 * (j // 3)
            parts.append(f'<rect x="{lx:.1f}" y="{ly}" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>')
            parts.append(f'<text x="{lx + 16:.1f}" y="{ly + 11}" class="legend">{escape(name)}</text>')
    if not labels:
        parts.append(f'<text x="{width / 2}" y="{top + plot_h / 2}" text-anchor="middle" class="axis">'
                     "Inga data för perioden</text>")
    parts.append("</svg>")
    return "".join(parts)
