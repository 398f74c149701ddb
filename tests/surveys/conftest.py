"""Survey API tests reuse the web fixtures."""

from tests.web.conftest import client, fuzz_tenant, tenant

__all__ = ["client", "fuzz_tenant", "tenant"]
