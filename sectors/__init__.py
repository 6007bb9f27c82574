"""The five sector leadership groups, their secretariats and member agencies (configuration)."""

from sectors.registry import Agency, Registry, Sector, load_registry

__all__ = ["Agency", "Registry", "Sector", "load_registry"]
