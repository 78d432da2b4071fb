"""The `wms` command line: serve, migrate, load the demo network, check the invariants.

Every command that touches the database runs its work in one transaction it owns. Errors a
user can fix (a bad database URL, an unreachable server, a refused load) print one line and
exit non-zero; they never print a traceback.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext
from rich.console import Console
from rich.markup import escape
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
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False),
    help="TLS certificate (PEM): serve HTTPS, as handhelds need for offline pages.",
)
@click.option("--key", type=click.Path(exists=True, dir_okay=False), help="Its private key (PEM).")
@with_appcontext
def serve(host: str, port: int, workers: int, cert: str | None, key: str | None) -> None:
    """Serve the web app (scanner pages, console, API)."""
    if (cert is None) != (key is None):
        raise click.UsageError("--cert and --key go together")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if cert is not None:
        # Cookies only over HTTPS from now on; gunicorn's workers read it from the environment.
        os.environ["WMS_SESSION_COOKIE_SECURE"] = "true"
        app.config["SESSION_COOKIE_SECURE"] = True
    _print_banner(app, host, port, scheme="https" if cert else "http")
    if workers > 1:
        from wms.server import run_gunicorn

        run_gunicorn(host=host, port=port, workers=workers, cert=cert, key=key)
    else:
        from werkzeug.serving import run_simple

        # Flask's own server (what `flask run` uses); app.run() refuses inside a Flask CLI.
        run_simple(
            host,
            port,
            app,
            threaded=True,
            use_reloader=False,
            use_debugger=False,
            ssl_context=(cert, key) if cert and key else None,
        )


def _print_banner(app: Flask, host: str, port: int, *, scheme: str = "http") -> None:
    from wms import demo

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"{scheme}://{shown}:{port}"
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


@demo.command("shift")
@click.option("--site", default="FW01", show_default=True, help="The front warehouse.")
@with_appcontext
def demo_shift(site: str) -> None:
    """Put work on the demo floor for the handhelds: a receipt, a released wave, a task."""
    from wms import demo_shift as shift_work

    sessions = database(current_app).sessions
    with sessions.begin() as session:
        shift = shift_work.start_shift(session, site=site)
        task = shift_work.replenishment_task(session, site=site)
    yymmdd = shift.received_expiry.strftime("%y%m%d")
    gtin = f"{int(shift.received_gtin):014d}"
    click.echo(f"Work waiting at {site} (sign in on /scanners/ with badge B-1001):")
    click.echo(
        f"  Receive   receipt {shift.receipt_number}: {shift.received_qty} x "
        f"{shift.received_sku}, lot {shift.received_lot}, expiry {shift.received_expiry}"
    )
    click.echo(f"            scan the carton: (01){gtin}(17){yymmdd}(10){shift.received_lot}")
    click.echo("  Put away  scan the same item again at the dock, then the slot shown")
    for slot, barcode, quantity, tote in shift.picks:
        click.echo(
            f"  Pick      order {shift.order_number}: slot {slot}, item {barcode}, "
            f"{quantity} units, tote {tote}"
        )
    click.echo(f"  Pack      scan tote {shift.picks[0][3]}, the item, CMD:CONFIRM, close")
    click.echo(
        f"  Tasks     replenish {task.quantity} x {task.sku} ({task.gtin}) "
        f"from {task.from_slot} to {task.to_slot}"
    )


# --- wms check ------------------------------------------------------------------------------


@cli.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduled jobs: lead (one process fires them) or stand by; Ctrl-C stops."""
    import logging
    import signal
    import threading

    from wms import scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db = database(app)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    scheduler.run(
        _engine(),
        db.sessions,
        dict(app.config),
        app.instance_path,
        stop=stop,
        say=lambda line: click.echo(line),
    )


