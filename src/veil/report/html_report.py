"""``report.html``: one self-contained page a person can read.

Self-contained means: inline CSS, no scripts, no fonts or images fetched from anywhere,
pictures as ``data:`` URIs, and the letters ``http`` appear nowhere in the file (text that
contains them is written with a character reference; base64 data is broken by a newline,
which URL parsing drops). The only pictures are thumbnails of the OUTPUT files, with the
masked regions outlined and any face still visible covered.

A big batch's page would hold every thumbnail (about 20 KB of base64 a photo: 2 GB for
100,000 photos). Above :data:`INLINE_THUMBNAILS_MAX` files the thumbnails are files in
:data:`THUMBNAIL_FOLDER` beside ``report.html`` instead, referenced by relative path
(:func:`write_html`): the page stays small and still fetches nothing from anywhere else.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

_HTTP = re.compile("(h)(ttp)", re.IGNORECASE)

#: Up to this many files, ``report.html`` embeds every thumbnail (one self-contained file);
#: above it, the thumbnails are files in :data:`THUMBNAIL_FOLDER` beside it. 500 photos
#: embed about 10 MB, which a browser still opens at once.
INLINE_THUMBNAILS_MAX = 500
#: The folder beside ``report.html`` that holds a big batch's thumbnails.
THUMBNAIL_FOLDER = "report-thumbnails"
#: What the page's ``<img src>`` is for file ``i`` (``None``: no picture).
ThumbnailSource = Callable[[int], "str | None"]

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
h1{font-size:1.5em;margin:0 0 .3em}
.verdict{font-size:1.25em;padding:.6em 1em;border-radius:6px;margin:1em 0}
.v-pass{background:#e3f6e8;border:1px solid #3a9d5d}
.v-fail{background:#fde7e7;border:1px solid #c9302c}
.v-unverified{background:#fff5da;border:1px solid #c99a2c}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}
th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
table.files{table-layout:fixed}
table.files td{overflow-wrap:anywhere}
table.files th{font-size:.85em;overflow-wrap:normal;hyphens:auto}
.verdict p{margin:.3em 0 0;font-size:.85em}
.detail{margin-top:1.5em}
h2{font-size:1.15em;overflow-wrap:anywhere}
th{background:#f4f4f4}
.s{font-weight:600;border-radius:4px;padding:.1em .45em;white-space:nowrap}
.s-pass{background:#3a9d5d;color:#fff}.s-fail{background:#c9302c;color:#fff}
.s-error{background:#6b2c91;color:#fff}.s-unverified{background:#c99a2c;color:#fff}
section{border:1px solid #ddd;border-radius:6px;padding:1em;margin:1em 0;overflow:auto;
overflow-wrap:anywhere}
section img{float:right;margin:0 0 1em 1em;border:1px solid #ccc;image-rendering:auto}
section table{width:auto;min-width:40%}
ul{margin:.3em 0 .3em 1.2em;padding:0}
.muted{color:#666}
code{font-size:.92em}
"""


# Widths of the files table's columns (None: the two paths share what is left), so that
# long paths wrap inside their cells instead of pushing the table off a 1280 px screen.
_COLS = "".join(f"<col style='width:{w}em'>" if w else "<col>"
                for w in (5, None, None, 4.4, 4.6, 4.6, 5.4, 6.4, 5.6, 3.8))


def _t(value: Any) -> str:
    """Escaped text for the page, with ``http`` spelled by a character reference."""
    return _HTTP.sub(r"&#104;\2", html.escape(str(value), quote=True))


def _data_uri(jpeg: bytes) -> str:
    b64 = base64.b64encode(jpeg).decode("ascii")
    return "data:image/jpeg;base64," + _HTTP.sub("\\1\n\\2", b64)


