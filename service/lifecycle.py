"""What the serving worker tells the app about itself.

``stopping`` becomes true when the worker is told to stop (SIGTERM, SIGINT, SIGQUIT): streams
that would never end by themselves then end with an error event instead of being cut when the
graceful timeout is up. Set by ``service.worker.GuardedWorker``; read by ``service.streaming``.
"""

stopping = False