@cli.command("replenish")
@click.option("--site", "site_code", required=True, help="The site, e.g. FW01.")
@click.option("--dry-run", is_flag=True, help="Say what would be created; create nothing.")
@click.option("--all", "show_all", is_flag=True, help="List every pick face, not only tasks.")
@with_appcontext
def replenish_command(site_code: str, dry_run: bool, show_all: bool) -> None:
    """Top pick faces up from the reserve: one task per face below its min, with why."""
    from sqlalchemy import select

    from wms import replenishment
    from wms.models import Site

    sessions = database(current_app).sessions
    with sessions.begin() as session:
        site_id = session.scalar(select(Site.id).where(Site.code == site_code))
        if site_id is None:
            raise click.ClickException(f"no site {site_code!r}")
        run = replenishment.replenish(session, site_id, dry_run=dry_run)
        if dry_run:
            session.rollback()
    for proposal in run.proposals:
        if not (show_all or proposal.creates_task):
            continue
        source = f" from {proposal.source.barcode}" if proposal.source else ""
        units = f" {proposal.quantity}" if proposal.quantity else ""
        click.echo(
            f"{proposal.face.barcode}  {proposal.face.sku}  {proposal.reason}{units}{source}"
        )
        for reason in proposal.trace:
            click.echo(f"    {reason}")
    click.echo(run.summary + (" (dry run: nothing written)" if dry_run else ""))


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


# --- wms token ------------------------------------------------------------------------------


@cli.group()
def token() -> None:
    """API bearer tokens for integrations and scripts: create, list, rotate, revoke."""


def _print_new_token(
    plaintext: str, *, name: str, role: str, sites: list[str], prefix: str
) -> None:
    # The token alone on stdout (scripts capture it); the warning on stderr.
    click.echo(plaintext)
    err_console.print(
        f"[bold]{name}[/] ({role}; {', '.join(sites) or 'every site'}), prefix {prefix}.\n"
        "[bold yellow]Store this token now: it cannot be shown again.[/]",
        highlight=False,
    )


@token.command("create")
@click.option("--name", required=True, help="Who or what uses the token.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["integration", "supervisor", "planner", "admin"]),
    help="What the token may do.",
)
@click.option(
    "--site",
    "site_codes",
    multiple=True,
    metavar="CODE",
    help="A site the token may act for (repeat for more; admin tokens reach every site).",
)
@click.option(
    "--expires-in-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Let the token expire after this many days (default: never).",
)
@with_appcontext
def token_create(
    name: str, role: str, site_codes: tuple[str, ...], expires_in_days: int | None
) -> None:
    """Create a token and print it once (it is stored only as a hash)."""
    from wms import tokens
    from wms.models import TokenRole, utcnow

    expires_at = utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    with database(current_app).sessions.begin() as session:
        site_ids = tokens.site_ids_for_codes(session, site_codes)
        api_token, plaintext = tokens.issue(
            session, name=name, role=TokenRole(role), site_ids=site_ids, expires_at=expires_at
        )
        sites = [site.code for site in api_token.sites]
    _print_new_token(plaintext, name=name, role=role, sites=sites, prefix=api_token.prefix)


@token.command("list")
@with_appcontext
def token_list() -> None:
    """List every token: prefix, name, role, sites, created, last used, expiry, revoked."""
    from wms import tokens

    with database(current_app).read_sessions() as session:
        rows = tokens.list_tokens(session)
        table = Table(title=f"{len(rows)} API token(s)", expand=False)
        for column in ("prefix", "name", "role", "sites", "created", "last used", "expires"):
            table.add_column(column, no_wrap=column == "prefix")
        table.add_column("revoked")
        for row in rows:
            table.add_row(
                row.prefix,
                row.name,
                row.role.value,
                ", ".join(site.code for site in row.sites) or "every site",
                _when(row.created_at),
                _when(row.last_used_at) or "never",
                _when(row.expires_at) or "never",
                _when(row.revoked_at) or "-",
            )
    Console(width=200).print(table)


@token.command("revoke")
@click.argument("prefix")
@with_appcontext
def token_revoke(prefix: str) -> None:
    """Revoke the token with PREFIX; requests with it are refused from now on."""
    from wms import tokens

    with database(current_app).sessions.begin() as session:
        api_token = tokens.revoke(session, prefix)
    click.echo(
        f"token {api_token.prefix} ({api_token.name}) revoked at {_when(api_token.revoked_at)}"
    )


