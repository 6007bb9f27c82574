"""The baseline: DuckDB alone, CSV → Parquet with `COPY (FROM read_csv(...)) TO ...`.

CP949 needs DuckDB's `encodings` extension. It comes from the pinned pip package
`duckdb-extension-encodings` and is LOADed from the file that package ships: never INSTALLed
(no download at run time), and DuckDB's auto-install is switched off.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb


def encodings_extension() -> Path:
    """The `encodings.duckdb_extension` shipped by the pip package, for this DuckDB version."""
    import duckdb_extension_encodings

    root = Path(duckdb_extension_encodings.__file__).parent / "extensions"
    wanted = root / f"v{duckdb.__version__}" / "encodings.duckdb_extension"
    if wanted.is_file():
        return wanted
    found = sorted(root.glob("*/encodings.duckdb_extension"))
    raise FileNotFoundError(
        f"duckdb-extension-encodings ships no extension for DuckDB {duckdb.__version__} "
        f"(found: {', '.join(str(p.parent.name) for p in found) or 'none'}); "
        "pin the package to the same version as duckdb"
    )


def connect(encoding: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that can read `encoding` (LOADs the shipped extension if needed)."""
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    if encoding.lower().replace("-", "") not in {"utf8", "utf16", "latin1"}:
        con.execute(f"LOAD '{_quote(str(encodings_extension()))}'")
    return con


def copy_to_parquet(csv: Path, out: Path, encoding: str) -> dict[str, Any]:
    """Run DuckDB's CSV → Parquet copy; returns rows written and seconds (connect excluded)."""
    con = connect(encoding)
    sql = (
        f"COPY (FROM read_csv('{_quote(str(csv))}', encoding='{encoding}', header=true)) "
        f"TO '{_quote(str(out))}' (FORMAT parquet)"
    )
    started = time.perf_counter()
    written = con.execute(sql).fetchone()
    seconds = time.perf_counter() - started
    rows = int(written[0]) if written else -1
    check = con.execute(f"SELECT count(*) FROM read_parquet('{_quote(str(out))}')").fetchone()
    con.close()
    return {"rows": rows, "parquet_rows": int(check[0]) if check else -1, "seconds": seconds}


def _quote(text: str) -> str:
    return text.replace("'", "''")
