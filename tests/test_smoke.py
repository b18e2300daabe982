from tests.factories import make_product


def test_home_lists_active_packs(client):
    make_product(name="Asia 10 GB / 30 days")
    response = client.get("/")
    assert response.status_code == 200
    assert "Asia 10 GB / 30 days" in response.get_data(as_text=True)
