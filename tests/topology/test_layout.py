"""A topology's spec refuses what no topology can be."""

from __future__ import annotations

import pytest

from sentinel_board.topology import TopologyError, TopologySpec


def test_refuses_a_port_given_twice() -> None:
    with pytest.raises(TopologyError, match=r"port 7000 on 127\.0\.0\.1 is given to two nodes"):
        TopologySpec(data_ports=(7000, 7001), sentinel_ports=(7002, 7000), quorum=1)
    with pytest.raises(TopologyError, match=r"port 7001 on 127\.0\.0\.1 is given to two nodes"):
        TopologySpec(data_ports=(7001,), sentinel_ports=(7002,), app_port=7001, quorum=1)


def test_refuses_a_quorum_larger_than_the_sentinels() -> None:
    with pytest.raises(TopologyError, match="quorum 4 is not between 1 and 3"):
        TopologySpec(quorum=4)
