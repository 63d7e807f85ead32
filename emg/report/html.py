"""HTML building blocks for the report: one self-contained page, nothing fetched from elsewhere.

Images are embedded as base64 PNG (``data:`` URLs), the style sheet is inline, and the only
script is a small inline one that marks on ``<html>`` how many images loaded
(``data-images-loaded``, ``data-images-broken``) so a headless browser can check the page.
All text passes through :func:`esc`.
"""

from __future__ import annotations

import base64
import html as _html
import math
from collections.abc import Iterable, Sequence

__all__ = [
    "DOCTOR_BOX",
    "esc",
    "figure",
    "fmt_duration",
    "fmt_num",
    "img",
    "page",
    "section",
    "table",
]


def esc(text: object) -> str:
    """HTML-escape ``text`` (quotes too)."""
    return _html.escape(str(text), quote=True)


def fmt_num(x: float | None, digits: int = 1, *, empty: str = "–") -> str:
    """A number for people: fixed digits, ``empty`` for None or NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return empty
    return f"{x:,.{digits}f}".replace(",", "\u202f")


def fmt_duration(seconds: float | None) -> str:
    """``3 h 05 min``, ``12 min``, ``40 s``; ``–`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    s = round(float(seconds))
    if s < 60:
        return f"{s} s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d} min"


def img(png: bytes, alt: str, *, width: int | None = None) -> str:
    """An ``<img>`` with the PNG embedded as a base64 data URL."""
    data = base64.b64encode(png).decode("ascii")
    w = f' width="{int(width)}"' if width else ""
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}"{w} loading="eager">'


def figure(png: bytes, alt: str, caption: str) -> str:
    """An image with a plain-language caption (``caption`` is already HTML)."""
    return f"<figure>{img(png, alt)}<figcaption>{caption}</figcaption></figure>"


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Sequence[int] = (),
    caption: str | None = None,
    row_classes: Sequence[str] | None = None,
) -> str:
    """A table; cells are HTML already (escape text with :func:`esc`); ``numeric`` columns align right."""
    num = set(numeric)
    head = "".join(
        f'<th scope="col"{" class=num" if i in num else ""}>{h}</th>' for i, h in enumerate(header)
    )
    body = []
    for r, row in enumerate(rows):
        cls = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        cells = "".join(
            f"<td{' class=num' if i in num else ''}>{c}</td>" for i, c in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f'<div class="table-wrap"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def section(anchor: str, title: str, lead: str, body: str) -> str:
    """A report section: a heading, one plain sentence of what it shows, then the content."""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2><p class="lead">{lead}</p>{body}</section>'


DOCTOR_BOX = """<aside class="doctor" role="note" aria-labelledby="doctor-title">
<h2 id="doctor-title">See a doctor when</h2>
<ul>
<li>the twitching lasts <strong>more than two weeks</strong>;</li>
<li>it <strong>spreads to more places</strong> in your body;</li>
<li>it comes with <strong>weakness</strong> (tripping, dropping things, trouble with buttons or stairs)
or <strong>muscle wasting</strong> (a muscle getting visibly thinner).</li>
</ul>
<p>Twitching is common and usually harmless: it often follows exercise, stress, caffeine, too little sleep and other
everyday causes. This report is personal insight, not a diagnosis: it counts events that look
like fasciculations on a surface sensor and cannot tell you whether a nerve or muscle disease is
present or absent. Only a clinical examination, and if needed a needle EMG, can. Associations with
diary factors are not proof of cause.</p>
</aside>"""

_CSS = """
:root { --ink:#1d1f23; --muted:#5b6270; --line:#d9dde3; --soft:#f4f6f8; --accent:#0072B2;
        --warn:#8a5a00; --warnbg:#fff6e0; --bad:#a23b00; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin:0; background:#eef1f4; color:var(--ink);
       font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 28px 28px 40px; background:#fff; }
header.top { border-bottom: 3px solid var(--accent); padding-bottom: 14px; margin-bottom: 8px; }
h1 { font-size: 1.9rem; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 1.35rem; margin: 0 0 6px; }
h3 { font-size: 1.05rem; margin: 18px 0 6px; }
.sub { color: var(--muted); margin: 0; }
.notice { background: var(--soft); border-left: 4px solid var(--accent); padding: 8px 12px;
          margin: 14px 0 4px; font-size: .95rem; }
nav.toc { font-size: .92rem; margin: 10px 0 0; color: var(--muted); }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
section { padding: 22px 0 10px; border-top: 1px solid var(--line); }
section:first-of-type { border-top: 0; }
p.lead { color: var(--muted); margin: 0 0 12px; max-width: 62em; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 12px; margin: 8px 0 6px; }
.card { border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; background: #fff; }
.card .ch { font-weight: 600; color: var(--muted); font-size: .9rem; }
.card .big { font-size: 2.1rem; font-weight: 700; line-height: 1.15; color: var(--accent); }
.card .big small { font-size: .95rem; font-weight: 600; color: var(--ink); }
.card .ci { font-size: .93rem; }
.card .detail { font-size: .85rem; color: var(--muted); margin-top: 4px; }
figure { margin: 10px 0 18px; }
figure img { width: 100%; height: auto; display: block; border: 1px solid var(--line); border-radius: 6px; }
figcaption { font-size: .9rem; color: var(--muted); margin-top: 6px; max-width: 62em; }
.table-wrap { overflow-x: auto; margin: 6px 0 14px; }
table { border-collapse: collapse; font-size: .9rem; min-width: 50%; }
caption { text-align: left; font-size: .88rem; color: var(--muted); padding-bottom: 4px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
tr.flag td { background: var(--warnbg); }
.tag { display: inline-block; white-space: nowrap; padding: 0 7px; border-radius: 9px; font-size: .8rem; font-weight: 600;
       border: 1px solid currentColor; }
.tag.associated { color: #a23b00; } .tag.no-evidence { color: #0b5d8c; } .tag.insufficient-data { color: #666; }
.note { background: var(--warnbg); color: var(--warn); border-radius: 6px; padding: 8px 12px; font-size: .92rem; }
ul.sentences li { margin-bottom: 4px; }
aside.doctor { border: 2px solid var(--bad); border-radius: 10px; padding: 14px 18px; margin: 26px 0 8px;
               background: #fff8f4; break-inside: avoid; }
aside.doctor h2 { color: var(--bad); }
aside.doctor ul { margin: 6px 0 10px; padding-left: 22px; }
footer { color: var(--muted); font-size: .82rem; margin-top: 18px; border-top: 1px solid var(--line); padding-top: 8px; }
@media (max-width: 640px) { main { padding: 16px; } .card .big { font-size: 1.7rem; } }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  section { break-inside: auto; }
  figure, table, .card, aside.doctor { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  figure img { border: 0; }
  a { color: inherit; text-decoration: none; }
}
@page { margin: 14mm; }
"""

_SCRIPT = """(function () {
  function check() {
    var imgs = Array.prototype.slice.call(document.images);
    if (imgs.some(function (i) { return !i.complete; })) { setTimeout(check, 25); return; }
    var broken = imgs.filter(function (i) { return !(i.naturalWidth > 0); }).length;
    document.documentElement.setAttribute('data-images-broken', String(broken));
    document.documentElement.setAttribute('data-images-loaded', String(imgs.length - broken));
  }
  if (document.readyState === 'complete') { check(); } else { window.addEventListener('load', check); }
})();"""


def page(
    title: str,
    header: str,
    sections: Sequence[str],
    footer: str,
    *,
    toc: Sequence[tuple[str, str]] = (),
) -> str:
    """The whole document. ``header``, ``sections`` and ``footer`` are HTML already."""
    nav = ""
    if toc:
        nav = (
            '<nav class="toc" aria-label="Sections">'
            + "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in toc)
            + "</nav>"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f'<header class="top">{header}{nav}</header>\n'
        + "\n".join(sections)
        + f"\n<footer>{footer}</footer>\n</main>\n<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )
