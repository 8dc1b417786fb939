from __future__ import annotations

import uvicorn


def serve(host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    uvicorn.run(
        "sentinel_board.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        loop="uvloop",
        http="httptools",
        access_log=False,
    )
