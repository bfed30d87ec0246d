"""A token with stray white space, or a URL with credentials in it, is never printed or sent."""

from __future__ import annotations

import pytest

from archy_pipeline.cli import main
from archy_pipeline.resources import WorkatoResource
from archy_pipeline.settings import ConfigError
from tests.support import workspace_with_recipes


@pytest.fixture
def sim(simulator, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no archy.yaml: one workspace from the environment
    started = simulator(workspace_with_recipes(2))
    monkeypatch.setenv("WORKATO_BASE_URL", started.base_url)
    return started


@pytest.mark.parametrize("pasted", ["{token}\n", "  {token}\r\n", "\t{token} "])
def test_white_space_around_the_token_is_stripped(sim, monkeypatch, capsys, pasted):
    monkeypatch.setenv("WORKATO_API_TOKEN", pasted.format(token=sim.token))
    assert main(["test-connection"]) == 0
    assert "recipes:   2 (1 running)" in capsys.readouterr().out
    # The simulator knew the token (it records the name of the token, never the token).
    assert {(r.status, r.token_name) for r in sim.requests} == {(200, "full-access")}


@pytest.mark.parametrize(
    ("inside", "kind"),
    [(" ", "a space"), ("\n", "the character U+000A"), ("\x7f", "the character U+007F"),
     ("é", "the character U+00E9")],
)  # fmt: skip
def test_a_token_with_a_character_a_header_cannot_carry_is_refused_unechoed(
    sim, monkeypatch, capsys, inside, kind
):
    token = f"{sim.token[:10]}{inside}{sim.token[10:]}"
    monkeypatch.setenv("WORKATO_API_TOKEN", token)
    for command in (["test-connection"], ["sync"]):
        assert main(command) == 2
        captured = capsys.readouterr()
        assert captured.err == (
            f"environment: WORKATO_API_TOKEN: the token holds {kind} at position 11 of "
            f"{len(token.strip())}; a Workato API token is printable ASCII without spaces: "
            "copy it again from Workspace admin > API clients\n"
        )
        assert sim.token[:10] not in captured.out + captured.err
    assert sim.requests == [], "refused before any request"


def test_the_resource_refuses_it_in_a_dagster_run_too(sim):
    resource = WorkatoResource(api_token=f"{sim.token}\x00", base_url=sim.base_url)
    with pytest.raises(ConfigError) as error:
        resource.get_client()
    assert str(error.value).startswith("Workato resource api_token: the token holds the char")
    assert sim.token not in str(error.value)


@pytest.mark.parametrize(
    "url", ["http://archy:hunter2@127.0.0.1:9/api", "https://user@www.workato.com/api"]
)
def test_a_base_url_with_credentials_is_refused_without_showing_them(sim, monkeypatch, capsys, url):
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    monkeypatch.setenv("WORKATO_BASE_URL", url)
    assert main(["sync"]) == 2
    captured = capsys.readouterr()
    host = url.split("@")[1].split("/")[0]
    assert captured.err == (
        f"environment: WORKATO_BASE_URL: the URL of host {host!r} carries a user name or "
        "password before '@'; Workato's API takes the token only: remove them\n"
    )
    assert "hunter2" not in captured.out + captured.err
    assert "user@" not in captured.err
