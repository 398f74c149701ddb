"""Which importer handles which kind of file; the one place that knows every importing domain."""

from __future__ import annotations

from patron.commerce.importing import InteractionImport, OrderImport, ProductImport
from patron.core.importing import ImportSpec
from patron.customers.importing import CustomerImport

IMPORT_SPECS: dict[str, type[ImportSpec]] = {
    "customers": CustomerImport,
    "products": ProductImport,
    "orders": OrderImport,
    "interactions": InteractionImport,
}
