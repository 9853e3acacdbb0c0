"""Render a report model to HTML, to PDF with WeasyPrint (no browser), and a PDF page to PNG."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from jinja2 import Environment, PackageLoader, StrictUndefined

from placewise.publish import icons
from placewise.publish.report import ReportModel, Scope


def _environment() -> Environment:
    """The Jinja2 environment over the package's templates, escaping HTML, failing on unknown names."""
    return Environment(loader=PackageLoader("placewise.publish", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _legend() -> list[tuple[tuple[str, str], tuple[str, str] | None]]:
    """Rows of the icon legend: each variation icon beside an assurance icon while they last."""
    variations = [(icons.variation_icon(v), icons.VARIATION_TEXT[v]) for v in icons.Variation]
    assurances = [(icons.assurance_icon(a), icons.ASSURANCE_TEXT[a]) for a in icons.Assurance]
    return [(v, assurances[i] if i < len(assurances) else None) for i, v in enumerate(variations)]


def render_html(model: ReportModel) -> str:
    """The report as one self-contained HTML page: inline CSS and SVG, no script, no external file."""
    css = (resources.files("placewise.publish") / "templates" / "report.css").read_text(encoding="utf-8")
    return _environment().get_template("report.html.j2").render(m=model, css=css, legend=_legend())


def render_index(title: str, written: list[tuple[str, Path, Path | None, int]]) -> str:
    """A page linking every area's report (HTML, and PDF where written), for the output folder."""
    return _environment().get_template("index.html.j2").render(title=title, reports=written)


def write_pdf(html: str, path: Path) -> int:
    """Write the HTML as a PDF at ``path``; return its number of pages."""
    from weasyprint import HTML  # imported here: loading Pango takes a second that HTML-only runs skip

    document = HTML(string=html, base_url=str(path.parent)).render()
    document.write_pdf(path)
    return len(document.pages)


def pdf_page_to_png(pdf: Path, page: int, out: Path, scale: float = 1.5) -> Path:
    """Render one page (0-based) of a PDF to a PNG image, for previews and documentation."""
    doc = pdfium.PdfDocument(str(pdf))
    try:
        if not 0 <= page < len(doc):
            raise ValueError(f"{pdf}: page {page + 1} requested but the document has {len(doc)} pages")
        doc[page].render(scale=scale).to_pil().save(out)
    finally:
        doc.close()
    return out


def write_report(model: ReportModel, folder: Path, stem: str, pdf: bool = True) -> tuple[Path, Path | None, int]:
    """Write ``<stem>.html`` (and ``<stem>.pdf``) into ``folder``; return the paths and PDF page count."""
    folder.mkdir(parents=True, exist_ok=True)
    html = render_html(model)
    html_path = folder / f"{stem}.html"
    html_path.write_text(html, encoding="utf-8")
    if not pdf:
        return html_path, None, 0
    pdf_path = folder / f"{stem}.pdf"
    return html_path, pdf_path, write_pdf(html, pdf_path)


def text_overlaps(pdf: Path, threshold: float = 0.25) -> list[tuple[int, str, str]]:
    """Pairs of text runs on the same page of a PDF that overlap by more than ``threshold`` of the smaller
    one's area: (0-based page, first text, second text). An empty list means no text is drawn over text."""
    doc = pdfium.PdfDocument(str(pdf))
    found = []
    for page in range(len(doc)):
        text = doc[page].get_textpage()
        boxes = np.array([text.get_rect(k) for k in range(text.count_rects())]).reshape(-1, 4)
        left, bottom, right, top = boxes.T
        width = np.maximum(0, np.minimum(right[:, None], right) - np.maximum(left[:, None], left))
        height = np.maximum(0, np.minimum(top[:, None], top) - np.maximum(bottom[:, None], bottom))
        area = (right - left) * (top - bottom)
        smaller = np.minimum(area[:, None], area)
        share = np.divide(width * height, smaller, out=np.zeros_like(smaller), where=smaller > 0)
        for a, b in zip(*np.nonzero(np.triu(share > threshold, k=1)), strict=True):
            found.append((page, text.get_text_bounded(*boxes[a]), text.get_text_bounded(*boxes[b])))
    doc.close()
    return found


def text_beyond_page(pdf: Path, tolerance: float = 0.5) -> list[tuple[int, str]]:
    """Text runs of a PDF that run past the edge of their page, clipped when printed or viewed: (0-based page,
    text). An empty list means every character is on its page."""
    doc = pdfium.PdfDocument(str(pdf))
    found = []
    for page in range(len(doc)):
        width, height = doc[page].get_size()
        text = doc[page].get_textpage()
        boxes = np.array([text.get_rect(k) for k in range(text.count_rects())]).reshape(-1, 4)
        left, bottom, right, top = boxes.T
        out = (left < -tolerance) | (bottom < -tolerance) | (right > width + tolerance) | (top > height + tolerance)
        found += [(page, text.get_text_bounded(*box)) for box in boxes[out]]
    doc.close()
    return found


def _stem(scope: Scope) -> str:
    """The file name (without extension) of one area's report."""
    return "ics" if scope.area == scope.ics else f"{scope.area.geography_type}-{scope.area.code}"


def _write(args: tuple[ReportModel, Path, str, bool]) -> tuple[Path, Path | None, int]:
    """Write one report (a top-level function so that worker processes can run it)."""
    return write_report(*args)


def write_reports(models: list[tuple[Scope, ReportModel]], out: Path, pdf: bool = True,
                  workers: int = 2) -> list[tuple[str, Path, Path | None, int]]:
    """Render every model to ``out`` in parallel; return (area name, HTML path, PDF path, PDF pages) each."""
    jobs = [(model, out, _stem(scope), pdf) for scope, model in models]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        written = list(pool.map(_write, jobs))
    done = [(scope.area.name, *paths) for (scope, _), paths in zip(models, written, strict=True)]
    if models:
        (out / "index.html").write_text(render_index(models[0][1].title, done), encoding="utf-8")
    return done