def _fmt_seconds(entry: dict[str, Any]) -> str:
    ver = entry.get("verification") or {}
    total = sum(float(v) for v in entry.get("timings", {}).values())
    if not total and ver:
        total = float(ver.get("seconds", 0.0))
    return f"{total:.1f} s" if total else ""


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _row(i: int, e: dict[str, Any]) -> str:
    ver = e.get("verification") or {}
    faces = e.get("faces_masked", sum(e.get("faces_by_provenance", {}).values()))
    released = len(e.get("released_regions", []))
    if e.get("faint_tracks"):
        faces = f"{faces} <span class='muted'>(+{int(e['faint_tracks'])} faint)</span>"
    if released:
        faces = f"{faces} <span class='muted'>(+{released} left visible)</span>"
    residual = len(ver.get("residual_faces", [])) if ver else ""
    reid = ver.get("reid", {}).get("faces", []) if ver else []
    closest = f"{min(r['distance'] for r in reid):.3f}" if reid else ""
    md = ver.get("metadata", {}) if ver else {}
    flagged = len(md.get("flagged", [])) if ver else ""
    structural = len(md.get("structural", [])) if ver else ""
    status = e["status"]
    return (f"<tr><td><span class='s s-{status}'>{_t(status)}</span></td>"
            f"<td><a href='#f{i}'>{_t(e['input'])}</a></td><td>{_t(e['output'] or '')}</td>"
            f"<td>{_t(e['kind'])}</td><td>{faces}</td><td>{residual}</td><td>{closest}</td>"
            f"<td>{flagged}</td><td>{structural}</td><td>{_t(_fmt_seconds(e))}</td></tr>")


def _frames_text(ranges: list[list[int]]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges)


def _regions_table(title: str, items: list[dict[str, Any]], kind: str, when: bool) -> str:
    """A table of released or deleted regions: where, which frames, why (and when)."""
    head = "<th>where (x1, y1, x2, y2)</th>"
    if kind == "video":
        head += "<th>frames</th>"
    head += "<th>reason</th>" + ("<th>edited</th>" if when else "")
    rows = []
    for g in items:
        cells = f"<td>{_t(', '.join(str(v) for v in g['box']))}</td>"
        if kind == "video":
            cells += f"<td>{_t(_frames_text(g['frames']))}</td>"
        cells += f"<td>{_t(g.get('reason') or '(none given)')}</td>"
        if when:
            cells += f"<td>{_t(g.get('edited_at') or '')}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f"<p><strong>{title}</strong></p><table><tr>{head}</tr>{''.join(rows)}</table>"


def _names(names: list[str]) -> str:
    return ", ".join(f"<code>{_t(n)}</code>" for n in names) if names else "none"


def thumbnail_name(i: int) -> str:
    """The file of entry ``i``'s thumbnail inside :data:`THUMBNAIL_FOLDER`."""
    return f"{i:06d}.jpg"


def _section(i: int, e: dict[str, Any], src: str | None) -> str:
    ver = e.get("verification")
    parts = [f"<section id='f{i}'>"]
    if src:
        parts.append(f"<img alt='output thumbnail, masked regions outlined' "
                     f"src='{_t(src)}' loading='lazy'>")
    parts.append(f"<h2><span class='s s-{e['status']}'>{_t(e['status'])}</span> "
                 f"{_t(e['input'])}</h2>")
    parts.append(f"<p>Output: {_t(e['output'] or 'none')}<br>"
                 f"<span class='muted'>SHA-256 in {_t(e['input_sha256'] or '-')}<br>"
                 f"SHA-256 out {_t(e['output_sha256'] or '-')}</span></p>")
    counts = e.get("faces_by_provenance", {})
    if any(counts.values()):
        parts.append("<p>Masked regions: " + ", ".join(
            f"{_t(k)} {int(v)}" for k, v in counts.items() if v) + "</p>")
    for note in e.get("notes", []):
        parts.append(f"<p class='note'><strong>Note:</strong> {_t(note)}</p>")
    if e.get("released_regions"):
        parts.append(_regions_table(
            "Left visible on purpose (released in the plan, not masked):",
            e["released_regions"], e["kind"], False))
    if e.get("deleted_regions"):
        parts.append(_regions_table(
            "Regions deleted by hand (judged not to be a face, not masked):",
            e["deleted_regions"], e["kind"], True))
    if e.get("error"):
        parts.append(f"<p><strong>Error:</strong> {_t(e['error'])}</p>")
    if ver is None:
        if not e.get("error"):
            parts.append("<p>This output was not verified.</p>")
        parts.append("</section>")
        return "".join(parts)
    rep = e.get("repair") or {}
    if rep.get("rounds"):
        added = rep.get("added", [])
        done = ("and the output now passes that check" if rep.get("repaired")
                else "but faces are still visible")
        parts.append(f"<p>Self-repair: {len(added)} face(s) the first check found visible "
                     f"were added to the plan and the output rendered again "
                     f"({rep['rounds']} round(s)), {done}.</p>")
    if ver["reasons"]:
        parts.append("<p><strong>Why it failed:</strong></p><ul>" + "".join(
            f"<li>{_t(r)}</li>" for r in ver["reasons"]) + "</ul>")
    else:
        parts.append("<p>Every check passed.</p>")
    checks = ", ".join(f"{_t(k)}: {_t(v)}" for k, v in ver["checks"].items())
    frames = (f"{ver['frames_checked']} of {ver['frames_total']} frames checked. "
              if e["kind"] == "video" else "")
    source = ("Masked regions from the plan." if ver["with_plan"]
              else "Masked regions from the pixels that changed.")
    parts.append(f"<p class='muted'>{checks}. {frames}{source}</p>")
    reid = ver["reid"]
    if reid["faces"]:
        parts.append(f"<p>Recognition distance of each masked face to its original "
                     f"(recognisable: below {reid['threshold']} and closer than a solid "
                     f"fill of the same region by more than {reid.get('reference_margin')})"
                     ":</p><table><tr><th>frame</th><th>box</th><th>distance</th>"
                     "<th>solid fill</th><th>recognisable</th></tr>")
        for r in reid["faces"]:
            ref = r.get("solid_reference")
            parts.append(f"<tr><td>{r['frame']}</td><td>{_t(r['box'])}</td>"
                         f"<td>{r['distance']:.3f}</td>"
                         f"<td>{'' if ref is None else f'{ref:.3f}'}</td>"
                         f"<td>{'yes' if r['reidentifiable'] else 'no'}</td></tr>")
        parts.append("</table>")
    md = ver["metadata"]
    structural = md.get("structural",
                        [n for n in md["left"] if n not in md.get("flagged", [])])
    parts.append(f"<p>Identifying metadata left: {_names(md.get('flagged', []))}<br>"
                 f"<span class='muted'>Structural fields kept (file format and stream "
                 f"layout, colour profile; they say nothing about who, where or when): "
                 f"{_names(structural)}<br>"
                 f"Metadata in the original: {_names(md['before'])}</span></p>")
    parts.append("</section>")
    return "".join(parts)


