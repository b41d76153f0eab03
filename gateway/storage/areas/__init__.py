"""The areas `Storage` is composed of, one class each (see base.py)."""
