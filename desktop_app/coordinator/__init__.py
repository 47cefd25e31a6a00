"""The Parley coordinator: the self-hosted server that owns calls, members and events.

It depends on ``desktop_app.protocol`` only — never on the SDK or the UI.
"""
