"""Writing a drawn figure: PDF, PNG and a Markdown caption with the notes on its data, each atomically."""

from __future__ import annotations

from pathlib import Path

from srhm.figures.panels import CaptionedFigure
from srhm.io import atomic_path

PNG_DPI = 150


def caption_paths(out: str | Path) -> tuple[Path, Path, Path]:
    """The PDF, PNG and Markdown paths of a figure whose PDF is `out` (a path ending in .pdf)."""
    pdf = Path(out)
    if pdf.suffix != ".pdf":
        raise ValueError(f"out must be a path ending in .pdf, got {str(out)!r}")
    return pdf, pdf.with_suffix(".png"), pdf.with_suffix(".md")


def caption_text(name: str, caption: str, notes: list[str], inputs: list[str]) -> str:
    """Markdown: the figure's fixed caption, then what its data show or lack, then the tables it read."""
    lines = [f"# {name}", "", caption.strip(), "", "## Notes on the data", ""]
    lines += [f"- {note}" for note in notes] or ["- (none)"]
    lines += ["", "## Tables read", ""]
    lines += [f"- `{path}`" for path in inputs] or ["- (none: analytic)"]
    return "\n".join(lines) + "\n"


def save(fig: CaptionedFigure, name: str, caption: str, inputs: list[str], out: str | Path) -> tuple[Path, Path, Path]:
    """Write `out` (PDF), its PNG and its caption file beside it; returns the three paths."""
    pdf, png, md = caption_paths(out)
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata={"CreationDate": None})
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=PNG_DPI)
    with atomic_path(md) as tmp:
        tmp.write_text(caption_text(name, caption, fig.notes, inputs))
    return pdf, png, md
