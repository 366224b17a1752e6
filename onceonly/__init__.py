"""OnceOnly: one event-sourced profile per resident, each fact collected once."""

__version__ = "0.1.0"
