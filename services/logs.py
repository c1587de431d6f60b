"""The one logging set-up of every service (deployment and embedded mode alike)."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "info") -> None:
    """Send every logger's records to standard error with time, level and logger name."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
