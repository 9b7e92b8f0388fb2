"""`todo-agent export` and `todo-agent import` on SQLite files.

The commands run in this process (`main` on a thread, with the environment a shell would
give it): the console script starts in seconds here, and tests/server/cli/test_cli.py
already covers it as a process; one bad file goes through the real script all the same.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from importlib import import_module
from pathlib import Path

import pytest

from server.cli.progress import ProgressBar
from server.tasks.models import TaskCreate, TaskQuery
from tests.server.cli.test_cli import Run, todo_agent
from tests.server.portability.scenario import comparable, fill_account
from tests.utils.app import services_on

cli_main = import_module("server.cli.main")  # the package's `main` is the function
SAMPLE = Path(__file__).parents[2] / "data" / "todoist" / "Home.csv"
HEADER = SAMPLE.read_text().splitlines()[0]


@pytest.fixture
def cli(monkeypatch, capsys, tmp_path):
    """`await cli(url, *args)` runs `todo-agent ARGS` on the database at `url`."""
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    # The command would configure the root logger, which pytest's capture handlers are on.
    monkeypatch.setattr(cli_main, "configure_logging", lambda level: None)

    async def run(url: str, *args: str) -> Run:
        monkeypatch.setenv("DATABASE_URL", url)
        capsys.readouterr()
        code = await asyncio.to_thread(cli_main.main, list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


async def test_export_then_import_with_the_commands_gives_the_same_data(cli, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/todo.db"
    async with services_on(url) as services:
        ann = await services.users.create_user(name="ann", timezone="Asia/Tokyo")
        await fill_account(services, ann)
        await services.users.create_user(name="bea")
    out = tmp_path / "ann.json"

    exported = await cli(url, "export", "ann", "--output", str(out))
    to_stdout = await cli(url, "export", "ann")
    imported = await cli(url, "import", "bea", str(out))
    again = await cli(url, "export", "bea")

    assert exported.code == 0, exported
    assert exported.stdout == "" and f"exported user ann to {out}" in exported.stderr
    assert to_stdout.code == 0
    assert json.loads(to_stdout.stdout) | {"exported_at": 0} == json.loads(out.read_text()) | {
        "exported_at": 0
    }
    assert imported.code == 0, imported
    assert imported.stdout.startswith("imported 4 project(s) (1 merged into existing ones), ")
    assert imported.stdout.endswith("11 task(s), 2 comment(s) into user bea\n")
    assert imported.stderr == ""  # no progress bar off a terminal
    assert comparable(json.loads(again.stdout)) == comparable(json.loads(out.read_text()))


async def test_a_todoist_csv_a_missing_file_and_an_unknown_user(cli, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/todo.db"
    async with services_on(url) as services:
        await services.users.create_user(name="ann")

    csv = await cli(url, "import", "ann", str(SAMPLE))
    missing = await cli(url, "import", "ann", "nope.json")
    nobody = await cli(url, "import", "nobody", str(SAMPLE))
    unknown = await cli(url, "export", "nobody")

    assert csv.code == 0, csv
    assert csv.stdout == "imported 2 project(s), 7 task(s), 2 comment(s) into user ann\n"
    assert (missing.code, missing.stderr) == (2, "todo-agent: nope.json: no such file\n")
    assert (nobody.code, nobody.stderr) == (2, "todo-agent: user 'nobody' not found\n")
    assert (unknown.code, unknown.stdout) == (2, "")


def cut(text: str) -> str:
    return text[: len(text) // 2]


BAD_FILES = {
    "a JSON export cut short": ("ann.json", lambda export: cut(export), "file: not valid JSON"),
    "a JSON export of a newer version": (
        "ann.json",
        lambda export: export.replace('"version": 1', '"version": 7'),
        "version: 7 is newer than this todo-agent reads",
    ),
    "a JSON export with a bad date": (
        "ann.json",
        lambda export: export.replace('"due": null', '"due": "soonish"', 1),
        ".due: Input should be a valid datetime",
    ),
    "a Todoist CSV cut inside a field": (
        "Home.csv",
        lambda export: HEADER + '\ntask,"Pay rent,,1,1',
        "row 2: not valid CSV (unexpected end of data: is the file cut short?)",
    ),
    "a Todoist CSV cut inside a row": (
        "Home.csv",
        lambda export: HEADER + "\ntask,Pay rent,,1",
        "row 2: has 4 columns, the header has 14",
    ),
    "a Todoist CSV with a bad priority": (
        "Home.csv",
        lambda export: HEADER + "\ntask,Pay rent,,9,1,,,,,,,,,",
        "row 2: PRIORITY: '9' is not 1, 2, 3 or 4",
    ),
    "neither": ("notes.txt", lambda export: "buy milk\n", "file: is neither a todo-agent export"),
}


@pytest.fixture(scope="module")
async def template(tmp_path_factory) -> tuple[Path, str]:
    """A database where `ann` has one task, and her export."""
    folder = tmp_path_factory.mktemp("template")
    async with services_on(f"sqlite+aiosqlite:///{folder}/todo.db") as services:
        ann = await services.users.create_user(name="ann")
        await services.tasks.create_task(user=ann, data=TaskCreate(title="Already here"))
        export = (await services.portability.export(user=ann)).model_dump_json(indent=2)
    return folder / "todo.db", export


async def nothing_written(url: str) -> None:
    async with services_on(url) as services:
        ann = await services.users.get_user(name="ann")
        page = await services.tasks.list_tasks(user=ann, query=TaskQuery(status="all"))
        projects = await services.projects.list_projects(user=ann, include_archived=True)
    assert [t.title for t in page.tasks] == ["Already here"]
    assert [p.name for p in projects.projects] == ["Inbox"]


def bad_file(template: tuple[Path, str], case: str, folder: Path) -> tuple[str, Path]:
    """A copy of the template database and the case's bad file beside it."""
    database, export = template
    name, make, _ = BAD_FILES[case]
    shutil.copy(database, folder / "todo.db")
    (folder / name).write_text(make(export), encoding="utf-8")
    return f"sqlite+aiosqlite:///{folder}/todo.db", folder / name


