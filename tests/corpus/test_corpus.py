"""The malformed-delivery corpus (`make_corpus.CASES`) through the real pipeline.

Every case must end quarantined (or refused at `deliver`) with its specific reason in the
report, raise nothing, keep memory bounded, and leave the published tables as they were.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.memory import reset_peak_rss
from tests.corpus import make_corpus as corpus
from tests.corpus.make_corpus import CASES, MAX_RSS_BYTES, Case

# A file no reader can decode must not make Python print "Exception ignored" (a traceback on
# the operator's console): here that is a failure, not a warning.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """One workspace for the corpus: each dataset published once from its real file."""
    root = tmp_path_factory.mktemp("corpus")
    folder = root / "files"
    folder.mkdir()
    platform = corpus.open_platform(root / "ws")
    corpus.publish_good(platform, folder)
    before = {d: corpus.main_state(platform, d) for d in {c.dataset for c in CASES}}
    return platform, folder, before


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CASES) >= 50
    assert len({c.name for c in CASES}) == len(CASES)
    assert {c.suffix for c in CASES} >= {".csv", ".xlsx", ".zip", ".parquet", ".jsonl"}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else []) for c in CASES],
)
def test_case_is_quarantined_with_its_reason(world, case: Case) -> None:
    platform, folder, before = world
    if case.slow:  # big files: their own process, whose peak RSS is the case's memory
        result = corpus.run_in_child(platform.settings.home, case, folder)
    else:
        target = corpus.limited(platform) if case.too_large else platform
        # The process's peak is lifetime-wide: earlier tests of the suite may have set it,
        # so it is set back to the present first and only what the case adds counts.
        start = reset_peak_rss()
        result = corpus.run_case(target, case, folder)
        result["peak_rss"] = corpus.peak_rss() - start
    assert result["crash"] is None, result["crash"]
    problem = corpus.verdict(case, result)
    assert problem is None, f"{case.name}: {problem}\n{result['report']}"
    assert result["peak_rss"] < MAX_RSS_BYTES
    # `main` is untouched: same snapshot, same rows, no staging branch left behind.
    assert corpus.main_state(platform, case.dataset) == before[case.dataset]
    assert not (Path(folder) / f"{case.name}{case.suffix}").exists(), "generated, then removed"
