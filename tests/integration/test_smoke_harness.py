import pytest
from sqlalchemy.exc import IntegrityError


def test_database_rejects_negative_on_hand(session, make_stock):
    stock = make_stock(qty=3)
    stock.on_hand = -1
    with pytest.raises(IntegrityError):
        session.flush()


def test_landing_page_opens(client, make_stock):
    make_stock()
    r = client.get("/")
    assert r.status_code == 200
    assert b"front warehouses" in r.data
    assert client.get("/healthz").json == {"status": "ok", "database": "ok"}