@pytest.mark.parametrize("case", list(BAD_FILES))
async def test_a_bad_file_exits_2_with_one_line_and_writes_nothing(cli, template, tmp_path, case):
    url, path = bad_file(template, case, tmp_path)

    run = await cli(url, "import", "ann", str(path))

    assert run.code == 2, run
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("todo-agent: "), run.stderr
    assert BAD_FILES[case][2] in run.stderr
    await nothing_written(url)


async def test_the_console_script_exits_2_on_a_file_cut_short(template, tmp_path):
    url, path = bad_file(template, "a JSON export cut short", tmp_path)

    run = await todo_agent("import", "ann", path.name, cwd=tmp_path, DATABASE_URL=url)

    assert run.code == 2, run
    assert run.stderr.startswith("todo-agent: file: not valid JSON (line ")
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    await nothing_written(url)


def test_the_progress_bar_draws_in_place_on_a_terminal_only():
    terminal, log = io.StringIO(), io.StringIO()
    drawn = ProgressBar("importing Home.csv", stream=terminal, minimum=10, tty=True)
    quiet = ProgressBar("importing Home.csv", stream=log, minimum=10, tty=False)
    small = ProgressBar("importing Home.csv", stream=io.StringIO(), minimum=10, tty=True)

    for done in range(1, 21):
        drawn(done, 20)
        quiet(done, 20)
        small(done, 5)
    drawn.close()

    assert terminal.getvalue().startswith("\rimporting Home.csv [")
    assert terminal.getvalue().endswith(f"\rimporting Home.csv [{'#' * 30}] 20/20\n")
    assert log.getvalue() == "" and small.stream.getvalue() == ""
