"""The `wms` command line: serve, migrate, load the demo network, check the invariants.

Every command that touches the database runs its work in one transaction it owns. Errors a
user can fix (a bad database URL, an unreachable server, a refused load) print one line and
exit non-zero; they never print a traceback.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from wms import check as invariant_check
from wms import migrate
from wms.db import database
from wms.errors import ConfigError, WmsError

err_console = Console(stderr=True)


def _create_app() -> Flask:
    from wms.app import create_app

    app = create_app()
    engine = database(app).engine
    ctx = click.get_current_context(silent=True)
    if ctx is not None and engine is not None:
        # Close pooled connections when the command ends (matters when run in-process).
        ctx.call_on_close(engine.dispose)
    return app


def _one_line(exc: BaseException) -> str:
    """The first line of an error, without SQLAlchemy's background links."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return text[0] if text else type(inner).__name__


class WmsGroup(FlaskGroup):
    """Flask's CLI group, with errors a user can fix turned into one readable line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Flask builds the app to list its commands and prints any failure with a traceback;
        # our commands are all on this group, so list them without an app when it cannot load.
        try:
            ctx.ensure_object(ScriptInfo).load_app()
        except (WmsError, SQLAlchemyError):
            return sorted(click.Group.list_commands(self, ctx))
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(exc.message) from None
        except WmsError as exc:
            raise click.ClickException(exc.message) from None
        except OperationalError as exc:
            raise click.ClickException(f"cannot reach the database: {_one_line(exc)}") from None
        except SQLAlchemyError as exc:
            raise click.ClickException(f"database error: {_one_line(exc)}") from None


@click.group(
    cls=WmsGroup,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    help="Front-warehouse fulfilment system. Configure with WMS_* environment variables.",
)
def cli() -> None:
    pass


def main() -> None:
    """Entry point of the `wms` console script."""
    cli.main(prog_name="wms")


def _engine() -> Engine:
    engine = database(current_app).engine
    if engine is None:  # only when a test hands in a bare session factory
        raise click.ClickException("this app has no engine of its own")
    return engine


def _masked_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


# --- wms serve ------------------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="More than one runs gunicorn with that many worker processes.",
)
@with_appcontext
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web app (scanner pages, console, API)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _print_banner(app, host, port)
    if workers > 1:
        from wms.server import run_gunicorn

        run_gunicorn(host=host, port=port, workers=workers)
    else:
        from werkzeug.serving import run_simple

        # Flask's own server (what `flask run` uses); app.run() refuses inside a Flask CLI.
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


def _print_banner(app: Flask, host: str, port: int) -> None:
    from wms import demo

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown}:{port}"
    out = Console()
    out.print(f"[bold]Front-warehouse fulfilment[/] on {base}")
    out.print(f"  landing page    {base}/")
    out.print(f"  scanner pages   {base}/scanners/")
    out.print(f"  planner console {base}/console/")
    out.print(f"  API docs        {base}/api/docs")
    out.print(f"  health          {base}/healthz")
    try:
        with database(app).read_sessions() as session:
            logins = demo.demo_logins(session)
    except SQLAlchemyError:
        logins = []
    if logins:
        out.print("[bold]Demo logins[/] (from `wms demo load`):")
        for login in logins:
            out.print(f"  {login}")


# --- wms db ---------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Create and migrate the database schema (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    engine = _engine()
    migrate.upgrade(engine, revision)
    click.echo(f"database {_masked_url(engine)} is at {migrate.current_revision(engine)}")


@db.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ("base" removes every table)."""
    engine = _engine()
    migrate.downgrade(engine, revision)
    click.echo(f"database {_masked_url(engine)} is at {migrate.current_revision(engine)}")


@db.command("current")
@with_appcontext
def db_current() -> None:
    """Show the database's revision and whether it is the newest."""
    engine = _engine()
    current = migrate.current_revision(engine)
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind (newest is {head})"
    click.echo(f"{_masked_url(engine)}: {current or 'not migrated'} — {state}")
    if current != head:
        sys.exit(1)


@db.command("check")
@with_appcontext
def db_check() -> None:
    """Compare the models with the schema; exit 1 when they drifted apart."""
    from alembic.util.exc import AutogenerateDiffsDetected

    try:
        migrate.check(_engine())
    except AutogenerateDiffsDetected as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("no drift: the schema matches the models")


# --- wms demo -------------------------------------------------------------------------------


@cli.group()
def demo() -> None:
    """The demo network: a central DC, front warehouses, items, stock, orders, carriers."""


@demo.command("load")
@click.option(
    "--size",
    type=click.Choice(["small", "city"]),
    default="small",
    show_default=True,
    help="small: 3 front warehouses, ~300 orders; city: 20 front warehouses, 20,000 orders.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same network.")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Local delivery day of the orders (default: today in the network's time zone).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Drop and recreate the whole database first (everything in it is lost).",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="Load only when the database is empty; otherwise do nothing and exit 0.",
)
@with_appcontext
def demo_load(size: str, seed: int, day: dt.datetime | None, force: bool, if_empty: bool) -> None:
    """Load the demo network into the database."""
    from wms import demo as demo_network

    engine = _engine()
    if force:
        migrate.drop_everything(engine)
    migrate.upgrade(engine)
    sessions = database(current_app).sessions
    with sessions() as session:
        empty = demo_network.database_is_empty(session)
    if not empty:
        if if_empty:
            click.echo("the database already holds a network; demo not loaded")
            return
        raise click.ClickException(
            "the database is not empty; use --force to drop and recreate it "
            "(everything in it is lost)"
        )
    spec = demo_network.SIZES[size]
    plan = demo_network.build(spec, seed=seed, day=day.date() if day else None)
    with sessions.begin() as session:
        counts = demo_network.write(
            session, plan, secret_key=current_app.config["SECRET_KEY"], progress=True
        )
    click.echo(
        "loaded the {size} demo network (seed {seed}): {counts}".format(
            size=size, seed=seed, counts=", ".join(f"{v:,} {k}" for k, v in counts.items())
        )
    )


# --- wms check ------------------------------------------------------------------------------


@cli.command("check")
@click.option("--limit", default=50, show_default=True, help="List at most this many rows.")
@with_appcontext
def check_command(limit: int) -> None:
    """Verify the stock invariants; exit 1 and list each broken row."""
    with database(current_app).read_sessions() as session:
        report = invariant_check.verify(session)
    if report.ok:
        click.echo(
            f"OK: {report.stock_rows:,} stock rows, {report.movements:,} movements and "
            f"{report.open_allocations:,} open allocations agree"
        )
        return
    table = Table(title=f"{len(report.violations)} broken stock row(s)", expand=False)
    for column in ("stock", "slot", "item", "lot", "rule", "expected", "found"):
        table.add_column(column)
    for v in report.violations[:limit]:
        table.add_row(
            str(v.stock_id), v.slot, v.sku, v.lot or "-", v.rule, str(v.expected), str(v.found)
        )
    err_console.print(table)
    if len(report.violations) > limit:
        err_console.print(f"... and {len(report.violations) - limit} more")
    sys.exit(1)
