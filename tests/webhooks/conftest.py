"""Web fixtures for webhook tests."""

from tests.web.conftest import client, tenant

__all__ = ["client", "tenant"]
