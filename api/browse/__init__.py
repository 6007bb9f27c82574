"""The catalog as callers browse it: JSON, DCAT and CKAN's action API over one service."""
