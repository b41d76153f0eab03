"""Dialect adapters: each translates one pile protocol to and from `gateway.dialect`."""
