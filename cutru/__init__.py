"""cutru: the platform the service processes share (``cutru.platform``), the service processes (``cutru.service``)
and the clients (``cutru.clients``). Rules live in ``domain``, orchestration in ``workflows``, side effects in
``activities``."""