@token.command("rotate")
@click.argument("prefix")
@with_appcontext
def token_rotate(prefix: str) -> None:
    """Revoke the token with PREFIX and print its successor (same name, role and sites)."""
    from wms import tokens

    with database(current_app).sessions.begin() as session:
        api_token, plaintext = tokens.rotate(session, prefix)
        sites = [site.code for site in api_token.sites]
    _print_new_token(
        plaintext,
        name=api_token.name,
        role=api_token.role.value,
        sites=sites,
        prefix=api_token.prefix,
    )


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


# --- wms carrier ----------------------------------------------------------------------------


@cli.group()
def carrier() -> None:
    """Carriers' credentials: API keys, drivers' tokens and webhook subscriptions."""


@carrier.group("key")
def carrier_key() -> None:
    """Carrier API keys and driver tokens: create, list, rotate, revoke."""


@carrier.group("webhook")
def carrier_webhook() -> None:
    """Webhook subscriptions: a carrier's URL that hears of its routes' events."""


def _print_secret_once(secret: str, about: str) -> None:
    # The secret alone on stdout (scripts capture it); what it is and the warning on stderr.
    click.echo(secret)
    err_console.print(
        f"{about}\n[bold yellow]Store this secret now: it cannot be shown again.[/]",
        highlight=False,
    )


def _describe_key(key: Any) -> str:
    holder = f"driver {key.driver.code} of " if key.driver is not None else ""
    return (
        f"[bold]{escape(key.name)}[/] ({holder}{key.carrier.code}; {', '.join(key.scopes)}), "
        f"prefix {key.prefix}"
        + (f", expires {_when(key.expires_at)}" if key.expires_at else "")
        + "."
    )


