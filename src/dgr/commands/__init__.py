"""CLI commands that live in their own modules (each imports only light modules at import time)."""
