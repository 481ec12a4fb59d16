"""The trade-off curve: leak rate against images per second, veil's settings beside deface's.

    python -m benchmarks.tradeoff bench-out/tradeoff.json -o docs/tradeoff.svg

The input is a JSON list of measured points, each ``{"set": "dev", "tool": "veil",
"setting": "default", "images_per_s": 5.07, "leak": 0.014, "collateral": 0.91}``
(leak from ``benchmarks.leak`` or ``benchmarks.search``, speed from ``benchmarks.speed``,
whole process on the same JPEG folder). It writes one SVG: images per second on a
logarithmic x axis, leak rate on y, one panel per set, veil and deface in two colours,
each point labelled with its setting; and prints the same points as a Markdown table.
Plain SVG text, no plotting library.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from xml.sax.saxutils import escape

COLOURS = {"veil": "#1f5fa8", "deface": "#c0392b"}
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 560, 360, 60, 20, 36, 48


def _panel(points: list[dict[str, object]], title: str, ox: int) -> list[str]:
    xs = [float(p["images_per_s"]) for p in points]  # type: ignore[arg-type]
    ys = [100 * float(p["leak"]) for p in points]  # type: ignore[arg-type]
    lo = 10 ** math.floor(math.log10(min(xs)))
    hi = 10 ** math.ceil(math.log10(max(xs)))
    top = max(5.0, math.ceil(max(ys) / 5) * 5)
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def px(v: float) -> float:
        span = math.log10(hi) - math.log10(lo)
        return ox + PAD_L + pw * (math.log10(v) - math.log10(lo)) / span

    def py(v: float) -> float:
        return PAD_T + ph * (1 - v / top)

    out = [f'<text x="{ox + W / 2}" y="20" text-anchor="middle" font-weight="bold">'
           f'{escape(title)}</text>',
           f'<rect x="{ox + PAD_L}" y="{PAD_T}" width="{pw}" height="{ph}" fill="none" '
           'stroke="#888"/>']
    decade = lo
    while decade <= hi * 1.0001:
        for m in (1, 2, 5):
            v = decade * m
            if lo <= v <= hi * 1.0001:
                x = px(v)
                out.append(f'<line x1="{x:.1f}" y1="{PAD_T}" x2="{x:.1f}" y2="{PAD_T + ph}" '
                           'stroke="#eee"/>')
                out.append(f'<text x="{x:.1f}" y="{PAD_T + ph + 16}" text-anchor="middle" '
                           f'font-size="11">{v:g}</text>')
        decade *= 10
    step = 5 if top <= 30 else 10
    for v in range(0, int(top) + 1, step):
        y = py(v)
        out.append(f'<line x1="{ox + PAD_L}" y1="{y:.1f}" x2="{ox + PAD_L + pw}" y2="{y:.1f}" '
                   'stroke="#eee"/>')
        out.append(f'<text x="{ox + PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" '
                   f'font-size="11">{v}%</text>')
    y2 = py(2.0)
    out.append(f'<line x1="{ox + PAD_L}" y1="{y2:.1f}" x2="{ox + PAD_L + pw}" y2="{y2:.1f}" '
               'stroke="#2a2" stroke-dasharray="4 3"/>')
    out.append(f'<text x="{ox + PAD_L + pw - 4}" y="{y2 - 4:.1f}" text-anchor="end" '
               'font-size="10" fill="#2a2">2% target</text>')
    out.append(f'<text x="{ox + PAD_L + pw / 2}" y="{H - 8}" text-anchor="middle" '
               'font-size="12">images per second (whole process, log scale)</text>')
    out.append(f'<text x="{ox + 14}" y="{PAD_T + ph / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 {ox + 14} {PAD_T + ph / 2})">faces leaked</text>')
    for i, (p, x, y) in enumerate(zip(points, xs, ys, strict=True)):
        colour = COLOURS.get(str(p["tool"]), "#555")
        dy = -5 if i % 2 == 0 else 14  # alternate above and below: neighbours' labels
        out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{colour}"/>')
        out.append(f'<text x="{px(x) + 6:.1f}" y="{py(y) + dy:.1f}" font-size="10" '
                   f'fill="{colour}">{escape(str(p["tool"]))} {escape(str(p["setting"]))}</text>')
    return out


def svg(points: list[dict[str, object]]) -> str:
    sets = list(dict.fromkeys(str(p["set"]) for p in points))
    body: list[str] = []
    for i, s in enumerate(sets):
        body += _panel([p for p in points if p["set"] == s], s, i * W)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W * len(sets)}" height="{H}" '
            f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>'
            + "".join(body) + "</svg>\n")


def markdown(points: list[dict[str, object]]) -> str:
    lines = ["| set | tool | setting | images/s | leak | collateral |", "|---|---|---|---|---|---|"]
    for p in points:
        lines.append(f"| {p['set']} | {p['tool']} | {p['setting']} | {p['images_per_s']} "
                     f"| {100 * float(p['leak']):.1f}% | {p.get('collateral', '-')} |")  # type: ignore[arg-type]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("points", type=Path, help="JSON list of measured points")
    ap.add_argument("-o", "--output", type=Path, default=Path("docs/tradeoff.svg"))
    args = ap.parse_args(argv)
    points = json.loads(args.points.read_text())
    args.output.write_text(svg(points))
    print(markdown(points))
    return 0


if __name__ == "__main__":
    sys.exit(main())
