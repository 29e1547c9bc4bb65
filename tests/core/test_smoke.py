from tests.factories import make_event


async def test_listing_shows_published_event(client, db):
    async with db.write() as session:
        await make_event(session, title="Bangla Month test")
    response = await client.get("/")
    assert response.status_code == 200
    assert "Bangla Month test" in response.text
