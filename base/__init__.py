"""The ground every room stands on: the error tree, the settings, the endpoints.

Imports nothing of the project (tests/unit/test_layout.py checks it).
"""
