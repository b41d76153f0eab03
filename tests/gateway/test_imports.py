"""gateway/'s modules import one another without a circle, counting imports made only for
type checking and inside functions: the runtime, the bill desk and the adapters are given
narrow ports (gateway/ports.py) instead of importing the `Gateway` that composes them."""

from __future__ import annotations

from tests.protocol.test_imports import find_cycle, import_graph


def test_gateway_has_no_import_circle() -> None:
    graph = import_graph("gateway")
    # The graph is read: the composition root imports what it composes.
    assert graph["gateway.app"] >= {"gateway.runtime", "gateway.bills", "gateway.transports"}
    assert find_cycle(graph) is None


def test_a_back_reference_to_the_composition_root_is_a_circle() -> None:
    graph = import_graph("gateway")
    graph["gateway.runtime"].add("gateway.app")  # what runtime.py did under TYPE_CHECKING
    cycle = find_cycle(graph)
    assert cycle is not None and "gateway.app" in cycle and "gateway.runtime" in cycle
