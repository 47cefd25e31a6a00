"""The desktop app: Qt views bound to the SDK through controllers (no call logic here)."""
