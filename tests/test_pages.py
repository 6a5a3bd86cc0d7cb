"""The report as an HTML page: Markdown tables become HTML tables, and raw HTML in the text stays text."""

from __future__ import annotations

from srhm.pages import html_page


def test_tables_are_rendered_and_raw_html_is_shown_as_text():
    text = ("# Report\n\nA note <script>alert(1)</script> with n_c m^{L}.\n\n"
            "| claim | paper | ours |\n|---|---|---|\n| LCN, P* vs s^{L/2} | 1 | 1.02 |\n")
    page = html_page(text, "a <title>")
    assert page.startswith("<!DOCTYPE html>") and "<title>a &lt;title&gt;</title>" in page
    assert "<th>claim</th>" in page and "<td>LCN, P* vs s^{L/2}</td>" in page and "<td>1.02</td>" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "n_c m^{L}" in page
