"""Patron: customer satisfaction and loyalty platform."""

__version__ = "0.1.0"
