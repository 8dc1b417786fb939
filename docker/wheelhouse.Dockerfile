# The Python base with every package the board needs, downloaded on the host: `pip install`
# in the board's Dockerfile then takes them from /wheelhouse and asks no index.
ARG BASE=sentinel-board/python3:bookworm
FROM ${BASE}
COPY wheelhouse /wheelhouse
ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheelhouse
