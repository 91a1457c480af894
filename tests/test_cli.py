"""The command line (`python -m bot load|ask`), run as the operator runs it: a real process."""

from __future__ import annotations

import ctypes
import os
import pty
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import (
    AMD_FILE,
    AMD_TITLE,
    BROKEN,
    META_FILE,
    META_TITLE,
    ODD,
    ROOT,
    write_article,
)

META_AZURE_STUB = "Despite 'key' partnership with AWS, Meta taps up Microsoft Azure for AI work"
Cli = Callable[..., subprocess.CompletedProcess[str]]
_NUMBERED = re.compile(r"^\s*\d+\. (.+)$", re.MULTILINE)


_PR_CAPBSET_DROP = 24  # from <linux/prctl.h>
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2  # from <linux/capability.h>
# Loaded here, not in the forked child, which must not take the dynamic loader's locks.
_LIBC = ctypes.CDLL(None, use_errno=True)


def _bound_by_permissions() -> None:
    """In the child, before exec: give up root's power to read past file permissions.

    Root keeps its uid (so it can still run the interpreter under /root and write the
    test's database) but loses CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the set exec
    grants: a folder chmod 000 is then unreadable to it, as to any user.
    """
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if _LIBC.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def cli_env(extra_env: dict[str, str] | None = None) -> dict[str, str]:
    # Only what Python needs: no settings leak in from the machine running the tests.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("NEWS_", "DISCORD_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra_env or {})
    return env


