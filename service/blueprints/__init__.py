"""Every resource's blueprint, registered in this order."""

from . import (
    concepts,
    console,
    containers,
    docs,
    engine,
    engines,
    identity,
    images,
    networks,
    policy,
    registry,
    secrets,
    services,
    swarm,
    system,
    teams,
    terminals,
    volumes,
)

MODULES = (
    system,
    engines,
    identity,
    policy,
    images,
    containers,
    terminals,
    volumes,
    networks,
    registry,
    swarm,
    services,
    secrets,
    teams,
    concepts,
)


def register_blueprints(app, api):
    for module in MODULES:
        api.register_blueprint(module.blp)
    # not part of the API: the files of the interactive docs, and the web console
    app.register_blueprint(docs.blp)
    app.register_blueprint(console.blp)
    # Docker's own API, for the docker CLI and docker-py: its contract is Docker's
    app.register_blueprint(engine.blp)
