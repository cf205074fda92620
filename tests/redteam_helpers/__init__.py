"""Deterministic roles for the red-teaming tests, loadable by the CLI as `py:redteam_helpers.scripted:...`."""
