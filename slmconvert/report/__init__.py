"""The iterate report: report.json numbers rendered as one self-contained report.html."""

from slmconvert.report.html import render_html

__all__ = ["render_html"]
