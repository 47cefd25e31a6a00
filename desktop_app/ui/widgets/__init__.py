"""Widgets that know nothing of calls: video tiles, meters, spinners."""
