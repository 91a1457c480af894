"""Tests for bench/generate.py: the synthetic corpus is deterministic and shaped like real files."""

from __future__ import annotations

import importlib.util
import re
import statistics
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
import yaml_rs

from bench.shape import REAL_22_FILES, shape_of

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
COUNT = 200


def _load_generator() -> ModuleType:
    # bench/ is a folder of scripts, not a package: load the file by path.
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def front_matter(text: str) -> str:
    """The text between the first two `---` lines."""
    lines = text.split("\n")
    start = lines.index("---")
    end = lines.index("---", start + 1)
    return "\n".join(lines[start + 1 : end])


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(front_matter(path.read_text(encoding="utf-8")))
    assert isinstance(data, dict)
    return data


def loose_url(url: str) -> str:
    """Enough URL normalisation to see that two stubs name the same page."""
    url = re.sub(r"[?&](td|utm_\w+|ocid|ref|cmpid)=[^&#]*", "", url)
    return url.replace("://www.", "://").rstrip("/")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return gen.generate(tmp_path_factory.mktemp("corpus"), COUNT, seed=7)


@pytest.fixture(scope="module")
def docs(corpus: list[Path]) -> list[dict[str, Any]]:
    return [load(path) for path in corpus]


@pytest.fixture(scope="module")
def seeds() -> list[dict[str, Any]]:
    paths = sorted(SEEDS.glob("*.txt"))
    assert paths, "the real seed files are missing"
    return [load(path) for path in paths]


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = gen.generate(tmp_path / "a", COUNT, seed=3)
    second = gen.generate(tmp_path / "b", COUNT, seed=3)
    assert [p.name for p in first] == [p.name for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    other = gen.generate(tmp_path / "c", 20, seed=4)
    assert [p.read_bytes() for p in other] != [p.read_bytes() for p in first[:20]]


def test_file_names_and_count(corpus: list[Path]) -> None:
    assert len(corpus) == COUNT
    assert len({p.name for p in corpus}) == COUNT
    assert all(re.fullmatch(r"\d{6}_[0-9a-f]{16}\.txt", p.name) for p in corpus)


def test_every_file_parses_and_has_the_seed_keys(
    docs: list[dict[str, Any]], seeds: list[dict[str, Any]]
) -> None:
    seed_keys = set().union(*(seed.keys() for seed in seeds))
    # Keys a file may lack: AMP links, images and the related list.
    required = seed_keys - {"ampWebUrl", "cdnAmpWebUrl", "images", "related"}
    for doc in docs:
        assert required <= doc.keys() <= seed_keys
    assert set().union(*(doc.keys() for doc in docs)) == seed_keys

    seed_stub_keys = set().union(*(stub.keys() for seed in seeds for stub in seed["related"]))
    stub_required = seed_stub_keys - {"ampWebUrl", "cdnAmpWebUrl", "images"}
    stubs = [stub for doc in docs for stub in doc.get("related", [])]
    assert all(stub_required <= stub.keys() <= seed_stub_keys for stub in stubs)
    assert set().union(*(stub.keys() for stub in stubs)) == seed_stub_keys


def test_field_types_and_ranges(docs: list[dict[str, Any]]) -> None:
    anchor = gen.ANCHOR
    for doc in docs:
        assert doc["category"] == "news" and doc["type"] == "article"
        assert isinstance(doc["title"], str) and 5 <= len(doc["title"].split()) <= 14
        assert isinstance(doc["excerpt"], str) and 100 <= len(doc["excerpt"]) <= 400
        when = doc["publishedDateTime"]
        assert isinstance(when, datetime) and when.utcoffset() == timedelta(0)
        assert anchor - timedelta(days=90) <= when < anchor
        for key in ("originalUrl", "webUrl", "ampWebUrl", "cdnAmpWebUrl"):
            assert key not in doc or doc[key].startswith("https://")
        assert type(doc["quality"]) is int and 19 <= doc["quality"] <= 103
        assert type(doc["heat"]) is int and (doc["heat"] == -1 or 0 <= doc["heat"] <= 500)
        assert type(doc["published"]) is bool
        assert {k: type(v) for k, v in doc["provider"].items()} == {"name": str, "domain": str}
        assert 1 <= len(doc["topics"]) <= 5
        assert all(isinstance(t, str) for t in doc["topics"])
        assert len(doc.get("images", [])) <= 2
        for image in doc.get("images", []):
            assert {k: type(v) for k, v in image.items()} == {
                "url": str, "width": int, "height": int, "isCached": bool,
            }
        assert len(doc.get("related", [])) <= len(gen.RELATED_COUNT_WEIGHTS) - 1
        assert isinstance(doc["secured"], str) and ";" in doc["secured"]


def test_text_layout_matches_the_seeds(corpus: list[Path]) -> None:
    seed_text = (SEEDS / "003_89ee00ab69bf1abb.txt").read_text(encoding="utf-8")
    seed_order = re.findall(r"^(\w+):", seed_text, re.MULTILINE)
    for path in corpus:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("---\ncategory: news\ntitle: \"")
        assert text.endswith('"\n---\n\n')
        order = re.findall(r"^(\w+):", text, re.MULTILINE)
        assert order == [key for key in seed_order if key in order]  # same keys, same order
        # Blocks are separated by one blank line, as in the seeds.
        for block in ("provider", "topics", "images", "related", "secured"):
            if f"\n{block}:" in text:
                assert f"\n\n{block}:" in text


def test_stubs_have_web_urls_and_some_point_at_generated_articles(
    docs: list[dict[str, Any]],
) -> None:
    own = {loose_url(doc["originalUrl"]) for doc in docs}
    stubs = [stub for doc in docs for stub in doc.get("related", [])]
    assert stubs
    assert all(isinstance(s["webUrl"], str) and s["webUrl"].startswith("https://") for s in stubs)
    to_files = [s for s in stubs if loose_url(s["webUrl"]) in own]
    assert 0 < len(to_files) < 0.1 * len(stubs)  # both kinds; as in the real data, few have a file
    by_url = {loose_url(doc["originalUrl"]): doc for doc in docs}
    for stub in to_files:
        assert stub["title"] == by_url[loose_url(stub["webUrl"])]["title"]
    # Some of those carry URL noise that only canonicalisation removes.
    exact = {doc["webUrl"] for doc in docs} | {doc["originalUrl"] for doc in docs}
    assert any(stub["webUrl"] not in exact for stub in to_files)
    # A stub never points at the article that lists it.
    for doc in docs:
        assert all(
            loose_url(s["webUrl"]) != loose_url(doc["originalUrl"]) for s in doc.get("related", [])
        )


def test_about_a_tenth_lack_amp(docs: list[dict[str, Any]]) -> None:
    without = sum("ampWebUrl" not in doc for doc in docs)
    assert all(("ampWebUrl" in doc) == ("cdnAmpWebUrl" in doc) for doc in docs)
    assert 0.03 * len(docs) <= without <= 0.2 * len(docs)


def test_topic_frequencies_are_skewed(docs: list[dict[str, Any]]) -> None:
    counts = Counter(topic for doc in docs for topic in doc["topics"])
    (top, top_count), *_ = counts.most_common(1)
    assert top == "AI"
    assert len(counts) >= 30
    assert top_count >= 5 * statistics.median(counts.values())


def test_provider_spellings_and_duplicates(docs: list[dict[str, Any]]) -> None:
    providers = [doc["provider"] for doc in docs]
    providers += [s["provider"] for doc in docs for s in doc.get("related", [])]
    names: dict[str, set[str]] = {}
    for provider in providers:
        names.setdefault(provider["domain"], set()).add(provider["name"])
    assert len(names) >= 30
    assert any(len(spellings) > 1 for spellings in names.values())
    assert any("'" in name for spellings in names.values() for name in spellings)
    assert {domain.split(".", 1)[1] for domain in names} >= {"com", "eu", "com.au", "co.uk"}
    # ~0.5% of files repeat an article that another file already has.
    repeats = Counter(doc["originalUrl"] for doc in docs)
    assert sum(n - 1 for n in repeats.values()) == round(COUNT * gen.DUPLICATE_RATE)


def test_quotes_and_escapes_survive_parsing(corpus: list[Path], docs: list[dict[str, Any]]) -> None:
    texts = [doc["title"] for doc in docs] + [doc["excerpt"] for doc in docs]
    assert any('"' in text for text in texts)
    assert any("\u201c" in text for text in texts)
    assert any("'" in text for text in texts)
    raw = "".join(path.read_text(encoding="utf-8") for path in corpus)
    assert '\\"' in raw


def _normalise(value: Any) -> Any:
    # The two parsers may represent UTC differently; compare the instants.
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    return value


def test_yaml_rs_agrees_with_pyyaml(corpus: list[Path]) -> None:
    for path in corpus:
        text = front_matter(path.read_text(encoding="utf-8"))
        assert _normalise(yaml_rs.loads(text)) == _normalise(yaml.safe_load(text)), path.name


@pytest.fixture(scope="module")
def shape(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    paths = gen.generate(tmp_path_factory.mktemp("shape"), 3000, seed=9)
    return shape_of(yaml.load(front_matter(path.read_text(encoding="utf-8")),
                              Loader=yaml.CSafeLoader) for path in paths)


def test_the_corpus_has_the_shape_of_the_real_files(shape: dict[str, float]) -> None:
    real = REAL_22_FILES
    # Articles per file (the corpus' size) and stubs per file, as in the 22 real files.
    assert abs(shape["articles_per_file"] - real["articles_per_file"]) <= 0.15
    assert abs(shape["stubs_per_file_mean"] - real["stubs_per_file_mean"]) <= 0.25
    # Their spread, not only the mean: many files list none or one, a few list many.
    assert shape["stubs_per_file_max"] == real["stubs_per_file_max"]
    assert 0.25 <= shape["files_without_stubs"] <= 0.42
    assert shape["stubs_per_file_p50"] <= 2 and shape["stubs_per_file_p90"] >= 5
    # Few stubs point at an article with a file of its own (1 of 17 in the seeds).
    assert 0.005 <= shape["stubs_with_own_file"] <= 0.06
    # An article is mentioned about once; a duplicate file now and then.
    assert 1.0 < shape["versions_per_article_mean"] < 1.1
    assert shape["files_per_full_article_max"] == 2
    # Three topics per article (both seeds have three); ~40 providers, a few per file.
    assert 2.8 <= shape["topics_per_article_mean"] <= 3.2
    assert shape["providers"] >= 40 and 2.5 <= shape["providers_per_file_mean"] <= 4


def test_the_seeds_shape_is_computed_the_same_way() -> None:
    seeds = shape_of(load(path) for path in sorted(SEEDS.glob("*.txt")))
    assert seeds["files"] == 2 and seeds["articles"] == 15
    assert seeds["stubs_per_file_mean"] == 8.5 and seeds["stubs_per_file_max"] == 13
    assert seeds["stubs_with_own_file"] == 1 / 17  # seed 003 is listed by seed 000
    assert seeds["topics_per_article_mean"] == 3


@pytest.mark.parametrize("count", [0, 1, 3])
def test_tiny_corpora_still_parse(tmp_path: Path, count: int) -> None:
    paths = gen.generate(tmp_path, count, seed=5)
    assert len(paths) == count
    for path in paths:
        doc = load(path)
        assert isinstance(doc.get("related", []), list)
        assert isinstance(doc.get("images", []), list)


def test_cli_prints_one_summary_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main([str(tmp_path / "out"), "--count", "5", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("wrote 5 files, ")
    assert len(list((tmp_path / "out").glob("*.txt"))) == 5
