"""Markdown the workflow writes (the reproduction report) as a standalone HTML page, for `snakemake --report`.

Rendered by Python-Markdown with its tables extension. Raw HTML in the text (a config note may hold some) is
shown as text, never passed through as markup.
"""

from __future__ import annotations

from html import escape

import markdown

STYLE = """
body { font-family: sans-serif; max-width: 80em; margin: 1em auto; padding: 0 1em; line-height: 1.4; }
table { border-collapse: collapse; margin: 1em 0; font-size: 90%; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
code { background: #f4f4f4; }
"""


def html_page(text: str, title: str) -> str:
    """The Markdown `text` as one self-contained HTML5 page (inline style, no external file) titled `title`."""
    renderer = markdown.Markdown(extensions=["tables"], output_format="html")
    renderer.preprocessors.deregister("html_block")  # raw HTML blocks and inline tags stay text
    renderer.inlinePatterns.deregister("html")
    body = renderer.convert(text)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
