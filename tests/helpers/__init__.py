"""Shared test helpers, imported one way: ``from tests.helpers.<module> import ...``.

``clock`` (the one test clock), ``queue`` (planned-post builders), ``pg`` (PostgreSQL fixtures, a pytest
plugin), ``channels`` (the table-driven adapter tester: ``Case``, ``Step``, ``Script``, ``drive``, canary
helpers), ``media`` and ``media_parts`` (generated images and MP4s), ``oracles`` (the npm reference
implementations), ``waiting`` (waiting on a condition the code signals, never on a sleep).
"""
