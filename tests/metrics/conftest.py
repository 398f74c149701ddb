"""Metric API tests reuse the web fixtures."""

from tests.web.conftest import client

__all__ = ["client"]
