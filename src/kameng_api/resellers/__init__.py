"""Resellers (代理/分站): the signed open API ``/open/v1``, their keys, and callbacks."""
