"""The sandbox 3C Plus: the fake API (fake.py), served in the app (views.py) or on its own (server.py)."""
