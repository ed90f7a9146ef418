"""The HTML report of a run directory (``report.html``): see :func:`write_report`."""

from thresher.report.html import write_report

__all__ = ["write_report"]
