"""The HTTP edge: accepts every tracker request and acknowledges only what is durable.

    create_app(config, publisher, *, spool, lake) -> CollectorApp   (collector.app)
    CollectorSettings ([collector] of eventkit.toml)                (collector.settings)
    eventkit collector --port P --raw URL [--spool PATH] [--config FILE] [--workers N]

Modules: app (factory, operational routes), tracking (the lean tracking handler), record (request
→ raw record), identity (nuid cookie, SP-Anonymous, DNT), forwarding (client IP via trusted
proxies), sizing (§2.4 limits and splitting), violations (size_violation bad rows), durability
(group commit, spool fallback, drain), spool (SQLite spool), metrics (lock-free counts, exposed on
core.telemetry.REGISTRY while serving), responses, settings, server (composition root), cli.
"""
