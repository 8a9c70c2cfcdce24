"""report.html: one self-contained page (inline PNGs, CSS and an SVG chart) for a run folder.

It shows the final images of each class, every refined image beside the flagged original it
replaced (with the chosen candidate's confidence and uniqueness), the anomaly rate per class,
the configuration and the timings. It reads only the run folder, so ``dgr report RUN_DIR``
rebuilds it at any time, also for an unfinished run (the classes that are in).

A run of more than :data:`PAGED_ABOVE` classes (ImageNet-1K: 1000) gets a paged report:
report.html holds the summary and an index of the classes (one small thumbnail each, linked),
and each class's grid and refinements are on their own self-contained page in
``report-classes/``, so no page grows with the number of classes beyond one table row each.
"""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any, Iterable

from dgr.rundir import REPORT_FILE, REPORT_PAGES_DIR, RunFiles, sum_summaries, write_text_atomic

THUMBNAIL_MAX = 128      # larger images are shrunk to this many pixels on their long side
DISPLAY_MIN = 64         # small images are drawn (pixelated) at least this big
GRID_LIMIT = 60          # final images shown per class
PAIR_LIMIT = 400         # refined pairs shown in the whole report
CLASS_LIMIT = 200        # classes with a grid (the chart shows all)
PAGED_ABOVE = 50         # more classes than this: an index page + one page per class
INDEX_THUMBNAIL = 32     # the index page's thumbnail of each class, long side in pixels
PAGES_DIR = REPORT_PAGES_DIR

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #d6dae1;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}.sub{color:#5b6475;margin:0 0 14px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:8px 14px}
.card b{display:block;font-size:20px}.card span{color:#5b6475;font-size:12px}
.classes{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.classes section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:4px 12px 12px}
.grid{display:flex;flex-wrap:wrap;gap:4px;align-items:flex-end}
img{image-rendering:pixelated;border:2px solid transparent;border-radius:3px;background:#fff}
img.refined{border-color:#2e9d5b}img.unresolved{border-color:#d04437}
.pairs{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:8px 0 0;background:#f9fafb;border:1px solid #e4e7ec;border-radius:6px;padding:6px;font-size:12px}
figure .row{display:flex;gap:6px;align-items:center}figcaption{margin-top:4px;max-width:260px;color:#3a4252}
.arrow{color:#8a93a3;font-size:18px}.tag{display:inline-block;border-radius:9px;padding:0 7px;color:#fff;font-size:11px}
.tag.refined{background:#2e9d5b}.tag.unresolved{background:#d04437}
table{border-collapse:collapse;background:#fff;font-size:13px}
td,th{border:1px solid #dde1e7;padding:3px 9px;text-align:left}
th{background:#eef0f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.chart{overflow-x:auto;background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:8px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;border-radius:2px}
.note{color:#5b6475;font-size:12px}.missing{color:#d04437;font-weight:600}.cols{display:flex;flex-wrap:wrap;gap:0 40px}
"""


def _image(run_dir: Path, relative: str | None, css_class: str = "", title: str = "",
           largest: int = THUMBNAIL_MAX, smallest: int = DISPLAY_MIN) -> str:
    """An <img> with the PNG inlined (shrunk when large), or a placeholder when the file is gone."""
    from PIL import Image

    path = run_dir / relative if relative else None
    if path is None or not path.exists():
        return f'<span class="note">missing {html.escape(str(relative))}</span>'
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
            if max(width, height) > largest:
                picture.thumbnail((largest, largest))
                width, height = picture.size
                buffer = io.BytesIO()
                picture.save(buffer, format="PNG")
                data = buffer.getvalue()
    except (OSError, ValueError):  # PIL's UnidentifiedImageError is an OSError
        return f'<span class="missing">unreadable {html.escape(str(relative))}</span>'
    scale = max(1, -(-smallest // max(width, height)))
    encoded = base64.b64encode(data).decode("ascii")
    return (f'<img class="{css_class}" src="data:image/png;base64,{encoded}" width="{width * scale}" '
            f'height="{height * scale}" alt="{html.escape(relative or "")}" title="{html.escape(title)}">')


def _cards(run: dict[str, Any]) -> str:
    counts = run.get("counts", {})
    images = counts.get("images", 0)
    flagged = counts.get("initial_anomalies", 0)
    items = [("images", images), ("flagged", flagged), ("refined", counts.get("refined", 0)),
             ("unresolved", counts.get("unresolved", 0)), ("generated", counts.get("generated_images", 0)),
             ("anomaly rate", f"{flagged / images:.0%}" if images else "–"),
             ("skipped files", run.get("dataset", {}).get("skipped_files", 0)),
             ("wall time", f"{run['wall_seconds']:.1f} s" if "wall_seconds" in run else "–")]
    return '<div class="cards">' + "".join(
        f"<div class=card><b>{html.escape(str(v))}</b><span>{k}</span></div>" for k, v in items) + "</div>"


def anomaly_chart(summaries: list[dict[str, Any]]) -> str:
    """An SVG bar chart: share of each class's initial images flagged, split into refined / unresolved."""
    n = len(summaries)
    if n == 0:
        return '<p class="note">no class is complete yet</p>'
    bar = max(6, min(44, 900 // n))
    gap = max(2, bar // 4)
    height, top, bottom, left = 180, 12, 34, 40
    width = left + n * (bar + gap) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + top + bottom}" '
             f'role="img" aria-label="anomaly rate per class">']
    rates = [s.get("counts", {}).get("initial_anomalies", 0) / max(1, s.get("counts", {}).get("images", 0))
             for s in summaries]
    scale = next(v for v in (0.1, 0.2, 0.5, 1.0) if max(rates) <= v)  # the y axis ends here
    for tick in (0, scale / 4, scale / 2, 3 * scale / 4, scale):
        y = top + height * (1 - tick / scale)
        parts.append(f'<line x1="{left}" x2="{width - 6}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6eb"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#5b6475">'
                     f"{tick:.1%}</text>".replace(".0%", "%"))
    for i, summary in enumerate(summaries):
        counts = summary.get("counts", {})
        total = max(1, counts.get("images", 0))
        refined, unresolved = counts.get("refined", 0) / total / scale, counts.get("unresolved", 0) / total / scale
        x = left + i * (bar + gap) + gap
        name = html.escape(str(summary.get("class", i)))
        tip = (f"{name}: {counts.get('initial_anomalies', 0)} of {counts.get('images', 0)} flagged, "
               f"{counts.get('refined', 0)} refined, {counts.get('unresolved', 0)} unresolved")
        y_unres = top + height * (1 - unresolved)
        y_ref = y_unres - height * refined
        parts.append(f'<g><title>{tip}</title>'
                     f'<rect x="{x}" y="{y_unres:.1f}" width="{bar}" height="{height * unresolved:.1f}" '
                     'fill="#d04437"/>'
                     f'<rect x="{x}" y="{y_ref:.1f}" width="{bar}" height="{height * refined:.1f}" fill="#2e9d5b"/>'
                     f'<rect x="{x}" y="{top}" width="{bar}" height="{height}" fill="none" stroke="#cfd4dc"/></g>')
        if n <= 40 and rates[i] > 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y_ref - 3:.1f}" font-size="10" text-anchor="middle" '
                         f'fill="#3a4252">{rates[i]:.0%}</text>')
        if n <= 40:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + height + 14}" font-size="11" text-anchor="middle" '
                         f'fill="#1d2330">{name[:8]}</text>')
    parts.append("</svg>")
    legend = ('<div class="legend note"><span style="background:#2e9d5b"></span>flagged, then refined'
              '<span style="background:#d04437"></span>flagged, still unresolved</div>')
    return f'<div class="chart">{"".join(parts)}{legend}</div>'


def _cell(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"<td class=num>{html.escape(str(value))}</td>"
    return f"<td>{html.escape(value if isinstance(value, str) else json.dumps(value))}</td>"


def _table(rows: Iterable[tuple[str, Any]], header: tuple[str, str] | None = None) -> str:
    head = f"<tr><th>{header[0]}</th><th>{header[1]}</th></tr>" if header else ""
    body = "".join(f"<tr><td>{html.escape(str(k))}</td>{_cell(v)}</tr>" for k, v in rows)
    return f"<table>{head}{body}</table>"


def _timings(run: dict[str, Any]) -> str:
    timings = run.get("timings", {})
    total = sum(timings.values()) or 1.0
    rows = [(stage, f"{seconds:.2f} s  ({seconds / total:.0%})") for stage, seconds in timings.items()]
    speed = run.get("speed", {})
    rows += [("wall time", f"{run['wall_seconds']:.2f} s")] if "wall_seconds" in run else []
    rows += [(k, v) for k, v in speed.items()]
    return _table(rows, ("stage", "seconds (share of summed stage time)"))


def _pair(run_dir: Path, record: dict[str, Any]) -> str:
    status = record.get("status", "")
    selection = record.get("selection", {})
    reasons = "; ".join(record.get("anomaly_reasons", [])) or "flagged"
    left = _image(run_dir, record.get("replaced"), title="flagged original")
    right = _image(run_dir, record.get("file"), status, title="chosen candidate")
    valid = (f", {selection['valid_candidates']}/{selection['candidates']} candidates valid"
             if "valid_candidates" in selection else "")
    return (f'<figure><div class="row">{left}<span class="arrow">→</span>{right}</div><figcaption>'
            f'<span class="tag {html.escape(status)}">{html.escape(status)}</span> '
            f'#{record.get("prototype")}: confidence {record.get("confidence", 0):.3f}, '
            f'uniqueness {record.get("uniqueness", 0):.3f}{valid}<br>'
            f'<span class="note">was: {html.escape(reasons)}</span></figcaption></figure>')


def _class_section(run_dir: Path, summary: dict[str, Any], pair_budget: list[int]) -> str:
    records = summary.get("records", [])
    counts = summary.get("counts", {})
    name = html.escape(str(summary.get("class")))
    shown = records[:GRID_LIMIT]
    grid = "".join(_image(run_dir, r.get("file"), r.get("status", "") if r.get("status") != "accepted" else "",
                          f"#{r.get('prototype')} {r.get('status')} · confidence {r.get('confidence', 0):.3f} "
                          f"· uniqueness {r.get('uniqueness', 0):.3f}") for r in shown)
    more = f'<p class="note">showing {len(shown)} of {len(records)} images</p>' if len(records) > len(shown) else ""
    changed = [r for r in records if r.get("replaced")]
    pairs: list[str] = []
    for r in changed:
        if pair_budget[0] <= 0:
            pairs.append(f'<p class="note">{len(changed) - len(pairs)} more refined images not shown</p>')
            break
        pair_budget[0] -= 1
        pairs.append(_pair(run_dir, r))
    detail = (f'<div class="pairs">{"".join(pairs)}</div>' if pairs else "")
    return (f'<section><h3>class {name} <span class="note">{counts.get("images", len(records))} images · '
            f'{counts.get("initial_anomalies", 0)} flagged · {counts.get("refined", 0)} refined · '
            f'{counts.get("unresolved", 0)} unresolved</span></h3><div class="grid">{grid}</div>{more}'
            f'{detail}</section>')


def render_report(run_dir: str | Path) -> str:
    """The report of a run folder as one HTML string."""
    run_dir = Path(run_dir)
    files = RunFiles(run_dir)
    run = files.load_run()
    class_names = files.class_names(run)
    summaries = files.summaries(class_names)
    if "counts" not in run:  # an unfinished run: sum what is in
        run = {**run, **dict(zip(("timings", "counts"), sum_summaries(summaries)))}
    config = run.get("config", {})
    state = files.completeness()
    status = "incomplete (run.json says complete)" if state.status == "complete" and state.missing else state.status
    title = f"dgr · {config.get('dataset', '?')} · {config.get('ipc', '?')} images per class"
    unfinished = ("" if state.complete else
                  f'<p class="note">run status: {html.escape(status)} — {len(summaries)} of {len(class_names)} '
                  "classes are in; rebuild with <code>dgr report</code> when it ends</p>")
    if state.missing:
        more = f" and {len(state.missing) - 20} more" if len(state.missing) > 20 else ""
        listed = ", ".join(state.missing[:20]) + more
        unfinished += ('<p class="missing">missing: ' + html.escape(listed) + " — finish the run "
                       "with <code>dgr distill --resume</code> (same options)</p>")
    if paged(class_names):
        body = _class_index(run_dir, summaries, class_names)
    else:
        budget = [PAIR_LIMIT]
        sections = "".join(_class_section(run_dir, s, budget) for s in summaries[:CLASS_LIMIT])
        if len(summaries) > CLASS_LIMIT:
            sections += (f'<p class="note">{len(summaries) - CLASS_LIMIT} more classes are not shown here; '
                         "their images are in images/</p>")
        body = f'<div class="classes">{sections}</div>'
    plugins = [(slot, f"{p.get('component')} ({p.get('distribution')} {p.get('version')})")
               for slot, p in run.get("plugins", {}).items()]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body><main>
<h1>{html.escape(title)}</h1>
<p class="sub">dgr {html.escape(str(run.get('dgr_version', '')))} · run {html.escape(str(run.get('fingerprint', '')))}
 · status {html.escape(status)} · {len(class_names)} classes</p>
{unfinished}{_cards(run)}
<h2>Anomaly rate per class</h2>
<p class="note">Share of each class's first images that the anomaly rules flagged; each was regenerated
from the same prototype with new seeds and the selection policy picked one candidate.</p>
{anomaly_chart(summaries)}
<h2>Final images and refinements</h2>
<p class="note">Green frame: refined (the flagged original → the chosen candidate, with its confidence and
uniqueness); red frame: no candidate passed the rules (kept as <code>unresolved</code>).</p>
{body}
<div class="cols"><div><h2>Configuration</h2>
{_table(config.items(), ("setting", "value"))}
<h3>Components</h3>{_table(plugins, ("slot", "component (plugin)"))}</div>
<div><h2>Timings</h2>
{_timings(run)}
<h3>Versions</h3>{_table(run.get("versions", {}).items(), ("package", "version"))}</div></div>
</main></body></html>
"""


def paged(class_names: list[str]) -> bool:
    """Whether a run of these classes gets the paged report (see the module's docstring)."""
    return len(class_names) > PAGED_ABOVE


def page_name(class_index: int) -> str:
    """The page of the class at position ``class_index`` in a paged report, relative to the report."""
    return f"{PAGES_DIR}/{class_index:04d}.html"


def _class_index(run_dir: Path, summaries: list[dict[str, Any]], class_names: list[str]) -> str:
    """The paged report's table of classes: a thumbnail, the counts and a link to the class's page."""
    position = {name: i for i, name in enumerate(class_names)}
    rows = []
    for summary in summaries:
        name = str(summary.get("class"))
        counts = summary.get("counts", {})
        first = next((r.get("file") for r in summary.get("records", [])), None)
        thumb = _image(run_dir, first, title=name, largest=INDEX_THUMBNAIL, smallest=INDEX_THUMBNAIL)
        link = page_name(position.get(name, 0))
        rows.append(f'<tr><td>{thumb}</td><td><a href="{link}">{html.escape(name)}</a></td>'
                    + "".join(f"<td class=num>{counts.get(k, 0)}</td>"
                              for k in ("images", "initial_anomalies", "refined", "unresolved")) + "</tr>")
    head = ("<tr><th></th><th>class (its page)</th><th>images</th><th>flagged</th><th>refined</th>"
            "<th>unresolved</th></tr>")
    return (f'<p class="note">{len(class_names)} classes: each class\'s images and refinements are on its own '
            f'page in {PAGES_DIR}/.</p><table>{head}{"".join(rows)}</table>')


def render_class_page(run_dir: str | Path, summary: dict[str, Any]) -> str:
    """One class's page of a paged report: its grid and its refinements, self-contained."""
    run_dir = Path(run_dir)
    name = html.escape(str(summary.get("class")))
    # the page sits in report-classes/: its images are inlined, its one link goes up
    section = _class_section(run_dir, summary, [PAIR_LIMIT])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>dgr · class {name}</title><style>{CSS}</style></head>
<body><main><p class="sub"><a href="../{REPORT_FILE}">← the run's report</a></p>
<div class="classes">{section}</div></main></body></html>
"""


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` (atomically) into the run folder, or to ``out``; a paged report
    also writes one page per class into ``report-classes/`` beside it."""
    run_dir = Path(run_dir)
    files = RunFiles(run_dir)
    target = Path(out) if out else files.report_file
    write_text_atomic(target, render_report(run_dir))
    class_names = files.class_names(files.load_run())
    if paged(class_names):
        pages = target.parent / PAGES_DIR
        pages.mkdir(parents=True, exist_ok=True)
        position = {name: i for i, name in enumerate(class_names)}
        for summary in files.summaries(class_names):
            page = target.parent / page_name(position[str(summary.get("class"))])
            write_text_atomic(page, render_class_page(run_dir, summary))
    return target
