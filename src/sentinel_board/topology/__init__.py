from sentinel_board.topology.launcher import Topology
from sentinel_board.topology.layout import Node, TopologyError, TopologySpec

__all__ = ["Node", "Topology", "TopologyError", "TopologySpec"]
