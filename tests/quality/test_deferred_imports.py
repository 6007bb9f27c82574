"""GX starts without `scipy.stats` and `altair` (its KL-divergence expectation's), and both work
the moment something reads them: names GX bound to the stand-ins included."""

from __future__ import annotations

from tests.conftest import in_fresh_interpreter

# A fresh interpreter: the gate's GX import, then what it loaded, then the deferred modules used.
SCRIPT = """
import json, sys
from quality.suite import import_gx
import_gx()
loaded = {name: name in sys.modules for name in ("scipy.stats._stats_py", "altair.vegalite")}
from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
from scipy import stats
import altair as alt
print(json.dumps({
    "loaded_by_gx": loaded,
    "entropy": float(kl.stats.entropy([0.5, 0.5], base=2)),
    "same_module": stats is sys.modules["scipy.stats"],
    "cdf": float(stats.norm.cdf(0)),
    "chart": alt.Chart.__name__,
    "vegalite_loaded": "altair.vegalite" in sys.modules,
}))
"""


def test_gx_starts_without_them_and_they_load_on_first_use() -> None:
    found = in_fresh_interpreter(SCRIPT)
    assert found["loaded_by_gx"] == {"scipy.stats._stats_py": False, "altair.vegalite": False}
    assert found["entropy"] == 1.0  # through the name GX's module bound before the load
    assert found["same_module"] is True
    assert found["cdf"] == 0.5
    assert found["chart"] == "Chart"
    assert found["vegalite_loaded"] is True
