"""The written answer's pieces: the endpoint URL, its settings, and how the model's untrusted
text becomes an embed description."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.answer import chat_url, sanitize
from bot.articles import Article
from bot.config import load_settings
from bot.render import DESCRIPTION_LIMIT
from tests.test_cli import assert_clean_failure, run_cli
from tests.test_config import config_error

ARTICLES = [Article(url="https://example.com/one", title="One"),
            Article(url="https://example.com/two", title="Two")]


@pytest.mark.parametrize(("base", "url"), [
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/chat/completions"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1/chat/completions"),
    ("http://localhost:11434/v1", "http://localhost:11434/v1/chat/completions"),
    ("https://api.example.com/openai/v1/chat/completions",
     "https://api.example.com/openai/v1/chat/completions"),
])
def test_the_chat_url_of_a_base_url(base: str, url: str) -> None:
    assert chat_url(base) == url


def test_llm_settings_are_read_and_off_by_default() -> None:
    assert load_settings(require_token=False, env={}).llm_url == ""
    settings = load_settings(require_token=False, env={
        "NEWS_LLM_URL": " http://127.0.0.1:8080 ", "NEWS_LLM_KEY": "sk-1",
        "NEWS_LLM_MODEL": "llama3.2", "NEWS_LLM_TIMEOUT_SECONDS": "2.5"})
    assert (settings.llm_url, settings.llm_key, settings.llm_model,
            settings.llm_timeout_seconds) == ("http://127.0.0.1:8080", "sk-1", "llama3.2", 2.5)
    assert "sk-1" not in repr(settings)


@pytest.mark.parametrize(("env", "expected"), [
    ({"NEWS_LLM_URL": "127.0.0.1:8080"}, "NEWS_LLM_URL='127.0.0.1:8080' is not an http(s) URL"),
    ({"NEWS_LLM_KEY": "Bearer sk-1"}, "NEWS_LLM_KEY holds a space or line break"),
    ({"NEWS_LLM_TIMEOUT_SECONDS": "soon"}, "NEWS_LLM_TIMEOUT_SECONDS='soon' is not a number"),
    ({"NEWS_LLM_TIMEOUT_SECONDS": "0"}, "NEWS_LLM_TIMEOUT_SECONDS=0 is out of range"),
])
def test_bad_llm_settings_are_one_clear_line(env: dict[str, str], expected: str) -> None:
    assert config_error(env).startswith(expected)


def test_the_cli_refuses_a_bad_llm_url_with_exit_2(tmp_path: Path, seeds_dir: Path) -> None:
    result: subprocess.CompletedProcess[str] = run_cli(
        "ask", "latest", "--seeds", seeds_dir, "--db", tmp_path / "news.db", cwd=tmp_path,
        extra_env={"NEWS_LLM_URL": "ftp://127.0.0.1/llm"})
    assert_clean_failure(result, 2)
    assert "NEWS_LLM_URL='ftp://127.0.0.1/llm' is not an http(s) URL" in result.stderr


def test_citations_in_several_forms_link_to_the_articles_sent() -> None:
    text = sanitize("<think>Article 2 says [2](https://x.example)</think>Both agree [1, 2]; "
                    "see [2][3].", ARTICLES)
    assert text == ("Both agree [[1]](https://example.com/one)[[2]](https://example.com/two); "
                    "see [[2]](https://example.com/two).")


def test_a_long_answer_fits_a_description_and_no_link_is_cut() -> None:
    text = sanitize("Azure [1] " * 1000, ARTICLES)
    assert len(text) <= DESCRIPTION_LIMIT
    assert text.endswith("…")
    assert text.count("[[1]](https://example.com/one)") == text.count("[[1]]")


def test_a_link_labelled_with_a_foreign_url_keeps_no_url() -> None:
    text = sanitize("See [https://evil.example/x](https://evil.example/x) and [1].", ARTICLES)
    assert text == "See and [[1]](https://example.com/one)."