def run_cli(
    *args: str | Path, cwd: Path, extra_env: dict[str, str] | None = None,
    obey_permissions: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS`; `obey_permissions`: file permissions bind it even as root."""
    preexec = _bound_by_permissions if obey_permissions and os.geteuid() == 0 else None
    return subprocess.run(  # noqa: S603 - our own CLI, with arguments we choose
        [sys.executable, "-m", "bot", *map(str, args)],
        cwd=cwd, env=cli_env(extra_env), capture_output=True, text=True, timeout=120,
        check=False, preexec_fn=preexec,
    )


def listed_titles(stdout: str) -> list[str]:
    return _NUMBERED.findall(stdout)


@pytest.fixture
def cli(tmp_path: Path, seeds_dir: Path) -> Cli:
    """Run `python -m bot` in a scratch folder against a private seeds copy and database."""
    db = tmp_path / "data" / "news.db"

    def run(*args: str, extra_env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        command, *rest = args
        return run_cli(command, "--seeds", seeds_dir, "--db", db, *rest, cwd=tmp_path,
                       extra_env=extra_env)

    return run


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int) -> None:
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()


def test_ask_topic_lists_the_article_with_its_original_and_amp_links(cli: Cli) -> None:
    result = cli("ask", "topic", "AI hardware")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Topic: AI Hardware - 1 article (page 1 of 1)")
    assert listed_titles(result.stdout) == [AMD_TITLE]
    # The file's link without its tracking parameter (`?td=amp-keepreading-btm`).
    assert "original: https://www.theregister.com/2022/05/26/amd_azure_microsoft/\n" in (
        result.stdout
    )
    assert "AMP:      https://www.theregister.com/AMP/2022/05/26/amd_azure_microsoft/" in (
        result.stdout
    )
    assert "theregister (theregister.com) · 2022-05-26 22:46 UTC" in result.stdout


def test_ask_related_lists_what_is_related_to_the_meta_azure_article(cli: Cli) -> None:
    result = cli("ask", "related", "Meta Azure", "--limit", "20")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Related to: {META_TITLE} - 14 articles")
    found = listed_titles(result.stdout)
    assert AMD_TITLE in found and META_AZURE_STUB in found
    assert META_TITLE not in found
    assert len(found) == 14


def test_ask_provider_finds_the_registers_articles(cli: Cli) -> None:
    result = cli("ask", "provider", "the register")
    assert result.returncode == 0, result.stderr
    assert "(theregister.com)" in result.stdout.splitlines()[0]
    assert sorted(listed_titles(result.stdout)) == sorted([AMD_TITLE, META_AZURE_STUB])


def test_an_unknown_topic_suggests_others_and_fails(cli: Cli) -> None:
    result = cli("ask", "topic", "quantum computing")
    assert_clean_failure(result, 1)
    assert "No topic matches 'quantum computing'." in result.stderr
    assert "Did you mean: " in result.stderr
    assert "AI" in result.stderr.split("Did you mean: ", 1)[1]
    assert result.stdout == ""


@pytest.mark.parametrize("kind", ["topic", "provider", "related", "search", "article"])
def test_a_question_without_text_says_what_is_missing(cli: Cli, kind: str) -> None:
    result = cli("ask", kind)
    assert_clean_failure(result, 2)
    assert f"`ask {kind}` needs something to look for" in result.stderr
    assert f"python -m bot ask {kind} " in result.stderr


def test_load_reports_what_it_did_and_names_failing_files(
    cli: Cli, seeds_dir: Path
) -> None:
    shutil.copy(BROKEN / "duplicate_keys.txt", seeds_dir / "dup.txt")
    (seeds_dir / "old").mkdir()
    shutil.copy(BROKEN / "no_front_matter.txt", seeds_dir / "old" / "notes.md")
    result = cli("load")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Synced {seeds_dir}: 2 added, 0 updated, 0 unchanged, "
                               "0 removed, 2 failed; 15 articles")
    # Paths relative to the folder the first line names, as the `added:` line has them.
    assert f"  added: {META_FILE}, {AMD_FILE}" in lines
    assert "  FAILED dup.txt: YAML error: duplicate mapping key: 'title'" in lines
    assert any(line.startswith("  FAILED old/notes.md: no front matter") for line in lines)

    again = cli("load")
    assert again.returncode == 0
    # Failing files are unchanged too: they are reported again without being read again.
    assert "0 added, 0 updated, 4 unchanged, 0 removed, 2 failed" in again.stdout
    assert "  FAILED dup.txt: YAML error" in again.stdout


def test_ask_warns_about_failing_files_but_still_answers(
    cli: Cli, seeds_dir: Path
) -> None:
    shutil.copy(BROKEN / "not_utf8.txt", seeds_dir)
    result = cli("ask", "topic", "facebook")
    assert result.returncode == 0
    assert listed_titles(result.stdout) == [META_TITLE]
    assert f"warning: skipped {seeds_dir / 'not_utf8.txt'}: not UTF-8" in result.stderr


def test_pages_are_numbered_across_the_answer(cli: Cli) -> None:
    result = cli("ask", "latest", "--limit", "5", "--page", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Latest AI news - 15 articles (page 3 of 3)")
    numbers = re.findall(r"^\s*(\d+)\. ", result.stdout, re.MULTILINE)
    assert numbers == ["11", "12", "13", "14", "15"]


def test_search_with_query_syntax_answers(cli: Cli) -> None:
    result = cli("ask", "search", "--", 'NEAR("azure', "-gpu*")
    assert result.returncode == 0, result.stderr
    assert AMD_TITLE in listed_titles(result.stdout)


def test_article_by_url_prints_its_details(cli: Cli) -> None:
    result = cli("ask", "article",
                 "https://theregister.com/2022/05/26/amd_azure_microsoft?utm_source=x")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(AMD_TITLE)
    assert "topics: AI Hardware, AI, Microsoft AI" in result.stdout


def test_topics_and_providers_are_listed_with_counts(cli: Cli) -> None:
    topics = cli("ask", "topics")
    assert topics.returncode == 0
    assert re.search(r"^\s+2  AI$", topics.stdout, re.MULTILINE)
    assert re.search(r"^\s+1  Facebook AI$", topics.stdout, re.MULTILINE)
    providers = cli("ask", "providers")
    assert re.search(r"^\s+2  theregister \(theregister\.com\)$", providers.stdout, re.MULTILINE)


def test_control_characters_in_article_text_do_not_reach_the_terminal(
    cli: Cli, seeds_dir: Path
) -> None:
    write_article(seeds_dir / "evil.txt", title="Evil \x1b[2J\x1b]0;pwned\x07 title \u202eabc",
                  webUrl="https://evil.example.com/a", topics=["Evil"])
    result = cli("ask", "topic", "evil")
    assert result.returncode == 0, result.stderr
    assert "Evil" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\u202e" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ask", "latest", "--limit", "0"), "out of range"),
        (("ask", "latest", "--page", "two"), "not a whole number"),
        (("ask", "weather"), "invalid choice"),
    ],
)
def test_bad_arguments_are_explained(cli: Cli, args: tuple[str, ...], message: str) -> None:
    assert_clean_failure(result := cli(*args), 2)
    assert message in result.stderr


def test_a_missing_seeds_folder_is_explained_and_touches_no_store(tmp_path: Path) -> None:
    result = run_cli("load", "--seeds", tmp_path / "nope", "--db", tmp_path / "db.sqlite",
                     cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert result.stderr.strip() == (
        f"error: seeds folder {tmp_path / 'nope'} does not exist; nothing was changed. "
        "Point --seeds DIR (or NEWS_SEEDS_DIR) at the folder of article files"
    )
    assert not (tmp_path / "db.sqlite").exists()


def test_a_bad_setting_is_one_clear_line(cli: Cli) -> None:
    result = cli("ask", "latest", extra_env={"NEWS_LOG_LEVEL": "LOUD"})
    assert_clean_failure(result, 2)
    assert result.stderr.strip() == (
        "error: NEWS_LOG_LEVEL='LOUD' is unknown; use DEBUG, INFO, WARNING or ERROR"
    )


def test_settings_come_from_a_dotenv_file_in_the_working_folder(
    tmp_path: Path, seeds_dir: Path
) -> None:
    (tmp_path / ".env").write_text(f"NEWS_SEEDS_DIR={seeds_dir}\nNEWS_DB_PATH=state/x.db\n",
                                   encoding="utf-8")
    result = run_cli("ask", "topic", "hardware", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert listed_titles(result.stdout) == [AMD_TITLE]
    assert (tmp_path / "state" / "x.db").exists()


def run_hint(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command the CLI printed for a person to type, as they would type it."""
    program, dash_m, module, *rest = shlex.split(command)
    assert (program, dash_m, module) == ("python", "-m", "bot")
    return run_cli(*rest, cwd=cwd)


def test_a_page_past_the_last_names_the_last_and_fails(cli: Cli, tmp_path: Path) -> None:
    result = cli("ask", "latest", "--page", "3")
    assert_clean_failure(result, 1)
    assert result.stdout == ""
    error, = result.stderr.splitlines()
    assert error.startswith("error: there is no page 3 (Latest AI news has 2 pages); "
                            "the last is page 2: python -m bot ask latest --seeds ")
    last = run_hint(error.split(": ", 2)[2], tmp_path)
    assert last.returncode == 0, last.stderr
    assert last.stdout.startswith("Latest AI news - 15 articles (page 2 of 2)")
    assert "Next page" not in last.stdout


def test_a_page_with_more_after_it_prints_the_command_for_the_next(
    cli: Cli, tmp_path: Path, seeds_dir: Path
) -> None:
    result = cli("ask", "topic", "Microsoft AI", "--limit", "1")
    assert result.returncode == 0, result.stderr
    db = tmp_path / "data" / "news.db"
    hint = result.stdout.splitlines()[-1]
    # The words quoted as a shell needs them; the options given, in the order given.
    assert hint == (f"Next page: page 2: python -m bot ask topic 'Microsoft AI' --seeds {seeds_dir}"
                    f" --db {db} --limit 1 --page 2")
    second = run_hint(hint.split(": ", 2)[2], tmp_path)
    assert second.stdout.startswith("Topic: Microsoft AI - 2 articles (page 2 of 2)")
    assert listed_titles(second.stdout) != listed_titles(result.stdout)


def test_the_next_page_command_has_only_the_options_typed(
    tmp_path: Path, seeds_dir: Path
) -> None:
    (tmp_path / ".env").write_text(f"NEWS_SEEDS_DIR={seeds_dir}\n", encoding="utf-8")
    result = run_cli("ask", "latest", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "Next page: page 2: python -m bot ask latest --page 2"


def test_the_next_page_command_keeps_words_that_look_like_options(
    cli: Cli, tmp_path: Path
) -> None:
    result = cli("ask", "--limit", "2", "search", "--", "-azure")
    assert result.returncode == 0, result.stderr
    command = result.stdout.splitlines()[-1].split(": ", 2)[2]
    assert command.endswith("--limit 2 --page 2 search -- -azure")
    second = run_hint(command, tmp_path)
    assert second.stdout.startswith("Search: -azure - 11 articles (page 2 of 6)")


@pytest.mark.parametrize(
    ("args", "unused"),
    [(("latest", "foo", "bar"), "foo bar"), (("topics", "foo"), "foo"),
     (("providers", "the register"), "'the register'")],
)
def test_words_a_question_does_not_use_are_an_error(
    cli: Cli, args: tuple[str, ...], unused: str
) -> None:
    result = cli("ask", *args)
    assert_clean_failure(result, 2)
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"python -m bot ask: error: `ask {args[0]}` takes no words; not used: {unused}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ask", "latest", "--sort", "x"), "error: unrecognized arguments: --sort x"),
        (("ask", "--sort", "x"), "invalid choice: 'x' (choose from latest, topic, provider, "
                                 "related, search, article, topics, providers, trending)"),
        (("ask", "nonsense"), "invalid choice: 'nonsense' (choose from latest, topic,"),
    ],
)
def test_unknown_options_and_questions_are_usage_errors(
    cli: Cli, args: tuple[str, ...], message: str
) -> None:
    result = cli(*args)
    assert_clean_failure(result, 2)
    assert message in result.stderr


LONG = "azure " + "x" * 20_000


@pytest.mark.parametrize("kind", ["search", "related", "article", "topic", "provider"])
def test_a_long_query_is_not_repeated_in_full(cli: Cli, kind: str) -> None:
    result = cli("ask", kind, LONG)
    assert_clean_failure(result, 1)
    message = result.stderr.splitlines()[0]
    assert "'azure xxx" in message and "…'" in message
    assert len(message) < 200


def test_a_long_query_that_matches_has_a_short_heading(cli: Cli) -> None:
    result = cli("ask", "search", " ".join(["azure"] * 4000))
    assert result.returncode == 0, result.stderr
    heading = result.stdout.splitlines()[0]
    assert heading.startswith("Search: azure azure") and "… - 11 articles" in heading
    assert len(heading) < 200
    # The command for the next page would be as long: it is described instead.
    assert "Next page: page 2 (the same command with --page 2)" in result.stdout


@pytest.mark.parametrize("args", [("ask", LONG), ("ask", "latest", "--limit", LONG),
                                  ("ask", "latest", "--sort", LONG)])
def test_a_long_bad_argument_is_not_repeated_in_full(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert_clean_failure(result, 2)
    assert len(result.stderr.splitlines()[-1]) < 400
    assert "…" in result.stderr


def test_invisible_characters_do_not_reach_headings(cli: Cli, seeds_dir: Path) -> None:
    write_article(seeds_dir / "hidden.txt", title="Hidden\u200b\u2060 \ufefftitle\u200f here",
                  webUrl="https://hidden.example.com/a", topics=["AI"])
    result = cli("ask", "search", "azure\u200b\u202e")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Search: azure - 11 articles")
    related = cli("ask", "related", "https://hidden.example.com/a")
    assert related.returncode == 0, related.stderr
    assert related.stdout.startswith("Related to: Hidden title here - ")


@pytest.mark.parametrize("typed", ["#-1", "#abc", "id:", "#0", "#1.5"])
def test_a_malformed_article_id_is_a_usage_error_not_a_title(cli: Cli, typed: str) -> None:
    result = cli("ask", "article", typed)
    assert_clean_failure(result, 2)
    assert result.stderr.strip() == (
        f"An article id is a positive whole number, like #42; {typed!r} is not one.")


def test_an_article_card_shows_every_link_the_discord_card_has(cli: Cli) -> None:
    result = cli("ask", "article", "https://theregister.com/2022/05/26/amd_azure_microsoft")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [AMD_TITLE, "theregister (theregister.com) · 2022-05-26 22:46 UTC · id 10"]
    assert lines[2:6] == [
        "original:  https://www.theregister.com/2022/05/26/amd_azure_microsoft/",
        "AMP:       https://www.theregister.com/AMP/2022/05/26/amd_azure_microsoft/",
        "AMP cache: https://www-theregister-com.cdn.ampproject.org/c/s/www.theregister.com"
        "/AMP/2022/05/26/amd_azure_microsoft/",
        "image:     https://regmedia.co.uk/2020/11/16/amdmi100.jpg",
    ]
    assert "topics: AI Hardware, AI, Microsoft AI" in lines
    assert any(line.startswith("Microsoft") and len(line) > 100 for line in lines[7:])


def test_a_failing_file_is_reported_by_the_load_that_found_it_and_not_on_each_ask(
    cli: Cli, seeds_dir: Path
) -> None:
    shutil.copy(BROKEN / "not_utf8.txt", seeds_dir)
    loaded = cli("load")
    assert "  FAILED not_utf8.txt: not UTF-8" in loaded.stdout
    for _ in range(2):
        asked = cli("ask", "topic", "facebook")
        assert asked.returncode == 0
        assert listed_titles(asked.stdout) == [META_TITLE]
        assert asked.stderr == ""
    # Changed, it is read again by the next sync, which reports it again.
    (seeds_dir / "not_utf8.txt").write_bytes(b"---\ntitle: \xff\n---\n")
    again = cli("ask", "topic", "facebook")
    assert again.stderr.startswith(f"warning: skipped {seeds_dir / 'not_utf8.txt'}: not UTF-8")
    assert len(again.stderr.splitlines()) == 1


def test_quiet_shows_no_warnings_but_still_answers_and_errors(
    cli: Cli, seeds_dir: Path
) -> None:
    shutil.copy(BROKEN / "not_utf8.txt", seeds_dir)
    shutil.copy(ODD / "image_relative.txt", seeds_dir)
    asked = cli("ask", "--quiet", "topic", "facebook")
    assert asked.returncode == 0
    assert listed_titles(asked.stdout) == [META_TITLE]
    assert asked.stderr == ""
    odd = seeds_dir / "image_relative.txt"
    for quiet in (True, False):
        odd.write_bytes(odd.read_bytes() + b"\n")  # read again: its image warning comes back
        loaded = cli("load", *(["--quiet"] if quiet else []))
        assert loaded.returncode == 0
        assert "  FAILED not_utf8.txt: not UTF-8" in loaded.stdout  # a failure is no warning
        assert ("1 warning(s):" in loaded.stdout) is not quiet
        assert loaded.stderr == ""
    missing = cli("ask", "--quiet", "topic", "quantum computing")
    assert_clean_failure(missing, 1)
    assert "No topic matches 'quantum computing'." in missing.stderr


def _stderr_on_a_terminal(*args: str | Path, cwd: Path) -> str:
    """What the CLI writes to stderr when stderr is a terminal (a pseudo-terminal here)."""
    leader, follower = pty.openpty()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("NEWS_", "DISCORD_"))}
    env["PYTHONPATH"] = str(ROOT)
    with subprocess.Popen(  # noqa: S603 - our own CLI, with arguments we choose
        [sys.executable, "-m", "bot", *map(str, args)], cwd=cwd, env=env,
        stdout=subprocess.DEVNULL, stderr=follower,
    ) as process:
        os.close(follower)
        written = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process has exited
                break
            if not chunk:
                break
            written += chunk
        assert process.wait(timeout=60) == 0
    os.close(leader)
    return written.decode()


def test_quiet_shows_no_progress_on_a_terminal(tmp_path: Path, seeds_dir: Path) -> None:
    loud = _stderr_on_a_terminal("load", "--seeds", seeds_dir, "--db", tmp_path / "a.db",
                                 cwd=tmp_path)
    assert "parsing 2/2 files" in loud
    quiet = _stderr_on_a_terminal("load", "--quiet", "--seeds", seeds_dir,
                                  "--db", tmp_path / "b.db", cwd=tmp_path)
    assert quiet == ""