def plain_verdict(report: dict[str, Any]) -> tuple[str, str]:
    """The verdict in words a journalist reads: a headline, and what to do (or ``""``)."""
    s = report["summary"]
    n = s["files"]
    released = s.get("released", 0)
    kept = (f" {_plural(released, 'face was', 'faces were')} left visible on purpose, as "
            "the plan says (listed below)." if released else "")
    if s["verdict"] == "pass":
        but = (f", except {_plural(released, 'face')} left visible on purpose as the plan "
               "says (listed below)," if released else "")
        head = (f"{'The file is' if n == 1 else f'All {n} files are'} safe to publish: "
                f"every face we found is masked{but} and no identifying metadata is left.")
        return head, ""
    if s["verdict"] == "unverified":
        if not n:
            return "No file was processed.", ""
        return (f"Not checked: {s['unverified']} of {n} files were not verified, so we "
                f"cannot say they are safe to publish.{kept}",
                "Run veil again without --no-verify, or check them with veil verify.")
    bad = s["fail"] + s["error"]
    what = []
    checks = [(e.get("verification") or {}).get("checks", {}) for e in report["files"]]
    faces = sum(1 for c in checks if "fail" in (c.get("residual"), c.get("reid")))
    if faces:
        what.append(f"{_plural(faces, 'file')} may still show a recognisable face")
    meta = s.get("files_with_identifying_metadata", 0)
    if meta:
        what.append(f"{_plural(meta, 'file')} still {'holds' if meta == 1 else 'hold'} "
                    "identifying metadata")
    if s["error"]:
        what.append(f"{_plural(s['error'], 'file')} could not be processed")
    if s["fail"]:
        which = "The file failed" if n == 1 else f"{bad} of {n} files failed"
        head = (f"Do not publish yet: {which} the check"
                f"{' (' + '; '.join(what) + ')' if what else ''}.{kept}")
    else:  # nothing was made of these files: there is no output, plan or face to speak of
        which = ("The file" if n == 1 else f"{bad} of {n} files") + " could not be processed"
        head = f"Do not publish yet: {which}.{kept}"
    todos = []
    if s["fail"]:
        todos.append("Look at each failed file below. A failed output is kept as "
                     "NAME.verification-failed, never under the name you would publish. Mask "
                     "the face in the plan (or mark a face meant to stay visible as released) "
                     "and render it again with veil render, or use a stronger mask "
                     "(--method solid).")
    if s["error"]:
        todos.append(f"The reason each file could not be processed is given below (a damaged "
                     f"file, or one that is not a picture or video); no output was written for "
                     f"{'it' if s['error'] == 1 else 'them'}. Replace or repair "
                     f"{'it' if s['error'] == 1 else 'them'} and run veil --retry-failed with "
                     f"this report's folder.")
    todo = " ".join(todos)
    if s["pass"]:
        todo += (f" The {_plural(s['pass'], 'file')} that passed "
                 f"{'is' if s['pass'] == 1 else 'are'} safe to publish.")
    return head, todo