def _parse_moment(value: str, option: str) -> dt.datetime:
    """An ISO 8601 date or time from the command line; without an offset it is UTC."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.ClickException(
            f"{option} wants an ISO 8601 date or time, e.g. 2027-01-31 or 2027-01-31T18:00+01:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@carrier_key.command("create")
@click.option("--carrier", "carrier_code", required=True, metavar="CODE", help="The carrier.")
@click.option("--name", required=True, help="Who or what uses the key.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    metavar="SCOPE",
    help="What the key may do: routes:read, stops:write, positions:write (repeat for more).",
)
@click.option(
    "--driver",
    "driver_code",
    metavar="CODE",
    help="Make it this driver's token: their routes only.",
)
@click.option("--expires", metavar="ISO", help="Let the key expire then (default: never; UTC).")
@with_appcontext
def carrier_key_create(
    carrier_code: str,
    name: str,
    scopes: tuple[str, ...],
    driver_code: str | None,
    expires: str | None,
) -> None:
    """Create a carrier key and print it once (it is stored only as a hash)."""
    from wms import carrier_keys

    expires_at = _parse_moment(expires, "--expires") if expires else None
    with database(current_app).sessions.begin() as session:
        carrier_id = carrier_keys.carrier_id_for_code(session, carrier_code)
        driver_id = (
            carrier_keys.driver_id_for_code(session, carrier_id, driver_code)
            if driver_code
            else None
        )
        key, plaintext = carrier_keys.issue(
            session,
            carrier_id=carrier_id,
            name=name,
            scopes=scopes,
            driver_id=driver_id,
            expires_at=expires_at,
        )
        about = _describe_key(key)
    _print_secret_once(plaintext, about)


@carrier_key.command("list")
@click.option("--carrier", "carrier_code", metavar="CODE", help="Only this carrier's keys.")
@with_appcontext
def carrier_key_list(carrier_code: str | None) -> None:
    """List carrier keys: prefix, carrier, driver, name, scopes, use, expiry, revoked."""
    from wms import carrier_keys

    with database(current_app).read_sessions() as session:
        carrier_id = (
            carrier_keys.carrier_id_for_code(session, carrier_code) if carrier_code else None
        )
        rows = carrier_keys.list_keys(session, carrier_id=carrier_id)
        table = Table(title=f"{len(rows)} carrier key(s)", expand=False)
        columns = ("prefix", "carrier", "driver", "name", "scopes", "created", "last used")
        for column in (*columns, "expires", "revoked"):
            table.add_column(column, no_wrap=column == "prefix")
        for row in rows:
            table.add_row(
                row.prefix,
                row.carrier.code,
                row.driver.code if row.driver else "-",
                escape(row.name),
                " ".join(row.scopes),
                _when(row.created_at),
                _when(row.last_used_at) or "never",
                _when(row.expires_at) or "never",
                _when(row.revoked_at) or "-",
            )
    Console(width=200).print(table)


@carrier_key.command("revoke")
@click.argument("prefix")
@with_appcontext
def carrier_key_revoke(prefix: str) -> None:
    """Revoke the key with PREFIX; requests with it are refused from now on."""
    from wms import carrier_keys

    with database(current_app).sessions.begin() as session:
        key = carrier_keys.revoke(session, prefix)
    click.echo(f"carrier key {key.prefix} ({key.name}) revoked at {_when(key.revoked_at)}")


@carrier_key.command("rotate")
@click.argument("prefix")
@with_appcontext
def carrier_key_rotate(prefix: str) -> None:
    """Revoke the key with PREFIX and print its successor (same carrier, driver and scopes)."""
    from wms import carrier_keys

    with database(current_app).sessions.begin() as session:
        key, plaintext = carrier_keys.rotate(session, prefix)
        about = _describe_key(key)
    _print_secret_once(plaintext, about)


@carrier_webhook.command("add")
@click.option("--carrier", "carrier_code", required=True, metavar="CODE", help="The carrier.")
@click.option("--url", required=True, help="Where to POST the events (http or https).")
@click.option(
    "--event",
    "events",
    multiple=True,
    metavar="TYPE",
    help="route.planned, route.changed or route.cancelled (repeat; default: all of them).",
)
@with_appcontext
def carrier_webhook_add(carrier_code: str, url: str, events: tuple[str, ...]) -> None:
    """Subscribe a carrier's URL to its routes' events; print the signing secret once."""
    from wms import carrier_keys, webhooks

    with database(current_app).sessions.begin() as session:
        carrier_id = carrier_keys.carrier_id_for_code(session, carrier_code)
        subscription, secret = webhooks.create_subscription(
            session, carrier_id=carrier_id, url=url, events=events
        )
        about = escape(
            f"webhook {subscription.id} of {carrier_code}: {subscription.url} "
            f"({', '.join(subscription.events) or 'every event'}), signed with this secret."
        )
    _print_secret_once(secret, about)


@carrier_webhook.command("list")
@click.option("--carrier", "carrier_code", metavar="CODE", help="Only this carrier's webhooks.")
@with_appcontext
def carrier_webhook_list(carrier_code: str | None) -> None:
    """List webhook subscriptions: id, carrier, URL, events, active, created (never secrets)."""
    from sqlalchemy import select

    from wms import carrier_keys, webhooks
    from wms.models import Carrier

    with database(current_app).read_sessions() as session:
        carrier_id = (
            carrier_keys.carrier_id_for_code(session, carrier_code) if carrier_code else None
        )
        rows = webhooks.list_subscriptions(session, carrier_id=carrier_id)
        codes = dict(session.execute(select(Carrier.id, Carrier.code)).tuples().all())
        table = Table(title=f"{len(rows)} webhook(s)", expand=False)
        for column in ("id", "carrier", "url", "events", "active", "created"):
            table.add_column(column, no_wrap=column != "url")
        for row in rows:
            table.add_row(
                str(row.id),
                codes[row.carrier_id],
                escape(row.url),
                " ".join(row.events) or "all",
                "yes" if row.active else "removed",
                _when(row.created_at),
            )
    Console(width=200).print(table)


@carrier_webhook.command("remove")
@click.argument("subscription_id", metavar="ID", type=int)
@with_appcontext
def carrier_webhook_remove(subscription_id: int) -> None:
    """Stop the webhook ID: it gets no more events, and its queued ones are dropped."""
    from wms import webhooks

    with database(current_app).sessions.begin() as session:
        subscription = webhooks.deactivate_subscription(session, subscription_id)
    click.echo(f"webhook {subscription.id} ({subscription.url}) removed")


@carrier_webhook.command("rotate-secret")
@click.argument("subscription_id", metavar="ID", type=int)
@with_appcontext
def carrier_webhook_rotate_secret(subscription_id: int) -> None:
    """Give the webhook ID a new signing secret and print it once (the old one stops now)."""
    from wms import webhooks

    with database(current_app).sessions.begin() as session:
        subscription, secret = webhooks.rotate_secret(session, subscription_id)
        about = escape(f"webhook {subscription.id}: {subscription.url}, signed from now on.")
    _print_secret_once(secret, about)


# --- wms import -----------------------------------------------------------------------------


@cli.group("import")
def import_() -> None:
    """Onboard a warehouse from CSV files: items first, then slots. All or nothing."""


def _columns_epilog(what: str) -> str:
    from wms import imports

    columns = imports.ITEM_COLUMNS if what == "items" else imports.SLOT_COLUMNS
    listed = ", ".join(
        f"{name}{'' if required else ' (optional)'}" for name, required in columns.items()
    )
    return f"Row 1 names the columns: {listed}. Nothing is written unless every row is valid."


def _import_options(function: Any) -> Any:
    """Add the FILE argument and the options every import command takes."""
    function = click.option(
        "--limit", default=100, show_default=True, help="List at most this many problems."
    )(function)
    function = click.option(
        "--delimiter",
        type=click.Choice([",", ";", "tab"]),
        default=None,
        help="Column separator (default: detected from row 1).",
    )(function)
    function = click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")(
        function
    )
    function = click.argument("file", type=click.Path(exists=True, dir_okay=False))(function)
    return with_appcontext(function)


@import_.command("items", epilog=_columns_epilog("items"))
@_import_options
def import_items_command(file: str, dry_run: bool, delimiter: str | None, limit: int) -> None:
    """Create or update items from FILE (CSV, one item per row, matched by sku)."""
    _run_import("items", file, dry_run=dry_run, delimiter=delimiter, limit=limit)


@import_.command("slots", epilog=_columns_epilog("slots"))
@_import_options
def import_slots_command(file: str, dry_run: bool, delimiter: str | None, limit: int) -> None:
    """Create or update slots from FILE (CSV, one slot per row, matched by barcode)."""
    _run_import("slots", file, dry_run=dry_run, delimiter=delimiter, limit=limit)


def _run_import(what: str, file: str, *, dry_run: bool, delimiter: str | None, limit: int) -> None:
    """Run one import in one transaction; on rejection list every problem and exit 1."""
    from wms import imports

    service = imports.import_items if what == "items" else imports.import_slots
    separator = "\t" if delimiter == "tab" else delimiter
    db = database(current_app)
    try:
        if dry_run:
            with db.read_sessions() as session:
                report = service(session, file, delimiter=separator, dry_run=True)
        else:
            with db.sessions.begin() as session:
                report = service(session, file, delimiter=separator)
    except imports.ImportRejected as rejected:
        table = Table(title=rejected.message, title_justify="left", expand=False)
        table.add_column("row", justify="right", no_wrap=True)
        table.add_column("column", no_wrap=True)
        table.add_column("reason")
        for error in rejected.errors[:limit]:
            table.add_row(str(error.row), error.column or "-", error.reason)
        err_console.print(table, highlight=False)
        if len(rejected.errors) > limit:
            err_console.print(f"... and {len(rejected.errors) - limit} more")
        sys.exit(1)
    counts = (
        f"{report.created:,} created, {report.updated:,} updated, {report.unchanged:,} unchanged"
    )
    if report.dry_run:
        click.echo(f"dry run, nothing written: {report.rows:,} valid {what} rows would be {counts}")
    else:
        click.echo(f"imported {report.rows:,} {what} rows: {counts}")


# --- wms transfers --------------------------------------------------------------------------


@cli.group("transfers")
def transfers_group() -> None:
    """DC → front-warehouse transfers from the demand forecast: plan, list, cancel."""


@transfers_group.command("plan")
@click.option("--dry-run", is_flag=True, help="Say what would be sent; create nothing.")
@click.option("--all", "show_all", is_flag=True, help="List every line, not only what is sent.")
@with_appcontext
def transfers_plan_command(dry_run: bool, show_all: bool) -> None:
    """Forecast every front warehouse's demand and plan the transfers that keep it covered."""
    from wms import transfers
    from wms.models import utcnow

    settings = transfers.TransferSettings.from_config(current_app.config)
    now = utcnow()
    db = database(current_app)
    # The forecasts (the slow part) in a read transaction: on SQLite a write one locks the file.
    with db.read_sessions() as session:
        forecasts = transfers.forecast_network(session, now=now, settings=settings)
    # A dry run writes nothing, so it needs no write transaction either.
    with (db.read_sessions if dry_run else db.sessions).begin() as session:
        plan = transfers.plan_transfers(
            session,
            now=now,
            settings=settings,
            dry_run=dry_run,
            forecasts=forecasts,
            created_by="cli",
        )
    for line in plan.lines:
        if not (show_all or line.quantity or line.stockout_risk):
            continue
        flag = "  STOCK-OUT RISK" if line.stockout_risk else ""
        click.echo(f"{line.site_code}  {line.sku}  send {line.quantity} of {line.wanted}{flag}")
        click.echo(f"    {line.trace}")
    click.echo(plan.summary + (" (dry run: nothing written)" if dry_run else ""))


