from demo_service.app import greet


def test_greet():
    assert greet("gates") == "hello gates"