def account_line(summary: dict[str, Any]) -> str:
    """``"340 faces masked, 1 left visible on purpose, 2 regions deleted by hand"``."""
    parts = [_plural(int(summary.get("faces_masked", 0)), "face") + " masked"]
    if summary.get("faint_tracks"):
        parts.append(_plural(int(summary["faint_tracks"]), "faint track")
                     + " masked as a precaution")
    if summary.get("released"):
        parts.append(f"{summary['released']} left visible on purpose")
    if summary.get("deleted"):
        parts.append(_plural(int(summary["deleted"]), "region") + " deleted by hand")
    return ", ".join(parts)


def render_html(report: dict[str, Any], thumbnails: Sequence[bytes | None]) -> str:
    """The page for a report dict (as :func:`veil.report.json_report.build_report` makes it);
    ``thumbnails[i]`` is the JPEG thumbnail of file ``i``'s output, or ``None``; each is
    embedded as a ``data:`` URI."""

    def inline(i: int) -> str | None:
        thumb = thumbnails[i] if i < len(thumbnails) else None
        return _data_uri(thumb) if thumb else None

    return "".join(html_parts(report, inline))


def write_html(report: dict[str, Any], thumbnails: Sequence[bytes | None], out: IO[str], *,
               folder: Any = None) -> int:
    """Write the page to ``out`` piece by piece (never the whole page in memory). With
    ``folder`` (a :class:`pathlib.Path`, made by the caller), each thumbnail is written
    there as :func:`thumbnail_name` and the page refers to it by the relative path
    ``THUMBNAIL_FOLDER/NAME``; without, each is embedded. Returns the thumbnails written."""
    written = 0

    def source(i: int) -> str | None:
        nonlocal written
        thumb = thumbnails[i] if i < len(thumbnails) else None
        if not thumb:
            return None
        if folder is None:
            return _data_uri(thumb)
        (folder / thumbnail_name(i)).write_bytes(thumb)
        written += 1
        return f"{THUMBNAIL_FOLDER}/{thumbnail_name(i)}"

    for part in html_parts(report, source):
        out.write(part)
    return written


def html_parts(report: dict[str, Any], source: ThumbnailSource) -> Iterator[str]:
    """The page in pieces: the head and files table, one section per file (its picture
    from ``source(i)``), the foot."""
    s = report["summary"]
    verdict = s["verdict"]
    words, todo = plain_verdict(report)
    detail = (f"{s['pass']} passed, {s['fail']} failed, {_plural(s['error'], 'error')}, "
              f"{s['unverified']} not verified")
    cal = report.get("reid_calibration") or {}
    tool = report["tool"]
    yield (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>veil report: {_t(verdict)}</title><style>{_CSS}</style></head><body>"
        f"<h1>veil verification report</h1>"
        f"<p class='muted'>{_t(tool['name'])} {_t(tool['version'])}, {_t(report['created'])}</p>"
        f"<div class='verdict v-{_t(verdict)}'><strong>{_t(words)}</strong>"
        f"<p>{_t(account_line(s))}.</p>"
        f"{f'<p>{_t(todo)}</p>' if todo else ''}</div>"
        f"<div class='detail'><p class='muted'>Details for checking: {_t(detail)}.</p>"
        f"<table class='files'><colgroup>{_COLS}</colgroup>"
        "<tr><th>status</th><th>input</th><th>output</th><th>kind</th>"
        "<th>faces masked</th><th>faces still visible</th><th>closest distance</th>"
        "<th>identifying metadata</th><th>structural fields</th><th>time</th></tr>")
    for i, e in enumerate(report["files"]):
        yield _row(i, e)
    yield "</table>"
    for i, e in enumerate(report["files"]):
        yield _section(i, e, source(i))
    yield (
        "</div>"
        f"<p class='muted'>Recognition threshold {_t(cal.get('threshold'))}, calibrated on "
        f"{_t(cal.get('different_pairs'))} pairs of different people (false-match rate "
        f"{_t(cal.get('false_match_rate_at_threshold'))}). Faces are compared only with "
        "their own original; nothing here identifies anyone. Thumbnails show the output "
        "files only.</p></body></html>\n"
    )
