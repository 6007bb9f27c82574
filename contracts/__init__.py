"""Data contracts (Open Data Contract Standard v3) and the code that loads and lints them."""

from contracts.loader import ContractError, load_contract, load_contracts
from contracts.model import (
    AccessLevel,
    ApplyMode,
    Classification,
    Column,
    Contract,
    QualityRule,
    Severity,
)

__all__ = [
    "AccessLevel",
    "ApplyMode",
    "Classification",
    "Column",
    "Contract",
    "ContractError",
    "QualityRule",
    "Severity",
    "load_contract",
    "load_contracts",
]
