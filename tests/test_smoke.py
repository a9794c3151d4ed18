def test_staff_can_list_configs(staff_client, config):
    response = staff_client.get("/voiceconfig/configs")
    assert response.status_code == 200
    assert response.json()["results"][0]["name"] == "Support"