@transfers_group.command("list")
@click.option("--site", "site_code", default=None, help="Only transfers to this site, e.g. FW01.")
@click.option(
    "--status",
    type=click.Choice(["planned", "dispatched", "received", "cancelled"]),
    default=None,
    help="Only this status (default: the open ones, planned and dispatched).",
)
@with_appcontext
def transfers_list_command(site_code: str | None, status: str | None) -> None:
    """List transfers: number, front warehouse, status, needed by, lines, units, at risk."""
    from sqlalchemy import select

    from wms import transfers
    from wms.models import Site

    with database(current_app).read_sessions() as session:
        site_id = None
        if site_code is not None:
            site_id = session.scalar(select(Site.id).where(Site.code == site_code))
            if site_id is None:
                raise click.ClickException(f"no site {site_code!r}")
        rows = transfers.list_transfers(session, site_id=site_id, status=status)
        table = Table(title=f"{len(rows)} transfer(s)", expand=False)
        for column in ("number", "to", "status", "needed by", "lines", "units", "at risk"):
            table.add_column(column, no_wrap=True)
        for row in rows:
            table.add_row(
                row.number,
                row.to_site.code,
                row.status.value,
                _when(row.needed_by),
                str(len(row.lines)),
                str(sum(line.quantity for line in row.lines)),
                str(sum(line.stockout_risk for line in row.lines)),
            )
    Console(width=200).print(table)


@transfers_group.command("cancel")
@click.argument("number")
@with_appcontext
def transfers_cancel_command(number: str) -> None:
    """Cancel the planned transfer NUMBER (e.g. TR00000012) and its receipt."""
    from sqlalchemy import select

    from wms import transfers
    from wms.models import TransferOrder

    with database(current_app).sessions.begin() as session:
        transfer_id = session.scalar(select(TransferOrder.id).where(TransferOrder.number == number))
        if transfer_id is None:
            raise click.ClickException(f"no transfer {number!r}")
        transfer = transfers.cancel_transfer(session, transfer_id, by="cli")
        click.echo(f"transfer {transfer.number} cancelled, and its receipt")
