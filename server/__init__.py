"""orderdesk: a self-hostable backend for communication custom orders."""

__version__ = "0.1.0"
